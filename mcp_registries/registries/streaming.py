"""Decoding a big JSON document while it downloads.

Registry documents are mostly one member: npm's `versions` (every manifest; next: 21 MB), PyPI's
`releases` (every file of every release; botocore: 3.8 MB). Decoding is the one cost left after the last
byte arrives, so a `SegmentedReader` decodes that member in segments between chunks, while later chunks
are still on the wire, and only the tail (its last entries and whatever follows) after the download.

A segment is the text between two cuts, decoded on its own as `{<entries>}`. A cut is a `,` between the
end of one entry's value and the next key, which starts with a digit (a version), followed by the start
of its value. In valid JSON such a match is a key after a value of the same kind at the member's level
or deeper (inside a string the quotes would be escaped). A cut at any other depth leaves a segment with
unbalanced brackets, which fails to decode, and the reader then gives the whole body back to be decoded
at once: every segment that decodes is a run of whole entries.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import msgspec

#: How far back from the newest byte a cut is looked for.
_WINDOW = 16 * 1024
#: How far back a search for the member's key restarts in the next chunk (a key split by a boundary).
_OVERLAP = 256


class SegmentedReader:
    """Feeds a body chunk by chunk; subclasses read its head, each segment of the member, and the tail.

    `finish` returns what `tail` returns, or the whole body (a `bytearray`) when the document did not
    lend itself to this: then it is decoded at once, by the same code as a body that never streamed.
    """

    #: The big member's key, and the brackets its entries' values open and close with.
    member = b""
    opens, closes = b"{", b"}"
    _key: ClassVar[re.Pattern[bytes]]
    _cut: ClassVar[re.Pattern[bytes]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._key = re.compile(rb'"' + re.escape(cls.member) + rb'"\s*:\s*\{')
        cls._cut = re.compile(
            re.escape(cls.closes) + rb'\s*(,)\s*"[0-9][^"\\]*"\s*:\s*' + re.escape(cls.opens)
        )

    def __init__(self, segment: int = 256 * 1024) -> None:
        self.segment = segment
        self.body = bytearray()
        #: Where the next undecoded entry starts (-1 until the member's key is found).
        self.entries = -1
        #: Where the search for the member's key resumes.
        self.scanned = 0
        self.abandoned = False

    # -- what subclasses read ------------------------------------------------------------------

    def head(self, document: bytes) -> bool:
        """The members before the big one, as a whole object (the big one empty); False: give up."""
        raise NotImplementedError

    def take(self, entries: bytes) -> None:
        """A segment: some of the big member's entries, as a whole object."""
        raise NotImplementedError

    def tail(self, document: bytes) -> Any:
        """The rest, as a whole object: the big member's last entries and the members after it.
        Returns the reader's result, or None to give the whole body back."""
        raise NotImplementedError

    # -- the driver ----------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        self.body += chunk
        if self.abandoned:
            return
        try:
            if self.entries < 0:
                self._find_member()
            if self.entries >= 0:
                self._advance()
        except msgspec.DecodeError:
            self.abandoned = True

    def _find_member(self) -> None:
        found = self._key.search(self.body, self.scanned)
        if found is None:
            self.scanned = max(0, len(self.body) - _OVERLAP)
            return
        # Everything before the key, closed as an object: it decodes only if the key is at the top level.
        head = bytes(self.body[: found.start()]) + b'"' + self.member + b'": {}}'
        if not self.head(head):
            self.abandoned = True
            return
        self.entries = found.end()

    def _advance(self) -> None:
        end = len(self.body)
        if end - self.entries < self.segment:
            return
        # A segment's worth has arrived: cut at the last boundary near its end (searching only there).
        cut = -1
        for found in self._cut.finditer(self.body, max(self.entries, end - _WINDOW)):
            cut = found.start(1)
        if cut > self.entries:
            with memoryview(self.body) as view:
                entries = b"".join((b"{", view[self.entries : cut], b"}"))
            self.take(entries)
            self.entries = cut + 1

    def finish(self) -> Any:
        if self.abandoned or self.entries < 0:
            return self.body
        document = b'{"' + self.member + b'": {' + self.body[self.entries :]
        try:
            result = self.tail(document)
        except msgspec.DecodeError:
            return self.body
        return self.body if result is None else result


def fill_from(head: msgspec.Struct, rest: msgspec.Struct, member: str) -> None:
    """Members the tail lacks (those before the big one) taken from the head; the big one left as is."""
    for field in rest.__struct_fields__:
        if field != member and getattr(rest, field) is None:
            setattr(rest, field, getattr(head, field))
