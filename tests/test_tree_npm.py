"""`resolve_npm` against the real npm client's lockfiles (recorded: tests/npm_lock.py, tests/data/README.md), and
its rules one at a time over small registries written here.

The recorded comparisons hold the resolver to npm 11's package-lock.json: the same name@version set, and the
same packages marked optional. They differ from npm only where the recorded roots do not go:
- npm prefers versions whose `engines.node` admits the Node.js running it (expo@50.0.0 on Node 20 gets
  react-native 0.86.3, whose engines admit Node 20, not the `latest` 0.88.1); a tree answers for no
  particular Node.js, so it takes `latest`.
- bundled dependencies come with their package's tarball; the resolver fetches them from the registry.
"""

from __future__ import annotations

import json
import lzma
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import anyio
import nodesemver
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_registries import tree_npm
from mcp_registries.errors import PackageNotFound, VersionNotFound
from mcp_registries.registries.base import PackageIndex, VersionDoc
from mcp_registries.registries.npm_manifest import parse_manifest
from mcp_registries.registries.npm_pick import in_range
from mcp_registries.registries.versioning import semver_key
from mcp_registries.resolution import Resolution
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from mcp_registries.tree_npm import IN_FLIGHT, resolve_npm
from mcp_registries.tree_npm_nodes import collation

from .conftest import parse_packument
from .npm_lock import DATA, Recording, file_stem, lock_set, locked, npm_over, run_npm

pytestmark = pytest.mark.anyio
T = TypeVar("T")

RECORDED = [
    "express@4.18.2",
    "react-dom@18.2.0",
    "chokidar@3.5.3",
    "jest@29.7.0",
    "webpack@5.89.0",
    "react-scripts@5.0.1",
]


class Registry:
    """Lookups over packuments in memory, read with the project's own parsers (a packument's version entry is
    the version's document, as the registry serves both). `recorded`: the only manifests it may be asked for."""

    def __init__(self, packuments: dict[str, dict[str, Any]], recorded: set[str] | None = None) -> None:
        self.packuments = packuments
        self.recorded = recorded
        self.asked: list[str] = []

    async def index(self, name: str) -> PackageIndex:
        self.asked.append(name)
        if name not in self.packuments:
            raise PackageNotFound("npm", name)
        return parse_packument(self.packuments[name], name).index

    async def manifest(self, name: str, version: str) -> VersionDoc:
        assert self.recorded is None or f"{name}@{version}" in self.recorded, (
            f"{name}@{version} was not recorded"
        )
        manifest = self.packuments.get(name, {}).get("versions", {}).get(version)
        if manifest is None:
            raise VersionNotFound("npm", name, version)
        return parse_manifest(manifest, name)


def tree_set(resolution: Resolution) -> dict[str, bool]:
    """name@version → optional, the root included (the lockfile lists it too)."""
    found = {f"{p.name}@{p.version}": p.optional for p in resolution.packages}
    found[f"{resolution.root.name}@{resolution.root.version}"] = False
    return found


@cache
def recorded(root: str) -> tuple[dict[str, Any], dict[str, Any]]:
    stem = file_stem(root)
    lock = json.loads((DATA / f"{stem}.lock.json").read_text())
    body = json.loads(lzma.decompress((DATA / f"{stem}.packuments.json.xz").read_bytes()))
    return lock, body


async def resolve_recorded(root: str) -> Resolution:
    _, body = recorded(root)
    name, _, version = root.rpartition("@")
    return await resolve_npm(Registry(body["packuments"], set(body["manifests"])), name, version)


# -- against npm's lockfiles ----------------------------------------------------------------------------


@pytest.mark.parametrize("root", RECORDED)
async def test_resolve_npm_recorded_equals_npm_lockfile(root: str) -> None:
    """The name@version set and the optional flags are npm's. react-scripts' lock lists yaml@2.9.1 as
    `extraneous`: npm fetched it for an optional peer that the hoisted yaml@1 does not satisfy, and it is
    reachable through that optional peer only; the resolver lists it as optional."""
    lock, _ = recorded(root)
    resolution = await resolve_recorded(root)
    assert tree_set(resolution) == lock_set(locked(lock["packages"]))
    assert resolution.unresolved == [] and resolution.notes == []


