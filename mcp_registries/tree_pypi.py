"""The PyPI tree: what `pip install name==version` would install for a target Python and platform.

resolvelib (the resolver pip uses) runs in a worker thread over `pypi_provider`'s rules; documents come from
the service's cache through `Lookups`, fetched on the event loop. A requirement that makes the resolution
impossible (a missing project, no matching release, two parents that disagree) is set aside and the
resolution run again without it, so the answer is the rest of the tree plus that edge in `unresolved`; past
the round limit (backtracking that does not settle) the answer is what was pinned when it stopped.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import ResolutionImpossible, ResolutionTooDeep
from resolvelib.resolvers import Resolution as Run

from .errors import InvalidArgument, VersionNotFound
from .pypi_provider import Fetcher, Provider, Reporter, Slot, Stopped
from .pypi_rules import Cand, Chooser, Req
from .registries.base import PackageIndex
from .resolution import MAX_PACKAGES, Lookups, Resolution, Resolved, Unresolved

if TYPE_CHECKING:
    from resolvelib.resolvers import Criterion, RequirementInformation
    from resolvelib.structs import State

    Information = RequirementInformation[Req, Cand]

Platform = Literal["linux", "macos", "windows"]

#: resolvelib rounds (one pin or one backtrack each) for a whole answer, over its retries: a 300-package
#: tree without conflicts takes ~310. pip allows 200,000; a server answering while a client waits, fewer.
ROUNDS = 5000
#: How many times an impossible resolution is run again without the requirements that made it so.
RETRIES = 8

#: The PEP 508 marker values of CPython on each platform (64-bit x86). `platform_release` and
#: `platform_version` (the OS build) are unknown: markers on them compare with "".
PLATFORMS: dict[Platform, dict[str, str]] = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix", "platform_machine": "x86_64"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
}  # fmt: skip
_PYTHON = re.compile(r"^(\d{1,2})\.(\d{1,3})(?:\.(\d{1,3}))?$")


def marker_environment(python: str, platform: Platform) -> dict[str, str]:
    """Every PEP 508 marker variable for CPython `python` ('3.12' means 3.12.0, as pip's --python-version)."""
    match = _PYTHON.match(python.strip())
    if match is None:
        raise InvalidArgument("python", f"{python!r} is not a Python version such as '3.12' or '3.12.4'.")
    if platform not in PLATFORMS:
        raise InvalidArgument("platform", f"{platform!r} is not one of {', '.join(PLATFORMS)}.")
    major, minor, micro = match.group(1), match.group(2), match.group(3) or "0"
    full = f"{int(major)}.{int(minor)}.{int(micro)}"
    return {
        "python_version": f"{int(major)}.{int(minor)}",
        "python_full_version": full,
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        **PLATFORMS[platform],
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }


async def resolve_pypi(
    lookups: Lookups,
    name: str,
    version: str,
    *,
    extras: Sequence[str] = (),
    python: str = "3.12",
    platform: Platform = "linux",
    limit: int = MAX_PACKAGES,
    rounds: int = ROUNDS,
) -> Resolution:
    """What pip would install for `name[extras]==version` on CPython `python` on `platform`.

    Raises only when the root does not exist (`PackageNotFound`, `VersionNotFound`) or an argument is
    invalid; everything else that cannot be resolved is in the answer's `unresolved` and `notes`.
    """
    env = marker_environment(python, platform)
    name = canonicalize_name(name)
    index = await lookups.index(name)
    raw = _root_version(index, version)
    chooser = Chooser(Version(env["python_full_version"]))
    stop = threading.Event()
    async with anyio.create_task_group() as group:
        fetcher = Fetcher(lookups, group, chooser, env, budget=limit)
        primed: Slot[PackageIndex] = Slot()
        primed.started = primed.ready = True
        primed.value = index
        fetcher.indexes[name] = primed
        wanted = frozenset(canonicalize_name(e) for e in extras)
        job = _Job(fetcher, Cand(name, Version(raw), raw), wanted, limit, rounds, stop)
        fetcher.prefetch([Req(name, wanted, SpecifierSet(f"=={raw}"))])
        try:
            # Abandoned on cancellation: `stop` makes the thread give up at its next document or round.
            resolution = await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
        finally:
            stop.set()
            group.cancel_scope.cancel()
    resolution.environment = env
    return resolution


def _root_version(index: PackageIndex, version: str) -> str:
    """The index's spelling of `version` (exactly, or a PEP 440 equal: '1.0' for '1.0.0')."""
    if version in index.version_order:
        return version
    try:
        wanted = Version(version)
    except InvalidVersion:
        wanted = None
    for raw in index.version_order:
        try:
            if wanted is not None and Version(raw) == wanted:
                return raw
        except InvalidVersion:
            continue
    raise VersionNotFound("pypi", index.name, version, latest=index.latest_version)


@dataclass
class _Setback:
    """A requirement set aside: its edge, and why it could not be resolved."""

    info: Information
    reason: str
    #: Listed even when its parent is not in the answer (a resolution that stopped midway).
    always: bool = False


@dataclass
class _Job:
    """One resolution in the worker thread: runs, sets aside what makes it impossible, runs again."""

    fetcher: Fetcher
    root: Cand
    extras: frozenset[str]
    limit: int
    rounds: int
    stop: threading.Event
    setbacks: list[_Setback] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def run(self) -> Resolution:
        pin = SpecifierSet(f"=={self.root.raw}")
        roots = [Req(self.root.name, frozenset(), pin)]
        if self.extras:
            roots.append(Req(self.root.name, self.extras, pin))
        dropped: set[tuple[str, str, str]] = set()
        provider = Provider(self.fetcher, [r.key for r in roots], self.stop, dropped)
        used = 0
        for _ in range(RETRIES + 1):
            reporter = Reporter(self.limit, self.stop)
            run: Run[Req, Cand, str] = Run(provider, reporter)
            try:
                state = run.resolve(roots, max_rounds=max(self.rounds - used, 1))
                return self._answer(provider, state.mapping, state.criteria)
            except ResolutionImpossible as impossible:
                used += reporter.rounds
                causes = list(impossible.causes)
                setbacks = self._set_aside(provider, causes)
                at_root = [s for s in setbacks if s.info.parent is None]
                if at_root:
                    self.setbacks += at_root
                    return self._answer(provider, {}, {})
                new = [s for s in setbacks if _edge(s.info) not in dropped]
                if not new:
                    self._stuck(provider, causes, "it cannot be satisfied together with the rest of the tree")
                    return self._partial(
                        provider, run, reporter, "no installation satisfies every requirement"
                    )
                self.setbacks += new
                dropped.update(_edge(s.info) for s in new)
            except ResolutionTooDeep:
                last = reporter.state
                self._stuck(provider, reporter.causes, f"a conflict not settled within {self.rounds} rounds")
                if last is not None:
                    self._unreached(last)
                return self._partial(
                    provider, run, reporter, f"the resolution stopped after {self.rounds} rounds"
                )
            except Stopped:
                if not reporter.full:
                    raise
                return self._partial(provider, run, reporter, f"the tree passed {self.limit} packages")
        return self._partial(provider, run, reporter, f"still impossible after setting aside {RETRIES} times")

    def _set_aside(self, provider: Provider, causes: list[Information]) -> list[_Setback]:
        """Which of the edges that made a resolution impossible to leave out, and why: those that nothing
        satisfies on their own, else (a conflict) those of every parent but one (the root, or the first)."""
        by_name: defaultdict[str, list[Information]] = defaultdict(list)
        for info in causes:
            by_name[info.requirement.name].append(info)
        found = []
        for infos in by_name.values():
            alone = [(info, provider.why_none(info.requirement)) for info in infos]
            impossible = [_Setback(info, why) for info, why in alone if why]
            if impossible or len({_parent(i) for i in infos}) < 2:
                found += impossible
                continue
            keep = next((i for i in infos if i.parent is None), infos[0])
            kept = f"{_shown(keep.requirement)} required by {_parent(keep) or 'the root'}"
            found += [_Setback(i, f"conflicts with {kept}") for i in infos if _parent(i) != _parent(keep)]
        return found

    def _stuck(self, provider: Provider, causes: list[Information], why: str) -> None:
        seen = {(_parent(s.info), s.info.requirement) for s in self.setbacks}
        for info in causes:
            if (_parent(info), info.requirement) not in seen:
                seen.add((_parent(info), info.requirement))
                self.setbacks.append(_Setback(info, provider.why_none(info.requirement) or why, always=True))

    def _unreached(self, state: State[Req, Cand, str]) -> None:
        """The requirements of pinned versions that nothing was pinned for yet when the rounds ran out."""
        seen = {(_parent(s.info), s.info.requirement) for s in self.setbacks}
        why = f"not reached within the {self.rounds} rounds allowed"
        for key, criterion in state.criteria.items():
            if key in state.mapping:
                continue
            for info in criterion.information:
                pinned = info.parent is None or state.mapping.get(info.parent.key) == info.parent
                if pinned and (_parent(info), info.requirement) not in seen:
                    seen.add((_parent(info), info.requirement))
                    self.setbacks.append(_Setback(info, why))

    def _partial(
        self, provider: Provider, run: Run[Req, Cand, str], reporter: Reporter, why: str
    ) -> Resolution:
        state: State[Req, Cand, str] | None
        try:
            state = run.state
        except AttributeError:
            state = reporter.state
        self.notes.append(
            f"{why}: the packages listed are those chosen when it stopped (best effort), not a complete installation"
        )
        if state is None:
            return self._answer(provider, {}, {})
        return self._answer(provider, state.mapping, state.criteria)

    def _answer(
        self, provider: Provider, mapping: dict[str, Cand], criteria: dict[str, Criterion[Req, Cand]]
    ) -> Resolution:
        return _Answer(self, provider, mapping, criteria).build()


def _edge(info: Information) -> tuple[str, str, str]:
    assert info.parent is not None
    return (info.parent.label, info.requirement.key, str(info.requirement.specifier))


def _parent(info: Information) -> str | None:
    return None if info.parent is None else info.parent.label


def _shown(req: Req) -> str:
    return f"{req.key}{req.specifier}" if req.specifier else req.key


@dataclass
class _Answer:
    """The resolution's graph read back as the tree's answer: depth, required_by and requirement from
    shortest paths from the root, license from each version's document, yanks from the index."""

    job: _Job
    provider: Provider
    mapping: dict[str, Cand]
    criteria: dict[str, Criterion[Req, Cand]]

    def display(self, name: str) -> str:
        slot = self.job.fetcher.indexes.get(name)
        return slot.value.name if slot is not None and slot.value is not None and slot.value.name else name

    def label(self, cand: Cand) -> str:
        return f"{self.display(cand.name)}@{cand.raw}"

    def pinned(self, cand: Cand | None) -> bool:
        return cand is not None and self.mapping.get(cand.key) == cand

    def build(self) -> Resolution:
        root = self.job.root
        versions = {c.name: c for c in self.mapping.values() if not c.extras}
        versions.update({c.name: c for c in self.mapping.values() if c.name not in versions})
        # name -> [(child, requirement as written)] over the pinned candidates' edges.
        edges: defaultdict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for criterion in self.criteria.values():
            for req, by in criterion.information:
                if by is not None and self.pinned(by) and req.name != by.name:
                    edges[by.name].append((req.name, req.written))
        depth = {root.name: 0}
        found: list[Resolved] = []
        level = [root.name]
        while level:
            following = []
            for parent in sorted(level):
                for child, written in edges[parent]:
                    if child in depth or child not in versions:
                        continue
                    depth[child] = depth[parent] + 1
                    following.append(child)
                    found.append(
                        self.resolved(versions[child], depth[child], self.label(versions[parent]), written)
                    )
            level = following
        resolution = Resolution(
            root=self.resolved(root, 0, "", None),
            packages=sorted(found, key=lambda r: (r.depth, canonicalize_name(r.name))),
            unresolved=self.unresolved(),
            notes=self.notes(set(depth)),
        )
        return resolution

    def resolved(self, cand: Cand, depth: int, required_by: str, written: str | None) -> Resolved:
        slot = self.job.fetcher.docs.get((cand.name, cand.raw))
        doc = slot.value if slot is not None else None
        index = self.job.fetcher.indexes[cand.name].value
        return Resolved(
            name=self.display(cand.name),
            version=cand.raw,
            depth=depth,
            required_by=required_by,
            requirement=written,
            license=doc.license if doc is not None else None,
            yanked=index is not None and cand.raw in index.yanks,
        )

    def unresolved(self) -> list[Unresolved]:
        found = []
        for setback in self.job.setbacks:
            parent = setback.info.parent
            if parent is not None and not setback.always and not self.pinned(parent):
                continue
            req = setback.info.requirement
            required_by = self.label(parent) if parent is not None else ""
            written = req.written if parent is not None else str(req.specifier)
            found.append(Unresolved(self.display(req.name), written, required_by, setback.reason))
        for (key, version), lines in self.provider.findings.unusable.items():
            cand = self.mapping.get(key)
            if cand is not None and cand.raw == version:
                found += [Unresolved(u.name, u.written, self.label(cand), u.reason) for u in lines]
        unique = {(u.name, u.requirement, u.required_by): u for u in found}
        return list(unique.values())

    def notes(self, reached: set[str]) -> list[str]:
        findings = self.provider.findings
        notes = list(self.job.notes)
        for cand in self.mapping.values():
            if cand.name not in reached:
                continue
            why = findings.unknown.get((cand.name, cand.raw))
            if why and not cand.extras:
                notes.append(f"the dependencies of {self.label(cand)} are unknown: {why}")
            missing = findings.no_extras.get((cand.key, cand.raw))
            if missing:
                notes.append(f"{self.label(cand)} has no extra {', '.join(repr(e) for e in missing)}")
        return notes
