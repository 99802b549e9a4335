"""The PyPI tree resolver: pip's answers for recorded real trees, and pip's rules one by one on made-up indexes."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from packaging.utils import canonicalize_name

from mcp_registries.cache import NullCache
from mcp_registries.errors import InvalidArgument, PackageNotFound, VersionNotFound
from mcp_registries.registries.base import PackageIndex, VersionDoc
from mcp_registries.registries.pypi_metadata import dependencies_of
from mcp_registries.registries.versioning import pep440_prerelease
from mcp_registries.resolution import Resolution
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from mcp_registries.tree_pypi import marker_environment, resolve_pypi

from .conftest import FILES, PYPI, MockUpstream, Response, make_settings
from .pip_oracle import CASES, Case, pip_install
from .record_tree import ServiceLookups

pytestmark = pytest.mark.anyio

RECORDED = Path(__file__).parent / "data" / "tree" / "pypi"

#: Where the resolver and pip read different documents, not different rules: the mirror's project JSON for
#: pydantic 2.14.4 (its `info`, which gives the latest version's requirements) names pydantic-core==2.50.2,
#: while the wheel's own METADATA, which pip downloads because the mirror serves no PEP 658 file for it,
#: names pydantic-core==2.50.5.
MIRROR_DIFFERENCES = {CASES[0].key: {"pydantic-core": ("2.50.2", "2.50.5")}}


def names(resolution: Resolution) -> dict[str, str]:
    """Normalized name -> version of everything installed, the root included (as pip reports it)."""
    found = {str(canonicalize_name(p.name)): p.version for p in resolution.packages}
    return {str(canonicalize_name(resolution.root.name)): resolution.root.version, **found}


# -- recorded real trees against pip's reports ----------------------------------------------------------


def recorded_routes() -> dict[str, Response]:
    """The recorded documents by the URLs the service asks (project JSON, Simple API, PEP 658 files)."""
    routes: dict[str, Response] = {}
    for path in RECORDED.iterdir():
        body = path.read_bytes()
        if path.name.startswith("simple-"):
            name = path.name.removeprefix("simple-").removesuffix(".json")
            routes[f"{PYPI}simple/{name}/"] = (200, body)
            for file in json.loads(body)["files"]:
                metadata = RECORDED / (file["filename"] + ".metadata")
                if metadata.exists():
                    assert file["url"].startswith(FILES)
                    routes[file["url"] + ".metadata"] = (200, metadata.read_bytes())
        elif path.suffix == ".json" and path.name != "pip-reports.json":
            routes[f"{PYPI}pypi/{path.stem}/json"] = (200, body)
    return routes


def pip_reports() -> dict[str, dict[str, str]]:
    return {r["case"]: r["install"] for r in json.loads((RECORDED / "pip-reports.json").read_text())}


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[Service, MockUpstream]]:
    upstream = MockUpstream(routes=recorded_routes())
    service = Service(make_settings(), transport=upstream.transport(), cache=NullCache(), backoff=0.0)
    yield service, upstream
    await service.aclose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
async def test_tree_pypi_recorded_tree_equals_pips_report(
    case: Case, recorded: tuple[Service, MockUpstream]
) -> None:
    """What the resolver installs from the recorded documents is what pip 26 installed from the same index."""
    service, _ = recorded
    resolution = await resolve_pypi(
        ServiceLookups(service),
        case.name,
        case.version,
        extras=case.extras,
        python=case.python,
        platform=case.platform,
    )
    ours, pips = names(resolution), pip_reports()[case.key]
    differences = {
        k: (ours.get(k), pips.get(k)) for k in ours.keys() | pips.keys() if ours.get(k) != pips.get(k)
    }
    assert differences == MIRROR_DIFFERENCES.get(case.key, {})
    assert resolution.unresolved == []
    assert resolution.environment == marker_environment(case.python, case.platform)


async def test_tree_pypi_recorded_graph_depth_required_by_and_requirement(
    recorded: tuple[Service, MockUpstream],
) -> None:
    """Depth and required_by follow a shortest path from the root; the edge's requirement is kept as written."""
    service, _ = recorded
    resolution = await resolve_pypi(ServiceLookups(service), "fastapi", "0.115.6", extras=["standard"])
    by_name = {str(canonicalize_name(p.name)): p for p in resolution.packages}
    assert resolution.root.name == "fastapi" and resolution.root.depth == 0
    uvicorn, click, mdurl = by_name["uvicorn"], by_name["click"], by_name["mdurl"]
    assert (uvicorn.depth, uvicorn.required_by) == (1, "fastapi@0.115.6")
    assert uvicorn.requirement == '[standard]>=0.12.0; extra == "standard"'
    # click is required by uvicorn (depth 1) and by typer (depth 2): the shorter path wins.
    assert (click.depth, click.required_by, click.requirement) == (2, "uvicorn@0.54.0", ">=7.0")
    assert (mdurl.depth, mdurl.required_by) == (5, "markdown-it-py@4.3.0")
    assert by_name["starlette"].license == "BSD-3-Clause" and not by_name["starlette"].yanked
    assert [p.depth for p in resolution.packages] == sorted(p.depth for p in resolution.packages)
    assert any("pydantic_core@2.50.2 are unknown" in note for note in resolution.notes)


