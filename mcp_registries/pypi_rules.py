"""pip's rules for the PyPI tree that need no fetching: requirements, candidates, identifiers.

What a version requires in the target environment (markers, extras), and which versions of a project are
candidates given its index (Requires-Python from the files, the specifier with pip's prerelease rule,
yanks), as pip 26 does it (`pip/_internal/resolution/resolvelib`, `pip/_internal/index`). Pure functions
and small records, shared by the provider (in the resolver's worker thread) and the prefetcher (on the
event loop).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .registries.base import PackageIndex, VersionDoc


@dataclass(frozen=True, slots=True)
class Req:
    """One requirement edge: a PEP 503 name, its extras, the specifier, and the line as written."""

    name: str
    extras: frozenset[str]
    specifier: SpecifierSet
    written: str | None = None
    #: `name` at the version of a `name[extras]` candidate (pip's ExplicitRequirement, pinned first).
    pin: bool = False

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)


@dataclass(frozen=True, slots=True)
class Cand:
    """A version of a project (or of `name[extras]`), as the index spells it."""

    name: str
    version: Version = field(compare=False)
    raw: str
    extras: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)

    @property
    def label(self) -> str:
        return f"{self.key}@{self.raw}"


def identifier(name: str, extras: frozenset[str]) -> str:
    """pip's identifiers: the normalized name, or 'name[a,b]' for a set of extras."""
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def split_identifier(key: str) -> tuple[str, frozenset[str]]:
    name, _, extras = key.partition("[")
    return name, frozenset(extras.rstrip("]").split(",")) if extras else frozenset()


@dataclass(frozen=True, slots=True)
class Unusable:
    """A requirement line that cannot take part in the resolution (a direct URL, a bad specifier)."""

    name: str
    written: str | None
    reason: str


# -- requirements of one version --------------------------------------------------------------------


def _applies(marker: str | None, env: Mapping[str, str], extra: str = "") -> bool:
    if not marker:
        return True
    try:
        return Marker(marker).evaluate({**env, "extra": extra})
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        # pip cannot evaluate it either, and leaves the line out.
        return False


def _specifier(text: str | None) -> SpecifierSet | None:
    try:
        return SpecifierSet(text or "")
    except InvalidSpecifier:
        return None


def _edge(name: str, extras: Iterable[str], text: str | None, written: str | None) -> Req | Unusable:
    specifier = _specifier(text)
    if specifier is None:
        url = text is not None and "://" in text
        why = (
            "a direct URL requirement (only PyPI's releases are resolved)" if url else "not a valid specifier"
        )
        return Unusable(canonicalize_name(name), written, why)
    extras = frozenset(canonicalize_name(e) for e in extras)
    return Req(canonicalize_name(name), extras, specifier, written)


def _edges(req: Req | Unusable) -> list[Req | Unusable]:
    # pip splits `name[x]>=1` into `name>=1` and `name[x]>=1`: the base's versions are narrowed first.
    if isinstance(req, Req) and req.extras and req.specifier:
        return [Req(req.name, frozenset(), req.specifier, req.written), req]
    return [req]


#: What follows a PEP 508 line's name (its extras, specifier and marker), as written.
_AFTER_NAME = re.compile(r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?P<rest>.*)$", re.DOTALL)


