"""Live checks against the real registries (or the mirror this machine reaches). Off by default: `pytest -m live`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mcp_registries.cache import NullCache
from mcp_registries.errors import UpstreamUnreachable
from mcp_registries.models import (
    DependenciesResult,
    DownloadsResult,
    MaintainerResult,
    PackageResult,
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
