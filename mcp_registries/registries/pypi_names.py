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
from itertools import accumulate, repeat
from operator import sub
from typing import Any, Literal

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
#: A family's root: a normalized name's first part, when a separator follows it (`flask` of `flask-login`).
_ROOT = re.compile(rb"^([a-z0-9]+)-", re.MULTILINE)
#: A name at least this many others build on (`flask-*`) is popular: its typos rank early.
POPULAR = 10
#: How much closer a popular name counts than its typo cost says.
FAVOUR = 0.5
#: At most this many popular close names go before the prefix matches (when nothing matched exactly).
LIKELY = 3
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
        #: Every root met, one a line, by its first byte: counted at the end one part at a time (the index
        #: is not reliably sorted, and a counter of all ~110,000 roots at once would cost ~20 MB).
        self._roots: defaultdict[int, bytearray] = defaultdict(bytearray)
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
        roots = self._roots
        for root in _ROOT.findall(normalized):
            roots[root[0]] += root + b"\n"
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
        """The searchable index, appended block by block to two growing buffers as the buckets are used up
        (no join of the whole, no copy at the end: the peak stays near the index's own size)."""
        keys = bytearray(b"\n")
        names = bytearray()
        name_starts = array("I")
        suffix_order = array("I")
        blocks: dict[int, Block] = {}
        line = 0
        for length in sorted(self._buckets):
            rows = bytes(self._buckets.pop(length)).split(b"\n")
            rows.pop()
            rows.sort()
            count = len(rows)
            blocks[length] = Block(length, line, line + count, len(keys))
            keys += b"\n".join([row[:length] for row in rows])
            keys += b"\n"
            # A row is "key\tdisplay": its display name and newline take len(row) - length bytes.
            sizes = map(sub, map(len, rows[:-1]), repeat(length))
            name_starts.fromlist(list(accumulate(sizes, initial=len(names))))
            names += b"\n".join([row[length + 1 :] for row in rows])
            names += b"\n"
            reversed_keys = [row[length - 1 :: -1] for row in rows]
            del rows
            suffix_order.fromlist(sorted(range(count), key=reversed_keys.__getitem__))
            del reversed_keys
            line += count
        name_starts.append(len(names))
        families: dict[bytes, int] = {}
        while self._roots:
            _, part = self._roots.popitem()
            counted = Counter(bytes(part).split(b"\n"))
            del part
            families.update((root, size) for root, size in counted.items() if size >= _MIN_FAMILY)
        return Names(keys, names, memoryview(name_starts), memoryview(suffix_order), blocks, families)


