"""The service's fetch plans, cache and single-flight, proven by counting upstream requests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from mcp_registries.cache import TTL_NOT_FOUND, DiskCache, Entry, MemoryFront, NullCache
from mcp_registries.errors import NoPublishedVersions, PackageNotFound, UpstreamStatus, VersionNotFound
from mcp_registries.models import (
    DependenciesResult,
    DownloadsResult,
    PackageResult,
    VersionResult,
    VersionsResult,
)
from mcp_registries.registries.npm import NOTE_NO_DATES, NOTE_NO_DEPRECATIONS
from mcp_registries.service import Service

from .conftest import FILES, NPM, PYPI, MockUpstream, data, make_settings

pytestmark = pytest.mark.anyio


async def test_repeat_call_is_served_from_cache(cached_service: Service, upstream: MockUpstream) -> None:
    """A second identical call makes no upstream request."""
    first = await cached_service.call("package", {"registry": "npm", "name": "react"})
    assert upstream.total == 1
    second = await cached_service.call("package", {"registry": "npm", "name": "react"})
    assert upstream.total == 1
    assert first == second


async def test_one_index_fetch_serves_package_versions_maintainer(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """package, every versions page and maintainer all come from one fetch of the packument."""
    await cached_service.call("package", {"registry": "npm", "name": "express"})
    for page in (1, 2, 3):
        await cached_service.call(
            "versions", {"registry": "npm", "name": "express", "page": page, "page_size": 20}
        )
    await cached_service.call("maintainer", {"registry": "npm", "name": "express"})
    assert upstream.hits == {NPM + "express": 1}


async def test_cache_keys_separate_registries(cached_service: Service, upstream: MockUpstream) -> None:
    """npm 'requests' and PyPI 'requests' never share a cache entry."""
    upstream.routes[NPM + "requests"] = (
        200,
        b'{"name":"requests","dist-tags":{"latest":"0.3.0"},"versions":{"0.3.0":{"name":"requests","version":"0.3.0"}}}',
    )
    npm = await cached_service.call("package", {"registry": "npm", "name": "requests"})
    pypi = await cached_service.call("package", {"registry": "pypi", "name": "requests"})
    assert isinstance(npm, PackageResult) and isinstance(pypi, PackageResult)
    assert (npm.registry, npm.latest_version) == ("npm", "0.3.0")
    assert (pypi.registry, pypi.latest_version) == ("pypi", "2.34.2")
    assert upstream.total == 2


async def test_cache_keys_include_the_base_url(upstream: MockUpstream, tmp_path: Path) -> None:
    """Two configurations with different upstream base URLs sharing one cache directory do not mix answers."""
    other = "https://other-mirror.test/npm/"
    upstream.routes[other + "react"] = (
        200,
        b'{"name":"react","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"version":"1.0.0"}}}',
    )
    first = Service(make_settings(tmp_path), transport=upstream.transport(), backoff=0.0)
    second = Service(make_settings(tmp_path, npm_url=other), transport=upstream.transport(), backoff=0.0)
    a = await first.call("package", {"registry": "npm", "name": "react"})
    b = await second.call("package", {"registry": "npm", "name": "react"})
    await first.aclose()
    await second.aclose()
    assert isinstance(a, PackageResult) and isinstance(b, PackageResult)
    assert (a.latest_version, b.latest_version) == ("19.3.1", "1.0.0")


async def test_pypi_names_share_one_cache_entry(cached_service: Service, upstream: MockUpstream) -> None:
    """'Django', 'django' and 'DJANGO' are one PyPI project: one request, one entry."""
    for spelling in ("Django", "django", "DJANGO"):
        result = await cached_service.call("package", {"registry": "pypi", "name": spelling})
        assert isinstance(result, PackageResult) and result.name == "Django"
    assert upstream.hits == {PYPI + "pypi/django/json": 1}


async def test_npm_names_are_case_sensitive(cached_service: Service, upstream: MockUpstream) -> None:
    """'JSONStream' and 'jsonstream' are different npm packages, fetched and cached separately."""
    upper = await cached_service.call("package", {"registry": "npm", "name": "JSONStream"})
    lower = await cached_service.call("package", {"registry": "npm", "name": "jsonstream"})
    assert isinstance(upper, PackageResult) and isinstance(lower, PackageResult)
    assert upper.name == "JSONStream" and lower.name == "jsonstream"
    assert upper.latest_version != lower.latest_version
    assert set(upstream.hits) == {NPM + "JSONStream", NPM + "jsonstream"}


async def test_cache_off_fetches_every_time(service: Service, upstream: MockUpstream) -> None:
    """With caching off every call goes upstream."""
    for _ in range(3):
        await service.call("package", {"registry": "npm", "name": "ms"})
    assert upstream.hits[NPM + "ms"] == 3


async def test_cache_dir_setting_is_used(upstream: MockUpstream, tmp_path: Path) -> None:
    """MCP_REGISTRIES_CACHE_DIR decides where entries are written, and a new process reads them back."""
    directory = tmp_path / "chosen"
    for _ in range(2):
        svc = Service(make_settings(directory), transport=upstream.transport(), backoff=0.0)
        await svc.call("package", {"registry": "npm", "name": "ms"})
        await svc.aclose()
    assert any(directory.iterdir())
    assert upstream.hits[NPM + "ms"] == 1


async def test_exact_npm_version_dependencies_fetch_only_the_version_document(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """dependencies of an exact npm version read the small per-version document, not the packument."""
    result = await cached_service.call(
        "dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}
    )
    assert isinstance(result, DependenciesResult) and result.version == "4.18.2"
    assert upstream.hits == {NPM + "express/4.18.2": 1}
    manifest = json.loads(data("npm/express@4.18.2.json"))
    assert {d.name: d.requirement for d in result.runtime} == manifest["dependencies"]


async def test_missing_exact_npm_version_falls_back_to_index_for_the_sentence(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """An exact npm version that 404s is looked up in the packument to name the latest version."""
    with pytest.raises(
        VersionNotFound, match=r"has no version '4\.99\.0'; the latest version is 5\.3\.0"
    ) as caught:
        await cached_service.call("dependencies", {"registry": "npm", "name": "express", "version": "4.99.0"})
    assert (caught.value.registry, caught.value.name, caught.value.version) == ("npm", "express", "4.99.0")
    assert caught.value.latest == "5.3.0"
    assert set(upstream.hits) == {NPM + "express/4.99.0", NPM + "express"}


async def test_pypi_latest_version_and_dependencies_come_from_the_project_document(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """The project JSON gives the latest release's version answer and dependencies without another request."""
    version = await cached_service.call(
        "version", {"registry": "pypi", "name": "requests", "version": "2.34.2"}
    )
    deps = await cached_service.call("dependencies", {"registry": "pypi", "name": "requests"})
    assert isinstance(version, VersionResult) and version.is_latest and version.artifacts
    assert isinstance(deps, DependenciesResult) and deps.version == "2.34.2"
    assert upstream.hits == {PYPI + "pypi/requests/json": 1}


