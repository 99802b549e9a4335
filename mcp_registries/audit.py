"""The `audit` tool: every dependency of a manifest checked in one call.

Each dependency is looked up through the same cached package index the other tools use (single-flight
and cache shared, at most `IN_FLIGHT` upstream requests at a time for the call), resolved as a fresh
install would resolve it, then every resolved version is asked of OSV in one batch. An entry whose
upstream fails is an `error` with its sentence; the others are still answered.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .budget import fit_audit
from .errors import NoPublishedVersions, NotFound, RegistryError
from .manifests import Wanted, read_manifest, read_packages
from .models import AUDIT_ORDER, AuditEntry, AuditResult, AuditStatus, RegistryName
from .operations import Query
from .osv import Asked, Osv
from .registries.base import IndexBundle, PackageIndex, Registry
from .registries.npm_pick import in_range, pick, spec_kind

log = logging.getLogger(__name__)

#: Upstream requests one audit may have in flight (issue 13).
IN_FLIGHT = 16
#: Resolutions remembered (each a few strings).
RESOLUTIONS = 4096

Index = Callable[[Registry, str], Awaitable[tuple[IndexBundle, list[str]]]]


@dataclass(frozen=True, slots=True)
class Resolved:
    version: str | None
    latest_allowed: bool | None
    #: Why the requirement could not be read against the versions (an invalid range).
    problem: str | None = None


class Auditor:
    def __init__(self, registries: dict[str, Registry], index: Index, osv: Osv | None) -> None:
        self.registries = registries
        self.index = index
        self.osv = osv
        self._resolutions: OrderedDict[tuple[object, ...], Resolved] = OrderedDict()

    async def audit(self, query: Query) -> AuditResult:
        if query.manifest is not None:
            manifest = read_manifest(query.manifest, query.registry)
        else:
            assert query.packages is not None and query.registry is not None
            manifest = read_packages(query.packages, query.registry)
        registry = self.registries[manifest.registry]
        entries: list[AuditEntry | None] = [None] * len(manifest.wanted)
        caveats: set[str] = set()
        limiter = anyio.CapacityLimiter(IN_FLIGHT)

        async def check(position: int, wanted: Wanted) -> None:
            entries[position] = await self._check(registry, wanted, limiter, caveats)

        async with anyio.create_task_group() as group:
            for position, wanted in enumerate(manifest.wanted):
                group.start_soon(check, position, wanted)
        pairs = [(wanted, entry) for wanted, entry in zip(manifest.wanted, entries, strict=True) if entry]
        checked, osv_notes = await self._vulnerabilities(manifest.registry, pairs)
        checked.sort(
            key=lambda entry: (AUDIT_ORDER.index(entry.status), entry.name.lower(), entry.group or "")
        )
        summary = Counter(entry.status for entry in checked)
        licenses = Counter(entry.license for entry in checked if entry.license and entry.resolved_version)
        result = AuditResult(
            registry=manifest.registry,
            source=manifest.source,
            summary={status: summary[status] for status in AUDIT_ORDER if summary[status]},
            licenses=dict(licenses.most_common()),
            dependencies=checked,
            notes=[*manifest.notes, *sorted(caveats), *osv_notes, *query.notes],
        )
        return fit_audit(result, full="full" in query.given)

    async def _check(
        self, registry: Registry, wanted: Wanted, limiter: anyio.CapacityLimiter, caveats: set[str]
    ) -> AuditEntry:
        if wanted.package is None:
            return _entry(wanted, "unchecked")
        try:
            name = registry.check_name(wanted.package)
            async with limiter:
                bundle, notes = await self.index(registry, name)
        except NoPublishedVersions as exc:
            return _entry(wanted, "not-found", error=exc.message)
        except NotFound as exc:
            return _entry(wanted, "not-found", error=exc.message)
        except RegistryError as exc:
            return _entry(wanted, "error", error=exc.message)
        index = bundle.index
        caveats.update(index.unknowns)
        caveats.update(notes)
        if not index.version_order:
            missing = NoPublishedVersions(registry.name, index.name, unpublished=index.unpublished)
            return _entry(wanted, "not-found", error=missing.message)
        resolved = self._resolved(registry.name, index, wanted.spec or "")
        if resolved.problem is not None:
            return _entry(wanted, "error", latest_version=index.latest_version, error=resolved.problem)
        version = resolved.version
        if version is None:
            return _entry(
                wanted,
                "not-found",
                latest_version=index.latest_version,
                latest_allowed=False,
                error=f"no version of {index.name} satisfies {wanted.spec!r}",
            )
        doc = bundle.versions.get(version)
        deprecated = index.deprecations.get(version) or (doc.deprecated if doc else None)
        yanked = version in index.yanks
        status: AuditStatus = (
            "deprecated"
            if deprecated
            else "yanked"
            if yanked
            else "outdated"
            if resolved.latest_allowed is False
            else "ok"
        )
        return _entry(
            wanted,
            status,
            resolved_version=version,
            latest_version=index.latest_version,
            latest_allowed=resolved.latest_allowed,
            deprecated=deprecated,
            yanked=yanked,
            license=(doc.license if doc and doc.license else None) or index.license,
        )

    def _resolved(self, registry: RegistryName, index: PackageIndex, spec: str) -> Resolved:
        """`_resolve`, remembered: testing a range against hundreds of versions in node-semver is most of a
        warm audit's time. A new version (or a moved tag) changes the key."""
        key = (registry, index.name, spec, index.latest_version, len(index.version_order), len(index.yanks))
        found = self._resolutions.get(key)
        if found is None:
            found = self._resolutions[key] = _resolve(registry, index, spec)
            if len(self._resolutions) > RESOLUTIONS:
                self._resolutions.popitem(last=False)
        else:
            self._resolutions.move_to_end(key)
        return found

    async def _vulnerabilities(
        self, registry: RegistryName, pairs: list[tuple[Wanted, AuditEntry]]
    ) -> tuple[list[AuditEntry], list[str]]:
        """Every resolved version asked of OSV at once; `vulnerable` goes before every other status."""
        asked = [
            Asked(registry, wanted.package, entry.resolved_version)
            if wanted.package and entry.resolved_version
            else None
            for wanted, entry in pairs
        ]
        entries = [entry for _, entry in pairs]
        wanted_versions = sorted({a for a in asked if a is not None}, key=lambda a: (a.name, a.version))
        if not wanted_versions:
            return entries, []
        if self.osv is None:
            return entries, ["vulnerabilities unknown: OSV is not set up for this server"]
        found = await self.osv.lookup(wanted_versions)
        if found.vulnerabilities is None:
            return entries, found.notes
        checked = []
        for key, entry in zip(asked, entries, strict=True):
            vulnerabilities = found.vulnerabilities.get(key) if key is not None else None
            if key is None:
                checked.append(entry)
                continue
            update: dict[str, object] = {"vulnerabilities": vulnerabilities or []}
            if vulnerabilities:
                update["status"] = "vulnerable"
            checked.append(entry.model_copy(update=update))
        return checked, found.notes


