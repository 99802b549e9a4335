"""Reading npm packuments: the whole body at once, or while it downloads (`PackumentReader`).

A packument is mostly its `versions` object: every version's manifest (next: 21 MB). The index needs
only the version keys, their deprecations and the latest manifest, so manifests stay undecoded
(`msgspec.Raw`) but the latest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from ..fetching import BadDocument, undecodable
from .streaming import SegmentedReader, fill_from


class _Packument(msgspec.Struct, rename={"dist_tags": "dist-tags"}):
    """The fields of a packument the index reads; every version's manifest stays undecoded."""

    name: Any = None
    dist_tags: Any = None
    #: Every value a timestamp string, as for every published package: kept as the index's release
    #: dates without a pass over thousands of entries.
    time: dict[str, str] | None = None
    versions: dict[str, msgspec.Raw] = {}
    maintainers: Any = None
    description: Any = None
    author: Any = None
    repository: Any = None
    license: Any = None
    licence: Any = None
    licenses: Any = None
    homepage: Any = None
    keywords: Any = None


class _LoosePackument(_Packument):
    """Any `time` (an unpublished package's holds an object; mirrors may write anything)."""

    time: Any = None


class _Deprecation(msgspec.Struct):
    deprecated: Any = None


class _Deprecations(msgspec.Struct):
    versions: dict[str, _Deprecation] = {}


_PACKUMENT = msgspec.json.Decoder(_Packument)
_LOOSE_PACKUMENT = msgspec.json.Decoder(_LoosePackument)
_ENTRIES = msgspec.json.Decoder(dict[str, msgspec.Raw])
#: Every version's deprecation in one pass (costs what the main decode does; run only when one exists).
_DEPRECATIONS = msgspec.json.Decoder(_Deprecations)
_DEPRECATION = msgspec.json.Decoder(_Deprecation)
#: A deprecation is a string value; `"deprecated": false` (old manifests) is not one.
_DEPRECATED_KEY = b'"deprecated"'
_DEPRECATED_STRING = re.compile(rb'"deprecated"\s*:\s*"')


@dataclass(frozen=True, slots=True)
class Packument:
    """A packument's top-level fields, and what the index needs of its `versions`."""

    top: _Packument
    #: Every version key, in document order.
    versions: list[str]
    #: Undecoded manifests: all of them (whole-body read) or the latest dist-tag's only (streamed read).
    manifests: dict[str, msgspec.Raw]
    #: Versions whose manifest has a `deprecated` value, as written (only a non-empty string deprecates).
    deprecations: dict[str, Any]

    @property
    def times_are_strings(self) -> bool:
        return not isinstance(self.top, _LoosePackument)


def _decode(body: bytes | bytearray) -> _Packument:
    try:
        try:
            return _PACKUMENT.decode(body)
        except msgspec.ValidationError:
            return _LOOSE_PACKUMENT.decode(body)
    except msgspec.ValidationError as exc:
        raise BadDocument(f"not an npm packument: {exc}") from None
    except msgspec.DecodeError:
        raise BadDocument(undecodable(body)) from None


def read_packument(body: bytes | bytearray) -> Packument:
    """The whole packument at once, from its bytes (when it could not be read as it streamed in)."""
    doc = _decode(body)
    deprecations: dict[str, Any] = {}
    if _has_deprecation(body):
        try:
            found = _DEPRECATIONS.decode(body).versions
            deprecations = {v: item.deprecated for v, item in found.items() if item.deprecated is not None}
        except msgspec.ValidationError:
            # A version whose value is not an object: read them one at a time.
            deprecations = _deprecations_of(doc.versions)
    return Packument(top=doc, versions=list(doc.versions), manifests=doc.versions, deprecations=deprecations)


def _has_deprecation(text: bytes | bytearray) -> bool:
    # A plain search first: most packuments have no deprecation at all, and it is several times faster.
    at = text.find(_DEPRECATED_KEY)
    return at != -1 and _DEPRECATED_STRING.search(text, at) is not None


def _deprecations_of(manifests: dict[str, msgspec.Raw]) -> dict[str, Any]:
    found = {}
    for version, raw in manifests.items():
        if _DEPRECATED_KEY in bytes(raw):
            try:
                value = _DEPRECATION.decode(raw).deprecated
            except msgspec.ValidationError:
                continue
            if value is not None:
                found[version] = value
    return found


class PackumentReader(SegmentedReader):
    """Reads a packument while it downloads (see `streaming`): the version keys, the latest dist-tag's
    manifest and the deprecations, segment by segment."""

    member = b"versions"

    def __init__(
        self, segment: int = 256 * 1024, on_versions: Callable[[Iterable[str]], object] | None = None
    ) -> None:
        super().__init__(segment)
        #: Called with each segment's version keys as they are read (npm: to build their sort keys then).
        self.on_versions = on_versions
        self.top: _Packument | None = None
        self.latest: str | None = None
        self.versions: dict[str, None] = {}
        self.manifests: dict[str, msgspec.Raw] = {}
        self.deprecations: dict[str, Any] = {}

    def head(self, document: bytes) -> bool:
        self.top = _PACKUMENT.decode(document)
        latest = self.top.dist_tags.get("latest") if isinstance(self.top.dist_tags, dict) else None
        self.latest = latest if isinstance(latest, str) else None
        return self.latest is not None  # no tag says which manifest to keep

    def take(self, entries: bytes) -> None:
        self._take(_ENTRIES.decode(entries), entries)

    def _take(self, manifests: dict[str, msgspec.Raw], text: bytes) -> None:
        self.versions.update(dict.fromkeys(manifests))
        if self.on_versions is not None:
            self.on_versions(manifests)
        if self.latest in manifests:
            self.manifests = {self.latest: manifests[self.latest]}
        if _has_deprecation(text):
            self.deprecations.update(_deprecations_of(manifests))

    def tail(self, document: bytes) -> Packument | None:
        try:
            doc = _PACKUMENT.decode(document)
        except msgspec.ValidationError:
            doc = _LOOSE_PACKUMENT.decode(document)
        self._take(doc.versions, document)
        if self.top is None or self.latest not in self.manifests:
            return None
        fill_from(self.top, doc, "versions")
        doc.versions = {}
        return Packument(
            top=doc, versions=list(self.versions), manifests=self.manifests, deprecations=self.deprecations
        )
