"""PyPI: URL builders and pure parsers for the JSON API, the Simple API (PEP 691) and core metadata (PEP 658).

The JSON API (`/pypi/<name>/json`) gives the project and its latest release; the per-version
endpoint (`/pypi/<name>/<version>/json`) gives one release. Mirrors often lack the latter, so a
release's own metadata is then read from its `.metadata` file (PEP 658) next to a wheel found
through the Simple API.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import msgspec
from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import InvalidArgument, NotFound, PackageNotFound, UpstreamError, shown
from ..fetching import BadDocument, Fetch, Missing, Plan, undecodable
from ..models import (
    Artifact,
    DownloadCount,
    DownloadsResult,
    Person,
    RegistryName,
    Vulnerability,
)
from .base import (
    IndexBundle,
    PackageIndex,
    Period,
    VersionDoc,
    url_under,
)
from .common import address_people, iso_utc, keywords, text
from .pypi_metadata import (
    author_of,
    dependencies_of,
    homepage_of,
    license_of,
    repository_of,
)
from .streaming import SegmentedReader, fill_from
from .versioning import pep440, pep440_key, pep440_prerelease, sort_pep440

SERVICE = "PyPI"
STATS_SERVICE = "pypistats"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

# PEP 508 names: ASCII letters and digits, with '.', '_' and '-' inside.
# re.ASCII: with IGNORECASE alone, [A-Z] also matches 'K' (KELVIN SIGN) and 'ſ' (LONG S).
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE | re.ASCII)
_VERSION = re.compile(r"^[A-Za-z0-9.+!_\-]+$")
MAX_NAME = 200


class PyPI:
    name: RegistryName = "pypi"
    # Releases can be yanked or un-yanked at any time.
    version_ttl = 3600.0
    download_periods = False
    normalizes_names = True

    def __init__(self, pypi_url: str, pypistats_url: str) -> None:
        self.pypi_url = pypi_url
        self.pypistats_url = pypistats_url
        self.origin = f"{pypi_url} {pypistats_url}"

    def check_name(self, raw: str) -> str:
        name = raw.strip()
        if not name:
            raise InvalidArgument(
                "name", "The package name is empty; give a PyPI project name such as 'requests'."
            )
        if len(name) > MAX_NAME or not _NAME.match(name):
            raise InvalidArgument(
                "name",
                f"{shown(name)} is not a valid PyPI project name: use ASCII letters, digits and . _ - "
                "(starting and ending with a letter or digit).",
            )
        return canonicalize_name(name)

    def check_version(self, raw: str) -> str:
        version = raw.strip()
        if not version or len(version) > 128 or not _VERSION.match(version) or version[0] == ".":
            raise InvalidArgument(
                "version", f"{shown(raw)} is not a PyPI version: give one such as '2.31.0' (PEP 440)."
            )
        return version

    def is_exact(self, version: str) -> bool:
        # PEP 440 spellings ('4.2' = '4.2.0') must be resolved against the release list first.
        return False

    def index(self, name: str) -> Plan[IndexBundle]:
        project = Fetch(
            url_under(self.pypi_url, "pypi", name, "json"),
            SERVICE,
            body="bytes",
            reader=ProjectReader,
            absent=PackageNotFound("pypi", name),
        )
        data = yield project
        decoded = _fields(data) if isinstance(data, _Project) else decode_project(data)
        simple = None
        if decoded["releases"] is None:
            # The JSON API's `releases` key is deprecated; without it the Simple API lists the versions.
            simple_fetch = self._simple(name)
            simple = yield simple_fetch
            simple = (simple, simple_fetch.url)
        return project_index(decoded, project.url, simple)

    def version_doc(self, name: str, version: str) -> Plan[VersionDoc]:
        release = Fetch(url_under(self.pypi_url, "pypi", name, version, "json"), SERVICE)
        try:
            data = yield release
        except Missing:
            pass
        else:
            return parse_release(data, release.url)
        listing = self._simple(name)
        simple = yield listing
        files = release_files(simple, version, listing.url)
        wheels = [f for f in files if f["filename"].endswith(".whl")]
        # Mirrors drop or falsify the `core-metadata` flag; a missing .metadata file is a cheap 404.
        wheels.sort(key=lambda f: not (f.get("core-metadata") or f.get("data-dist-info-metadata")))
        metadata = None
        failed: UpstreamError | None = None
        if wheels:
            try:
                # PEP 658: the file's URL (without any '#sha256=' fragment) plus '.metadata'.
                url = wheels[0]["url"].split("#", 1)[0] + ".metadata"
                metadata = yield Fetch(url, SERVICE, body="text", accept="*/*")
            except Missing:
                metadata = None
            except UpstreamError as error:
                # A secondary document: answer from the Simple API alone, marked partial (cached briefly).
                failed = error
        if failed is None:
            return parse_release_from_files(simple, version, files, metadata)
        doc = parse_release_from_files(
            simple, version, files, None, unavailable=f"reading it failed: {failed.what}"
        )
        return doc.model_copy(update={"partial": True})

    def _simple(self, name: str) -> Fetch:
        """The project's Simple API page (PEP 691 JSON): its files, when the JSON API cannot say."""
        return Fetch(url_under(self.pypi_url, "simple", name, ""), SERVICE, accept=SIMPLE_JSON)

    def downloads(self, name: str, period: Period) -> Plan[DownloadsResult]:
        data = yield Fetch(
            url_under(self.pypistats_url, "api", "packages", name, "recent"),
            STATS_SERVICE,
            # pypistats lags new projects and knows only normalized names: say what is known.
            absent=NotFound(f"pypistats has no download counts for the PyPI project {shown(name, 80)}"),
        )
        return parse_recent(data, name)

    def resolve(self, index: PackageIndex, requested: str) -> str | None:
        known = index.version_order
        if requested in known:
            return requested
        if requested == "latest":
            return index.latest_version
        wanted = pep440(requested)
        if wanted is None:
            return None
        return next((v for v in known if pep440(v) == wanted), None)

    def nearby(self, index: PackageIndex, requested: str) -> list[str]:
        wanted = pep440(requested)
        parsed = [(v, p) for v in index.version_order if (p := pep440(v)) is not None]
        if wanted is None or not parsed:
            return index.version_order[:3]
        lower = [v for v, p in parsed if p <= wanted][:2]
        higher = [v for v, p in parsed if p > wanted][-1:]
        return higher + lower


