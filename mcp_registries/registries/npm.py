"""npm: URL builders and pure parsers for packuments, version documents and download counts.

Shapes follow the registry's documented API (registry/docs/REGISTRY-API.md, package-metadata.md);
every field is optional in practice, because mirrors strip what they do not need.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import msgspec
import nodesemver

from ..errors import InvalidArgument, PackageNotFound, VersionNotFound, shown
from ..fetching import BadDocument, Fetch, Plan
from ..models import DownloadCount, DownloadsResult, Person, RegistryName
from .base import (
    IndexBundle,
    PackageIndex,
    Period,
    VersionDoc,
    url_under,
)
from .common import browsable_repository, iso_utc, keywords, people, person, text
from .npm_manifest import as_str, deprecation, engines_of, license_of, npm_user, parse_manifest
from .packument import Packument, PackumentReader, read_packument
from .versioning import nearby_versions, semver, semver_key, semver_prerelease, sort_semver

SERVICE = "The npm registry"
DOWNLOADS_SERVICE = "npm's download-counts API"

# validate-npm-package-name: at most 214 characters, URL-safe, no leading '.' or '_'.
# Upper case is refused for new names only: old packages such as JSONStream keep theirs.
_PART = r"[A-Za-z0-9~\-!*'()][A-Za-z0-9._~\-!*'()]*"
_NAME = re.compile(rf"^(?:@{_PART}/)?{_PART}$")
_VERSION_OR_TAG = re.compile(r"^[A-Za-z0-9._+~\-=]+$")
# node-semver's loose mode ('v1.2.3', '=1.2.3', '1.0.0beta'); nodesemver also "recovers" partial versions
# ('18.2' as 18.2.0), which npm reads as ranges, so a requested version must have all three parts.
_LOOSE_VERSION = re.compile(
    r"^[v=\s]*\d+\.\d+\.\d+(?:-?[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z.-]+)?$"
)
MAX_NAME = 214
MAX_DECLARED = 10
NOTE_NO_DATES = "release dates unknown (this registry mirror serves no real publish times)"
NOTE_NO_DEPRECATIONS = "deprecation unknown (this registry mirror strips deprecation notices; none shown is not 'not deprecated')"


def valid_name(name: str) -> bool:
    """The name grammar `Npm.check_name` applies, as a test (manifest reading marks a bad name, not fails)."""
    return len(name) <= MAX_NAME and _NAME.fullmatch(name) is not None


class Npm:
    name: RegistryName = "npm"
    # A published version's manifest never changes except for a later deprecation.
    version_ttl = 24 * 3600.0
    download_periods = True
    normalizes_names = False

    def __init__(self, registry_url: str, downloads_url: str) -> None:
        self.registry_url = registry_url
        self.downloads_url = downloads_url
        self.origin = f"{registry_url} {downloads_url}"

    def check_name(self, raw: str) -> str:
        name = raw.strip()
        if not name:
            raise InvalidArgument(
                "name", "The package name is empty; give an exact npm name such as 'react'."
            )
        if len(name) > MAX_NAME:
            raise InvalidArgument("name", f"npm package names are at most {MAX_NAME} characters long.")
        if not _NAME.match(name):
            raise InvalidArgument(
                "name",
                f"{shown(name)} is not a valid npm package name: use letters, digits and - . _ ~, "
                "optionally scoped as '@scope/name', not starting with '.' or '_'.",
            )
        return name

    def check_version(self, raw: str) -> str:
        version = raw.strip()
        # No version or tag starts with '.': refusing it keeps '.' and '..' out of URL paths.
        if not version or len(version) > 256 or not _VERSION_OR_TAG.match(version) or version[0] == ".":
            raise InvalidArgument(
                "version",
                f"{shown(raw)} is not an npm version or dist-tag: give an exact version such as '18.2.0' "
                "or a tag such as 'latest'.",
            )
        return version

    def is_exact(self, version: str) -> bool:
        try:
            nodesemver.make_semver(version, loose=False)
        except (ValueError, TypeError):
            return False
        return True

    def index(self, name: str) -> Plan[IndexBundle]:
        received = yield Fetch(
            url_under(self.registry_url, name),
            SERVICE,
            body="bytes",
            reader=READER,
            absent=PackageNotFound("npm", name),
        )
        return index_of(received if isinstance(received, Packument) else read_packument(received), name)

    def version_doc(self, name: str, version: str) -> Plan[VersionDoc]:
        data = yield Fetch(
            url_under(self.registry_url, name, version), SERVICE, absent=VersionNotFound("npm", name, version)
        )
        return parse_manifest(data, name)

    def downloads(self, name: str, period: Period) -> Plan[DownloadsResult]:
        data = yield Fetch(
            url_under(self.downloads_url, "downloads", "point", period, name),
            DOWNLOADS_SERVICE,
            absent=PackageNotFound("npm", name, detail="the download-counts API has no counts for it"),
        )
        return parse_downloads_point(data, name, period)

    def resolve(self, index: PackageIndex, requested: str) -> str | None:
        if requested in index.dist_tags:
            return index.dist_tags[requested]
        known = set(index.version_order)
        if requested in known:
            return requested
        wanted = semver(requested) if _LOOSE_VERSION.match(requested.strip()) else None
        if wanted is None:
            return None
        matches = [v for v in known if (sv := semver(v)) is not None and sv.compare(wanted) == 0]
        return matches[0] if len(matches) == 1 else None

    def nearby(self, index: PackageIndex, requested: str) -> list[str]:
        newest_first = index.version_order
        if semver(requested) is None:
            # A tag or a non-version has no place in the order; the newest versions are the useful hint.
            return newest_first[:3]
        return nearby_versions(newest_first, requested, semver_key)


def _rank(versions: Iterable[str]) -> None:
    # Sort keys and prerelease flags are cached: built while the packument still downloads, the sort
    # after its last byte finds them ready (a first call for a 3,000-version package: ~4 ms saved).
    for version in versions:
        semver_prerelease(version)


#: The packument reader for index fetches.
READER = functools.partial(PackumentReader, on_versions=_rank)


def index_of(packument: Packument, asked_name: str) -> IndexBundle:
    """A packument (full, or as stripped by a mirror) → the index and the latest version's document."""
    doc = packument.top
    name = as_str(doc.name) or asked_name
    times: dict[str, Any] = doc.time if isinstance(doc.time, dict) else {}
    unpublished = times.get("unpublished")
    tags = {
        k: v
        for k, v in (doc.dist_tags if isinstance(doc.dist_tags, dict) else {}).items()
        if isinstance(v, str)
    }
    ordered = sort_semver(packument.versions)
    latest, notes = _latest(tags, ordered, packument)
    released = _release_dates(packument, times)
    latest_manifest = _manifest(packument.manifests.get(latest)) if latest else {}
    top = {f: getattr(doc, f) for f in doc.__struct_fields__ if f not in {"versions", "dist_tags", "time"}}
    merged = {**{k: v for k, v in top.items() if v is not None}, **latest_manifest}
    latest_doc = (
        parse_manifest(latest_manifest, name, iso_utc(released.get(latest)))
        if latest and latest_manifest
        else None
    )
    index = PackageIndex(
        registry="npm",
        name=name,
        latest_version=latest,
        summary=text(merged.get("description")),
        license=license_of(merged),
        homepage=text(merged.get("homepage"), 500),
        repository=browsable_repository(merged.get("repository")),
        keywords=keywords(merged.get("keywords")),
        author=person(merged.get("author")),
        maintainers=[
            Person(username=p.name, email=p.email, role="maintainer") for p in people(doc.maintainers or [])
        ],
        declared=_declared(merged, latest_manifest),
        publisher=npm_user(latest_manifest.get("_npmUser")),
        created=iso_utc(times.get("created")) or _earliest(released.values()),
        latest_release_date=iso_utc(released.get(latest)) if latest else None,
        dist_tags=tags,
        deprecated=deprecation(latest_manifest),
        engines=engines_of(latest_manifest),
        dependencies_count=len(latest_doc.runtime) if latest_doc else None,
        version_order=ordered,
        released=released,
        prereleases=frozenset(filter(semver_prerelease, ordered)),
        deprecations={
            version: message
            for version, value in packument.deprecations.items()
            if (message := deprecation({"deprecated": value}))
        },
        version_tags=_tags_by_version(tags),
        unpublished=iso_utc(unpublished.get("time")) if isinstance(unpublished, dict) else None,
        unknowns=_unknowns(packument, released),
        notes=notes,
    )
    return IndexBundle(index=index, versions={latest_doc.version: latest_doc} if latest_doc else {})


