"""The node_modules tree a fresh npm install builds, and where each dependency goes in it.

A model of arborist, the tree builder of npm 7 and later (@npmcli/arborist: lib/place-dep.js,
lib/can-place-dep.js, lib/deepest-nesting-target.js, the Node and Edge classes), kept to what decides
which name@version a package-lock.json lists:

- A package finds a dependency by walking up: its own node_modules, its parent's, ... the project's.
- A dependency goes to the shallowest folder on that walk where it conflicts with nothing (a different
  version already there, a dependent below that would see it instead of the version it needs); an
  equal version already there is kept; a newer one replaces an older one all of whose dependents it
  satisfies. Otherwise it nests deeper, down to the dependent's own node_modules.
- Peer dependencies go beside their dependent (never inside it), placed together with it.
- A placement that makes a deeper copy redundant removes that copy.

Left out, because a fresh install of a registry package does not meet them or they do not change which
versions are listed: lockfiles and shrinkwraps, bundled dependencies, overrides, workspaces and links to
folders, optional peers weighed in conflict checks, and peer-set replacement when a conflicting peer group
could be nested deeper.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from .registries.npm_pick import admits
from .registries.versioning import semver_key

Verdict = Literal["ok", "keep", "replace", "conflict"]
EdgeKind = Literal["prod", "optional", "peer", "peerOptional"]

# Intl.Collator("en") (arborist sorts with localeCompare) on the characters npm names and paths use:
# punctuation before digits before letters, case only when all else is equal (lower case first).
_ORDER = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_RANK = {c: i for i, c in enumerate(_ORDER)}


def collation(text: str) -> tuple[list[int], list[bool]]:
    """A sort key giving arborist's order (localeCompare 'en') for ASCII names and paths."""
    return [_RANK.get(c.lower(), 1000 + ord(c)) for c in text], [c.isupper() for c in text]


@dataclass(frozen=True, slots=True)
class Wanted:
    """One dependency as a package declares it."""

    #: The folder it is looked up by in node_modules: the name as written (an alias's own name).
    key: str
    #: The requirement as written.
    raw: str
    kind: EdgeKind
    #: The registry package and spec it installs (an alias's target), when it is a registry one.
    package: str | None = None
    spec: str | None = None
    #: Why it cannot be resolved from the registry (a git URL, a path, an unreadable spec).
    why: str | None = None

    @property
    def peer(self) -> bool:
        return self.kind in ("peer", "peerOptional")

    @property
    def optional(self) -> bool:
        return self.kind in ("optional", "peerOptional")


@dataclass(frozen=True, slots=True, eq=False)
class Package:
    """One name@version, as much of its document as the tree needs."""

    name: str
    version: str
    #: By key, in npm's precedence: a name in several groups keeps the last of peer, dependencies, optional.
    wants: tuple[Wanted, ...]
    license: str | None = None
    deprecated: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


def satisfies(package: Package, wanted: Wanted) -> bool:
    return wanted.spec is not None and package.name == wanted.package and admits(wanted.spec, package.version)


class Edge:
    __slots__ = ("conflicted", "source", "wanted")

    def __init__(self, source: Node, wanted: Wanted) -> None:
        self.source = source
        self.wanted = wanted
        #: A peer npm could not satisfy ("overriding peer dependency"): left as it is.
        self.conflicted = False

    @property
    def key(self) -> str:
        return self.wanted.key

    def target(self) -> Node | None:
        return self.source.resolve(self.wanted.key)

    def valid(self) -> bool:
        """arborist's Edge.valid: a missing optional is fine, a peer inside its dependent is not."""
        found = self.target()
        if found is None:
            return self.wanted.optional
        if self.wanted.peer and found.parent is self.source and self.source.parent is not None:
            return False
        return satisfies(found.package, self.wanted)


class Node:
    """A package in a node_modules folder (or a candidate not yet placed: no parent); the project has no
    package. A link stands for an ancestor of the same version (arborist's answer to a dependency loop)."""

    __slots__ = ("children", "edges", "key", "link", "package", "parent")

    def __init__(self, key: str, package: Package, link: Node | None = None) -> None:
        self.key = key
        self.package = package
        self.parent: Node | None = None
        self.children: dict[str, Node] = {}
        self.link = link
        self.edges = {} if link else {w.key: Edge(self, w) for w in package.wants}

    def resolve(self, key: str) -> Node | None:
        node: Node | None = self
        while node is not None:
            found = node.children.get(key)
            if found is not None:
                return found
            node = node.parent
        return None

    def ancestry(self) -> Iterator[Node]:
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent

    def within(self, other: Node) -> bool:
        """True when this node is `other` or sits below it."""
        return any(node is other for node in self.ancestry())

    @property
    def location(self) -> str:
        return "/".join(f"node_modules/{n.key}" for n in reversed(list(self.ancestry())) if n.parent)

    @property
    def depth(self) -> int:
        return sum(1 for _ in self.ancestry()) - 1