def _artifact(file: dict[str, Any], base_url: str) -> Artifact | None:
    filename = file.get("filename")
    if not isinstance(filename, str):
        return None
    digests = file.get("digests") or file.get("hashes") or {}
    sha256 = digests.get("sha256") if isinstance(digests, dict) else None
    kind = (
        "wheel"
        if filename.endswith(".whl")
        else "sdist"
        if file.get("packagetype") in (None, "sdist")
        else str(file.get("packagetype"))
    )
    return Artifact(
        filename=filename,
        url=_absolute(base_url, file["url"]) if isinstance(file.get("url"), str) else None,
        size=file.get("size") if isinstance(file.get("size"), int) else None,
        digest=f"sha256:{sha256}" if isinstance(sha256, str) else None,
        kind=kind,
    )


def _absolute(base_url: str, url: str) -> str:
    """A file URL resolved against its document's URL: mirrors serve them relative ('../../packages/...').

    One urllib finds malformed (an unclosed IPv6 bracket) is kept as written: the answer shows what the
    upstream gave, and the HTTP layer refuses to fetch it with a sentence.
    """
    try:
        return urljoin(base_url, url)
    except ValueError:
        return url


def _artifacts(files: list[Any], base_url: str) -> list[Artifact]:
    return [a for a in (_artifact(f, base_url) for f in files if isinstance(f, dict)) if a]


def _release_file(file: dict[str, Any]) -> _ReleaseFile:
    """A file as the JSON API (`upload_time_iso_8601`) or the Simple API (`upload-time`) spells it."""
    return _ReleaseFile(
        upload_time_iso_8601=file.get("upload_time_iso_8601") or file.get("upload-time"),
        upload_time=file.get("upload_time"),
        yanked=file.get("yanked"),
        yanked_reason=file.get("yanked_reason"),
    )


def _yank(files: list[_ReleaseFile]) -> tuple[bool, str | None]:
    """A release is yanked when all its files are (PEP 592); the Simple API puts the reason in `yanked`."""
    if (
        not files
        or not files[0].yanked
        or not all(f.yanked is True or isinstance(f.yanked, str) for f in files)
    ):
        return False, None
    reasons = (f.yanked_reason or (f.yanked if isinstance(f.yanked, str) else None) for f in files)
    return True, text(next((r for r in reasons if r), None), 300)


