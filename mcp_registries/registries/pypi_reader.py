"""PyPI's project JSON read with msgspec, whole or while it downloads: only the fields answers use.

`releases` (every version's files: botocore's body is 3.8 MB) is decoded in segments between chunks
(see `streaming`), each version's sort key built as it arrives; README text and file digests are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from ..fetching import BadDocument, undecodable
from .common import text
from .streaming import SegmentedReader, fill_from
from .versioning import pep440_key


class ReleaseFile(msgspec.Struct, gc=False):
    """What the index reads of each file of each release (not digests, URLs or sizes)."""

    upload_time_iso_8601: Any = None
    upload_time: Any = None
    yanked: Any = None
    yanked_reason: Any = None
    requires_python: Any = None


def yank(files: list[ReleaseFile]) -> tuple[bool, str | None]:
    """A release is yanked when all its files are (PEP 592); the Simple API puts the reason in `yanked`."""
    if (
        not files
        or not files[0].yanked
        or not all(f.yanked is True or isinstance(f.yanked, str) for f in files)
    ):
        return False, None
    reasons = (f.yanked_reason or (f.yanked if isinstance(f.yanked, str) else None) for f in files)
    return True, text(next((r for r in reasons if r), None), 300)


def requires_python(files: list[ReleaseFile]) -> str | None:
    """The Requires-Python every file of a release declares, or None when a file declares none (or they differ).

    pip reads it from each file's index entry (PEP 503 `data-requires-python`, the JSON APIs' field) and
    skips the files that exclude the target Python before it fetches any metadata: a release is out only
    when all its files are, which one shared value says; when they differ, its metadata decides.
    """
    found = None
    for file in files:
        value = file.requires_python
        if not isinstance(value, str) or not value.strip() or (found is not None and value.strip() != found):
            return None
        found = value.strip()
    return found


def first_upload(files: list[ReleaseFile]) -> str | None:
    """The earliest upload time as PyPI wrote it: ISO 8601 UTC strings order as text to the second."""
    earliest = None
    for file in files:
        stamp = file.upload_time_iso_8601 or file.upload_time
        if isinstance(stamp, str) and stamp and (earliest is None or stamp < earliest):
            earliest = stamp
    return earliest


@dataclass(frozen=True, slots=True)
class Release:
    """What the index keeps of a release: its first upload, whether (and why) it is yanked, its Requires-Python."""

    first_upload: str | None
    yanked: bool = False
    reason: str | None = None
    python: str | None = None


def release_of(files: list[ReleaseFile] | None) -> Release:
    files = files or []
    yanked, reason = yank(files)
    return Release(first_upload(files), yanked, reason, requires_python(files))


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


class Project(msgspec.Struct):
    """The project JSON read without the fields no answer uses: a README of hundreds of KB in `info`
    is skipped by the decoder, and each of thousands of files keeps four fields."""

    info: _Info | None = None
    releases: dict[str, list[ReleaseFile] | None] | None = None
    urls: Any = None
    vulnerabilities: Any = None
    ownership: Any = None


_PROJECT = msgspec.json.Decoder(Project)


_RELEASES = msgspec.json.Decoder(dict[str, list[ReleaseFile] | None])


def decode_project(raw: bytes | bytearray) -> dict[str, Any]:
    """The project JSON's bytes (when they could not be read as they streamed in) as the fields answers use."""
    try:
        return fields(_PROJECT.decode(raw))
    except msgspec.ValidationError as exc:
        raise BadDocument(f"not a PyPI project document: {exc}") from None
    except msgspec.DecodeError:
        raise BadDocument(undecodable(raw)) from None


def fields(project: Project, releases: dict[str, Release] | None = None) -> dict[str, Any]:
    """The fields answers use; `releases` as summaries (given, or made from the project's file lists)."""
    if releases is None and project.releases is not None:
        releases = {version: release_of(files) for version, files in project.releases.items()}
    return {
        "info": msgspec.structs.asdict(project.info) if project.info is not None else None,
        "releases": releases,
        "urls": project.urls,
        "vulnerabilities": project.vulnerabilities,
        "ownership": project.ownership,
    }


class ProjectReader(SegmentedReader):
    """Reads the project JSON while it downloads (see `streaming`): `info` from the head, `releases`
    segment by segment (each version's sort key and summary built as it arrives, its files then
    dropped), the rest from the tail: the fields `decode_project` gives for the whole body."""

    member = b"releases"
    opens, closes = b"[", b"]"

    def __init__(self, segment: int = 256 * 1024) -> None:
        super().__init__(segment)
        self.top: Project | None = None
        self.releases: dict[str, Release] = {}

    def head(self, document: bytes) -> bool:
        self.top = _PROJECT.decode(document)
        return True

    def take(self, entries: bytes) -> None:
        self._take(_RELEASES.decode(entries))

    def _take(self, releases: dict[str, list[ReleaseFile] | None]) -> None:
        for version, files in releases.items():
            pep440_key(version)
            self.releases[version] = release_of(files)

    def tail(self, document: bytes) -> dict[str, Any] | None:
        rest = _PROJECT.decode(document)
        self._take(rest.releases or {})
        if self.top is None:
            return None
        fill_from(self.top, rest, "releases")
        return fields(rest, self.releases if rest.releases is not None or self.releases else None)