def deepest_target(start: Node, key: str) -> Node:
    """The deepest folder `key` may go in for a dependent at `start`: above it while it is a peer."""
    for target in start.ancestry():
        edge = target.edges.get(key)
        if target.parent is None or edge is None or not edge.wanted.peer:
            return target
    raise AssertionError("a node's ancestry ends at a root")


@dataclass
class PeerSet:
    """A dependency about to be placed and the peers npm fetched with it (arborist's virtual root)."""

    entry: Edge
    dep: Node
    members: dict[str, Node] = field(default_factory=dict)


class Tree:
    def __init__(self, project: Node) -> None:
        self.project = project
        #: Attached nodes by key (arborist's inventory by name), and nodes with an edge by that key.
        self.by_key: defaultdict[str, set[Node]] = defaultdict(set)
        self.dependents: defaultdict[str, set[Node]] = defaultdict(set)
        self.counts: defaultdict[str, int] = defaultdict(int)
        self.nodes: set[Node] = set()
        self._queue: list[tuple[int, tuple[list[int], list[bool]], int, Node]] = []
        self._queued: set[Node] = set()
        self._ticket = itertools.count()
        #: Peer edges npm had to leave unsatisfied, and edges whose dependency conflicts at the top.
        self.conflicts: list[tuple[Edge, Package | None]] = []
        self._index(project)
        self.push(project)

    # -- the tree --------------------------------------------------------------------------------

    def _index(self, node: Node) -> None:
        self.nodes.add(node)
        for key in node.edges:
            self.dependents[key].add(node)
        if node is not self.project:
            self.by_key[node.key].add(node)
            self.counts[node.package.id] += 1

    def attach(self, node: Node, parent: Node) -> None:
        node.parent = parent
        parent.children[node.key] = node
        self._index(node)

    def detach(self, node: Node) -> None:
        """Take a node and everything in its node_modules out of the tree."""
        if node.parent is not None and node.parent.children.get(node.key) is node:
            del node.parent.children[node.key]
        stack = [node]
        while stack:
            gone = stack.pop()
            self.nodes.discard(gone)
            for key in gone.edges:
                self.dependents[key].discard(gone)
            self.by_key[gone.key].discard(gone)
            self.counts[gone.package.id] -= 1
            if not self.counts[gone.package.id]:
                del self.counts[gone.package.id]
            stack.extend(gone.children.values())

    def attached(self, node: Node) -> bool:
        return node in self.nodes

    def edges_in(self, node: Node, below: Node | None = None) -> Iterator[Edge]:
        """The edges that resolve to `node` (from nodes at or below `below`, when given)."""
        for source in list(self.dependents.get(node.key, ())):
            if (below is None or source.within(below)) and source.resolve(node.key) is node:
                yield source.edges[node.key]

    def problems(self, node: Node) -> list[Edge]:
        """Edges to fix (arborist's #problemEdges): missing (but an optional peer) or invalid."""
        found = []
        for edge in node.edges.values():
            if edge.conflicted:
                continue
            if edge.target() is None:
                if edge.wanted.kind != "peerOptional":
                    found.append(edge)
            elif not edge.valid():
                found.append(edge)
        return found

    # -- the queue: shallowest first, then by location (arborist's DepsQueue) --------------------

    def push(self, node: Node) -> None:
        if node not in self._queued:
            self._queued.add(node)
            heapq.heappush(self._queue, (node.depth, collation(node.location), next(self._ticket), node))

    def pop(self) -> Node | None:
        while self._queue:
            node = heapq.heappop(self._queue)[3]
            self._queued.discard(node)
            if self.attached(node):
                return node
        return None

    # -- placing (arborist's PlaceDep) -----------------------------------------------------------

    def place(self, edge: Edge, dep: Node, peers: PeerSet, start_from: Node | None = None) -> list[Node]:
        """Put `dep` where npm would for `edge`, with its peers; the nodes placed (to process next) and the
        dependents whose edges it broke."""
        key = edge.key
        if edge.target() is not None and edge.valid():
            return []
        start = deepest_target(start_from or edge.source, key)
        chosen: tuple[Node, Verdict] | None = None
        fallback: tuple[Node, Verdict] | None = None
        for target in start.ancestry():
            there = target.edges.get(key)
            if target.parent is not None and there is not None and there.wanted.peer:
                continue
            check = _Check(self, dep, target, edge, peers, start_from)
            if check.own is not None and check.own != "conflict":
                fallback = (target, check.own)
            if check.verdict == "conflict":
                break
            chosen = (target, check.verdict)
        if chosen is None:
            if peers.entry.source is self.project or fallback is None:
                # npm: ERESOLVE for the project's own edge; an "overriding peer dependency" warning else.
                edge.conflicted = True
                self.conflicts.append((edge, dep.package))
                return []
            chosen = fallback
        target, verdict = chosen
        if verdict == "keep":
            if edge.wanted.peer and not edge.valid():
                edge.conflicted = True
                self.conflicts.append((edge, dep.package))
            return []
        loop = next((p for p in target.ancestry() if p.parent and p.package is dep.package), None)
        placed = Node(key, dep.package, link=loop)
        old = target.children.get(key)
        if old is not None:
            if loop is None:
                # A replacement keeps the node_modules of the node it replaces (arborist's Node.replace).
                placed.children, old.children = old.children, {}
                for child in placed.children.values():
                    child.parent = placed
            self.detach(old)
        self.attach(placed, target)
        if loop is not None:
            return []
        if edge.wanted.peer and not satisfies(placed.package, edge.wanted):
            edge.conflicted = True
            self.conflicts.append((edge, placed.package))
        self._prune_copies(placed, target)
        touched = [placed]
        touched += [
            e.source for e in self.edges_in(placed) if e is not edge and not e.conflicted and not e.valid()
        ]
        for peer_edge in placed.edges.values():
            if not peer_edge.wanted.peer or peer_edge.conflicted or peer_edge.valid():
                continue
            peer = peers.members.get(peer_edge.key)
            if peer is not None and satisfies(peer.package, peer_edge.wanted):
                touched += self.place(peer_edge, peer, peers, start)
        return touched

    def _prune_copies(self, placed: Node, target: Node) -> None:
        """Deeper copies the new node makes redundant go (arborist's pruneDedupable after a placement)."""
        for node in sorted(self.by_key[placed.key], key=lambda n: collation(n.location)):
            if not self.attached(node) or not node.within(target) or node.parent is self.project:
                continue
            self._dedupe(node)
            for kid in list(node.children.values()):
                self._dedupe(kid)

    def _dedupe(self, node: Node) -> None:
        parent = node.parent
        if parent is None or parent.parent is None or not self.attached(node):
            return
        if not any(self.edges_in(node)):
            self.detach(node)
            return
        other = parent.parent.resolve(node.key)
        if other is None:
            return
        same = other.package.version == node.package.version
        if same or (
            self.can_replace(node, other.package)
            and semver_key(other.package.version) > semver_key(node.package.version)
        ):
            self.detach(node)

    def can_replace(self, current: Node, package: Package) -> bool:
        """Whether `package` satisfies every dependent of `current` but those inside it."""
        return all(
            edge.source.within(current) or satisfies(package, edge.wanted) for edge in self.edges_in(current)
        )