async def test_pypi_old_version_uses_per_version_json_when_present(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """A non-latest PyPI release is read from the per-version JSON endpoint, vulnerabilities included."""
    result = await cached_service.call("version", {"registry": "pypi", "name": "requests", "version": "2.31"})
    assert isinstance(result, VersionResult)
    assert result.version == "2.31.0" and not result.is_latest
    assert [v.id for v in result.vulnerabilities] and result.vulnerabilities[0].fixed
    assert upstream.hits == {PYPI + "pypi/requests/json": 1, PYPI + "pypi/requests/2.31.0/json": 1}


async def test_pypi_missing_per_version_json_reads_pep658_metadata(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """Without the per-version endpoint, a release's dependencies come from its wheel's .metadata file."""
    result = await cached_service.call(
        "dependencies", {"registry": "pypi", "name": "django", "version": "4.2"}
    )
    assert isinstance(result, DependenciesResult)
    assert result.version == "4.2"
    assert [(d.name, d.requirement, d.marker) for d in result.runtime] == [
        ("asgiref", "<4,>=3.6.0", None),
        ("sqlparse", ">=0.3.1", None),
        ("backports.zoneinfo", None, 'python_version < "3.9"'),
        ("tzdata", None, 'sys_platform == "win32"'),
    ]
    assert set(result.extras) == {"argon2", "bcrypt"}
    assert upstream.hits[PYPI + "pypi/django/4.2/json"] == 1
    assert upstream.hits[PYPI + "simple/django/"] == 1
    assert sum(1 for url in upstream.hits if url.startswith(FILES) and url.endswith(".metadata")) == 1


async def test_concurrent_identical_cold_calls_share_one_fetch(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """Twenty concurrent identical cold calls make exactly one upstream request (single-flight)."""
    results = []

    async def one() -> None:
        results.append(await cached_service.call("versions", {"registry": "npm", "name": "react"}))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(one)
    assert len(results) == 20 and all(r == results[0] for r in results)
    assert upstream.hits == {NPM + "react": 1}


async def test_single_flight_shares_the_error_too(service: Service, upstream: MockUpstream) -> None:
    """Concurrent calls that hit a failing upstream all get the error, from one request per attempt."""
    upstream.routes[NPM + "react"] = lambda request: httpx.Response(500)
    errors = []

    async def one() -> None:
        try:
            await service.call("package", {"registry": "npm", "name": "react"})
        except UpstreamStatus as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    assert len(errors) == 10
    assert upstream.hits[NPM + "react"] == 2  # a try and a retry, shared by all ten


async def test_expired_entry_is_served_when_upstream_fails(upstream: MockUpstream, tmp_path: Path) -> None:
    """stale-if-error: an expired answer is served with a note giving its age when the upstream fails."""
    cache = DiskCache(tmp_path, 10**8)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), cache=cache, backoff=0.0)
    fresh = await svc.call("package", {"registry": "npm", "name": "ms"})
    key = next(k for k in cache._cache.iterkeys() if "index|npm" in k)  # type: ignore[union-attr]
    _, ttl, value, validators = cache._cache[key]  # type: ignore[index]
    cache._cache[key] = (time.time() - 3 * 3600, ttl, value, validators)  # type: ignore[index]
    upstream.routes[NPM + "ms"] = lambda request: httpx.Response(502)
    stale = await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert isinstance(stale, PackageResult) and isinstance(fresh, PackageResult)
    assert stale.latest_version == fresh.latest_version
    assert any(
        n.startswith("served from cache (3 h old) because The npm registry failed") for n in stale.notes
    )


async def test_no_cached_answer_is_said_in_the_error(upstream: MockUpstream, tmp_path: Path) -> None:
    """When the upstream fails and nothing is cached, the sentence says no cached answer was available."""
    upstream.routes[NPM + "ms"] = lambda request: httpx.Response(503)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), backoff=0.0)
    with pytest.raises(UpstreamStatus) as caught:
        await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert (
        str(caught.value) == "The npm registry failed: it answered HTTP 503; no cached answer was available."
    )


