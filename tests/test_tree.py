"""The `tree` tool's surface: its arguments, and a resolution made into an answer (order, page, summaries,
text budget). The resolvers themselves: tests/test_tree_npm.py and tests/test_tree_pypi.py."""

from __future__ import annotations

import json
import random

import pytest

from mcp_registries.budget import LIMIT
from mcp_registries.errors import InvalidArgument
from mcp_registries.models import Operation, compact_json
from mcp_registries.operations import OPERATIONS, TREE_PAGE_SIZE, parse_arguments
from mcp_registries.resolution import Resolution, Resolved, Unresolved
from mcp_registries.tree import DUPLICATES_SHOWN, UNRESOLVED_SHOWN, tree_result


def test_tree_arguments_follow_the_table() -> None:
    query = parse_arguments(
        "tree", {"registry": "pip", "name": "fastapi", "extras": ["standard", "standard"]}
    )
    assert (query.registry, query.extras, query.python, query.platform) == (
        "pypi",
        ("standard",),
        "3.12",
        "linux",
    )
    assert query.page_size == TREE_PAGE_SIZE
    query = parse_arguments(
        "tree", {"registry": "pypi", "name": "x", "python": " 3.9 ", "platform": "Windows"}
    )
    assert (query.python, query.platform) == ("3.9", "windows")
    schema = OPERATIONS[Operation.TREE].input_schema()
    assert schema["properties"]["platform"]["enum"] == ["linux", "macos", "windows"]
    assert schema["properties"]["page_size"]["default"] == TREE_PAGE_SIZE
    assert schema["required"] == ["registry", "name"]


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"extras": "standard"}, "extras"),
        ({"extras": ["ok", "bad extra"]}, "extras"),
        ({"extras": [f"e{n}" for n in range(51)]}, "extras"),
        ({"python": "2.7"}, "python"),
        ({"python": "3.x"}, "python"),
        ({"python": 3.12}, "python"),
        ({"platform": "solaris"}, "platform"),
        ({"page_size": 0}, "page_size"),
    ],
)
def test_bad_tree_arguments_are_one_sentence(arguments: dict[str, object], argument: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_arguments("tree", {"registry": "pypi", "name": "x", **arguments})
    assert caught.value.argument == argument
    assert caught.value.message.endswith(".") and "\n" not in caught.value.message


def test_pypi_only_arguments_given_for_npm_are_ignored_with_a_note() -> None:
    query = parse_arguments("tree", {"registry": "npm", "name": "express", "python": "3.11"})
    assert any("PyPI only" in note for note in query.notes)


def resolution(count: int, *, seed: int = 1, unresolved: int = 0) -> Resolution:
    rng = random.Random(seed)
    root = Resolved("root", "1.0.0", 0, "", None)
    packages = [
        Resolved(
            name=f"pkg-{rng.randrange(count // 2 + 1)}",
            version=f"{rng.randrange(3)}.{n}.0",
            depth=rng.randrange(1, 6),
            required_by="root@1.0.0",
            requirement="^1.0.0",
            license=rng.choice(["MIT", "ISC", None, "Apache-2.0"]),
        )
        for n in range(count)
    ]
    misses = [Unresolved(f"gone-{n}", "^1", "root@1.0.0", "no such package") for n in range(unresolved)]
    return Resolution(root=root, packages=packages, unresolved=misses)


def test_packages_come_by_depth_then_name_with_totals_and_summaries() -> None:
    resolved = resolution(60)
    result = tree_result(
        resolved, parse_arguments("tree", {"registry": "npm", "name": "root", "page_size": 250})
    )
    rows = [(p.depth, p.name.lower(), p.name, p.version) for p in result.packages]
    assert rows == sorted(rows) and len(rows) == result.total == 60
    assert result.max_depth == max(p.depth for p in resolved.packages)
    assert sum(result.licenses.values()) == 60
    assert result.licenses.get("unknown", 0) == sum(p.license is None for p in resolved.packages)
    names: dict[str, set[str]] = {}
    for p in resolved.packages:
        names.setdefault(p.name, set()).add(p.version)
    assert {n: set(v) for n, v in result.duplicates.items()} == {n: v for n, v in names.items() if len(v) > 1}


def test_pages_cover_every_package_once() -> None:
    resolved = resolution(230)
    seen = []
    for page in range(1, 5):
        query = parse_arguments("tree", {"registry": "npm", "name": "root", "page": page, "page_size": 70})
        result = tree_result(resolved, query)
        assert result.pages == 4 and result.has_more == (page < 4)
        seen += [(p.name, p.version, p.depth) for p in result.packages]
    assert sorted(seen) == sorted((p.name, p.version, p.depth) for p in resolved.packages)


def test_a_default_answer_fits_the_budget_and_counts_what_it_leaves_out() -> None:
    resolved = resolution(300, unresolved=40)
    result = tree_result(resolved, parse_arguments("tree", {"registry": "npm", "name": "root"}))
    assert len(compact_json(result).encode()) <= LIMIT + 200
    listed = len(result.packages)
    assert 0 < listed < TREE_PAGE_SIZE
    assert any(note.startswith(f"{listed} of this page's {TREE_PAGE_SIZE} packages") for note in result.notes)
    assert len(result.unresolved) == UNRESOLVED_SHOWN
    assert any(note.startswith(f"{40 - UNRESOLVED_SHOWN} more unresolved") for note in result.notes)
    # The page_size the note names lists that many, whole.
    asked = parse_arguments("tree", {"registry": "npm", "name": "root", "page_size": listed})
    again = tree_result(resolved, asked)
    assert [p.name for p in again.packages] == [p.name for p in result.packages]
    assert len(again.unresolved) == 40
    assert len(again.duplicates) > len(result.duplicates) == DUPLICATES_SHOWN
    assert json.loads(compact_json(again))["total"] == 300