async def test_tree_pypi_recorded_platform_markers_bring_colorama_on_windows_only(
    recorded: tuple[Service, MockUpstream],
) -> None:
    """click's `colorama; platform_system == "Windows"` applies on Windows alone; uvloop's marker the other way."""
    service, _ = recorded
    lookups = ServiceLookups(service)
    linux = await resolve_pypi(lookups, "click", "8.1.7", platform="linux")
    windows = await resolve_pypi(lookups, "click", "8.1.7", platform="windows")
    assert names(linux) == {"click": "8.1.7"}
    assert names(windows) == {"click": "8.1.7", "colorama": "0.4.6"}
    uvicorn = await resolve_pypi(lookups, "uvicorn", "0.32.1", extras=["standard"], platform="windows")
    assert "uvloop" not in names(uvicorn) and "colorama" in names(uvicorn)


async def test_tree_pypi_recorded_warm_tree_reads_each_document_once(
    recorded: tuple[Service, MockUpstream],
) -> None:
    """Within one resolution each document is fetched once, prefetches included."""
    service, upstream = recorded
    await resolve_pypi(ServiceLookups(service), "flask", "3.0.3", python="3.8")
    assert upstream.hits and max(upstream.hits.values()) == 1


# -- pip's rules on made-up projects ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rel:
    """A made-up release: its requirement lines, Requires-Python, whether it is yanked, and whether the
    index (its files) states its Requires-Python or only its metadata does."""

    version: str
    requires: tuple[str, ...] = ()
    python: str | None = None
    yanked: bool = False
    python_in_index: bool = True


def rel(version: str, *requires: str, **kwargs: object) -> Rel:
    return Rel(version, requires, **kwargs)  # type: ignore[arg-type]


@dataclass
class Fake:
    """Lookups over made-up projects, newest release first; counts fetches, and can be slow."""

    projects: dict[str, list[Rel]]
    delay: float = 0.0
    fetched: Counter[str] = field(default_factory=Counter)
    active: int = 0
    peak: int = 0

    async def _fetching(self, key: str) -> None:
        self.fetched[key] += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await anyio.sleep(self.delay)
        finally:
            self.active -= 1

    async def index(self, name: str) -> PackageIndex:
        await self._fetching(f"index {name}")
        if name not in self.projects:
            raise PackageNotFound("pypi", name)
        releases = self.projects[name]
        return PackageIndex(
            registry="pypi",
            name=name,
            latest_version=releases[0].version,
            version_order=[r.version for r in releases],
            released={r.version: "2024-01-01T00:00:00Z" for r in releases},
            prereleases=frozenset(r.version for r in releases if pep440_prerelease(r.version)),
            yanks={r.version: None for r in releases if r.yanked},
            requires_python={r.version: r.python for r in releases if r.python and r.python_in_index},
        )

    async def manifest(self, name: str, version: str) -> VersionDoc:
        await self._fetching(f"manifest {name} {version}")
        release = next(r for r in self.projects[name] if r.version == version)
        requirements, _ = dependencies_of(list(release.requires))
        engines = {"python": release.python} if release.python else {}
        return VersionDoc(
            registry="pypi", name=name, version=version, license="MIT", engines=engines, **requirements
        )