async def test_unusable_cache_directory_degrades_to_no_cache(upstream: MockUpstream, tmp_path: Path) -> None:
    """A cache directory that cannot be created means no caching and a warning, not a crash."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    svc = Service(make_settings(blocker / "cache"), transport=upstream.transport(), backoff=0.0)
    assert isinstance(svc.cache, NullCache)
    result = await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert isinstance(result, PackageResult)


def test_cache_entry_freshness() -> None:
    """An entry is fresh until its TTL has passed."""
    assert Entry(value=1, stored_at=time.time(), ttl=60).fresh
    assert not Entry(value=1, stored_at=time.time() - 61, ttl=60).fresh


def _expire_all(cache: DiskCache, age: float = 3600.0) -> None:
    """Backdate every entry as if it had been stored `age` seconds ago."""
    store = cache._cache
    assert store is not None
    for key in list(store.iterkeys()):
        _, ttl, value, validators = store[key]
        store[key] = (time.time() - age, ttl, value, validators)


def _conditional(
    etag: str | None, modified: str | None, seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    body = data("npm/ms.json")
    headers = {k: v for k, v in (("etag", etag), ("last-modified", modified)) if v}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if (etag and request.headers.get("if-none-match") == etag) or (
            modified and request.headers.get("if-modified-since") == modified
        ):
            return httpx.Response(304, headers=headers)
        return httpx.Response(200, content=body, headers={"content-type": "application/json", **headers})

    return handler


@pytest.mark.parametrize(
    ("etag", "modified"),
    [('"abc123"', None), (None, "Wed, 25 Nov 2026 10:00:00 GMT"), ('W/"x"', "Wed, 25 Nov 2026 10:00:00 GMT")],
)
async def test_expired_entry_is_revalidated_and_304_refreshes_it(
    upstream: MockUpstream, tmp_path: Path, etag: str | None, modified: str | None
) -> None:
    """An expired entry is revalidated with If-None-Match/If-Modified-Since; a 304 keeps the answer and refreshes it."""
    seen: list[httpx.Request] = []
    upstream.routes[NPM + "ms"] = _conditional(etag, modified, seen)
    cache = DiskCache(tmp_path, 10**8)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), cache=cache, backoff=0.0)
    first = await svc.call("package", {"registry": "npm", "name": "ms"})
    _expire_all(cache)
    second = await svc.call("package", {"registry": "npm", "name": "ms"})
    third = await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert first == second == third
    assert len(seen) == 2  # the first GET and one conditional GET; the third call was fresh again
    assert "if-none-match" not in seen[0].headers and "if-modified-since" not in seen[0].headers
    if etag:
        assert seen[1].headers["if-none-match"] == etag
    if modified:
        assert seen[1].headers["if-modified-since"] == modified


async def test_upstream_without_validators_gets_plain_requests(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    """With neither ETag nor Last-Modified, an expired entry is simply fetched again."""
    seen: list[httpx.Request] = []
    upstream.routes[NPM + "ms"] = _conditional(None, None, seen)
    cache = DiskCache(tmp_path, 10**8)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), cache=cache, backoff=0.0)
    await svc.call("package", {"registry": "npm", "name": "ms"})
    _expire_all(cache)
    await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert len(seen) == 2
    assert all("if-none-match" not in r.headers and "if-modified-since" not in r.headers for r in seen)


async def test_changed_document_replaces_the_entry(upstream: MockUpstream, tmp_path: Path) -> None:
    """When the validator no longer matches, the 200 body replaces the cached answer."""
    state = {"etag": '"v1"', "latest": "1.0.0"}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == state["etag"]:
            return httpx.Response(304)
        body = f'{{"name":"ms","dist-tags":{{"latest":"{state["latest"]}"}},"versions":{{"{state["latest"]}":{{"version":"{state["latest"]}"}}}}}}'
        return httpx.Response(200, content=body.encode(), headers={"etag": state["etag"]})

    upstream.routes[NPM + "ms"] = handler
    cache = DiskCache(tmp_path, 10**8)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), cache=cache, backoff=0.0)
    first = await svc.call("package", {"registry": "npm", "name": "ms"})
    state.update(etag='"v2"', latest="2.0.0")
    _expire_all(cache)
    second = await svc.call("package", {"registry": "npm", "name": "ms"})
    await svc.aclose()
    assert isinstance(first, PackageResult) and isinstance(second, PackageResult)
    assert (first.latest_version, second.latest_version) == ("1.0.0", "2.0.0")
    assert seen[1].headers["if-none-match"] == '"v1"'


async def test_warm_calls_neither_fetch_nor_parse(upstream: MockUpstream, tmp_path: Path) -> None:
    """With the production cache, repeated calls run no plan (no fetch, no parse) and never touch the disk."""
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), backoff=0.0)
    calls = [
        ("package", {"registry": "npm", "name": "react"}),
        ("versions", {"registry": "npm", "name": "react", "page": 2}),
        ("version", {"registry": "npm", "name": "react", "version": "18.2.0"}),
        ("dependencies", {"registry": "pypi", "name": "requests"}),
    ]
    for operation, arguments in calls:
        await svc.call(operation, arguments)
    plans, requests = svc.stats["plans"], upstream.total
    disk_reads = svc.cache.stats["disk"]  # type: ignore[attr-defined]
    for _ in range(3):
        for operation, arguments in calls:
            await svc.call(operation, arguments)
    await svc.aclose()
    assert (svc.stats["plans"], upstream.total) == (plans, requests)
    assert svc.cache.stats["disk"] == disk_reads  # type: ignore[attr-defined]


async def test_exact_npm_version_fetches_index_and_version_document_together(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """version of an exact npm version reads the packument and the version's document, each once."""
    result = await cached_service.call("version", {"registry": "npm", "name": "react", "version": "18.2.0"})
    assert isinstance(result, VersionResult) and result.artifacts
    assert upstream.hits == {NPM + "react": 1, NPM + "react/18.2.0": 1}