class _Check:
    """Can `dep` go in `target` for `edge` (arborist's CanPlaceDep)? `verdict` counts its peers, `own` not."""

    def __init__(
        self,
        tree: Tree,
        dep: Node,
        target: Node,
        edge: Edge,
        peers: PeerSet,
        parent_deepest: Node | None,
        path: tuple[Node, ...] = (),
    ) -> None:
        self.tree, self.dep, self.target, self.edge, self.peers, self.path = (
            tree,
            dep,
            target,
            edge,
            peers,
            path,
        )
        self.deepest = deepest_target(parent_deepest or edge.source, edge.key)
        self.own: Verdict | None = None
        self.verdict: Verdict = self._check()
        if self.own is None:
            self.own = self.verdict

    def _check(self) -> Verdict:
        target, edge, package = self.target, self.edge, self.dep.package
        there = target.edges.get(edge.key)
        if there is not None and there.wanted.peer and target.parent is not None:
            return "conflict"
        current = target.children.get(edge.key)
        if current is None:
            if there is not None and there is not edge and not satisfies(package, there.wanted):
                return "conflict"
            if target is not self.peers.entry.source:
                above = target.resolve(edge.key)
                if above is not None and any(
                    e.valid() and not satisfies(package, e.wanted) for e in self.tree.edges_in(above, target)
                ):
                    return "conflict"
            return self._with_peers("ok")
        return self._over(current)

    def _over(self, current: Node) -> Verdict:
        edge, here, new = self.edge, current.package, self.dep.package
        if here is new and (satisfies(here, edge.wanted) or not satisfies(new, edge.wanted)):
            return "keep"
        newer = here.name == new.name and semver_key(new.version) >= semver_key(here.version)
        if (
            newer
            and self.tree.can_replace(current, new)
            and (verdict := self._with_peers("replace")) != "conflict"
        ):
            return verdict
        if satisfies(here, edge.wanted):
            return "keep"
        # Peers prefer deduping: an older version may replace a newer one all of whose dependents it suits.
        if (
            edge.wanted.peer
            and not newer
            and self.tree.can_replace(current, new)
            and (verdict := self._with_peers("replace")) != "conflict"
        ):
            return verdict
        if self.target is not self.deepest:
            return "conflict"
        if not edge.wanted.peer and self.target is edge.source:
            return self._with_peers("replace")
        return "conflict"

    def _with_peers(self, verdict: Verdict) -> Verdict:
        """`verdict` when each peer fetched with the dependency can go at (or above) the target too."""
        self.own = verdict
        path = (*self.path, self.dep)
        fits = True
        for peer_edge in self.dep.edges.values():
            peer = self.peers.members.get(peer_edge.key) if peer_edge.wanted.peer else None
            if peer is None or peer in path:
                continue
            target = deepest_target(self.target, peer_edge.key)
            check = _Check(self.tree, peer, target, peer_edge, self.peers, self.deepest, path)
            fits = fits and check.verdict != "conflict"
        return verdict if fits else "conflict"
