"""`tree` for npm: the packages a fresh `npm install <name>@<version>` writes to package-lock.json.

npm 7 and later installs runtime dependencies, optional ones (marked optional; one that cannot be
fetched is left out, not a failure) and peer dependencies but the optional ones. arborist builds the
node_modules tree shallowest package first; each dependency the tree does not satisfy yet is fetched
(`npm_pick`: `latest` when the range admits it, else the highest version it admits) and placed as high
as it fits (`tree_npm_placement`), so a version already placed where the dependent can see it is reused,
and a name appears with several versions only where one could not serve every dependent.

Every package document and version document is read through `Lookups` (the service's cache), at most
`IN_FLIGHT` at a time: a placed package's dependencies are asked for as soon as it is placed, while
placement itself goes one package at a time in arborist's order (its outcome depends on that order).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from .errors import RegistryError, shown
from .manifests.base import Refused
from .manifests.npm import read_requirement
from .registries.base import VersionDoc
from .registries.npm_pick import pick, spec_kind
from .resolution import MAX_PACKAGES, Lookups, Resolution, Resolved, Unresolved
from .tree_npm_nodes import Edge, EdgeKind, Node, Package, Wanted, collation, satisfies
from .tree_npm_placement import PeerSet, Tree

#: Lookups (package or version documents) one tree has in flight.
IN_FLIGHT = 16
#: Packages visited per package a tree may hold: a visit places a package's unmet dependencies, and a few
#: are visited again when a later placement breaks an edge they had (a 1,200-package tree: ~1.1 visits
#: each). Peer groups can displace each other forever, as npm 11 itself does on such a tree (it never
#: finishes); the bound ends that, with a note.
VISITS = 5

T = TypeVar("T")
K = TypeVar("K", str, tuple[str, str])


async def resolve_npm(lookups: Lookups, name: str, version: str, *, limit: int = MAX_PACKAGES) -> Resolution:
    """The tree npm installs for `name`@`version` (an exact version); raises only when the root cannot be
    read (`PackageNotFound`, `VersionNotFound`, an upstream failure)."""
    index = await lookups.index(name)
    root = package_of(await lookups.manifest(name, version), index.deprecations.get(version))
    async with anyio.create_task_group() as group:
        fetcher = _Fetcher(lookups, group)
        fetcher.seed(root)
        builder = _Builder(fetcher, root, limit)
        await builder.build()
        group.cancel_scope.cancel()
    return _report(builder, limit)


def package_of(doc: VersionDoc, deprecated: str | None = None) -> Package:
    """What the tree keeps of a version document: its dependencies by npm's precedence, license, deprecation."""
    wants: dict[str, Wanted] = {}
    groups: Sequence[tuple[EdgeKind, Sequence[tuple[str, str, bool]]]] = (
        ("peer", [(d.name, d.requirement or "", d.optional) for d in doc.peer]),
        ("prod", [(d.name, d.requirement or "", False) for d in doc.runtime]),
        ("optional", [(d.name, d.requirement or "", False) for d in doc.optional]),
    )
    for kind, listed in groups:
        for key, raw, optional_peer in listed:
            wants[key] = _wanted(key, raw, "peerOptional" if optional_peer else kind)
    return Package(doc.name, doc.version, tuple(wants.values()), doc.license, doc.deprecated or deprecated)


def _wanted(key: str, raw: str, kind: EdgeKind) -> Wanted:
    try:
        package, spec, why = read_requirement(key, raw)
    except Refused as refused:
        return Wanted(key, raw, kind, why=f"npm cannot read this requirement: {refused}")
    if why is not None or package is None or spec is None:
        return Wanted(key, raw, kind, why=f"{why}, not a registry package: not resolved")
    if spec_kind(spec) is None:
        return Wanted(key, raw, kind, why=f"{shown(spec)} is neither a version, a range nor a dist-tag")
    return Wanted(key, raw, kind, package=package, spec=spec)


@dataclass(frozen=True, slots=True)
class _Choices:
    """What a pick reads of a package's index (the rest of the index is not kept)."""

    version_order: Sequence[str]
    dist_tags: Mapping[str, str]
    deprecations: Mapping[str, str]


