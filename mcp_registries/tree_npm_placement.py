"""Where a fresh npm install puts each dependency in node_modules.

A model of arborist, the tree builder of npm 7 and later (@npmcli/arborist: lib/place-dep.js,
lib/can-place-dep.js, lib/peer-entry-sets.js, the DepsQueue of build-ideal-tree.js), kept to what
decides which name@version a package-lock.json lists:

- Packages are visited shallowest first, then by location (`Tree.pop`).
- A dependency goes to the shallowest folder, walking up from its dependent, where it conflicts with
  nothing (a different version already there, a dependent below that would then see it instead of the
  version it needs); an equal version already there is kept; a newer one replaces an older one all of
  whose dependents it suits. Otherwise it nests deeper, down to the dependent's own node_modules.
- Peer dependencies go beside their dependent (never inside it), placed with it; its optional peers are
  weighed too, though not installed. A peer group may displace a version that can be placed again deeper,
  under whatever brought it.
- A placement that makes a deeper copy redundant removes that copy.

Left out, because a fresh install of a registry package does not meet them: lockfiles and shrinkwraps,
bundled dependencies, overrides, workspaces and links to folders. Dependencies a replaced package leaves
behind stay in the tree; the walk from the root (`tree_npm`) does not reach them.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from .registries.versioning import semver_key
from .tree_npm_nodes import Edge, Node, Package, collation, deepest_target, satisfies

Verdict = Literal["ok", "keep", "replace", "conflict"]


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
                return []
            chosen = fallback
        target, verdict = chosen
        if verdict == "keep":
            if edge.wanted.peer and not edge.valid():
                edge.conflicted = True
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
        same = other.package is node.package
        if same or (
            self.can_replace(node, other.package)
            and semver_key(other.package.version) > semver_key(node.package.version)
        ):
            self.detach(node)

    def can_replace(self, current: Node, package: Package, peers: set[str] | None = None) -> bool:
        """Whether `package` satisfies every dependent of `current` but those inside it (and its sibling
        peers named in `peers`, replaced along with it)."""
        return package.name == current.package.name and all(
            edge.source.within(current)
            or satisfies(package, edge.wanted)
            or bool(
                peers
                and edge.wanted.peer
                and edge.source.parent is current.parent
                and edge.source.key in peers
            )
            for edge in self.edges_in(current)
        )

    def peer_entry_sets(self, node: Node) -> dict[Edge, list[Node]]:
        """The edges that bring each group of peers `node` belongs to, with the group each brings
        (arborist's peer-entry-sets.js)."""
        union = [node]
        for member in union:
            linked = [e.target() for e in member.edges.values() if e.wanted.peer and e.valid()]
            linked += [e.source for e in self.edges_in(member) if e.wanted.peer and e.valid()]
            union += [n for n in linked if n is not None and n not in union]
        entries: dict[Edge, list[Node]] = {}
        for peer in union:
            for edge in self.edges_in(peer):
                if not edge.valid() or (edge.wanted.peer and edge.source.parent is not None):
                    continue
                group = [peer]
                for member in group:
                    for out in member.edges.values():
                        found = out.target() if out.wanted.peer and out.valid() else None
                        if found is not None and found not in group:
                            group.append(found)
                if node in group:
                    entries[edge] = group
        return entries


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
        return self._with_peers("replace") if self._displaceable(current) else "conflict"

    def _displaceable(self, current: Node) -> bool:
        """A peer at its deepest place may still replace `current` when each group of peers `current` belongs
        to can be replaced by this peer set, or can be placed again deeper, under whatever brought it."""
        members = self.peers.members
        for entry, group in self.tree.peer_entry_sets(current).items():
            if entry is self.edge or entry is self.peers.entry:
                continue
            entry_node = entry.target()
            assert entry_node is not None
            substitute = members.get(entry_node.key)
            if substitute is not None and self.tree.can_replace(entry_node, substitute.package, set(members)):
                continue
            if substitute is None and self._clobbers(entry_node):
                continue
            for peer in group:
                deepest = deepest_target(entry.source, peer.key)
                if self.target is deepest or self.target.within(deepest):
                    return False
        return True

    def _clobbers(self, entry_node: Node) -> bool:
        """Whether every peer reachable from `entry_node` that this peer set also has is satisfied by it."""
        walk = [entry_node]
        for node in walk:
            for edge in node.edges.values():
                if not edge.wanted.peer or not edge.valid():
                    continue
                substitute = self.peers.members.get(edge.key)
                if substitute is None:
                    if (found := edge.target()) is not None and found not in walk:
                        walk.append(found)
                elif not satisfies(substitute.package, edge.wanted):
                    return False
        return True

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