def requirements_of(
    doc: VersionDoc, extras: frozenset[str], env: Mapping[str, str]
) -> tuple[list[Req | Unusable], list[str]]:
    """The requirements one version brings in the target environment, and the extras it does not have.

    Without extras: its runtime requirements whose markers hold. With extras (a `name[extras]` candidate):
    each extra's requirements whose markers hold with `extra` set (the pin on `name` is the provider's).
    """
    found: list[Req | Unusable] = []
    if not extras:
        for dep in doc.runtime:
            if _applies(dep.marker, env):
                extra_part = f"[{','.join(dep.extras)}]" if dep.extras else ""
                marker = f"; {dep.marker}" if dep.marker else ""
                written = f"{extra_part}{dep.requirement or ''}{marker}" or None
                found += _edges(_edge(dep.name, dep.extras, dep.requirement, written))
        return found, []
    seen: set[str] = set()
    for extra in sorted(extras):
        for key, lines in doc.extras.items():
            for line in lines:
                try:
                    parsed = Requirement(line)
                except InvalidRequirement:
                    continue
                marker = str(parsed.marker) if parsed.marker else ""
                # Lines whose marker was only `extra == "key"` are listed under that extra without it; a
                # tangled marker (`extra == "a" or extra == "b"`) is kept whole, under its first extra.
                tangled = "extra" in marker
                if (key != extra and not tangled) or not _applies(marker, env, extra) or line in seen:
                    continue
                seen.add(line)
                rest = _AFTER_NAME.match(line.split(";", 1)[0])
                head = rest.group("rest").strip() if rest else str(parsed.specifier)
                clause = f'extra == "{key}"'
                written = f"{head}; {marker if tangled else (f'{marker} and {clause}' if marker else clause)}"
                text = parsed.url if parsed.url else str(parsed.specifier)
                found += _edges(_edge(parsed.name, parsed.extras, text, written))
    missing = sorted(e for e in extras if e not in doc.extras and not _mentioned(doc, e))
    return found, missing


def _mentioned(doc: VersionDoc, extra: str) -> bool:
    return any(f'"{extra}"' in line for lines in doc.extras.values() for line in lines)


# -- which versions are candidates --------------------------------------------------------------------


def parsed_versions(index: PackageIndex) -> list[tuple[Version, str]]:
    """The index's versions, newest first, that PEP 440 can read (pip skips the others).

    Remembered for the last indexes asked about (the memory front hands out the same index object until it
    changes): a warm PyPI tree parsed ~3,500 versions each time, three quarters of its event loop's work."""
    with _PARSED_LOCK:
        kept = _PARSED.get(id(index))
        if kept is not None and kept[0] is index:
            _PARSED.move_to_end(id(index))
            return kept[1]
    found = []
    for raw in index.version_order:
        try:
            found.append((Version(raw), raw))
        except InvalidVersion:
            continue
    with _PARSED_LOCK:
        # The index is kept with its versions: its id cannot be another object's while it is here.
        _PARSED[id(index)] = (index, found)
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return found


#: Indexes whose parsed versions are remembered (shared by the resolver's thread and the event loop).
PARSED_KEPT = 64
_PARSED: OrderedDict[int, tuple[PackageIndex, list[tuple[Version, str]]]] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def pinned(specifier: SpecifierSet) -> bool:
    return any(
        s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in specifier
    )


@dataclass
class Chooser:
    """The candidate rules that need only an index: Requires-Python from the files, the specifier with
    pip's prerelease rule, yanks. Shared by the provider (worker thread) and the prefetcher (event loop)."""

    target: Version
    _python: dict[str, bool] = field(default_factory=dict)
    #: Per index: its versions, newest first, that the target Python may install (by their files).
    _admitted: dict[str, dict[Version, str]] = field(default_factory=dict)
    #: Per index and merged specifier: the answer (the resolver asks the same question many times).
    _applicable: dict[tuple[str, str], list[tuple[Version, str]]] = field(default_factory=dict)

    def admits(self, requires_python: str | None) -> bool:
        if not requires_python:
            return True
        known = self._python.get(requires_python)
        if known is None:
            specifier = _specifier(requires_python)
            # pip ignores a Requires-Python it cannot read.
            known = specifier is None or specifier.contains(self.target, prereleases=True)
            self._python[requires_python] = known
        return known

    def applicable(self, index: PackageIndex, specifier: SpecifierSet) -> list[tuple[Version, str]]:
        key = (index.name, str(specifier))
        found = self._applicable.get(key)
        if found is not None:
            return found
        admitted = self._admitted.get(index.name)
        if admitted is None:
            python = index.requires_python
            admitted = {v: raw for v, raw in parsed_versions(index) if self.admits(python.get(raw))}
            self._admitted[index.name] = admitted
        chosen = list(specifier.filter(admitted))
        yanks = index.yanks
        keep_yanked = pinned(specifier) and all(admitted[v] in yanks for v in chosen)
        found = self._applicable[key] = [
            (v, admitted[v]) for v in chosen if keep_yanked or admitted[v] not in yanks
        ]
        return found