async def tree(projects: dict[str, list[Rel]], root: str = "root", **kwargs: object) -> Resolution:
    return await resolve_pypi(Fake(projects), root, projects[root][0].version, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("python", "platform", "expected"),
    [
        ("3.12", "linux", {"uvloop"}),
        ("3.12", "windows", {"colorama", "pywin32"}),
        ("3.12", "macos", {"uvloop", "appnope"}),
        ("3.10", "linux", {"uvloop", "tomli"}),
    ],
)
async def test_tree_pypi_markers_follow_target_python_and_platform(
    python: str, platform: str, expected: set[str]
) -> None:
    """Each marker is read for the target, not for the Python running the server."""
    projects = {
        "root": [
            rel(
                "1.0",
                'colorama; sys_platform == "win32"',
                'pywin32; os_name == "nt" and platform_machine == "AMD64"',
                'uvloop; platform_system != "Windows"',
                'appnope; sys_platform == "darwin"',
                'tomli; python_version < "3.11"',
                'never; implementation_name == "pypy"',
            )
        ],
        **{n: [rel("1.0")] for n in ("colorama", "pywin32", "uvloop", "appnope", "tomli", "never")},
    }
    resolution = await tree(projects, python=python, platform=platform)
    assert set(names(resolution)) - {"root"} == expected


def test_tree_pypi_marker_environment_is_complete() -> None:
    """The environment names every PEP 508 variable; '3.12' means 3.12.0, as pip's --python-version does."""
    assert marker_environment("3.12", "windows") == {
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "implementation_name": "cpython",
        "implementation_version": "3.12.0",
        "platform_python_implementation": "CPython",
        "sys_platform": "win32",
        "platform_system": "Windows",
        "os_name": "nt",
        "platform_machine": "AMD64",
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }
    assert marker_environment("3.9.7", "macos")["python_full_version"] == "3.9.7"
    with pytest.raises(InvalidArgument):
        marker_environment("three", "linux")


async def test_tree_pypi_extras_of_the_root_and_of_dependencies() -> None:
    """Root extras and `name[extra]` requirements bring the extra's lines, markers read with `extra` set."""
    projects = {
        "root": [
            rel(
                "1.0",
                "web[server]>=1",
                'docs; extra == "doc"',
                'fast; extra == "speed" and sys_platform == "win32"',
            )
        ],
        "web": [
            rel(
                "2.0",
                "core",
                'gunicorn; extra == "server"',
                'waitress; extra == "server" and os_name == "nt"',
            )
        ],
        **{n: [rel("1.0")] for n in ("docs", "fast", "core", "gunicorn", "waitress")},
    }
    plain = await tree(projects)
    assert set(names(plain)) == {"root", "web", "core", "gunicorn"}
    with_extras = await tree(projects, extras=["doc", "speed", "nope"])
    assert set(names(with_extras)) == {"root", "web", "core", "gunicorn", "docs"}
    assert with_extras.notes == ["root@1.0 has no extra 'nope'"]
    gunicorn = next(p for p in plain.packages if p.name == "gunicorn")
    assert (gunicorn.depth, gunicorn.required_by, gunicorn.requirement) == (
        2,
        "web@2.0",
        '; extra == "server"',
    )


async def test_tree_pypi_requires_python_from_the_index_skips_without_reading_metadata() -> None:
    """A release whose files exclude the target Python is passed over before its metadata is read."""
    projects = {
        "root": [rel("1.0", "lib")],
        "lib": [rel("3.0", python=">=3.13"), rel("2.0", python=">=3.9"), rel("1.0")],
    }
    lookups = Fake(projects)
    resolution = await resolve_pypi(lookups, "root", "1.0")
    assert names(resolution)["lib"] == "2.0"
    assert lookups.fetched["manifest lib 3.0"] == 0
    older = await resolve_pypi(Fake(projects), "root", "1.0", python="3.8")
    assert names(older)["lib"] == "1.0"


async def test_tree_pypi_requires_python_from_metadata_alone_also_skips() -> None:
    """When only a release's metadata states Requires-Python (an index without the column), it still decides."""
    projects = {
        "root": [rel("1.0", "lib")],
        "lib": [rel("2.0", python=">=3.13", python_in_index=False), rel("1.0")],
    }
    assert names(await tree(projects))["lib"] == "1.0"


async def test_tree_pypi_root_for_another_python_is_unresolved_not_an_error() -> None:
    """A root that the target Python cannot install answers with itself in `unresolved`."""
    projects = {"root": [rel("1.0", "lib", python=">=3.13")], "lib": [rel("1.0")]}
    resolution = await tree(projects)
    assert resolution.packages == []
    [unresolved] = resolution.unresolved
    assert (unresolved.name, unresolved.requirement, unresolved.required_by) == ("root", "==1.0", "")
    assert unresolved.reason == "every release of root that matches ==1.0 requires another Python than 3.12.0"