async def test_resolve_npm_express_duplicates_and_edges() -> None:
    """express 4.18.2: ms 2.0.0 for debug 2.6.9, ms 2.1.3 nested under send; each with the edge that first
    reached it on a shortest path."""
    resolution = await resolve_recorded("express@4.18.2")
    by_id = {f"{p.name}@{p.version}": p for p in resolution.packages}
    assert resolution.root.name == "express" and resolution.root.depth == 0
    assert len(resolution.packages) == 70
    assert sorted(v for n, v in (k.split("@") for k in by_id) if n == "ms") == ["2.0.0", "2.1.3"]
    assert (by_id["debug@2.6.9"].depth, by_id["debug@2.6.9"].required_by) == (1, "express@4.18.2")
    assert (by_id["ms@2.0.0"].depth, by_id["ms@2.0.0"].required_by) == (2, "debug@2.6.9")
    assert (by_id["ms@2.1.3"].required_by, by_id["ms@2.1.3"].requirement) == ("send@0.18.0", "2.1.3")
    assert by_id["body-parser@1.20.1"].license == "MIT"


async def test_resolve_npm_react_dom_installs_its_peer() -> None:
    """react-dom 18.2.0's peer react@^18.2.0 is installed: the highest 18.x, since `latest` is 19."""
    resolution = await resolve_recorded("react-dom@18.2.0")
    react = next(p for p in resolution.packages if p.name == "react")
    assert (react.version, react.depth, react.requirement, react.optional) == ("18.3.1", 1, "^18.2.0", False)


async def test_resolve_npm_chokidar_fsevents_is_optional() -> None:
    """chokidar's optionalDependencies (fsevents, macOS only) is installed, marked optional."""
    resolution = await resolve_recorded("chokidar@3.5.3")
    assert [(p.name, p.optional) for p in resolution.packages if p.optional] == [("fsevents", True)]


async def test_resolve_npm_webpack_peer_nested_with_its_dependent() -> None:
    """webpack: schema-utils 4 needs ajv 8 and ajv-keywords 5 (whose peer is ajv 8) while ajv 6 is hoisted:
    both second versions are listed, ajv 8 once."""
    resolution = await resolve_recorded("webpack@5.89.0")
    versions: dict[str, list[str]] = {}
    for p in resolution.packages:
        versions.setdefault(p.name, []).append(p.version)
    assert sorted(versions["ajv"]) == ["6.15.0", "8.20.0"]
    assert sorted(versions["ajv-keywords"]) == ["3.5.2", "5.1.0"]


async def test_resolve_npm_reads_documents_concurrently_within_the_bound() -> None:
    """jest's 265 packages: at most IN_FLIGHT lookups at a time, and more than one at once."""
    _, body = recorded("jest@29.7.0")
    registry = Registry(body["packuments"], set(body["manifests"]))
    flying = most = 0

    class Slow:
        async def index(self, name: str) -> PackageIndex:
            return await self._slowly(registry.index(name))

        async def manifest(self, name: str, version: str) -> VersionDoc:
            return await self._slowly(registry.manifest(name, version))

        async def _slowly(self, call: Awaitable[T]) -> T:
            nonlocal flying, most
            flying += 1
            most = max(most, flying)
            try:
                await anyio.sleep(0.001)
                return await call
            finally:
                flying -= 1

    resolution = await resolve_npm(Slow(), "jest", "29.7.0")
    assert len(resolution.packages) == 265
    assert 1 < most <= IN_FLIGHT


# -- the rules, over small registries (npm's answer for each: test_npm_agrees) -----------------------------


