"""Shared fixtures: the recorded real responses, served two ways.

- `MockUpstream`: an httpx.MockTransport router in process, by full URL (no sockets, no threads).
- `local_upstream`: the same documents by path on the one loopback fake upstream (`upstream.LoopbackUpstream`),
  for tests that need real sockets or a server in another process.

Every base URL carries a path prefix, as corporate mirrors do, so that tests prove every upstream
URL is built under the configured base.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, settings

from mcp_registries.cache import DiskCache, NullCache
from mcp_registries.clock import Clock
from mcp_registries.models import VersionEntry
from mcp_registries.registries.base import IndexBundle, PackageIndex
from mcp_registries.registries.npm import index_of
from mcp_registries.registries.packument import read_packument
from mcp_registries.registries.pypi_json import project_index
from mcp_registries.registries.pypi_reader import decode_project
from mcp_registries.registries.pypi_simple import simple_releases
from mcp_registries.service import Service
from mcp_registries.settings import Settings

from .upstream import PREFIXES, Behaviour, LoopbackUpstream, reply

# Property tests: examples per test from MCP_REGISTRIES_HYPOTHESIS_EXAMPLES (default 100; e.g. 2000 for a
# long local run). Runs are derandomized, so CI sees the same examples every time, and write no example
# database into the repository.
settings.register_profile(
    "mcp-registries",
    max_examples=int(os.environ.get("MCP_REGISTRIES_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    # One service (and its mock upstream) serves every example of a test on purpose: state left
    # behind by a hostile call must not spoil the next one. Huge strings are the point, not a slip.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
PROFILE = settings.get_profile("mcp-registries")

DATA = Path(__file__).parent / "data"

#: Opts a developer's run into the `clients` tests (CI runs them anyway).
CLIENT_TESTS = "MCP_REGISTRIES_CLIENT_TESTS"


def under_ci() -> bool:
    """CI sets CI (GitHub Actions, GitLab and most others: CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def client_tests_wanted(config: pytest.Config) -> bool:
    """Whether this run includes the tests marked `clients` (the npm-installed MCP Inspector and conformance
    suite): under CI, with MCP_REGISTRIES_CLIENT_TESTS=1, or when a -m expression names them."""
    return (
        under_ci()
        or os.environ.get(CLIENT_TESTS, "").strip() not in ("", "0")
        or "clients" in (config.option.markexpr or "")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if client_tests_wanted(config):
        return
    deselected = [item for item in items if item.get_closest_marker("clients")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("clients")]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    clients = Path(__file__).parent / "test_clients.py"
    chosen = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    if not client_tests_wanted(config) and any(p == clients or p in clients.parents for p in chosen):
        terminalreporter.write_line(
            "deselected the tests marked `clients` (MCP Inspector and conformance suite, installed with "
            f"`npm ci`): CI=true or {CLIENT_TESTS}=1 runs them"
        )


NPM = "https://npm.test/api/npm/npm-remote/"
NPM_DL = "https://npm-dl.test/mirror/"
PYPI = "https://pypi.test/pypi-proxy/"
STATS = "https://stats.test/"
FILES = "https://files.pythonhosted.org/"
OSV = "https://osv.test/osv-api/"

Response = tuple[int, bytes] | Callable[[httpx.Request], httpx.Response]


def data(path: str) -> bytes:
    return (DATA / path).read_bytes()


def _bytes(document: Any) -> bytes:
    return document if isinstance(document, bytes | bytearray) else json.dumps(document).encode()


def parse_packument(document: Any, name: str) -> IndexBundle:
    """A whole packument (its bytes, or JSON a test built) read as the index plan reads it."""
    return index_of(read_packument(_bytes(document)), name)


def parse_project(document: Any, url: str, simple: tuple[Any, str] | None = None) -> IndexBundle:
    """A whole project JSON (its bytes, or JSON a test built) read as the index plan reads it."""
    decoded = decode_project(_bytes(document))
    if simple is not None:
        decoded["releases"] = simple_releases(simple[0])
    return project_index(decoded, url)


def _recorded() -> dict[str, Response]:
    ok = 200
    return {
        NPM + "react": (ok, data("npm/react.json")),
        NPM + "react/18.2.0": (ok, data("npm/react@18.2.0.json")),
        NPM + "react/latest": (ok, data("npm/react@latest.json")),
        NPM + "express": (ok, data("npm/express.json")),
        NPM + "express/4.18.2": (ok, data("npm/express@4.18.2.json")),
        NPM + "JSONStream": (ok, data("npm/JSONStream.json")),
        NPM + "jsonstream": (ok, data("npm/jsonstream_lowercase.json")),
        NPM + "ms": (ok, data("npm/ms.json")),
        NPM + "@types%2Fnode": (ok, data("npm/@types__node.json")),
        NPM + "@types%2Fnode/20.11.0": (ok, data("npm/@types__node@20.11.0.json")),
        NPM + "full-example": (ok, data("documented/npm-packument-full.json")),
        NPM + "gone-widget": (ok, data("documented/npm-unpublished.json")),
        NPM + "getcookies": (ok, data("npm/getcookies.json")),
        NPM + "request": (ok, data("npm/request.json")),
        NPM + "left-pad": (ok, data("npm/left-pad.json")),
        NPM_DL + "downloads/point/last-month/express": (ok, data("documented/npm-downloads-point.json")),
        NPM_DL + "downloads/point/last-week/express": (ok, data("documented/npm-downloads-point.json")),
        NPM_DL + "downloads/point/last-year/@types%2Fnode": (ok, data("documented/npm-downloads-point.json")),
        PYPI + "pypi/requests/json": (ok, data("pypi/requests.json")),
        PYPI + "pypi/requests/2.31.0/json": (ok, data("documented/pypi-version.json")),
        PYPI + "pypi/django/json": (ok, data("pypi/Django.json")),
        PYPI + "simple/django/": (ok, data("pypi/simple-django.json")),
        PYPI + "pypi/zope-interface/json": (ok, data("pypi/zope.interface.json")),
        PYPI + "pypi/typing-extensions/json": (ok, data("pypi/typing_extensions.json")),
        PYPI + "pypi/botocore/json": (ok, data("pypi/botocore.json")),
        PYPI + "pypi/gitlab/json": (ok, data("pypi/gitlab.json")),
        PYPI + "pypi/pytz/json": (ok, data("pypi/pytz.json")),
        PYPI + "pypi/numpy/json": (ok, data("pypi/numpy.json")),
        PYPI + "simple/numpy/": (ok, data("pypi/simple-numpy.json")),
        FILES + "packages/3a/83/24dafa898f172e198a1c164eb01675bbcbf5895ac8f9b1f8078ea5c2fdb5/"
        "numpy-2.0.0-cp310-cp310-macosx_10_9_x86_64.whl.metadata": (
            ok,
            data("pypi/numpy-2.0.0-cp310-cp310-macosx_10_9_x86_64.whl.metadata"),
        ),
        PYPI + "pypi/transformers/json": (ok, data("pypi/transformers.json")),
        PYPI + "pypi/apache-airflow/json": (ok, data("pypi/apache-airflow.json")),
        PYPI + "pypi/ray/json": (ok, data("pypi/ray.json")),
        PYPI + "pypi/pydantic-core/json": (ok, data("pypi/pydantic-core.json")),
        NPM + "next/15.0.0": (ok, data("npm/next@15.0.0.json")),
        FILES + "packages/d9/40/6012f98b14b64b4d3dc47b0c2f116fccbd0795ab35515d0c40dac73b81b8/"
        "Django-4.2-py3-none-any.whl.metadata": (ok, data("pypi/Django-4.2-py3-none-any.whl.metadata")),
        STATS + "api/packages/requests/recent": (ok, data("documented/pypistats-recent.json")),
        STATS + "api/packages/django/recent": (ok, data("documented/pypistats-recent.json")),
    }


def search_routes() -> dict[str, Response]:
    """npm's search answer for 'http client' and PyPI's project index (documented shapes). Not among the
    recorded routes: elsewhere search answers 404 and not-found answers carry no did-you-mean, as on the mirror."""
    return {
        NPM + "-/v1/search?text=http+client&size=10&from=0": (200, data("documented/npm-search.json")),
        PYPI + "simple/": (200, data("documented/pypi-simple-index.json")),
    }


@dataclass
class MockUpstream:
    """An httpx.MockTransport router, in process: full URLs to recorded bodies; anything unrouted is a 404
    with an empty body (as mirrors do)."""

    routes: dict[str, Response] = field(default_factory=_recorded)
    hits: Counter[str] = field(default_factory=Counter)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.hits[url] += 1
        route = self.routes.get(url)
        if route is None:
            return httpx.Response(404, content=b"")
        if callable(route):
            return route(request)
        status, body = route
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def total(self) -> int:
        return sum(self.hits.values())


class FastForwardClock(Clock):
    """The HTTP client's clock in tests: a sleep returns at once, recorded in `sleeps`, and moves `now()` on by
    its length; `advance()` passes time the same way. Real time still counts (a read timeout is real)."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        self.skipped += seconds


def make_settings(tmp_path: Path | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "npm_url": NPM,
        "npm_downloads_url": NPM_DL,
        "pypi_url": PYPI,
        "pypistats_url": STATS,
        # The registries' own answers unless a test turns OSV on (tests/test_osv.py).
        "osv_url": OSV,
        "osv_enabled": False,
        "cache_enabled": tmp_path is not None,
        "cache_dir": tmp_path or Path("/nonexistent"),
        "retries": 1,
        "total_timeout": 5.0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def upstream() -> MockUpstream:
    return MockUpstream()


@pytest.fixture
async def service(upstream: MockUpstream) -> AsyncIterator[Service]:
    """A service without a cache over the mock upstream."""
    svc = Service(make_settings(), transport=upstream.transport(), cache=NullCache(), backoff=0.0)
    yield svc
    await svc.aclose()


@pytest.fixture
async def cached_service(upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[Service]:
    """A service with a diskcache in a temporary directory over the mock upstream."""
    settings = make_settings(tmp_path)
    svc = Service(settings, transport=upstream.transport(), cache=DiskCache(tmp_path, 10**8), backoff=0.0)
    yield svc
    await svc.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


#: The conftest's base URLs by setting name, as `upstream.PREFIXES` names the loopback's path prefixes.
BASES = {"npm": NPM, "npm_downloads": NPM_DL, "pypi": PYPI, "pypistats": STATS, "osv": OSV}


def recorded_routes(*, searchable: bool = False) -> dict[str, Behaviour]:
    """The recorded documents of the four configured upstreams, by path under a loopback upstream's prefixes;
    `searchable` adds `search_routes()`."""
    routes = {**_recorded(), **(search_routes() if searchable else {})}
    return {
        "/" + PREFIXES[name] + url[len(base) :]: reply(*route)
        for url, route in routes.items()
        if isinstance(route, tuple)
        for name, base in BASES.items()
        if url.startswith(base)
    }


def server_settings(
    upstream: LoopbackUpstream, directory: Path | None = None, **overrides: object
) -> Settings:
    """Every base URL under its own path prefix on `upstream` (npm/, npm-dl/, pypi/, stats/), short timeouts."""
    values: dict[str, object] = {**upstream.bases(), "connect_timeout": 1.0, "read_timeout": 1.0}
    return make_settings(directory, **{**values, **overrides})


@pytest.fixture
def local_upstream() -> Iterator[LoopbackUpstream]:
    """The recorded npm and PyPI documents behind a loopback upstream, under path prefixes."""
    with LoopbackUpstream(recorded_routes()) as server:
        yield server


#: The index's version columns, emptied to compare the rest of an index with an expected one.
VERSION_COLUMNS = {
    "version_order": [],
    "released": {},
    "prereleases": frozenset(),
    "deprecations": {},
    "yanks": {},
    "requires_python": {},
    "version_tags": {},
}


def assert_index(actual: PackageIndex, expected: PackageIndex, versions: list[VersionEntry] | None) -> None:
    """The index equals `expected` field by field, and its version entries equal `versions` (when given)."""
    if versions is not None:
        assert actual.entries() == versions
    assert actual.model_copy(update=VERSION_COLUMNS) == expected
