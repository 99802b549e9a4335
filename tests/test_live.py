"""Live checks against the real registries (or the mirror this machine reaches). Off by default: `pytest -m live`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from mcp_registries.cache import NullCache
from mcp_registries.errors import PackageNotFound, SearchUnavailable, UpstreamUnreachable
from mcp_registries.models import (
    DependenciesResult,
    DownloadsResult,
    MaintainerResult,
    PackageResult,
    SearchResult,
    VersionResult,
    VersionsResult,
)
from mcp_registries.service import Service
from mcp_registries.settings import Settings

pytestmark = [pytest.mark.live, pytest.mark.anyio]


@pytest.fixture
async def live() -> AsyncIterator[Service]:
    service = Service(Settings.from_env(cache_enabled=False), cache=NullCache())
    yield service
    await service.aclose()


async def test_live_npm_package_and_versions(live: Service) -> None:
    """react's latest version is a published version and the version list is ordered newest first."""
    package = await live.call("package", {"registry": "npm", "name": "react"})
    versions = await live.call("versions", {"registry": "npm", "name": "react", "page_size": 250})
    assert isinstance(package, PackageResult) and isinstance(versions, VersionsResult)
    assert package.latest_version and package.versions_count > 1000
    assert versions.total == package.versions_count
    stable = [v.version for v in versions.versions if not v.prerelease]
    assert package.latest_version in stable[:5]


async def test_live_npm_scoped_version_and_dependencies(live: Service) -> None:
    """A scoped package's exact version answers with a tarball, and an exact version's dependencies resolve."""
    version = await live.call("version", {"registry": "npm", "name": "@types/node", "version": "20.11.0"})
    deps = await live.call("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"})
    assert isinstance(version, VersionResult) and version.artifacts[0].kind == "tarball"
    assert isinstance(deps, DependenciesResult) and len(deps.runtime) == 31


async def test_live_pypi_project_and_old_release(live: Service) -> None:
    """Django's project answer and an old release's dependencies (via PEP 658 where per-version JSON is missing)."""
    package = await live.call("package", {"registry": "pypi", "name": "django"})
    deps = await live.call("dependencies", {"registry": "pypi", "name": "Django", "version": "4.2.0"})
    assert isinstance(package, PackageResult) and package.name == "Django"
    assert isinstance(deps, DependenciesResult) and deps.version == "4.2"
    assert {d.name for d in deps.runtime} >= {"asgiref", "sqlparse"}


async def test_live_pypi_maintainers(live: Service) -> None:
    """requests lists registry owners or, on a stripped mirror, declared people with a note."""
    result = await live.call("maintainer", {"registry": "pypi", "name": "requests"})
    assert isinstance(result, MaintainerResult) and result.maintainers


async def test_live_downloads(live: Service) -> None:
    """npm download counts for react are a positive number (skipped where the counts API is unreachable)."""
    try:
        result = await live.call("downloads", {"registry": "npm", "name": "react", "period": "last-week"})
    except UpstreamUnreachable as exc:
        pytest.skip(f"download-counts API unreachable here: {exc}")
    assert isinstance(result, DownloadsResult) and result.counts[0].downloads > 0


async def test_live_npm_search_answers_or_says_there_is_no_search(live: Service) -> None:
    """npm search: results led by react where the registry searches; the mirror here answers 404 on
    /-/v1/search, which is the one sentence saying this registry offers no search."""
    try:
        result = await live.call("search", {"registry": "npm", "query": "react"})
    except SearchUnavailable as exc:
        assert exc.status in (404, 405, 501)
        assert exc.message == (
            "This npm registry (or the mirror configured for it) offers no search: its search endpoint "
            f"(/-/v1/search) answered HTTP {exc.status}. Look packages up by their exact name instead."
        )
    else:
        assert isinstance(result, SearchResult) and result.total and result.has_more
        assert "react" in [hit.name for hit in result.results[:3]]


async def test_live_npm_search_not_found_package_answers_promptly(live: Service) -> None:
    """A missing npm package is a not-found sentence within 3 s (did-you-mean included); where the registry
    has no search, a second one does not ask it again, and npm still answers afterwards."""
    try:
        await live.call("search", {"registry": "npm", "query": "left-pad"})
        searches = True
    except SearchUnavailable:
        searches = False
    requests = []
    for name in ("this-package-does-not-exist-xyz123", "this-package-does-not-exist-xyz124"):
        before, started = live.http.request_count, time.monotonic()
        with pytest.raises(PackageNotFound) as caught:
            await live.call("package", {"registry": "npm", "name": name})
        assert time.monotonic() - started < 3.0
        assert caught.value.message.startswith(f"npm package '{name}' not found")
        requests.append(live.http.request_count - before)
    if not searches:
        # The first asks the packument and the search endpoint; the second only the packument.
        assert requests == [2, 1]
        assert caught.value.suggestions == []
    package = await live.call("package", {"registry": "npm", "name": "ms"})
    assert isinstance(package, PackageResult) and package.name == "ms"
    assert live.http.outages.down() == []
