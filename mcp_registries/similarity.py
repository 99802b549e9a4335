"""How likely one name is a mistyped other: the cost of the edit between them, for did-you-mean and search.

Plain edit distance ranks every one-letter difference alike, so `flaks` finds `flags`, `flak` and `flask`
in alphabetical order. People mistype in particular ways: two letters swapped, a key next to the right
one, a doubled or dropped repeated letter. Those edits cost less here, so the name meant comes first.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import OSA

_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
#: Each row's offset from the one above, in key widths, on a standard staggered keyboard.
_STAGGER = (0.0, 0.5, 0.75, 1.25)
_POSITION = {
    key: (row, column + _STAGGER[row]) for row, keys in enumerate(_ROWS) for column, key in enumerate(keys)
}

SWAP = 0.5
NEIGHBOUR = 0.75
REPEAT = 0.75


def neighbours(a: str, b: str) -> bool:
    """Keys that touch on a QWERTY keyboard (same row, or the row above or below)."""
    pa, pb = _POSITION.get(a), _POSITION.get(b)
    if pa is None or pb is None or a == b:
        return False
    return abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1.0


def typo_cost(typed: str, name: str, limit: int = 2) -> float | None:
    """The cost of the edits that turn `name` into `typed` (both lower case, separators removed), or None
    when they are more than `limit` edits apart (optimal string alignment: a swap of neighbours is one)."""
    distance = OSA.distance(typed, name, score_cutoff=limit)
    if distance > limit:
        return None
    if distance != 1:
        return float(distance)
    if len(typed) == len(name):
        diff = [i for i, (x, y) in enumerate(zip(typed, name, strict=True)) if x != y]
        if len(diff) == 2:
            return SWAP
        return NEIGHBOUR if neighbours(typed[diff[0]], name[diff[0]]) else 1.0
    longer, shorter = (typed, name) if len(typed) > len(name) else (name, typed)
    at = next((i for i, (x, y) in enumerate(zip(shorter, longer, strict=False)) if x != y), len(shorter))
    extra = longer[at]
    repeated = (at > 0 and longer[at - 1] == extra) or (at + 1 < len(longer) and longer[at + 1] == extra)
    return REPEAT if repeated else 1.0


def closest(typed: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """The names (any spelling) closest to `typed` by typo cost, at most `limit`; the same key as `typed`
    (another spelling of it: case, separators) first."""
    wanted = key_of(typed)
    scored: list[tuple[float, int, str]] = []
    for position, name in enumerate(names):
        key = key_of(name)
        if key == wanted:
            cost: float | None = 0.0
        else:
            cost = typo_cost(wanted, key, max_distance(wanted))
        if cost is not None:
            scored.append((cost, position, name))
    scored.sort()
    seen: set[str] = set()
    found = []
    for _, _, name in scored:
        if name != typed and name not in seen:
            seen.add(name)
            found.append(name)
    return found[:limit]


def key_of(name: str) -> str:
    """A name as names are compared: lower case, letters and digits only (PEP 503 with separators ignored)."""
    return "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())


def max_distance(key: str) -> int:
    """Edits allowed between a guessed name and a real one: one for short names, two from eight letters."""
    return 1 if len(key) < 8 else 2