def _entry(wanted: Wanted, status: AuditStatus, **found: Any) -> AuditEntry:
    return AuditEntry(
        name=wanted.name, requirement=wanted.requirement, group=wanted.group, status=status, **found
    )


def _resolve(registry: RegistryName, index: PackageIndex, spec: str) -> Resolved:
    return _npm(index, spec) if registry == "npm" else _pypi(index, spec)


def _npm(index: PackageIndex, spec: str) -> Resolved:
    """As npm picks for a fresh install (`npm_pick`); `latest_allowed` says whether the range admits
    `latest`, whichever version a deprecation made npm take."""
    wanted = spec.strip()
    latest = index.latest_version
    kind = spec_kind(wanted)
    if kind is None or kind == "tag" and wanted not in index.dist_tags:
        return Resolved(None, None, f"{wanted!r} is neither a version range nor a dist-tag of {index.name}")
    version = pick(index, wanted)
    if kind == "tag":
        return Resolved(version, version == latest)
    if not wanted or wanted == "*":
        return Resolved(version, True)
    return Resolved(version, latest is not None and in_range(latest, wanted))


def _pypi(index: PackageIndex, spec: str) -> Resolved:
    """As pip picks for a fresh install: the highest version the specifier admits that is not yanked
    (a yanked one only when pinned with ==), prereleases only when the specifier names one."""
    try:
        allowed = SpecifierSet(spec)
    except InvalidSpecifier:
        return Resolved(None, None, f"{spec!r} is not a PEP 440 version specifier")
    prereleases = bool(allowed.prereleases)
    latest = index.latest_version
    latest_allowed = latest is not None and _contains(allowed, latest, True)
    pinned = {s.version for s in allowed if s.operator in ("==", "===")}
    for version in index.version_order:
        if version in index.yanks and version not in pinned:
            continue
        if _contains(allowed, version, prereleases):
            return Resolved(version, latest_allowed)
    return Resolved(None, latest_allowed)


def _contains(allowed: SpecifierSet, version: str, prereleases: bool) -> bool:
    try:
        return allowed.contains(Version(version), prereleases=prereleases)
    except InvalidVersion:
        return False
