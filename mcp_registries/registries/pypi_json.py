"""PyPI's JSON API documents → answers: a release's files, yank, dates and metadata, and the project index.

The project endpoint (`/pypi/<name>/json`) gives the project and its latest release; the per-version
endpoint (`/pypi/<name>/<version>/json`) one release (mirrors often lack it: see `pypi_simple`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from ..fetching import BadDocument
from ..models import Artifact, Person, Vulnerability
from .base import IndexBundle, PackageIndex, VersionDoc
from .common import address_people, iso_utc, keywords, text
from .pypi_metadata import author_of, dependencies_of, homepage_of, license_of, repository_of
from .pypi_reader import Release, ReleaseFile, first_upload, yank
from .versioning import pep440_prerelease, sort_pep440


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
        url=absolute_url(base_url, file["url"]) if isinstance(file.get("url"), str) else None,
        size=file.get("size") if isinstance(file.get("size"), int) else None,
        digest=f"sha256:{sha256}" if isinstance(sha256, str) else None,
        kind=kind,
    )


def absolute_url(base_url: str, url: str) -> str:
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


def release_file(file: dict[str, Any]) -> ReleaseFile:
    """A file as the JSON API (`upload_time_iso_8601`) or the Simple API (`upload-time`) spells it."""
    return ReleaseFile(
        upload_time_iso_8601=file.get("upload_time_iso_8601") or file.get("upload-time"),
        upload_time=file.get("upload_time"),
        yanked=file.get("yanked"),
        yanked_reason=file.get("yanked_reason"),
        requires_python=file.get("requires_python") or file.get("requires-python"),
    )


def _released(files: list[ReleaseFile]) -> str | None:
    return iso_utc(first_upload(files))


def _vulnerabilities(value: Any) -> list[Vulnerability] | None:
    """PyPI's own list (from OSV) for a release; None when the document carries none (unknown, not none)."""
    if not isinstance(value, list):
        return None
    found = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("withdrawn"):
            continue
        found.append(
            Vulnerability(
                id=item["id"],
                aliases=[a for a in item.get("aliases") or [] if isinstance(a, str)],
                summary=text(item.get("summary") or item.get("details"), 200),
                fixed=[v for v in item.get("fixed_in") or [] if isinstance(v, str)],
            )
        )
    return found


def release_doc(
    info: dict[str, Any], files: Any, vulnerabilities: Any, version: str, base_url: str
) -> VersionDoc:
    requirements, dependency_notes = dependencies_of(info.get("requires_dist"))
    file_list = files if isinstance(files, list) else []
    artifacts = _artifacts(file_list, base_url)
    notes = []
    summaries = [release_file(f) for f in file_list if isinstance(f, dict)]
    yanked, reason = yank(summaries)
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
    return release_doc(info, data.get("urls"), data.get("vulnerabilities"), str(info.get("version")), url)


def project_index(data: dict[str, Any], url: str) -> IndexBundle:
    """The index from a decoded project document (see `decode_project` and `ProjectReader`); its
    `releases` may come from the Simple API (`simple_releases`) when the JSON API omits them."""
    if not isinstance(data.get("info"), dict):
        raise BadDocument("a PyPI JSON API body has an 'info' object")
    info = data["info"]
    latest = info.get("version") if isinstance(info.get("version"), str) else None
    releases: dict[str, Release] = data["releases"] if isinstance(data.get("releases"), dict) else {}
    columns = _release_columns(releases)
    maintainers, organization, notes = _owners(data.get("ownership"))
    latest_doc = (
        release_doc(info, data.get("urls"), data.get("vulnerabilities"), latest, url) if latest else None
    )
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
        declared=[
            *address_people(info.get("maintainer"), info.get("maintainer_email"), role="maintainer"),
            *address_people(info.get("author"), info.get("author_email"), role="author"),
        ],
        organization=organization,
        created=iso_utc(min(columns.released.values())) if columns.released else None,
        latest_release_date=iso_utc(columns.released.get(latest)) if latest else None,
        yanked=bool(latest_doc and latest_doc.yanked),
        yanked_reason=latest_doc.yanked_reason if latest_doc else None,
        engines=latest_doc.engines if latest_doc else {},
        dependencies_count=len(latest_doc.runtime) if latest_doc else None,
        version_order=columns.ordered,
        released=columns.released,
        prereleases=frozenset(filter(pep440_prerelease, columns.ordered)),
        yanks=columns.yanks,
        requires_python=columns.python,
        version_tags={latest: ["latest"]} if latest in releases else {},
        notes=notes,
    )
    return IndexBundle(index=index, versions={latest: latest_doc} if latest and latest_doc else {})


@dataclass(frozen=True, slots=True)
class _Columns:
    #: Every version, newest first by PEP 440 (legacy strings after).
    ordered: list[str]
    #: Raw first-upload times: the index normalizes the few it shows (see PackageIndex.entries).
    released: dict[str, str]
    yanks: dict[str, str | None]
    python: dict[str, str]


def _release_columns(releases: dict[str, Release]) -> _Columns:
    """The version list as the index keeps it: order, release dates, yanks and Requires-Python."""
    released = {v: release.first_upload for v, release in releases.items() if release.first_upload}
    ordered = sort_pep440(releases, released)
    yanks = {v: releases[v].reason for v in ordered if releases[v].yanked}
    # A few distinct values over thousands of releases (">=3.8"): one string object each.
    python = {v: sys.intern(p) for v, release in releases.items() if (p := release.python)}
    return _Columns(ordered, released, yanks, python)


def _owners(ownership: Any) -> tuple[list[Person], str | None, list[str]]:
    """The project's accounts with their roles, and its organization, from the JSON API's `ownership`."""
    ownership = ownership if isinstance(ownership, dict) else None
    roles = ownership.get("roles") if ownership else None
    maintainers = [
        Person(username=r["user"], role=r.get("role") if isinstance(r.get("role"), str) else None)
        for r in (roles if isinstance(roles, list) else [])
        if isinstance(r, dict) and isinstance(r.get("user"), str)
    ]
    notes = [] if isinstance(roles, list) else ["this registry (or its mirror) lists no project owners"]
    organization = ownership.get("organization") if ownership else None
    return maintainers, organization if isinstance(organization, str) else None, notes