def documents(
    packages: dict[str, dict[str, dict[str, Any]]], tags: dict[str, dict[str, str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Packuments from {name: {version: manifest fields}}; `latest` is the highest release unless tagged."""
    found = {}
    for name, versions in packages.items():
        releases = [v for v in versions if "-" not in v] or list(versions)
        found[name] = {
            "name": name,
            "dist-tags": {"latest": max(releases, key=semver_key), **(tags or {}).get(name, {})},
            "versions": {v: {"name": name, "version": v, **fields} for v, fields in versions.items()},
        }
    return found


def deps(**wanted: str) -> dict[str, Any]:
    return {"dependencies": wanted}


def peers(*optional: str, **wanted: str) -> dict[str, Any]:
    return {
        "peerDependencies": wanted,
        "peerDependenciesMeta": {name: {"optional": True} for name in optional},
    }


#: Each case: the packages of a registry (`root` 1.0.0 is resolved), dist-tags, and the tree npm installs.
CASES: dict[str, tuple[dict[str, dict[str, dict[str, Any]]], dict[str, dict[str, str]], set[str]]] = {
    # A second edge whose range the placed version satisfies adds nothing, though c's newest differs.
    "reuse": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", b="1.0.0")},
            "a": {"1.0.0": deps(c="~1.1.0")},
            "b": {"1.0.0": deps(c="^1.0.0")},
            "c": {"1.1.5": {}, "1.9.0": {}},
        },
        {},
        {"a@1.0.0", "b@1.0.0", "c@1.1.5"},
    ),
    # `latest` wins over a higher version the range also admits; otherwise the highest admitted.
    "latest": (
        {
            "root": {"1.0.0": deps(a=">=1.0.0", b="^1.0.0")},
            "a": {"1.0.0": {}, "1.5.0": {}, "2.0.0": {}},
            "b": {"1.2.0": {}, "1.4.0": {}, "2.0.0": {}},
        },
        {"a": {"latest": "1.5.0"}},
        {"a@1.5.0", "b@1.4.0"},
    ),
    # ^1.0.0 skips 1.1.0-beta.2; ^1.1.0-beta.1 takes it; `*` takes a prerelease `latest`.
    "prereleases": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", b="^1.1.0-beta.1", c="*")},
            "a": {"1.0.0": {}, "1.1.0-beta.2": {}},
            "b": {"1.0.0": {}, "1.1.0-beta.2": {}},
            "c": {"1.0.0": {}, "2.0.0-rc.1": {}},
        },
        {"a": {"latest": "1.0.0"}, "c": {"latest": "2.0.0-rc.1"}},
        {"a@1.0.0", "b@1.1.0-beta.2", "c@2.0.0-rc.1"},
    ),
    # A deprecated version only when the range admits nothing else.
    "deprecated": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", b="^1.0.0")},
            "a": {"1.0.0": {}, "1.1.0": {"deprecated": "broken"}},
            "b": {"1.0.0": {"deprecated": "old"}},
        },
        {},
        {"a@1.0.0", "b@1.0.0"},
    ),
    # A peer is installed beside its dependent; an optional one (peerDependenciesMeta) is not.
    "peers": (
        {
            "root": {"1.0.0": deps(a="^1.0.0")},
            "a": {"1.0.0": peers("q", p="^1.0.0", q="^1.0.0")},
            "p": {"1.0.0": {}},
            "q": {"1.0.0": {}},
        },
        {},
        {"a@1.0.0", "p@1.0.0"},
    ),
    # optionalDependencies are installed; one that does not exist is left out.
    "optional": (
        {
            "root": {"1.0.0": {"optionalDependencies": {"o": "^1.0.0", "gone": "^1.0.0"}, **deps(a="1.0.0")}},
            "o": {"1.0.0": deps(shared="^1.0.0", own="^1.0.0")},
            "a": {"1.0.0": deps(shared="^1.0.0")},
            "shared": {"1.0.0": {}},
            "own": {"1.0.0": {}},
        },
        {},
        {"a@1.0.0", "o@1.0.0", "shared@1.0.0", "own@1.0.0"},
    ),
    # a → b → a, and b back to the root: each once.
    "cycle": (
        {
            "root": {"1.0.0": deps(a="^1.0.0")},
            "a": {"1.0.0": deps(b="^1.0.0")},
            "b": {"1.0.0": deps(a="^1.0.0", root="^1.0.0")},
        },
        {},
        {"a@1.0.0", "b@1.0.0"},
    ),
    # `npm:other@^1` installs other (in node_modules/mine).
    "alias": (
        {"root": {"1.0.0": deps(mine="npm:other@^1.0.0")}, "other": {"1.0.0": {}, "1.2.0": {}}},
        {},
        {"other@1.2.0"},
    ),
    # npm reuses only a version its dependent can see: x@1.0.0 nested under a is invisible to d, which gets
    # the highest 1.x (reusing any version already chosen would list two versions of x, not three).
    "invisible": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", d="^1.0.0", x="^2.0.0")},
            "a": {"1.0.0": deps(x="1.0.0")},
            "d": {"1.0.0": deps(x="^1.0.0")},
            "x": {"1.0.0": {}, "1.5.0": {}, "2.0.0": {}},
        },
        {},
        {"a@1.0.0", "d@1.0.0", "x@1.0.0", "x@1.5.0", "x@2.0.0"},
    ),
    # Siblings go in name order: a's x@^1 is hoisted first and b's `*` accepts it (an installed version
    # satisfies `*` whatever it is): the latest x@2 is never installed.
    "order": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", b="^1.0.0")},
            "a": {"1.0.0": deps(x="^1.0.0")},
            "b": {"1.0.0": deps(x="*")},
            "x": {"1.9.0": {}, "2.0.0": {}},
        },
        {},
        {"a@1.0.0", "b@1.0.0", "x@1.9.0"},
    ),
    # arborist's own example: root → (a@1, b@1||2), a → b@1: b@2 at the top, b@1 under a.
    "nesting": (
        {
            "root": {"1.0.0": deps(a="^1.0.0", b="1 || 2")},
            "a": {"1.0.0": deps(b="^1.0.0")},
            "b": {"1.0.0": {}, "2.0.0": {}},
        },
        {},
        {"a@1.0.0", "b@1.0.0", "b@2.0.0"},
    ),
    # b's peer p@^1 beside a's own p@^2: p@1 takes the top (a peer must sit beside b), p@2 nests under a.
    "peer-displaces": (
        {
            "root": {"1.0.0": deps(a="^1.0.0")},
            "a": {"1.0.0": deps(b="^1.0.0", p="^2.0.0")},
            "b": {"1.0.0": peers(p="^1.0.0")},
            "p": {"1.0.0": {}, "2.0.0": {}},
        },
        {},
        {"a@1.0.0", "b@1.0.0", "p@1.0.0", "p@2.0.0"},
    ),
    # The root's peer p@^2 and a's peer p@^1: both must sit at the top, and the root's wins ("overriding peer
    # dependency"); a's edge stays unsatisfied.
    "peer-conflict": (
        {
            "root": {"1.0.0": {**deps(a="^1.0.0"), **peers(p="^2.0.0")}},
            "a": {"1.0.0": peers(p="^1.0.0")},
            "p": {"1.0.0": {}, "2.0.0": {}},
        },
        {},
        {"a@1.0.0", "p@2.0.0"},
    ),
}


def case(name: str) -> Registry:
    packages, tags, _ = CASES[name]
    return Registry(documents(packages, tags))


async def tree_of(lookups: Registry, version: str = "1.0.0", **options: Any) -> Resolution:
    return await resolve_npm(lookups, "root", version, **options)


def ids(resolution: Resolution) -> set[str]:
    return {f"{p.name}@{p.version}" for p in resolution.packages}


@pytest.mark.parametrize("name", CASES)
async def test_resolve_npm_case(name: str) -> None:
    """Each case's tree is the one npm installs (test_npm_agrees asks npm itself)."""
    assert ids(await tree_of(case(name))) == CASES[name][2]


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
@pytest.mark.parametrize("name", CASES)
async def test_npm_agrees(name: str) -> None:
    """npm's own lockfile for each case, over a loopback registry holding the case's packuments."""
    packages, tags, expected = CASES[name]
    lock = await anyio.to_thread.run_sync(npm_over, documents(packages, tags), "root@1.0.0")
    assert set(lock_set(locked(lock))) == expected | {"root@1.0.0"}


async def test_resolve_npm_depths_and_edges() -> None:
    """Depth is the shortest path; required_by and requirement are the edge that first reached it."""
    resolution = await tree_of(case("nesting"))
    assert {(p.name, p.version, p.depth, p.required_by, p.requirement) for p in resolution.packages} == {
        ("a", "1.0.0", 1, "root@1.0.0", "^1.0.0"),
        ("b", "2.0.0", 1, "root@1.0.0", "1 || 2"),
        ("b", "1.0.0", 2, "a@1.0.0", "^1.0.0"),
    }
    resolution = await tree_of(case("peers"))
    assert [(p.name, p.depth, p.required_by) for p in resolution.packages] == [
        ("a", 1, "root@1.0.0"),
        ("p", 2, "a@1.0.0"),
    ]


async def test_resolve_npm_deprecation_shown() -> None:
    """A deprecated version npm had to take carries its message."""
    resolution = await tree_of(case("deprecated"))
    assert {p.name: p.deprecated for p in resolution.packages} == {"a": None, "b": "old"}


async def test_resolve_npm_optional_marked_and_missing_one_listed() -> None:
    """Optional with everything only optional edges bring; an optional dependency that cannot be had is an
    unresolved edge, not a failure."""
    resolution = await tree_of(case("optional"))
    assert {p.name: p.optional for p in resolution.packages} == {
        "a": False,
        "o": True,
        "shared": False,
        "own": True,
    }
    [missing] = resolution.unresolved
    assert (missing.name, missing.requirement, missing.required_by) == ("gone", "^1.0.0", "root@1.0.0")
    assert missing.reason == "optional dependency: npm package 'gone' not found"


async def test_resolve_npm_cycle_depths() -> None:
    """A cycle back to the root adds nothing."""
    assert [p.depth for p in (await tree_of(case("cycle"))).packages] == [1, 2]


async def test_resolve_npm_alias_requirement() -> None:
    """An alias is listed as the package it installs, with the requirement as written."""
    [other] = (await tree_of(case("alias"))).packages
    assert (other.name, other.version, other.requirement) == ("other", "1.2.0", "npm:other@^1.0.0")


async def test_resolve_npm_peer_conflict_listed() -> None:
    """The peer npm leaves unsatisfied ("overriding peer dependency") is listed with what is installed."""
    [conflict] = (await tree_of(case("peer-conflict"))).unresolved
    assert (conflict.name, conflict.requirement, conflict.required_by) == ("p", "^1.0.0", "a@1.0.0")
    assert conflict.reason == "peer dependency conflict: p@2.0.0 is installed where it needs ^1.0.0"


async def test_resolve_npm_unresolvable_edges_listed_not_raised() -> None:
    """A missing package, a range nothing satisfies, an unknown dist-tag, specs that are not the registry's:
    each an unresolved edge with its reason."""
    lookups = Registry(
        documents(
            {
                "root": {
                    "1.0.0": deps(
                        nowhere="^1.0.0",
                        a="^9.0.0",
                        b="beta",
                        gitdep="git+https://example.com/x.git",
                        shorthand="user/repo#main",
                        local="file:../local",
                        tarball="https://example.com/t.tgz",
                    )
                },
                "a": {"1.0.0": {}},
                "b": {"1.0.0": {}},
            }
        )
    )
    resolution = await tree_of(lookups)
    assert resolution.packages == []
    assert {u.name: u.reason for u in resolution.unresolved} == {
        "nowhere": "npm package 'nowhere' not found",
        "a": "no version of a satisfies '^9.0.0'",
        "b": "b has no dist-tag 'beta'",
        "gitdep": "a git dependency, not a registry package: not resolved",
        "shorthand": "a GitHub dependency (user/repo), not a registry package: not resolved",
        "local": "a local path (file:), not a registry package: not resolved",
        "tarball": "a URL dependency, not a registry package: not resolved",
    }


async def test_resolve_npm_root_not_found_raises() -> None:
    """Only the root may fail the call."""
    with pytest.raises(PackageNotFound):
        await tree_of(Registry({}))
    with pytest.raises(VersionNotFound):
        await tree_of(case("cycle"), version="2.0.0")


async def test_resolve_npm_stops_at_the_limit_with_a_note() -> None:
    """Past `limit` packages the resolution stops and says so."""
    lookups = Registry(
        documents(
            {"root": {"1.0.0": deps(**{f"p{i}": "^1.0.0" for i in range(10)})}}
            | {f"p{i}": {"1.0.0": deps(**{f"q{i}": "^1.0.0"})} for i in range(10)}
            | {f"q{i}": {"1.0.0": {}} for i in range(10)}
        )
    )
    resolution = await tree_of(lookups, limit=5)
    assert len(resolution.packages) == 5 and {p.depth for p in resolution.packages} == {1}
    assert resolution.notes == ["stopped at 5 packages: the tree is larger, and the rest is not listed"]
    assert len((await tree_of(lookups, limit=20)).packages) == 20


async def test_resolve_npm_answers_where_npm_never_finishes() -> None:
    """y's peer p@^2 and its dependency x's peer p@^1 both sit at the top: npm 11.19.1 loops forever on this
    registry (arborist replacing p back and forth); the resolver settles on p@1 and lists y's peer edge."""
    lookups = Registry(
        documents(
            {
                "root": {"1.0.0": deps(y="^1.0.0")},
                "y": {"1.0.0": {**deps(x="^1.0.0"), **peers(p="^2.0.0")}},
                "x": {"1.0.0": peers(p="^1.0.0")},
                "p": {"1.0.0": {}, "2.0.0": {}},
            }
        )
    )
    resolution = await tree_of(lookups)
    assert ids(resolution) == {"x@1.0.0", "y@1.0.0", "p@1.0.0"}
    assert [(u.name, u.requirement, u.required_by) for u in resolution.unresolved] == [
        ("p", "^2.0.0", "y@1.0.0")
    ]


async def test_resolve_npm_stops_when_placement_does_not_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past VISITS visits a package the resolution stops, with a note, whatever it has placed."""
    monkeypatch.setattr(tree_npm, "VISITS", 0)
    resolution = await tree_of(case("nesting"))
    assert resolution.packages == []
    assert resolution.notes[0].startswith("stopped because placing peer dependencies kept displacing")


# -- the parts ------------------------------------------------------------------------------------------

_NUMBER = st.sampled_from(["0", "1", "2", "3", "10"])
_VERSION = st.builds(
    lambda major, minor, patch, pre, prefix: f"{prefix}{major}.{minor}.{patch}{pre}",
    _NUMBER,
    _NUMBER,
    _NUMBER,
    st.sampled_from(["", "", "-alpha", "-beta.1", "-beta.2", "-rc.1", "-0", "beta", "+build.5"]),
    st.sampled_from(["", "", "v", "="]),
)
_RANGE = st.sampled_from(
    ["^1.2.3", "~1.2.3-beta.1", ">=1.0.0-rc.1 <2", "1.x", "*", "", "1.2.3 - 2.3.4", "^0.0.3", "~0.2", "2", "1.2",
     ">1.2.3-alpha <=1.2.3", "<2.0.0-0", "1.2.3-beta.2", "=1.0.0", ">= 1.0.0 || 2.0.0-rc.1", "^1.0.0-0", "x.x",
     "^2.0.0-beta", "<1.0.0-beta.3 || >=3", "~1", "^0.1.0 || ^10.0.0", ">=0.0.0", "<=2.10.0"]
)  # fmt: skip


@given(_VERSION, _RANGE)
def test_in_range_matches_node_semver(version: str, spec: str) -> None:
    """The compiled ranges answer as node-semver's loose `satisfies` without includePrerelease."""
    try:
        expected = bool(nodesemver.make_range(spec, loose=True).test(version))
    except ValueError:
        expected = False
    assert in_range(version, spec) == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_collation_matches_intl_collator() -> None:
    """Names and paths sort as arborist sorts them (Intl.Collator 'en')."""
    names = ["a", "A", "a-b", "a_b", "a.b", "ab", "@types/node", "0x", "node_modules/a/node_modules/b", "a~b",
             "node_modules/a-b", "node_modules/@a/b", "Zed", "z", "a!", "a(b)", "a*b", "ab-cd", "abc", "a1", "a/b"]  # fmt: skip
    script = "const w=JSON.parse(process.argv[1]);w.sort(new Intl.Collator('en').compare);console.log(JSON.stringify(w))"
    sorted_by_node = json.loads(
        subprocess.run(["node", "-e", script, json.dumps(names)], capture_output=True, check=True).stdout
    )
    assert sorted(names, key=collation) == sorted_by_node


# -- live ----------------------------------------------------------------------------------------------


@pytest.fixture
async def live_service() -> AsyncIterator[Service]:
    with tempfile.TemporaryDirectory() as cache_dir:
        service = Service(Settings.from_env(cache_dir=Path(cache_dir)))
        yield service
        await service.aclose()


@pytest.mark.live
@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
async def test_live_resolve_npm_equals_npm_install(live_service: Service, tmp_path: Path) -> None:
    """express@4.18.2 today: the resolver over the live registry lists what npm's lockfile lists (npm's
    `registry` setting and MCP_REGISTRIES_NPM_URL must name the same registry)."""
    lock = await anyio.to_thread.run_sync(run_npm, "express@4.18.2", tmp_path)
    resolution = await resolve_npm(Recording(live_service), "express", "4.18.2")
    assert tree_set(resolution) == lock_set(locked(lock["packages"]))