async def test_tree_pypi_yanked_releases_only_when_pinned() -> None:
    """A yanked release is skipped for a range, and taken when `==` names it (PEP 592)."""
    projects = {
        "root": [rel("1.0", "lib>=1", "pinned==2.0")],
        "lib": [rel("2.0", yanked=True), rel("1.0")],
        "pinned": [rel("2.0", yanked=True), rel("1.0")],
    }
    resolution = await tree(projects)
    assert names(resolution) == {"root": "1.0", "lib": "1.0", "pinned": "2.0"}
    assert {p.name: p.yanked for p in resolution.packages} == {"lib": False, "pinned": True}


@pytest.mark.parametrize(
    ("requirement", "releases", "expected"),
    [
        ("lib", ["2.0b1", "1.0"], "1.0"),
        ("lib>=2.0b1", ["2.0b1", "1.0"], "2.0b1"),
        ("lib>=1.5", ["2.0b1", "1.0"], "2.0b1"),
        ("lib", ["2.0rc1", "2.0b1"], "2.0rc1"),
        ("lib<2", ["2.0", "1.1.dev1", "1.0"], "1.0"),
    ],
)
async def test_tree_pypi_prereleases_only_when_named_or_alone(
    requirement: str, releases: list[str], expected: str
) -> None:
    """pip's rule: a prerelease when the specifier names one, or when no final release satisfies it."""
    projects = {"root": [rel("1.0", requirement)], "lib": [rel(v) for v in releases]}
    assert names(await tree(projects))["lib"] == expected


async def test_tree_pypi_backtracks_to_an_older_release() -> None:
    """The newest release of a dependency that conflicts is given up for an older one, as pip does."""
    projects = {
        "root": [rel("1.0", "a", "b<2")],
        "a": [rel("3.0", "b>=2"), rel("2.0", "b>=1"), rel("1.0")],
        "b": [rel("2.0"), rel("1.0")],
    }
    assert names(await tree(projects)) == {"root": "1.0", "a": "2.0", "b": "1.0"}


async def test_tree_pypi_conflict_leaves_one_side_unresolved() -> None:
    """Two parents that can never agree: the rest of the tree resolves and the losing edge is unresolved."""
    projects = {
        "root": [rel("1.0", "a", "b")],
        "a": [rel("1.0", "c<2")],
        "b": [rel("1.0", "c>=2")],
        "c": [rel("2.0"), rel("1.0")],
    }
    resolution = await tree(projects)
    assert set(names(resolution)) == {"root", "a", "b", "c"}
    [unresolved] = resolution.unresolved
    assert unresolved.name == "c" and unresolved.reason.startswith("conflicts with c")
    kept = names(resolution)["c"]
    assert (kept, unresolved.requirement) in {("1.0", ">=2"), ("2.0", "<2")}


async def test_tree_pypi_missing_project_and_unmatched_range_are_unresolved() -> None:
    """A project PyPI does not have, or a range no release matches: an unresolved edge each, the rest resolved."""
    projects = {"root": [rel("1.0", "ghost>=1", "lib>=5", "ok")], "lib": [rel("1.0")], "ok": [rel("1.0")]}
    resolution = await tree(projects)
    assert names(resolution) == {"root": "1.0", "ok": "1.0"}
    reasons = {u.name: (u.requirement, u.required_by, u.reason) for u in resolution.unresolved}
    assert reasons == {
        "ghost": (">=1", "root@1.0", "PyPI has no project named ghost"),
        "lib": (">=5", "root@1.0", "no release of lib matches >=5"),
    }


def sixty_versions_against_one() -> dict[str, list[Rel]]:
    """Every release of `a` pins an `x` that `b` refuses: found only after trying all sixty."""
    return {
        "root": [rel("1.0", "a", "b")],
        "a": [rel(f"{n}.0", f"x=={n}") for n in range(60, 0, -1)],
        "b": [rel("1.0", "x==0")],
        "x": [rel(f"{n}") for n in range(60, -1, -1)],
    }


async def test_tree_pypi_conflict_found_by_backtracking_leaves_the_newest_unresolved() -> None:
    """Once backtracking proves no release of `a` fits, `a`'s newest is answered with its edge unresolved."""
    resolution = await tree(sixty_versions_against_one())
    assert names(resolution) == {"root": "1.0", "a": "60.0", "b": "1.0", "x": "0"}
    [unresolved] = resolution.unresolved
    assert (unresolved.name, unresolved.requirement, unresolved.required_by) == ("x", "==60", "a@60.0")
    assert unresolved.reason == "conflicts with x==0 required by b@1.0"