def _first_upload(files: list[_ReleaseFile]) -> str | None:
    """The earliest upload time as PyPI wrote it: ISO 8601 UTC strings order as text to the second."""
    earliest = None
    for file in files:
        stamp = file.upload_time_iso_8601 or file.upload_time
        if isinstance(stamp, str) and stamp and (earliest is None or stamp < earliest):
            earliest = stamp
    return earliest


def _released(files: list[_ReleaseFile]) -> str | None:
    return iso_utc(_first_upload(files))


def _vulnerabilities(value: Any) -> list[Vulnerability]:
    found = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("withdrawn"):
            continue
        found.append(
            Vulnerability(
                id=item["id"],
                aliases=[a for a in item.get("aliases") or [] if isinstance(a, str)],
                summary=text(item.get("summary") or item.get("details"), 200),
                fixed_in=[v for v in item.get("fixed_in") or [] if isinstance(v, str)],
                link=item.get("link") if isinstance(item.get("link"), str) else None,
            )
        )
    return found


def _doc(info: dict[str, Any], files: Any, vulnerabilities: Any, version: str, base_url: str) -> VersionDoc:
    requirements, dependency_notes = dependencies_of(info.get("requires_dist"))
    file_list = files if isinstance(files, list) else []
    artifacts = _artifacts(file_list, base_url)
    notes = []
    summaries = [_release_file(f) for f in file_list if isinstance(f, dict)]
    yanked, reason = _yank(summaries)
    if info.get("yanked") is True:
        yanked, reason = True, text(info.get("yanked_reason"), 300) or reason
    if not file_list:
        notes.append("this release has no files")
    python = text(info.get("requires_python"), 100)
    return VersionDoc(
        registry="pypi",
        name=info["name"] if isinstance(info.get("name"), str) else "",
        version=version,
        released=_released(summaries),
        summary=text(info.get("summary")),
        license=license_of(info),
        homepage=homepage_of(info),
        repository=repository_of(info),
        author=author_of(info),
        yanked=yanked,
        yanked_reason=reason,
        engines={"python": python} if python else {},
        artifacts=artifacts,
        vulnerabilities=_vulnerabilities(vulnerabilities),
        notes=notes,
        dependency_notes=dependency_notes,
        **requirements,
    )


def parse_release(data: Any, url: str) -> VersionDoc:
    """The per-version JSON endpoint's body, fetched from `url`."""
    if not isinstance(data, dict) or not isinstance(data.get("info"), dict):
        raise BadDocument("a PyPI JSON API body has an 'info' object")
    info = data["info"]
    return _doc(info, data.get("urls"), data.get("vulnerabilities"), str(info.get("version")), url)


class _ReleaseFile(msgspec.Struct, gc=False):
    """What the index reads of each file of each release (not digests, URLs or sizes)."""

    upload_time_iso_8601: Any = None
    upload_time: Any = None
    yanked: Any = None
    yanked_reason: Any = None


class _Info(msgspec.Struct):
    name: Any = None
    version: Any = None
    summary: Any = None
    license: Any = None
    license_expression: Any = None
    classifiers: Any = None
    home_page: Any = None
    project_urls: Any = None
    keywords: Any = None
    author: Any = None
    author_email: Any = None
    maintainer: Any = None
    maintainer_email: Any = None
    requires_dist: Any = None
    requires_python: Any = None
    yanked: Any = None
    yanked_reason: Any = None


class _Project(msgspec.Struct):
    """The project JSON read without the fields no answer uses: a README of hundreds of KB in `info`
    is skipped by the decoder, and each of thousands of files keeps four fields."""

    info: _Info | None = None
    releases: dict[str, list[_ReleaseFile] | None] | None = None
    urls: Any = None
    vulnerabilities: Any = None
    ownership: Any = None


_PROJECT = msgspec.json.Decoder(_Project)


_RELEASES = msgspec.json.Decoder(dict[str, list[_ReleaseFile] | None])


def decode_project(raw: bytes | bytearray) -> dict[str, Any]:
    """The project JSON's bytes (when they could not be read as they streamed in) as the fields answers use."""
    try:
        return _fields(_PROJECT.decode(raw))
    except msgspec.ValidationError as exc:
        raise BadDocument(f"not a PyPI project document: {exc}") from None
    except msgspec.DecodeError:
        raise BadDocument(undecodable(raw)) from None


