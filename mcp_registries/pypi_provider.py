"""The PyPI tree's resolvelib provider, and the fetching it needs, over the service's cached documents.

The resolver runs in a worker thread (resolvelib is synchronous); every document it needs is fetched on the
event loop by `Fetcher`, which also fetches ahead: when a version's requirements are known, the indexes of
its dependencies and the metadata of the versions likely to be chosen are fetched concurrently, so that a
cold tree costs about one round trip per level rather than one per package.

What `Provider` adds to `pypi_rules` (pip 26, `pip/_internal/resolution/resolvelib`):
- candidates are built lazily, as pip builds them: a version's metadata is read when the resolver reaches
  it, and a version whose metadata excludes the target Python, or that has no files, is passed over;
- `name[extra]` candidates depend on `name` at the same version (pip's ExplicitRequirement, pinned first);
- the order in which names are pinned: pip's preference key and backtracking narrowing.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.from_thread
from anyio.abc import TaskGroup
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter

from .errors import PackageNotFound, RegistryError
from .pypi_rules import Cand, Chooser, Req, Unusable, parsed_versions, requirements_of, split_identifier
from .registries.base import PackageIndex, VersionDoc
from .registries.pypi_simple import DEPENDENCIES_UNKNOWN
from .resolution import Lookups

if TYPE_CHECKING:
    from resolvelib.resolvers import RequirementInformation
    from resolvelib.structs import State

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Documents fetched ahead at once (the demanded ones do not wait for this).
PREFETCH = 16
#: Versions of one name read, at most, to tell why none satisfies a requirement on its own.
WHY_NONE_READS = 12
#: Versions of one name fetched ahead once the resolver goes past the first.
LOOKAHEAD = 4
#: pip promotes a name that keeps appearing unpinned in conflicts after this many (provider.py).
_CONFLICT_PRIORITY_THRESHOLD = 5


# -- documents, fetched on the event loop ------------------------------------------------------------


class Slot(Generic[T]):
    """One document: fetched once, by whoever asks first; the worker thread reads it once `ready`."""

    __slots__ = ("done", "error", "ready", "started", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.started = False
        self.ready = False
        self.value: T | None = None
        self.error: RegistryError | None = None


class Fetcher:
    """The documents of one resolution, each fetched once; prefetches on the event loop, bounded."""

    def __init__(
        self, lookups: Lookups, group: TaskGroup, chooser: Chooser, env: Mapping[str, str], budget: int
    ):
        self.lookups = lookups
        self.group = group
        self.chooser = chooser
        self.env = env
        self.budget = budget
        self.indexes: dict[str, Slot[PackageIndex]] = {}
        self.docs: dict[tuple[str, str], Slot[VersionDoc]] = {}
        self._limiter = anyio.CapacityLimiter(PREFETCH)
        self._ahead: set[tuple[str, frozenset[str], str]] = set()

    async def index(self, name: str) -> Slot[PackageIndex]:
        slot = self.indexes.setdefault(name, Slot())
        await _settle(slot, lambda: self.lookups.index(name))
        return slot

    async def doc(self, name: str, version: str) -> Slot[VersionDoc]:
        slot = self.docs.setdefault((name, version), Slot())
        await _settle(slot, lambda: self.lookups.manifest(name, version))
        return slot

    def prefetch(self, requirements: Iterable[Req | Unusable]) -> None:
        """Start fetching, in the background, what these requirements will most likely need (event loop)."""
        for req in requirements:
            if not isinstance(req, Req):
                continue
            key = (req.name, req.extras, str(req.specifier))
            if key in self._ahead or len(self._ahead) >= self.budget:
                continue
            self._ahead.add(key)
            self.group.start_soon(self._ahead_of, req)

    def prefetch_versions(self, name: str, versions: Iterable[str]) -> None:
        """Start fetching these versions' documents in the background (event loop): the next candidates
        of a name the resolver is backtracking over, each otherwise one round trip after another."""
        for version in versions:
            if (name, version) not in self.docs:
                self.docs[(name, version)] = Slot()
                self.group.start_soon(self._version_ahead, name, version)

    async def _version_ahead(self, name: str, version: str) -> None:
        try:
            async with self._limiter:
                await self.doc(name, version)
        except Exception:
            log.debug("prefetching %s %s failed", name, version, exc_info=True)

    async def _ahead_of(self, req: Req) -> None:
        try:
            await self._fetch_ahead(req)
        except Exception:
            # Speculative: whoever needs the document asks again, and meets the failure itself.
            log.debug("prefetching %s failed", req.key, exc_info=True)

    async def _fetch_ahead(self, req: Req) -> None:
        async with self._limiter:
            index = (await self.index(req.name)).value
        if index is None:
            return
        best = next(iter(self.chooser.applicable(index, req.specifier)), None)
        if best is None:
            return
        async with self._limiter:
            doc = (await self.doc(req.name, best[1])).value
        if doc is not None:
            self.prefetch(requirements_of(doc, frozenset(), self.env)[0])
            if req.extras:
                self.prefetch(requirements_of(doc, req.extras, self.env)[0])


async def _settle(slot: Slot[T], fetch: Callable[[], Awaitable[T]]) -> None:
    """Fetch into `slot` unless someone already is (then wait); a cancelled fetch leaves it to the next asker."""
    while not slot.ready:
        if slot.started:
            await slot.done.wait()
            continue
        slot.started = True
        done = slot.done
        try:
            slot.value = await fetch()
        except RegistryError as error:
            slot.error = error
        except BaseException:
            slot.started, slot.done = False, anyio.Event()
            raise
        finally:
            done.set()
        slot.ready = True


# -- the provider, in the worker thread ---------------------------------------------------------------


class Stopped(Exception):
    """The resolution was abandoned (its caller went away) or reached the package limit."""


@dataclass
class Findings:
    """What the provider learnt on the way, for the answer: failures, skips, unusable lines, unknown extras."""

    #: name -> why its index could not be read.
    missing: dict[str, RegistryError] = field(default_factory=dict)
    #: (name, version) -> why that version was passed over after reading its metadata.
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (name, version) -> why its requirements are unknown (metadata unread or unpublished).
    unknown: dict[tuple[str, str], str] = field(default_factory=dict)
    #: candidate key and version -> requirement lines left out.
    unusable: dict[tuple[str, str], list[Unusable]] = field(default_factory=dict)
    #: candidate key and version -> extras asked of it that it does not define.
    no_extras: dict[tuple[str, str], list[str]] = field(default_factory=dict)


class Provider(AbstractProvider[Req, Cand, str]):
    def __init__(
        self,
        fetcher: Fetcher,
        roots: Sequence[str],
        stop: threading.Event,
        dropped: set[tuple[str, str, str]],
    ) -> None:
        self.fetcher = fetcher
        self.chooser = fetcher.chooser
        self.env = fetcher.env
        self.roots = {key: order for order, key in enumerate(roots)}
        self.stop = stop
        #: (parent label, requirement key, specifier) edges left out after they made the resolution impossible.
        self.dropped = dropped
        self.findings = Findings()
        self._conflicts: defaultdict[str, int] = defaultdict(int)
        self._promoted: set[str] = set()

    # documents, from the event loop unless already there
    def index(self, name: str) -> PackageIndex | None:
        slot = self.fetcher.indexes.get(name)
        if slot is None or not slot.ready:
            self._check()
            slot = anyio.from_thread.run(self.fetcher.index, name)
        if slot.error is not None:
            self.findings.missing[name] = slot.error
        return slot.value

    def doc(self, name: str, version: str) -> VersionDoc | None:
        slot = self.fetcher.docs.get((name, version))
        if slot is None or not slot.ready:
            self._check()
            slot = anyio.from_thread.run(self.fetcher.doc, name, version)
        if slot.error is not None:
            self.findings.unknown[(name, version)] = f"its metadata could not be read ({slot.error})"
        return slot.value

    def _check(self) -> None:
        if self.stop.is_set():
            raise Stopped

    # resolvelib's interface
    def identify(self, requirement_or_candidate: Req | Cand) -> str:
        return requirement_or_candidate.key

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Cand],
        candidates: Mapping[str, Iterator[Cand]],
        information: Mapping[str, Iterator[RequirementInformation[Req, Cand]]],
        backtrack_causes: Sequence[RequirementInformation[Req, Cand]],
    ) -> Iterable[str]:
        # pip: names in the latest conflict first, then those that keep turning up unpinned in conflicts.
        causes = set()
        for info in backtrack_causes:
            for key in (info.requirement.key, *([info.parent.key] if info.parent is not None else [])):
                causes.add(key)
                if key not in resolutions:
                    self._conflicts[key] += 1
                    if self._conflicts[key] >= _CONFLICT_PRIORITY_THRESHOLD:
                        self._promoted.add(key)
        identifiers = list(identifiers)
        current = [key for key in identifiers if key in causes]
        promoted = [key for key in identifiers if key not in causes and key in self._promoted]
        return current or promoted or identifiers

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Cand],
        candidates: Mapping[str, Iterator[Cand]],
        information: Mapping[str, Iterator[RequirementInformation[Req, Cand]]],
        backtrack_causes: Sequence[RequirementInformation[Req, Cand]],
    ) -> Any:
        reqs = [r for r, _ in information[identifier]]
        operators = [(s.operator, s.version) for r in reqs if not r.pin for s in r.specifier]
        exact = any(op[:2] == "==" and "*" not in v for op, v in operators)
        upper = any(op in ("<", "<=", "~=") or (op == "==" and "*" in v) for op, v in operators)
        return (
            identifier not in self._promoted,
            not any(r.pin for r in reqs),
            not exact,
            not upper,
            self.roots.get(identifier, math.inf),
            not operators,
            identifier,
        )

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Cand]],
    ) -> Callable[[], Iterator[Cand]]:
        name, extras = split_identifier(identifier)
        reqs = list(requirements[identifier])
        if extras:
            reqs += list(requirements.get(name, ()))
        specifier = SpecifierSet()
        for req in reqs:
            specifier &= req.specifier
        index = self.index(name)
        versions = self.chooser.applicable(index, specifier) if index is not None else []
        refused = {c.raw for c in incompatibilities.get(identifier, ())}
        return lambda: self._candidates(name, extras, versions, refused)

    def _candidates(
        self, name: str, extras: frozenset[str], versions: list[tuple[Version, str]], refused: set[str]
    ) -> Iterator[Cand]:
        """Lazily, as pip builds its candidates: a version is read only when the resolver gets to it (past
        the first, a few more are fetched ahead: the resolver is going down the list)."""
        for position, (version, raw) in enumerate(versions):
            if position % LOOKAHEAD == 1:
                ahead = [r for _, r in versions[position : position + LOOKAHEAD] if r not in refused]
                self._check()
                anyio.from_thread.run_sync(self.fetcher.prefetch_versions, name, ahead)
            if raw not in refused and self._installable(name, raw):
                yield Cand(name, version, raw, extras)

    def _installable(self, name: str, raw: str) -> bool:
        if (name, raw) in self.findings.skipped:
            return False
        doc = self.doc(name, raw)
        if doc is None:
            return True
        python = doc.engines.get("python")
        slot = self.fetcher.indexes.get(name)
        index = slot.value if slot is not None else None
        if not self.chooser.admits(python):
            self.findings.skipped[(name, raw)] = f"requires Python {python}"
        elif not doc.artifacts and index is not None and raw not in index.released:
            self.findings.skipped[(name, raw)] = "has no files"
        return (name, raw) not in self.findings.skipped

    def is_satisfied_by(self, requirement: Req, candidate: Cand) -> bool:
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Cand) -> list[Req]:
        doc = self.doc(candidate.name, candidate.raw)
        if doc is None:
            return []
        key = (candidate.key, candidate.raw)
        found, missing = requirements_of(doc, candidate.extras, self.env)
        unknown = next((n for n in doc.dependency_notes if n.startswith(DEPENDENCIES_UNKNOWN)), None)
        if unknown is not None:
            self.findings.unknown[(candidate.name, candidate.raw)] = unknown.removeprefix(
                DEPENDENCIES_UNKNOWN
            )
        elif missing:
            self.findings.no_extras[key] = missing
        usable = [r for r in found if isinstance(r, Req)]
        self.findings.unusable[key] = [r for r in found if isinstance(r, Unusable)]
        if usable:
            self._call_soon(self.fetcher.prefetch, usable)
        if candidate.extras:
            pin = Req(candidate.name, frozenset(), SpecifierSet(f"=={candidate.raw}"), pin=True)
            usable.insert(0, pin)
        return [r for r in usable if (candidate.label, r.key, str(r.specifier)) not in self.dropped]

    def _call_soon(self, function: Callable[[list[Req]], None], requirements: list[Req]) -> None:
        self._check()
        anyio.from_thread.run_sync(function, requirements)

    # what a requirement alone would find, for the reasons of an answer
    def why_none(self, req: Req) -> str | None:
        """Why nothing satisfies this requirement on its own, or None when something does."""
        index = self.index(req.name)
        if index is None:
            error = self.findings.missing.get(req.name)
            if isinstance(error, PackageNotFound):
                return f"PyPI has no project named {req.name}"
            return f"its index could not be read ({error})"
        versions = self.chooser.applicable(index, req.specifier)
        if len(versions) > WHY_NONE_READS or any(self._installable(req.name, raw) for _, raw in versions):
            return None
        wanted = f" {req.specifier}" if req.specifier else ""
        every = parsed_versions(index)
        matching = [raw for v, raw in every if req.specifier.contains(v, prereleases=True)]
        if not matching:
            return f"no release of {index.name} matches{wanted}"
        python = [raw for raw in matching if not self.chooser.admits(index.requires_python.get(raw))]
        skipped = [
            self.findings.skipped[(req.name, raw)]
            for raw in matching
            if (req.name, raw) in self.findings.skipped
        ]
        if len(python) + sum("Python" in s for s in skipped) == len(matching):
            return f"every release of {index.name} that matches{wanted} requires another Python than {self.chooser.target}"
        if all(raw in index.yanks for raw in matching):
            return f"every release of {index.name} that matches{wanted} is yanked (pin one with == to use it)"
        if all(raw in index.prereleases for raw in matching):
            return f"only prereleases of {index.name} match{wanted} (name one in the specifier to use it)"
        return f"no installable release of {index.name} matches{wanted}"


class Reporter(BaseReporter[Req, Cand, str]):
    """Counts rounds, keeps the latest state (for partial answers), and stops at the package limit."""

    def __init__(self, limit: int, stop: threading.Event) -> None:
        self.limit = limit
        self.stop = stop
        self.rounds = 0
        self.state: State[Req, Cand, str] | None = None
        #: The edges of the latest conflict (resolvelib may roll its states back past their causes).
        self.causes: list[RequirementInformation[Req, Cand]] = []
        self.full = False

    def resolving_conflicts(self, causes: Collection[RequirementInformation[Req, Cand]]) -> None:
        self.causes = list(causes)

    def starting_round(self, index: int) -> None:
        self.rounds += 1
        if self.stop.is_set():
            raise Stopped

    def ending_round(self, index: int, state: State[Req, Cand, str]) -> None:
        self.state = state
        if len(state.mapping) > self.limit and len({c.name for c in state.mapping.values()}) > self.limit:
            self.full = True
            raise Stopped