@pytest.mark.parametrize("name", ["getcookies", "gone-widget"])
@pytest.mark.parametrize(
    ("operation", "version"),
    [
        ("package", None),
        ("version", "1.0.0"),
        ("version", "latest"),
        ("dependencies", None),
        ("maintainer", None),
    ],
)
async def test_package_without_versions_is_one_sentence(
    service: Service, name: str, operation: str, version: str | None
) -> None:
    """A tombstone or the mirror's empty document: every tool that needs a version says there is none."""
    arguments = {"registry": "npm", "name": name} | ({"version": version} if version else {})
    with pytest.raises(NoPublishedVersions) as error:
        await service.call(operation, arguments)
    assert f"npm package '{name}' has no published versions (" in error.value.message


async def test_versions_of_package_without_versions_is_empty_with_note(service: Service) -> None:
    """`versions` of the mirror's empty document answers an empty list and says why."""
    result = await service.call("versions", {"registry": "npm", "name": "getcookies"})
    assert isinstance(result, VersionsResult)
    assert (result.total, result.versions, result.latest_version) == (0, [], None)
    assert result.notes == ["npm package 'getcookies' has no published versions (unpublished or removed)"]


async def test_mirror_times_and_silence_are_not_facts(service: Service) -> None:
    """request through the stripped mirror: no dates invented, and the answers say deprecation is unknown."""
    package = await service.call("package", {"registry": "npm", "name": "request"})
    versions = await service.call("versions", {"registry": "npm", "name": "request"})
    version = await service.call("version", {"registry": "npm", "name": "request", "version": "2.88.2"})
    assert isinstance(package, PackageResult) and isinstance(versions, VersionsResult)
    assert isinstance(version, VersionResult)
    assert (package.created, package.latest_release_date, package.deprecated) == (None, None, None)
    assert all(entry.released is None for entry in versions.versions)
    assert version.released is None
    for result in (package, versions, version):
        assert NOTE_NO_DATES in result.notes and NOTE_NO_DEPRECATIONS in result.notes