@dataclass(frozen=True, slots=True)
class Block:
    """The lines whose keys are `length` long: [first, end), their keys from `offset` in the keys buffer,
    each `length + 1` bytes apart."""

    length: int
    first: int
    end: int
    offset: int

    def start(self, line: int) -> int:
        """Where `line`'s key starts in the keys buffer."""
        return self.offset + (line - self.first) * (self.length + 1)


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
    keys: bytes | bytearray
    #: Display names joined by b"\n", line for line with `keys`, ending in b"\n".
    names: bytes | bytearray
    #: Where each line starts in `names`, plus one past the last line (an unsigned 32-bit view of bytes:
    #: the cache keeps the same bytes, so nothing is held twice). Keys need none: a block's are evenly spaced.
    name_starts: memoryview
    #: Each block's lines again (numbered from the block's first), ordered by their keys read backwards: a
    #: suffix is a binary search too.
    suffix_order: memoryview
    #: Key length → its block of lines.
    blocks: dict[int, Block]
    #: PEP 503 name without separators → how many names start with it and a separator (3 or more only).
    families: dict[bytes, int]
    #: The blocks' first lines and key offsets, ascending, to find a line's or an offset's block.
    _firsts: list[int] = field(init=False)
    _offsets: list[int] = field(init=False)
    _order: list[Block] = field(init=False)

    def __post_init__(self) -> None:
        self._order = sorted(self.blocks.values(), key=lambda block: block.first)
        self._firsts = [block.first for block in self._order]
        self._offsets = [block.offset for block in self._order]

    @classmethod
    def from_blobs(cls, blobs: tuple[Any, ...]) -> Names:
        """Rebuild from `blobs()` (what the cache keeps); ValueError when they do not fit together."""
        if len(blobs) != 6 or not all(isinstance(part, bytes | bytearray | array) for part in blobs):
            raise ValueError("the names index's parts are not six buffers")
        keys, names, name_starts, suffix_order, blocks, families = blobs
        if isinstance(keys, array) or isinstance(names, array) or isinstance(blocks, array):
            raise ValueError("the names index's text parts are not bytes")  # noqa: TRY004 - a bad cache entry
        table = {}
        for row in bytes(blocks).split():
            length, first, end, offset = map(int, row.split(b":"))
            table[length] = Block(length, first, end, offset)
        made = cls(keys, names, _column(name_starts), _column(suffix_order), table, _families(families))
        lines = sum(block.end - block.first for block in table.values())
        size = 1 + sum((block.end - block.first) * (block.length + 1) for block in table.values())
        if not len(made.name_starts) == len(made.suffix_order) + 1 == lines + 1 or size != len(keys):
            raise ValueError("the names index's parts do not line up")
        if made.name_starts[-1] != len(names):
            raise ValueError("the names index's parts do not line up")
        return made

    def blobs(self) -> tuple[Any, ...]:
        """The compact form the cache keeps: six buffers, no object per name. The same buffers this index
        searches (a cache that keeps values in memory holds nothing twice)."""
        blocks = b" ".join(b"%d:%d:%d:%d" % (b.length, b.first, b.end, b.offset) for b in self._order)
        families = b"\n".join(b"%s %d" % item for item in sorted(self.families.items()))
        return (self.keys, self.names, self.name_starts.obj, self.suffix_order.obj, blocks, families)

    def __len__(self) -> int:
        return len(self.name_starts) - 1

    def block_of(self, line: int) -> Block:
        return self._order[bisect.bisect_right(self._firsts, line) - 1]

    def key(self, line: int) -> bytes:
        block = self.block_of(line)
        start = block.start(line)
        return bytes(self.keys[start : start + block.length])

    def name(self, line: int) -> str:
        return self.names[self.name_starts[line] : self.name_starts[line + 1] - 1].decode("ascii", "replace")

    def family(self, line: int) -> int:
        return self.families.get(self.names_normalized(line), 0)

    # -- lookups ---------------------------------------------------------------------------

    def _range(self, length: int, prefix: bytes) -> tuple[int, int]:
        """Lines of one length whose key starts with `prefix`."""
        block = self.blocks.get(length)
        if block is None:
            return 0, 0
        size, step = len(prefix), length + 1
        keys, first, offset = self.keys, block.first, block.offset

        def head(line: int) -> bytes:
            at = offset + (line - first) * step
            return bytes(keys[at : at + size])

        lo = bisect.bisect_left(range(first, block.end), prefix, key=head) + first
        hi = bisect.bisect_right(range(lo, block.end), prefix, key=head) + lo
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
        begin = self.blocks[min(longer)].offset
        # One match a line: from the first occurrence through the line's last one. A single scan in C,
        # shorter lines skipped, nothing allocated but the matches.
        word = re.escape(key)
        line = re.compile(word + rb"(?:[^\n]*" + word + rb")?")
        return sum(1 for _ in line.finditer(self.keys, begin))

    def containing(self, key: bytes) -> Iterator[int]:
        """Lines whose key contains `key` but does not start with it, shortest first."""
        longer = [length for length in self.blocks if length > len(key)]
        if not longer:
            return
        offsets, order = self._offsets, self._order
        last = -1
        for at in _finditer(key, self.keys, self.blocks[min(longer)].offset):
            block = order[bisect.bisect_right(offsets, at) - 1]
            within, column = divmod(at - block.offset, block.length + 1)
            line = block.first + within
            if line != last:
                last = line
                if column:
                    yield line

    def _suffix_range(self, length: int, suffix: bytes) -> range:
        """Positions in `suffix_order` of the lines of one length whose key ends with `suffix`."""
        block = self.blocks.get(length)
        if block is None:
            return range(0)
        size, step, wanted = len(suffix), length + 1, suffix[::-1]
        keys, order, first, end = self.keys, self.suffix_order, block.first, block.offset + length

        def tail(position: int) -> bytes:
            at = end + order[position] * step
            return bytes(keys[at - size : at][::-1])

        lo = bisect.bisect_left(range(first, block.end), wanted, key=tail) + first
        hi = bisect.bisect_right(range(lo, block.end), wanted, key=tail) + lo
        return range(lo, hi)

    def similar(self, key: bytes) -> list[tuple[float, int]]:
        """(typo cost, line) of keys one edit from `key` (two from eight letters) that do not contain it,
        cheapest first (a popular name's cost lowered by `FAVOUR`), then most popular.

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
                first = self.blocks[length].first
                candidates.update(first + self.suffix_order[at] for at in self._suffix_range(length, tail))
        typed = key.decode()
        scored = []
        for line in candidates:
            other = self.key(line)
            if key in other:
                continue
            cost = typo_cost(typed, other.decode(), limit)
            if cost is not None:
                family = self.family(line)
                # A popular name is the likelier meaning of a typo than an obscure one as close.
                scored.append((cost - (FAVOUR if family >= POPULAR else 0.0), -family, line))
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

        # A typo of a popular name is what the query most likely meant: it comes right after the exact
        # matches, before names that merely contain the typo (`pyteot` finds pytest before `pyteota`).
        # A popular name is one `POPULAR` others build on (`pytest-*`).
        # When the query names a package itself, only a typo of a more popular one goes before the rest.
        bar = max([POPULAR, *(self.family(line) + 1 for line in exact)])
        likely = [line for _, line in similar if self.family(line) >= bar][:LIKELY]
        if take(exact, "exact", len(exact)):
            return found
        if take(likely, "similar", len(likely)):
            return found
        if take(prefixed(), "prefix", prefix_total):
            return found
        if inside and take(self.containing(key), "contains", contains_total):
            return found
        rest = [line for _, line in similar if line not in likely]
        take(rest, "similar", len(rest))
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


def _finditer(
    needle: bytes, haystack: bytes | bytearray, start: int, end: int | None = None
) -> Iterator[int]:
    """Positions of `needle` in `haystack[start:end]`, by bytes.find (C speed, no match objects)."""
    stop = len(haystack) if end is None else end
    at = haystack.find(needle, start, stop)
    while at != -1:
        yield at
        at = haystack.find(needle, at + len(needle), stop)


def _column(raw: bytes | bytearray | array[int]) -> memoryview:
    if isinstance(raw, array):
        if raw.typecode != "I":
            raise ValueError("a names index column that is not whole 32-bit numbers")
        return memoryview(raw)
    if len(raw) % 4:
        raise ValueError("a names index column that is not whole 32-bit numbers")
    return memoryview(raw).cast("I")


def _families(blob: bytes | bytearray) -> dict[bytes, int]:
    families = {}
    for row in bytes(blob).split(b"\n"):
        root, _, size = row.rpartition(b" ")
        if root:
            families[root] = int(size)
    return families
