"""PyPI's Simple API (PEP 691 JSON) and PEP 658 core metadata: a release read from its files and the
`.metadata` file next to a wheel, for mirrors without the per-version JSON endpoint; and the versions a
Simple API page lists, for project documents without `releases`.
"""

from __future__ import annotations

from typing import Any

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..fetching import BadDocument
from .base import VersionDoc
from .pypi_json import absolute_url, release_doc, release_file
from .pypi_reader import Release, ReleaseFile, release_of
from .versioning import pep440

#: How a release's `dependency_notes` start when its requirements could not be read (the tree's resolver
#: reads it: such a release is resolved as if it had none, with a note).
DEPENDENCIES_UNKNOWN = "dependencies unknown: "
#: PyPI's own vulnerability list comes only with the per-version JSON (OSV's answer, when given, replaces it).
NOTE_NO_VULNERABILITIES = (
    "vulnerability data for this release is unavailable: the per-version JSON endpoint is missing"
)


def simple_releases(listing: Any) -> dict[str, Release]:
    """Every version a Simple API page (PEP 700 `versions`) lists, with its files."""
    if not isinstance(listing, dict):
        raise BadDocument("a Simple API JSON body is an object")
    releases: dict[str, list[ReleaseFile]] = {str(v): [] for v in listing.get("versions") or []}
    by_version = {pep440(v): v for v in releases}
    for file in listing.get("files") or []:
        file_version = version_of_file(file.get("filename", "")) if isinstance(file, dict) else None
        if file_version is not None and file_version in by_version:
            releases[by_version[file_version]].append(release_file(file))
    return {version: release_of(files) for version, files in releases.items()}


def version_of_file(filename: str) -> Version | None:
    """The version a wheel's or sdist's file name states (None when it states none that PEP 440 reads)."""
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
        parsed = version_of_file(file["filename"])
        if (parsed is not None and parsed == wanted) or (
            wanted is None and f"-{version}" in file["filename"]
        ):
            found.append({**file, "url": absolute_url(url, file["url"])})
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
    notes.append(NOTE_NO_VULNERABILITIES)
    # `files` already carry absolute URLs.
    doc = release_doc(info, [{**f, "upload_time": f.get("upload-time")} for f in files], None, version, "")
    if metadata is None:
        doc = doc.model_copy(update={"dependency_notes": [DEPENDENCIES_UNKNOWN + notes[0]]})
    return doc.model_copy(update={"notes": doc.notes + notes})