async def test_pypi_downloads_period_note_follows_each_call(cached_service: Service) -> None:
    """The ignored-period note belongs to the call, not to the cached counts: each period gets its own."""
    week = await cached_service.call(
        "downloads", {"registry": "pypi", "name": "requests", "period": "last-week"}
    )
    month = await cached_service.call("downloads", {"registry": "pypi", "name": "requests"})
    year = await cached_service.call(
        "downloads", {"registry": "pypi", "name": "requests", "period": "last-year"}
    )
    assert isinstance(week, DownloadsResult) and isinstance(month, DownloadsResult)
    assert isinstance(year, DownloadsResult)
    assert "the period 'last-week' applies to npm only and was ignored" in week.notes
    assert not any("applies to npm only" in note for note in month.notes)
    assert "the period 'last-year' applies to npm only and was ignored" in year.notes
    assert week.counts == month.counts == year.counts


async def test_missing_secondary_document_is_an_upstream_fault(
    service: Service, upstream: MockUpstream
) -> None:
    """A Simple API page gone for a project the JSON API lists is the upstream's fault, not "not found"."""
    del upstream.routes[PYPI + "simple/django/"]
    with pytest.raises(UpstreamStatus) as error:
        await service.call("version", {"registry": "pypi", "name": "django", "version": "4.2"})
    assert not isinstance(error.value, PackageNotFound)
    assert "PyPI failed: it answered HTTP 404 for a document it lists itself" in error.value.message


