"""PyPI's project names, searchable: the Simple API's project index kept as a few flat buffers.

PyPI has no search API. Its project index (`/simple/`: ~930,000 names, ~40 MB of HTML, or PEP 691 JSON
where served) names every project, and searching it by name answers most of what agents ask: the exact
spelling of a name they half remember, names built on a word, and the real name behind a typo.

The index is never held as a million Python objects. `NamesReader` groups the names by key length as the
body streams in; `Names` is then two blobs and two offset arrays:

- `keys`: each name's key (lower case, letters and digits only: PEP 503 with separators ignored, so
  `django rest framework` meets `djangorestframework`), one per line, ordered by length, then key;
- `names`: the display names, line for line;
- `family`: how many names start with a name and a separator (`flask` → `flask-login`…): a popularity
  signal the index itself carries, to break ties between equally close names.

An exact key is a binary search in its length's block; a prefix, one binary search per longer length; a
substring, one scan of the keys blob in C; a similar name (one or two typos), the lines that keep one
piece of the query intact, checked with an edit distance. `Names.blobs()` is the compact form the cache
keeps (~30 MB), from which a new process rebuilds the arrays in milliseconds.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

from ..similarity import max_distance, typo_cost

Match = Literal["exact", "prefix", "contains", "similar"]

#: An anchor's text (HTML) or a project's name (PEP 691 JSON): both are display names.
_HTML_NAME = re.compile(rb">([^<>\s]+)</a>")
_JSON_NAME = re.compile(rb'"name"\s*:\s*"([^"\\]+)"')
_NOT_KEY = re.compile(rb"[^a-z0-9\n]+")
_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))
#: Every byte but letters, digits and newlines (translate() deletes before it maps through `_LOWER`).
_NOT_KEY_BYTES = bytes(b for b in range(256) if not (bytes([b]).isalnum() or b == 10))
#: PEP 503 without collapsing runs: lower case, '_' and '.' as '-'.
_NORMALIZE = bytes.maketrans(bytes(range(65, 91)) + b"_.", bytes(range(97, 123)) + b"--")
_SEPARATORS = re.compile(rb"[-_.]+")
#: Bytes kept between chunks when no name ended in them (a name is at most a few hundred bytes).
_CARRY = 4096
#: A family's root: the first one, two or three parts of a normalized name followed by a separator.
_ROOTS = tuple(
    re.compile(rb"^([a-z0-9]+" + rb"(?:-[a-z0-9]+)" * extra + rb")-", re.MULTILINE) for extra in range(3)
)
#: Families this small say nothing about popularity and are not kept.
_MIN_FAMILY = 3


def key_bytes(text: str) -> bytes:
    return _NOT_KEY.sub(b"", text.lower().encode("ascii", "ignore").replace(b"\n", b""))


class NamesReader:
    """Builds `Names` from the project index as it streams in (HTML or PEP 691 JSON, told by its first byte)."""

    def __init__(self) -> None:
        self._pattern: re.Pattern[bytes] | None = None
        self._end = b""
        self._pending = b""
        #: Per key length: "key\tdisplay\n" lines, in arrival order.
        self._buckets: defaultdict[int, bytearray] = defaultdict(bytearray)
        self._roots: Counter[bytes] = Counter()
        self.count = 0

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk if self._pending else chunk
        if self._pattern is None:
            start = data.lstrip()[:1]
            if not start:
                self._pending = data[-_CARRY:]
                return
            self._pattern, self._end = (_JSON_NAME, b"}") if start == b"{" else (_HTML_NAME, b"</a>")
        # Whole entries only: the rest waits for the next chunk.
        cut = data.rfind(self._end) + len(self._end) if self._end in data else 0
        self._pending = data[cut:][-_CARRY:]
        if cut:
            self._add(self._pattern.findall(data, 0, cut))

    def _add(self, displays: list[bytes]) -> None:
        if not displays:
            return
        joined = b"\n".join(displays)
        keys = joined.translate(_LOWER, _NOT_KEY_BYTES).split(b"\n")
        normalized = b"\n" + joined.translate(_NORMALIZE)
        for pattern in _ROOTS:
            self._roots.update(pattern.findall(normalized))
        buckets = self._buckets
        for key, display in zip(keys, displays, strict=True):
            if key:
                buckets[len(key)] += b"%s\t%s\n" % (key, display)
        self.count += len(displays)

    def finish(self) -> NamesReader:
        """The body has ended: the names are read; `build` (long: run it off the event loop) indexes them."""
        if self._pending and self._pattern is not None:
            self._add(self._pattern.findall(self._pending))
            self._pending = b""
        return self

    def build(self) -> Names:
        key_parts: list[bytes] = [b""]
        name_parts: list[bytes] = []
        key_starts = array("I")
        name_starts = array("I")
        suffix_order = array("I")
        blocks: dict[int, tuple[int, int]] = {}
        key_at, name_at, line = 1, 0, 0
        for length in sorted(self._buckets):
            lines = bytes(self._buckets.pop(length)).split(b"\n")
            lines.pop()
            lines.sort()
            displays = [row[length + 1 :] for row in lines]
            keys = [row[:length] for row in lines]
            del lines
            key_parts.append(b"\n".join(keys))
            name_parts.append(b"\n".join(displays))
            reversed_keys = [key[::-1] for key in keys]
            suffix_order.extend(map(line.__add__, sorted(range(len(keys)), key=reversed_keys.__getitem__)))
            del keys, reversed_keys
            # Every key of a block has the same length: its starts are evenly spaced.
            key_starts.extend(range(key_at, key_at + len(displays) * (length + 1), length + 1))
            key_at += len(displays) * (length + 1)
            name_starts.extend(accumulate(map((1).__add__, map(len, displays[:-1])), initial=name_at))
            name_at += sum(map(len, displays)) + len(displays)
            blocks[length] = (line, line + len(displays))
            line += len(displays)
        key_starts.append(key_at)
        name_starts.append(name_at)
        families: dict[bytes, int] = {}
        for root, size in self._roots.items():
            if size >= _MIN_FAMILY:
                key = root.replace(b"-", b"")
                families[key] = max(size, families.get(key, 0))
        return Names(
            keys=b"\n".join(key_parts) + b"\n",
            names=b"\n".join(name_parts) + b"\n",
            key_starts=_column(key_starts.tobytes()),
            name_starts=_column(name_starts.tobytes()),
            suffix_order=_column(suffix_order.tobytes()),
            blocks=blocks,
            families=families,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    name: str
    match: Match


@dataclass(slots=True)
class Found:
    """One page of a search, with the count of every match."""

    total: int
    hits: list[Hit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Names:
    #: b"\n" + keys joined by b"\n" + b"\n", by length, then key.
    keys: bytes
    #: Display names joined by b"\n", line for line with `keys`, ending in b"\n".
    names: bytes
    #: Where each line starts in `keys` and in `names`, plus one past the last line (unsigned 32-bit
    #: views of bytes: the cache keeps the same bytes, so nothing is held twice).
    key_starts: memoryview
    name_starts: memoryview
    #: Each block's lines again, ordered by their keys read backwards: a suffix is a binary search too.
    suffix_order: memoryview
    #: Key length → its lines [first, end).
    blocks: dict[int, tuple[int, int]]
    #: Key → how many names start with the name and a separator (only families of 3 or more).
    families: dict[bytes, int]

    @classmethod
    def from_blobs(cls, blobs: tuple[bytes, ...]) -> Names:
        """Rebuild from `blobs()` (what the cache keeps); ValueError when they do not fit together."""
        keys, names, key_starts, name_starts, suffix_order, blocks, families = blobs
        starts = tuple(_column(raw) for raw in (key_starts, name_starts, suffix_order))
        table = {}
        for row in blocks.split():
            length, _, span = row.partition(b":")
            first, _, end = span.partition(b"-")
            table[int(length)] = (int(first), int(end))
        made = cls(keys, names, starts[0], starts[1], starts[2], table, _families(families))
        if (
            not len(starts[0]) == len(starts[1]) == len(starts[2]) + 1
            or starts[0][-1] != len(keys)
            or starts[1][-1] != len(names)
        ):
            raise ValueError("the names index's parts do not line up")
        return made

    def blobs(self) -> tuple[bytes, ...]:
        """The compact form the cache keeps: six byte strings, no objects per name."""
        blocks = b" ".join(b"%d:%d-%d" % (length, *span) for length, span in self.blocks.items())
        families = b"\n".join(b"%s %d" % item for item in sorted(self.families.items()))
        columns = (self.key_starts, self.name_starts, self.suffix_order)
        return (self.keys, self.names, *(bytes(column.obj) for column in columns), blocks, families)

    def __len__(self) -> int:
        return len(self.key_starts) - 1

    def key(self, line: int) -> bytes:
        return self.keys[self.key_starts[line] : self.key_starts[line + 1] - 1]

    def name(self, line: int) -> str:
        return self.names[self.name_starts[line] : self.name_starts[line + 1] - 1].decode("ascii", "replace")

    def family(self, line: int) -> int:
        return self.families.get(self.key(line), 0)

    # -- lookups ---------------------------------------------------------------------------

    def _range(self, length: int, prefix: bytes) -> tuple[int, int]:
        """Lines of one length whose key starts with `prefix`."""
        first, end = self.blocks.get(length, (0, 0))
        if first == end:
            return first, first
        size = len(prefix)
        keys, starts = self.keys, self.key_starts

        def head(line: int) -> bytes:
            return keys[starts[line] : starts[line] + size]

        lo = bisect.bisect_left(range(first, end), prefix, key=head) + first
        hi = bisect.bisect_right(range(lo, end), prefix, key=head) + lo
        return lo, hi

    def exact(self, key: bytes) -> range:
        return range(*self._range(len(key), key))

    def prefixed(self, key: bytes) -> Iterator[range]:
        """Lines whose key starts with `key` and is longer, shortest first."""
        for length in sorted(self.blocks):
            if length > len(key):
                lo, hi = self._range(length, key)
                if hi > lo:
                    yield range(lo, hi)

    def lines_containing(self, key: bytes) -> int:
        """How many keys longer than `key` contain it (each counted once, however often it occurs)."""
        longer = [length for length in self.blocks if length > len(key)]
        if not longer:
            return 0
        begin = self.key_starts[self.blocks[min(longer)][0]]
        # The match runs to the end of its line, so a line counts once; shorter lines are not scanned.
        return re.compile(re.escape(key) + rb"[^\n]*").subn(b"", memoryview(self.keys)[begin:])[1]

    def containing(self, key: bytes) -> Iterator[int]:
        """Lines whose key contains `key` but does not start with it, shortest first."""
        longer = [length for length in self.blocks if length > len(key)]
        if not longer:
            return
        starts = self.key_starts
        last = -1
        for at in _finditer(key, self.keys, starts[self.blocks[min(longer)][0]]):
            line = bisect.bisect_right(starts, at) - 1
            if line != last:
                last = line
                if starts[line] != at:
                    yield line

    def _suffix_range(self, length: int, suffix: bytes) -> range:
        """Positions in `suffix_order` of the lines of one length whose key ends with `suffix`."""
        first, end = self.blocks.get(length, (0, 0))
        size = len(suffix)
        wanted = suffix[::-1]
        keys, starts, order = self.keys, self.key_starts, self.suffix_order

        def tail(position: int) -> bytes:
            at = starts[order[position]] + length
            return keys[at - size : at][::-1]

        lo = bisect.bisect_left(range(first, end), wanted, key=tail) + first
        hi = bisect.bisect_right(range(lo, end), wanted, key=tail) + lo
        return range(lo, hi)

    def similar(self, key: bytes) -> list[tuple[float, int]]:
        """(typo cost, line) of keys one edit from `key` (two from eight letters) that do not contain it,
        cheapest first, then most popular.

        Candidates keep the query's first or last part intact (both cut points tried, so that a swap
        across one of them is still found), found by binary search: no scan of the index.
        """
        n = len(key)
        if n < 2:
            return []
        limit = max_distance(key.decode())
        half = n // 2
        # One edit leaves the part before or after a cut intact; a swap across one cut is clear of the next.
        pieces = {(key[:cut], key[cut:]) for cut in (half, min(half + 1, n - 1))}
        if limit == 2:
            # Two edits: a name whose first or last third is intact.
            pieces.add((key[: n // 3], key[n - n // 3 :]))
        candidates: set[int] = set()
        for length in range(n - limit, n + limit + 1):
            if length not in self.blocks:
                continue
            for head, tail in pieces:
                candidates.update(range(*self._range(length, head)))
                candidates.update(self.suffix_order[at] for at in self._suffix_range(length, tail))
        typed = key.decode()
        scored = []
        for line in candidates:
            other = self.key(line)
            if key in other:
                continue
            cost = typo_cost(typed, other.decode(), limit)
            if cost is not None:
                scored.append((cost, -self.family(line), line))
        scored.sort()
        return [(cost, line) for cost, _, line in scored]

    def search(self, text: str, start: int, stop: int) -> Found:
        """Matches of `text` in rank order, counted in all, named from `start` to `stop`."""
        key = key_bytes(text)
        if not key:
            return Found(0)
        wanted = _SEPARATORS.sub(b"-", text.lower().encode("ascii", "ignore").replace(b" ", b"-"))
        # Several spellings can share a key: the one most names build on first, then the one typed.
        exact = sorted(
            self.exact(key),
            key=lambda line: (-self.family(line), self.names_normalized(line) != wanted, line),
        )
        prefix_total = sum(len(block) for block in self.prefixed(key))
        # A single letter is inside most names: those matches would say nothing.
        inside = len(key) > 1
        contains_total = self.lines_containing(key) - prefix_total if inside else 0
        similar = self.similar(key)
        total = len(exact) + prefix_total + contains_total + len(similar)
        found = Found(total)
        if not inside:
            found.notes.append("a one-character query matches names that are it or start with it")
        taken = 0

        def take(lines: Iterator[int] | list[int], match: Match, count: int) -> bool:
            nonlocal taken
            if taken + count <= start:
                taken += count
                return taken >= stop
            for line in lines:
                if taken >= stop:
                    return True
                if taken >= start:
                    found.hits.append(Hit(self.name(line), match))
                taken += 1
            return taken >= stop

        def prefixed() -> Iterator[int]:
            for block in self.prefixed(key):
                yield from block

        if take(exact, "exact", len(exact)):
            return found
        if take(prefixed(), "prefix", prefix_total):
            return found
        if inside and take(self.containing(key), "contains", contains_total):
            return found
        take([line for _, line in similar], "similar", len(similar))
        return found

    def names_normalized(self, line: int) -> bytes:
        return _SEPARATORS.sub(b"-", self.name(line).lower().encode())

    def close(self, guessed: str, limit: int = 3) -> list[str]:
        """Names a not-found name was probably meant to be: other spellings of its key, then the cheapest typos."""
        key = key_bytes(guessed)
        if not key:
            return []
        asked = _SEPARATORS.sub(b"-", guessed.lower().encode("ascii", "ignore"))
        lines = [line for line in self.exact(key) if self.names_normalized(line) != asked]
        lines += [line for _, line in self.similar(key)[: limit * 3]]
        names: list[str] = []
        for line in lines:
            name = self.name(line)
            if name not in names:
                names.append(name)
        return names[:limit]


def _finditer(needle: bytes, haystack: bytes, start: int, end: int | None = None) -> Iterator[int]:
    """Positions of `needle` in `haystack[start:end]`, by bytes.find (C speed, no match objects)."""
    stop = len(haystack) if end is None else end
    at = haystack.find(needle, start, stop)
    while at != -1:
        yield at
        at = haystack.find(needle, at + len(needle), stop)


def _column(raw: bytes) -> memoryview:
    if len(raw) % 4:
        raise ValueError("a names index column that is not whole 32-bit numbers")
    return memoryview(raw).cast("I")


def _families(blob: bytes) -> dict[bytes, int]:
    families = {}
    for row in blob.split(b"\n"):
        key, _, size = row.rpartition(b" ")
        if key:
            families[key] = int(size)
    return families