async def test_tree_pypi_round_limit_answers_with_what_was_pinned() -> None:
    """Backtracking cut short by the round limit: what was pinned is answered, the rest unresolved, a note."""
    resolution = await tree(sixty_versions_against_one(), rounds=10)
    assert "the resolution stopped after 10 rounds" in resolution.notes[0]
    assert resolution.root.version == "1.0" and resolution.unresolved
    assert all("10 rounds" in u.reason for u in resolution.unresolved)


async def test_tree_pypi_round_limit_lists_what_was_not_reached() -> None:
    """Out of rounds without any conflict: the requirements not yet pinned are unresolved, the rest answered."""
    projects = {
        "root": [rel("1.0", *(f"p{i:02}" for i in range(30)))],
        **{f"p{i:02}": [rel("1.0")] for i in range(30)},
    }
    resolution = await tree(projects, rounds=10)
    assert 0 < len(resolution.packages) < 30
    assert len(resolution.packages) + len(resolution.unresolved) == 30
    assert {u.reason for u in resolution.unresolved} == {"not reached within the 10 rounds allowed"}


async def test_tree_pypi_package_limit_stops_with_a_note() -> None:
    """Past the package limit the resolution stops, answers what it has, and says so."""
    projects = {
        "root": [rel("1.0", *(f"p{i}" for i in range(10)))],
        **{f"p{i}": [rel("1.0")] for i in range(10)},
    }
    resolution = await tree(projects, limit=3)
    assert len(resolution.packages) <= 4
    assert "passed 3 packages" in resolution.notes[0]


async def test_tree_pypi_root_that_does_not_exist_raises() -> None:
    """Only a root that does not exist is an error."""
    with pytest.raises(PackageNotFound):
        await resolve_pypi(Fake({}), "ghost", "1.0")
    with pytest.raises(VersionNotFound):
        await resolve_pypi(Fake({"root": [rel("1.0")]}), "root", "9.9")


async def test_tree_pypi_root_version_as_pep440_equal_spelling() -> None:
    """'1.0.0' finds release '1.0' (PEP 440 equality), and the answer keeps the index's spelling."""
    resolution = await resolve_pypi(Fake({"root": [rel("1.0")]}), "Root", "1.0.0")
    assert (resolution.root.name, resolution.root.version) == ("root", "1.0")


def wide_tree(width: int) -> dict[str, list[Rel]]:
    """A root with `width` dependencies, each with one of its own."""
    projects = {"root": [rel("1.0", *(f"mid{i}" for i in range(width)))]}
    projects.update({f"mid{i}": [rel("1.0", f"leaf{i}")] for i in range(width)})
    projects.update({f"leaf{i}": [rel("1.0")] for i in range(width)})
    return projects


async def test_tree_pypi_cold_fetches_overlap() -> None:
    """Documents are fetched concurrently ahead of the resolver, not one round trip after another."""
    lookups = Fake(wide_tree(10), delay=0.05)
    started = time.perf_counter()
    resolution = await resolve_pypi(lookups, "root", "1.0")
    elapsed = time.perf_counter() - started
    assert len(resolution.packages) == 20
    sequential = sum(lookups.fetched.values()) * 0.05
    assert lookups.peak >= 5 and elapsed < sequential / 3, (elapsed, sequential, lookups.peak)
    assert max(lookups.fetched.values()) == 1


async def test_tree_pypi_cancelled_resolution_stops_fetching() -> None:
    """A caller that goes away stops the resolution: its worker thread fetches nothing more."""
    lookups = Fake(wide_tree(40), delay=0.05)
    with anyio.move_on_after(0.12):
        await resolve_pypi(lookups, "root", "1.0")
    await anyio.sleep(0.3)
    settled = sum(lookups.fetched.values())
    await anyio.sleep(0.3)
    assert sum(lookups.fetched.values()) == settled < 2 * 81


# -- the real pip, live -----------------------------------------------------------------------------------


@pytest.mark.live
async def test_live_tree_pypi_equals_pip() -> None:
    """Against the live index: the resolver's flask tree for Python 3.8 equals a real `pip install --dry-run`."""
    case = Case("flask", "3.0.3", python="3.8")
    service = Service(Settings.from_env(cache_enabled=False), cache=NullCache())
    try:
        resolution = await resolve_pypi(ServiceLookups(service), case.name, case.version, python=case.python)
    finally:
        await service.aclose()
    environment = marker_environment(case.python, case.platform)
    pips = await anyio.to_thread.run_sync(lambda: pip_install(case.requirement, environment, case.platform))
    assert names(resolution) == pips