def _latest(tags: dict[str, str], ordered: list[str], packument: Packument) -> tuple[str | None, list[str]]:
    """The `latest` dist-tag (when its manifest is there), else the highest release, with a note."""
    latest = tags.get("latest") if tags.get("latest") in packument.manifests else None
    if latest is not None or not ordered:
        return latest, []
    highest = next((v for v in ordered if not semver_prerelease(v)), ordered[0])
    return highest, ["the registry names no 'latest' dist-tag; latest_version is the highest release"]


def _tags_by_version(tags: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for tag, version in sorted(tags.items()):
        found.setdefault(version, []).append(tag)
    return found


def _declared(merged: dict[str, Any], latest_manifest: dict[str, Any]) -> list[Person]:
    """The people the package's own metadata names: author, maintainers, contributors (at most 10)."""
    return [
        *(p.model_copy(update={"role": "author"}) for p in people(merged.get("author"))),
        # package.json's own `maintainers` survive in the manifest when a mirror drops the accounts.
        *(
            p.model_copy(update={"role": "maintainer"})
            for p in people(latest_manifest.get("maintainers") or [])
        ),
        *(
            p.model_copy(update={"role": "contributor"})
            for p in people(latest_manifest.get("contributors") or [])
        ),
    ][:MAX_DECLARED]


def _unknowns(packument: Packument, released: dict[str, Any]) -> list[str]:
    """What a stripped mirror's packument cannot tell: release dates, deprecations."""
    if not packument.versions:
        return []
    unknowns = [] if released else [NOTE_NO_DATES]
    if not packument.deprecations and not packument.top.maintainers:
        unknowns.append(NOTE_NO_DEPRECATIONS)
    return unknowns


def _release_dates(packument: Packument, times: dict[str, Any]) -> dict[str, Any]:
    """The `time` map as release dates, or nothing when it cannot be trusted.

    The registry's own map always holds `created` and `modified`. One without both was written by a
    mirror from its own cache times (years after the releases), and no date in it is a release date.
    """
    if "created" not in times and "modified" not in times:
        return {}
    if packument.times_are_strings:
        return times
    return {version: stamp for version, stamp in times.items() if isinstance(stamp, str)}


def _earliest(stamps: Any) -> str | None:
    """The earliest of one upstream's timestamps: ISO 8601 UTC strings order as text."""
    values = list(stamps)
    first = iso_utc(min(values)) if values else None
    if first is not None or not values:
        return first
    normalized = [t for t in (iso_utc(s) for s in values) if t]
    return min(normalized) if normalized else None


def _manifest(raw: msgspec.Raw | None) -> dict[str, Any]:
    manifest = msgspec.json.decode(raw) if raw is not None else None
    return manifest if isinstance(manifest, dict) else {}


def parse_downloads_point(data: Any, name: str, period: Period) -> DownloadsResult:
    if not isinstance(data, dict) or not isinstance(data.get("downloads"), int):
        raise BadDocument("a download-counts body has an integer 'downloads'")
    count = DownloadCount(
        period=period,
        downloads=data["downloads"],
        start=data.get("start") if isinstance(data.get("start"), str) else None,
        end=data.get("end") if isinstance(data.get("end"), str) else None,
    )
    return DownloadsResult(registry="npm", name=name, source="npm download counts API", counts=[count])