def _fields(project: _Project) -> dict[str, Any]:
    releases = None
    if project.releases is not None:
        releases = {version: files or [] for version, files in project.releases.items()}
    return {
        "info": msgspec.structs.asdict(project.info) if project.info is not None else None,
        "releases": releases,
        "urls": project.urls,
        "vulnerabilities": project.vulnerabilities,
        "ownership": project.ownership,
    }


class ProjectReader(SegmentedReader):
    """Reads the project JSON while it downloads (see `streaming`): `info` from the head, `releases`
    segment by segment (each version's sort key built as it arrives), the rest from the tail: the
    project as the whole body would decode."""

    member = b"releases"
    opens, closes = b"[", b"]"

    def __init__(self, segment: int = 256 * 1024) -> None:
        super().__init__(segment)
        self.top: _Project | None = None
        self.releases: dict[str, list[_ReleaseFile] | None] = {}

    def head(self, document: bytes) -> bool:
        self.top = _PROJECT.decode(document)
        return True

    def take(self, entries: bytes) -> None:
        self._take(_RELEASES.decode(entries))

    def _take(self, releases: dict[str, list[_ReleaseFile] | None]) -> None:
        self.releases.update(releases)
        for version in releases:
            pep440_key(version)

    def tail(self, document: bytes) -> _Project | None:
        rest = _PROJECT.decode(document)
        self._take(rest.releases or {})
        if self.top is None:
            return None
        fill_from(self.top, rest, "releases")
        rest.releases = self.releases
        return rest


def project_index(data: dict[str, Any], url: str, simple: tuple[Any, str] | None = None) -> IndexBundle:
    """The index from a decoded project document (see `decode_project` and `ProjectReader`)."""
    if not isinstance(data.get("info"), dict):
        raise BadDocument("a PyPI JSON API body has an 'info' object")
    info = data["info"]
    latest = info.get("version") if isinstance(info.get("version"), str) else None
    notes: list[str] = []
    releases: dict[str, list[_ReleaseFile]] = {}
    if isinstance(data.get("releases"), dict):
        releases = data["releases"]
    elif simple is not None and isinstance(simple[0], dict):
        listing = simple[0]
        releases = {str(v): [] for v in listing.get("versions") or []}
        by_version = {pep440(v): v for v in releases}
        for file in listing.get("files") or []:
            file_version = _file_version(file.get("filename", "")) if isinstance(file, dict) else None
            if file_version is not None and file_version in by_version:
                releases[by_version[file_version]].append(_release_file(file))
    # Raw upload times: the index normalizes the few it shows (see PackageIndex.entries).
    released = {v: stamp for v, fs in releases.items() if (stamp := _first_upload(fs))}
    ordered = sort_pep440(releases, released)
    yanks = {}
    for version in ordered:
        yanked, reason = _yank(releases[version])
        if yanked:
            yanks[version] = reason
    ownership = data.get("ownership") if isinstance(data.get("ownership"), dict) else None
    roles = ownership.get("roles") if ownership else None
    maintainers = [
        Person(username=r["user"], role=r.get("role") if isinstance(r.get("role"), str) else None)
        for r in (roles if isinstance(roles, list) else [])
        if isinstance(r, dict) and isinstance(r.get("user"), str)
    ]
    if not isinstance(roles, list):
        notes.append("this registry (or its mirror) lists no project owners")
    declared = [
        *address_people(info.get("maintainer"), info.get("maintainer_email"), role="maintainer"),
        *address_people(info.get("author"), info.get("author_email"), role="author"),
    ]
    organization = ownership.get("organization") if ownership else None
    latest_doc = _doc(info, data.get("urls"), data.get("vulnerabilities"), latest, url) if latest else None
    index = PackageIndex(
        registry="pypi",
        name=info.get("name") if isinstance(info.get("name"), str) else "",
        latest_version=latest,
        summary=text(info.get("summary")),
        license=license_of(info),
        homepage=homepage_of(info),
        repository=repository_of(info),
        keywords=keywords(info.get("keywords")),
        author=author_of(info),
        maintainers=maintainers,
        declared=declared,
        organization=organization if isinstance(organization, str) else None,
        created=iso_utc(min(released.values())) if released else None,
        latest_release_date=iso_utc(released.get(latest)) if latest else None,
        dist_tags={},
        yanked=bool(latest_doc and latest_doc.yanked),
        yanked_reason=latest_doc.yanked_reason if latest_doc else None,
        engines=latest_doc.engines if latest_doc else {},
        dependencies_count=len(latest_doc.runtime) if latest_doc else None,
        version_order=ordered,
        released=released,
        prereleases=frozenset(filter(pep440_prerelease, ordered)),
        yanks=yanks,
        version_tags={latest: ["latest"]} if latest in releases else {},
        notes=notes,
    )
    return IndexBundle(index=index, versions={latest: latest_doc} if latest and latest_doc else {})


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def release_files(simple: Any, version: str, url: str) -> list[dict[str, Any]]:
    """The Simple API (PEP 691 JSON) files that belong to one release, with absolute URLs."""
    if not isinstance(simple, dict) or not isinstance(simple.get("files"), list):
        raise BadDocument("a Simple API JSON body has a 'files' list")
    wanted = pep440(version)
    found = []
    for file in simple["files"]:
        if (
            not isinstance(file, dict)
            or not isinstance(file.get("filename"), str)
            or not isinstance(file.get("url"), str)
        ):
            continue
        parsed = _file_version(file["filename"])
        if (parsed is not None and parsed == wanted) or (
            wanted is None and f"-{version}" in file["filename"]
        ):
            found.append({**file, "url": _absolute(url, file["url"])})
    return found