async def test_not_found_is_cached_briefly(upstream: MockUpstream, tmp_path: Path) -> None:
    """A guessed name asked again is answered from the cache; once the short TTL ends, a package published
    since is found."""
    cache = DiskCache(tmp_path, 10**8)
    svc = Service(make_settings(tmp_path), transport=upstream.transport(), cache=cache, backoff=0.0)
    for _ in range(3):
        with pytest.raises(PackageNotFound, match="npm package 'fresh-name' not found"):
            await svc.call("package", {"registry": "npm", "name": "fresh-name"})
    assert upstream.hits[NPM + "fresh-name"] == 1
    upstream.routes[NPM + "fresh-name"] = (200, data("npm/ms.json"))
    _expire_all(cache, TTL_NOT_FOUND + 1)
    found = await svc.call("package", {"registry": "npm", "name": "fresh-name"})
    await svc.aclose()
    assert isinstance(found, PackageResult) and found.latest_version == "2.1.3"
    assert upstream.hits[NPM + "fresh-name"] == 2


async def test_missing_version_document_is_cached_briefly(
    cached_service: Service, upstream: MockUpstream
) -> None:
    """An exact npm version that does not exist is asked of the registry once, however often it is asked
    (dependencies reads the version's own document first, then the index for the sentence)."""
    for _ in range(3):
        with pytest.raises(VersionNotFound, match="has no version '99.0.0'; the latest version is 19.3.1"):
            await cached_service.call(
                "dependencies", {"registry": "npm", "name": "react", "version": "99.0.0"}
            )
    assert upstream.hits[NPM + "react/99.0.0"] == 1 and upstream.hits[NPM + "react"] == 1


async def test_slow_cache_does_not_delay_a_concurrent_warm_call(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    """While one call waits on a slow disk read, a warm call answered from memory returns at once."""

    class SlowDisk(DiskCache):
        def read(self, key: str) -> Entry | None:
            if "express" in key:
                time.sleep(0.5)  # blocking, as a locked SQLite file is
            return super().read(key)

    svc = Service(
        make_settings(tmp_path), transport=upstream.transport(), cache=MemoryFront(SlowDisk(tmp_path, 10**8))
    )
    await svc.call("package", {"registry": "npm", "name": "react"})
    warm: list[float] = []

    async def warm_call() -> None:
        await anyio.sleep(0.1)  # the slow read is under way
        started = time.monotonic()
        await svc.call("package", {"registry": "npm", "name": "react"})
        warm.append(time.monotonic() - started)

    async with anyio.create_task_group() as group:
        group.start_soon(warm_call)
        await svc.call("package", {"registry": "npm", "name": "express"})
    await svc.aclose()
    assert warm[0] < 0.05
