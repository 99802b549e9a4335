"""Reading npm packuments: the whole body at once, or while it downloads.

A packument is mostly its `versions` object: every version's manifest (next: 21 MB). The index needs
only the version keys, their deprecations and the latest manifest, so manifests stay undecoded
(`msgspec.Raw`). Decoding is still the one cost left after the last byte arrives (react's 4 MB: ~1.7 ms,
next: ~7 ms), so `PackumentReader` decodes the `versions` object in segments while later chunks are
still on the wire, and only the tail (the last entries and `time`) after the download ends.

A segment is the text between two cuts, decoded on its own as `{<entries>}`. A cut is a `,` between
`}` and a key that starts with a digit, followed by `{`: in valid JSON that is a key of some object
after an object value, at the versions level or deeper. A cut at any other depth leaves an unbalanced
segment, which fails to decode, and the reader then falls back to decoding the whole body: every
segment that decodes is a run of whole versions entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from .base import BadDocument


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
_VERSIONS_KEY = re.compile(rb'"versions"\s*:\s*\{')
_CUT = re.compile(rb'\}\s*(,)\s*"[0-9][^"\\]*"\s*:\s*\{')
#: How far back from the newest byte a segment boundary is looked for.
_WINDOW = 16 * 1024
#: How far back a search for the `versions` key restarts in the next chunk (a key split by a boundary).
_OVERLAP = 256


@dataclass(frozen=True, slots=True)
class Packument:
    """A packument's top-level fields, and what the index needs of its `versions`."""

    top: _Packument
    #: Every version key, in document order.
    versions: list[str]
    #: Undecoded manifests: all of them (whole-body read) or the latest dist-tag's only (streamed read).
    manifests: dict[str, msgspec.Raw]
    #: Versions whose manifest carries a deprecation string, and the message as written.
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
        raise BadDocument("the body was empty" if not bytes(body).strip() else "not JSON") from None


def read_packument(data: Any) -> Packument:
    """The whole packument at once: its bytes (or, from tests, its decoded JSON)."""
    body = data if isinstance(data, bytes | bytearray) else json.dumps(data).encode()
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


class PackumentReader:
    """Reads a packument chunk by chunk (see the module docstring); `finish` gives the `Packument`, or
    the whole body when the document did not lend itself to it (then decode it with `read_packument`)."""

    def __init__(
        self, segment: int = 256 * 1024, on_versions: Callable[[Iterable[str]], object] | None = None
    ) -> None:
        self.segment = segment
        #: Called with each segment's version keys as they are read (npm: to build their sort keys then).
        self.on_versions = on_versions
        self.body = bytearray()
        self.head: _Packument | None = None
        self.latest: str | None = None
        #: Where the next undecoded versions entry starts (-1 until the `versions` key is found).
        self.entries = -1
        #: Where the search for the `versions` key resumes.
        self.scanned = 0
        self.versions: dict[str, None] = {}
        self.manifests: dict[str, msgspec.Raw] = {}
        self.deprecations: dict[str, Any] = {}
        self.abandoned = False

    def feed(self, chunk: bytes) -> None:
        self.body += chunk
        if self.abandoned:
            return
        try:
            if self.entries < 0:
                self._find_versions()
            if self.entries >= 0:
                self._advance()
        except msgspec.DecodeError:
            self.abandoned = True

    def _find_versions(self) -> None:
        found = _VERSIONS_KEY.search(self.body, self.scanned)
        if found is None:
            self.scanned = max(0, len(self.body) - _OVERLAP)
            return
        # Everything before the key, closed as an object: it decodes only if the key is at the top level.
        head = _PACKUMENT.decode(bytes(self.body[: found.start()]) + b'"versions": {}}')
        latest = head.dist_tags.get("latest") if isinstance(head.dist_tags, dict) else None
        if not isinstance(latest, str):
            self.abandoned = True  # no tag to say which manifest to keep
            return
        self.head, self.latest = head, latest
        self.entries = found.end()

    def _advance(self) -> None:
        end = len(self.body)
        if end - self.entries < self.segment:
            return
        # A segment's worth has arrived: cut at the last boundary near its end (searching only there).
        cut = -1
        for found in _CUT.finditer(self.body, max(self.entries, end - _WINDOW)):
            cut = found.start(1)
        if cut > self.entries:
            with memoryview(self.body) as view:
                text = b"".join((b"{", view[self.entries : cut], b"}"))
            self._take(_ENTRIES.decode(text), text)
            self.entries = cut + 1

    def _take(self, manifests: dict[str, msgspec.Raw], text: bytes) -> None:
        self.versions.update(dict.fromkeys(manifests))
        if self.on_versions is not None:
            self.on_versions(manifests)
        if self.latest in manifests:
            self.manifests = {self.latest: manifests[self.latest]}
        if _has_deprecation(text):
            self.deprecations.update(_deprecations_of(manifests))

    def finish(self) -> Packument | bytearray:
        if self.abandoned or self.head is None or self.latest is None:
            return self.body
        tail = b'{"versions": {' + self.body[self.entries :]
        try:
            doc = _decode(tail)
        except BadDocument:
            return self.body
        self._take(doc.versions, tail)
        if self.latest not in self.manifests:
            return self.body
        for field in _Packument.__struct_fields__:
            if field != "versions" and getattr(doc, field) is None:
                setattr(doc, field, getattr(self.head, field))
        doc.versions = {}
        return Packument(
            top=doc, versions=list(self.versions), manifests=self.manifests, deprecations=self.deprecations
        )
