"""Typo costs: the edits people make cost less than edit distance says, so the name meant comes first."""

from __future__ import annotations

import pytest
from rapidfuzz.distance import OSA

from mcp_registries.similarity import NEIGHBOUR, REPEAT, SWAP, closest, key_of, neighbours, typo_cost


@pytest.mark.parametrize(
    ("typed", "name", "cost"),
    [
        ("flaks", "flask", SWAP),  # two neighbours swapped
        ("reqeusts", "requests", SWAP),
        ("numoy", "numpy", NEIGHBOUR),  # o is next to p
        ("numzy", "numpy", 1.0),  # z is nowhere near p
        ("requestss", "requests", REPEAT),  # a doubled letter
        ("reqests", "requests", 1.0),  # a dropped letter that was not doubled
        ("flsk", "flask", 1.0),
        ("djnago", "django", SWAP),
        ("django", "django", 0.0),
        ("djnagoo", "django", 2.0),
    ],
)
def test_typo_cost_of_common_mistakes(typed: str, name: str, cost: float) -> None:
    assert typo_cost(typed, name) == cost


def test_typo_cost_is_none_past_the_limit_and_never_below_a_swap_for_one_edit() -> None:
    assert typo_cost("abcdef", "uvwxyz") is None
    assert typo_cost("reqeusts", "requests", limit=0) is None
    words = ["flask", "flaks", "falsk", "flsak", "flas", "flassk", "glask", "fpask"]
    for typed in words:
        for name in words:
            distance = OSA.distance(typed, name)
            cost = typo_cost(typed, name)
            if distance > 2:
                assert cost is None
            else:
                assert cost is not None and (cost == 0) == (distance == 0)
                assert cost <= distance and (distance != 1 or cost >= SWAP)


def test_keyboard_neighbours_touch() -> None:
    assert neighbours("q", "w") and neighbours("g", "h") and neighbours("f", "r") and neighbours("b", "g")
    assert not neighbours("q", "p") and not neighbours("a", "a") and not neighbours("-", "a")


def test_closest_prefers_the_same_key_then_the_cheapest_typo() -> None:
    assert closest("React", ["reactt", "react", "preact", "reactor"]) == ["react", "reactt", "preact"]
    assert closest("flaks", ["flags", "flak", "flask"]) == ["flask", "flags", "flak"]
    assert closest("zzzzzz", ["react", "vue"]) == []
    # The name itself is never suggested back.
    assert closest("left-pad", ["left-pad", "leftpad"]) == ["leftpad"]


def test_key_of_ignores_case_and_separators() -> None:
    assert key_of("Django_REST.framework-2") == "djangorestframework2"
    assert key_of("@scope/pkg") == "scopepkg"
