"""PyPI: URL builders and pure parsers for the JSON API, the Simple API (PEP 691) and core metadata (PEP 658).

The JSON API (`/pypi/<name>/json`) gives the project and its latest release; the per-version
endpoint (`/pypi/<name>/<version>/json`) gives one release. Mirrors often lack the latter, so a
release's own metadata is then read from its `.metadata` file (PEP 658) next to a wheel found
through the Simple API.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.utils import (
    canonicalize_name,
)

from ..errors import InvalidArgument, NotFound, PackageNotFound, SearchUnavailable, UpstreamError, shown
from ..fetching import BadDocument, Fetch, Missing, Plan
from ..models import (
    DownloadCount,
    DownloadsResult,
    RegistryName,
)
from .base import (
    IndexBundle,
    PackageIndex,
    Period,
    VersionDoc,
    url_under,
)
from .pypi_json import parse_release, project_index
from .pypi_names import NamesReader
from .pypi_reader import ProjectReader, decode_project
from .pypi_simple import parse_release_from_files, release_files, simple_releases
from .versioning import pep440

SERVICE = "PyPI"
STATS_SERVICE = "pypistats"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
#: Seconds the project index may take to download (read timeouts between chunks still apply).
INDEX_TIME_LIMIT = 600.0

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
        # The reader's fields, or the body it gave back whole when it could not read it as it came.
        decoded = data if isinstance(data, dict) else decode_project(data)
        if decoded["releases"] is None:
            # The JSON API's `releases` key is deprecated; without it the Simple API lists the versions.
            decoded["releases"] = simple_releases((yield self._simple(name)))
        return project_index(decoded, project.url)

    def project_names(self) -> Plan[NamesReader]:
        """Every project's name, from the Simple API's project index (PEP 691 JSON where served, else HTML),
        read as it streams in; the caller builds the searchable form off the event loop."""
        listing = Fetch(
            url_under(self.pypi_url, "simple", ""),
            "PyPI's project index",
            body="bytes",
            accept=f"{SIMPLE_JSON}, text/html;q=0.1",
            reader=NamesReader,
            # A failing index must not make PyPI's other documents count as down.
            outage_scope=url_under(self.pypi_url, "simple", ""),
            # 40 MB: at 1 MB/s, 40 s. It loads in the background; nobody waits for it past a second.
            time_limit=INDEX_TIME_LIMIT,
        )
        try:
            reader: NamesReader = yield listing
        except Missing as missing:
            raise SearchUnavailable("PyPI index", missing.status, "project index (/simple/)") from None
        if not reader.count:
            raise BadDocument("a project index that names no project")
        return reader

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