class _Once(Generic[T]):
    """One lookup's result, awaited by everyone who asks for it."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: T | str = "not looked up"


async def _result(once: _Once[T]) -> T | str:
    await once.done.wait()
    return once.value


class _Fetcher:
    """Lookups, each made once and at most `IN_FLIGHT` at a time; a failure is its one-sentence reason."""

    def __init__(self, lookups: Lookups, group: TaskGroup) -> None:
        self.lookups = lookups
        self.group = group
        self.limiter = anyio.CapacityLimiter(IN_FLIGHT)
        self._indexes: dict[str, _Once[_Choices]] = {}
        self._docs: dict[tuple[str, str], _Once[Package]] = {}
        self._picks: dict[tuple[str, str], _Once[Package]] = {}

    def seed(self, package: Package) -> None:
        once: _Once[Package] = _Once()
        once.value = package
        once.done.set()
        self._docs[package.name, package.version] = self._picks[package.name, package.version] = once

    def prefetch(self, wanted: Wanted) -> None:
        if wanted.package is not None and wanted.spec is not None:
            self._pick_once(wanted.package, wanted.spec)

    async def get(self, wanted: Wanted) -> Package | str:
        """The package npm installs for a registry requirement, or why there is none."""
        assert wanted.package is not None and wanted.spec is not None
        return await _result(self._pick_once(wanted.package, wanted.spec))

    def _pick_once(self, name: str, spec: str) -> _Once[Package]:
        return self._start(self._picks, (name, spec), lambda: self._pick(name, spec))

    def _start(self, table: dict[K, _Once[T]], key: K, make: Callable[[], Awaitable[T | str]]) -> _Once[T]:
        found = table.get(key)
        if found is None:
            found = table[key] = _Once()

            async def run(once: _Once[T]) -> None:
                try:
                    once.value = await make()
                finally:
                    once.done.set()

            self.group.start_soon(run, found)
        return found

    async def _pick(self, name: str, spec: str) -> Package | str:
        choices = await _result(self._start(self._indexes, name, lambda: self._index(name)))
        if isinstance(choices, str):
            return choices
        version = pick(choices, spec)
        if version is None:
            if spec_kind(spec) == "tag":
                return f"{name} has no dist-tag {shown(spec)}"
            return f"no version of {name} satisfies {shown(spec)}"
        deprecated = choices.deprecations.get(version)
        return await _result(
            self._start(self._docs, (name, version), lambda: self._doc(name, version, deprecated))
        )

    async def _index(self, name: str) -> _Choices | str:
        try:
            async with self.limiter:
                index = await self.lookups.index(name)
        except RegistryError as exc:
            return exc.message
        if not index.version_order:
            return f"{name} has no published versions"
        return _Choices(index.version_order, index.dist_tags, index.deprecations)

    async def _doc(self, name: str, version: str, deprecated: str | None) -> Package | str:
        try:
            async with self.limiter:
                doc = await self.lookups.manifest(name, version)
        except RegistryError as exc:
            return exc.message
        return package_of(doc, deprecated)


class _Builder:
    """arborist's buildIdealTree loop over a `Tree`: take the shallowest unvisited package, fetch what its
    unmet dependencies need (with their peers), place them in name order."""

    def __init__(self, fetcher: _Fetcher, root: Package, limit: int) -> None:
        self.fetcher = fetcher
        self.limit = limit
        project = Node(
            "", Package("", "", (Wanted(root.name, root.version, "prod", root.name, root.version),))
        )
        self.tree = Tree(project)
        self.failures: dict[Edge, str] = {}
        #: Stopped at `limit` packages; stopped because placements kept undoing each other.
        self.stopped = self.unsettled = False

    async def build(self) -> None:
        seen: set[Node] = set()
        visits = 0
        while (node := self.tree.pop()) is not None:
            if node in seen:
                continue
            if len(self.tree.counts) - 1 > self.limit:  # the root is counted too
                self.stopped = True
                return
            visits += node is not self.tree.project
            if visits > VISITS * self.limit:
                self.unsettled = True
                return
            seen.add(node)
            problems = [e for e in self.tree.problems(node) if e not in self.failures]
            for edge in problems:
                self.fetcher.prefetch(edge.wanted)
            tasks = []
            for edge in problems:
                peers = await self._dependency(edge)
                if peers is not None:
                    tasks.append(peers)
            for peers in sorted(tasks, key=lambda p: collation(p.entry.key)):
                for touched in self.tree.place(peers.entry, peers.dep, peers):
                    seen.discard(touched)
                    self.tree.push(touched)
                    for edge in self.tree.problems(touched):
                        self.fetcher.prefetch(edge.wanted)

    async def _dependency(self, edge: Edge) -> PeerSet | None:
        """The package npm fetches for an unmet edge, with the peers it brings (None: it cannot be had)."""
        wanted = edge.wanted
        if wanted.why is not None:
            self.failures[edge] = wanted.why
            return None
        if wanted.kind == "peerOptional" and (found := self._hoistable(edge)) is not None:
            return PeerSet(edge, found)
        package = await self.fetcher.get(wanted)
        if isinstance(package, str):
            self.failures[edge] = package
            return None
        dep = Node(wanted.key, package)
        peers = PeerSet(edge, dep, {wanted.key: dep})
        await self._load_peers(dep, peers)
        return peers

    def _hoistable(self, edge: Edge) -> Node | None:
        """An optional peer an existing copy satisfies (npm/cli#9249: no fetch for it), nearest first."""
        queue = deque((edge.source.parent or edge.source).children.values())
        while queue:
            node = queue.popleft()
            if node.key == edge.key and satisfies(node.package, edge.wanted):
                return Node(edge.key, node.package)
            queue.extend(node.children.values())
        return None

    async def _load_peers(self, node: Node, peers: PeerSet) -> None:
        """The peers (and theirs) of a package about to be placed, picked as arborist's #loadPeerSet: for a
        name the dependent also depends on, the version its own range picks when that suits the peer."""
        source = peers.entry.source
        for edge in sorted(node.edges.values(), key=lambda e: collation(e.key)):
            wanted = edge.wanted
            if not wanted.peer or wanted.key in peers.members or wanted.why is not None:
                continue
            own = source.edges.get(wanted.key)
            chosen: Package | str
            if own is not None and own.wanted.why is None:
                chosen = await self.fetcher.get(own.wanted)
                if isinstance(chosen, str) or not satisfies(chosen, wanted):
                    second = await self.fetcher.get(wanted)
                    if not isinstance(second, str) and satisfies(second, own.wanted):
                        chosen = second
            else:
                chosen = await self.fetcher.get(wanted)
            if isinstance(chosen, str):
                continue
            member = peers.members[wanted.key] = Node(wanted.key, chosen)
            await self._load_peers(member, peers)


def _report(builder: _Builder, limit: int) -> Resolution:
    """The tree as npm's lockfile lists it: every package reachable from the root, once per version, at its
    shortest distance; optional when only optional edges reach it. Unresolved: edges nothing (or a version
    they do not admit) serves, with why."""
    tree = builder.tree
    top = tree.project.children[next(iter(tree.project.edges))]
    required = _required(top)
    found: dict[str, Resolved] = {}
    unresolved: dict[tuple[str, str, str], Unresolved] = {}
    seen = {top}
    queue = deque([(top, 0)])
    while queue:
        node, depth = queue.popleft()
        for edge in node.edges.values():
            target = edge.target()
            if edge in builder.failures and (target is None or not edge.valid()):
                _add(unresolved, edge, builder.failures[edge])
            elif edge.conflicted and not edge.valid():
                have = f"{target.package.id} is installed" if target else "nothing could be installed"
                kind = "peer dependency" if edge.wanted.peer else "dependency"
                _add(unresolved, edge, f"{kind} conflict: {have} where it needs {edge.wanted.raw}")
            if target is None or (target := target.link or target) in seen:
                continue
            seen.add(target)
            queue.append((target, depth + 1))
            package = target.package
            if package.id != top.package.id and package.id not in found:
                found[package.id] = _resolved(package, depth + 1, node.package.id, edge.wanted.raw)
            if target in required and package.id in found:
                found[package.id].optional = False
    packages = list(found.values())
    notes = []
    if builder.stopped or len(packages) > limit:
        packages = packages[:limit]
        notes.append(f"stopped at {limit} packages: the tree is larger, and the rest is not listed")
    if builder.unsettled:
        notes.append(
            "stopped because placing peer dependencies kept displacing each other (npm itself does not finish "
            "on such a tree): the packages listed are where placement stood"
        )
    root = _resolved(top.package, 0, "", None)
    root.optional = False
    return Resolution(root=root, packages=packages, unresolved=list(unresolved.values()), notes=notes)


def _required(top: Node) -> set[Node]:
    """Nodes reachable from `top` through edges that are not optional."""
    seen = {top}
    stack = [top]
    while stack:
        node = stack.pop()
        for edge in node.edges.values():
            target = None if edge.wanted.optional else edge.target()
            if target is not None and (target := target.link or target) not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _add(unresolved: dict[tuple[str, str, str], Unresolved], edge: Edge, reason: str) -> None:
    """One entry per name, requirement and dependent (several copies of a package share their edges)."""
    wanted = edge.wanted
    prefix = "optional dependency: " if wanted.optional else ""
    entry = Unresolved(wanted.key, wanted.raw, edge.source.package.id, prefix + reason)
    unresolved.setdefault((entry.name, wanted.raw, entry.required_by), entry)


def _resolved(package: Package, depth: int, by: str, raw: str | None) -> Resolved:
    """Optional until an edge that is not optional is found to reach it."""
    return Resolved(
        name=package.name,
        version=package.version,
        depth=depth,
        required_by=by,
        requirement=raw,
        optional=True,
        license=package.license,
        deprecated=package.deprecated,
    )