def parse_release_from_files(
    simple: Any,
    version: str,
    files: list[dict[str, Any]],
    metadata: str | None,
    *,
    unavailable: str | None = None,
) -> VersionDoc:
    """A release read from its Simple API files and, when there is one, its PEP 658 core metadata.

    `unavailable` says why `metadata` is None when the reason is not the usual "no such file".
    """
    info: dict[str, Any] = {"name": simple.get("name") if isinstance(simple, dict) else None}
    notes = []
    if metadata is not None:
        raw, _ = parse_email(metadata)
        info.update(
            name=raw.get("name") or info["name"],
            summary=raw.get("summary"),
            license=raw.get("license"),
            license_expression=raw.get("license_expression"),
            classifiers=raw.get("classifiers") or [],
            home_page=raw.get("home_page"),
            project_urls=raw.get("project_urls") or {},
            author=raw.get("author"),
            author_email=raw.get("author_email"),
            requires_dist=raw.get("requires_dist") or [],
            requires_python=raw.get("requires_python"),
        )
    else:
        why = unavailable or "no wheel with PEP 658 metadata"
        notes.append(f"this release's own metadata is not available ({why})")
        # The Simple API still states each file's Requires-Python (PEP 691 `requires-python`).
        info["requires_python"] = next(
            (f["requires-python"] for f in files if f.get("requires-python")), None
        )
    notes.append(
        "vulnerability data for this release is unavailable: the per-version JSON endpoint is missing"
    )
    # `files` already carry absolute URLs.
    doc = _doc(info, [{**f, "upload_time": f.get("upload-time")} for f in files], None, version, "")
    if metadata is None:
        doc = doc.model_copy(update={"dependency_notes": ["dependencies unknown: " + notes[0]]})
    return doc.model_copy(update={"notes": doc.notes + notes})


_RECENT = (("last_day", "last-day"), ("last_week", "last-week"), ("last_month", "last-month"))


def parse_recent(data: Any, name: str) -> DownloadsResult:
    """pypistats' `/api/packages/<name>/recent` body: {"data": {"last_day": N, ...}, "package": ...}."""
    counts_by_key = data.get("data") if isinstance(data, dict) else None
    if not isinstance(counts_by_key, dict):
        raise BadDocument("a pypistats body has a 'data' object")
    counts = [
        DownloadCount(period=period_name, downloads=counts_by_key[key])
        for key, period_name in _RECENT
        if isinstance(counts_by_key.get(key), int)
    ]
    notes = ["PyPI counts come from pypistats, which reports only last-day, last-week and last-month totals"]
    package = data.get("package")
    return DownloadsResult(
        registry="pypi",
        name=package if isinstance(package, str) else name,
        source="pypistats recent downloads",
        counts=counts,
        notes=notes,
    )
