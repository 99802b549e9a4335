"""The shared cache against a real Redis server: replicas (services in this process, each with its own
memory front and engine) share answers and fetches; the server's outages never fail a call.

The proof with real server processes behind ports is tests/test_replicas.py."""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from mcp_registries import codec
from mcp_registries.cache import STALE_WINDOW, MemoryFront
from mcp_registries.errors import RegistryError
from mcp_registries.service import Service
from mcp_registries.shared import RedisCache

from .conftest import NPM, PYPI, MockUpstream, make_settings, search_routes
from .redis_server import RedisServer

pytestmark = pytest.mark.anyio

#: Questions whose answers come from every kind of cached document (indexes, version documents, download
#: counts, not-found answers), over both registries.
QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("package", {"registry": "npm", "name": "express"}),
    ("versions", {"registry": "npm", "name": "react"}),
    ("version", {"registry": "npm", "name": "express", "version": "4.18.2"}),
    ("dependencies", {"registry": "npm", "name": "@types/node", "version": "20.11.0"}),
    ("downloads", {"registry": "npm", "name": "express", "period": "last-week"}),
    ("maintainer", {"registry": "npm", "name": "left-pad"}),
    ("package", {"registry": "pypi", "name": "requests"}),
    ("version", {"registry": "pypi", "name": "numpy", "version": "2.0.0"}),
    ("dependencies", {"registry": "pypi", "name": "django", "version": "4.2"}),
    ("downloads", {"registry": "pypi", "name": "django"}),
    ("version", {"registry": "npm", "name": "express", "version": "99.0.0"}),
    ("package", {"registry": "pypi", "name": "no-such-project-here"}),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as running:
        yield running


@pytest.fixture
def inspect(server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client to look at what the replicas left on the server."""
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


class Replicas:
    def __init__(self, server: RedisServer, upstream: MockUpstream, tmp_path: Path) -> None:
        self.server, self.upstream, self.tmp_path = server, upstream, tmp_path
        self.started: list[Service] = []

    def start(self, transport: httpx.AsyncBaseTransport | None = None, **shared: Any) -> Service:
        settings = make_settings(self.tmp_path / f"unused-{len(self.started)}", cache_url=self.server.url)
        cache = MemoryFront(RedisCache(settings.cache_url or "", **shared))
        transport = transport or self.upstream.transport()
        service = Service(settings, transport=transport, cache=cache, backoff=0.0)
        self.started.append(service)
        return service


@pytest.fixture
async def replicas(server: RedisServer, upstream: MockUpstream, tmp_path: Path) -> AsyncIterator[Replicas]:
    made = Replicas(server, upstream, tmp_path)
    yield made
    for service in made.started:
        await service.aclose()


async def answer(service: Service, operation: str, arguments: dict[str, Any]) -> Any:
    """The answer's JSON, or the error's sentence: what a caller sees."""
    try:
        return (await service.call(operation, arguments)).model_dump(mode="json")
    except RegistryError as exc:
        return f"{type(exc).__name__}: {exc.message}"


def shared_of(service: Service) -> RedisCache:
    assert isinstance(service.cache, MemoryFront) and isinstance(service.cache.inner, RedisCache)
    return service.cache.inner


def document_hits(upstream: MockUpstream) -> int:
    """Requests for package documents (a not-found answer also asks for close names: npm's search, never
    shared, and PyPI's project index, shared once it loaded, which it does not here: it is not recorded)."""
    return sum(
        n
        for url, n in upstream.hits.items()
        if url.startswith((NPM, PYPI)) and "/-/v1/search" not in url and url != PYPI + "simple/"
    )


async def test_service_opens_the_shared_cache_its_settings_name(server: RedisServer, tmp_path: Path) -> None:
    directory = tmp_path / "disk"
    service = Service(make_settings(directory, cache_url=server.url), transport=MockUpstream().transport())
    try:
        assert isinstance(shared_of(service), RedisCache)
        assert not directory.exists(), "diskcache was opened beside the shared cache"
    finally:
        await service.aclose()


async def test_a_second_replica_answers_every_kind_of_question_from_the_first_ones_fetches(
    replicas: Replicas, upstream: MockUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = replicas.start(), replicas.start()
    expected = [await answer(first, op, args) for op, args in QUESTIONS]
    assert any(isinstance(a, str) and a.startswith("VersionNotFound") for a in expected)
    assert any(isinstance(a, str) and a.startswith("PackageNotFound") for a in expected)
    await first.cache.flush()
    fetched = document_hits(upstream)
    assert fetched >= len(QUESTIONS)
    with caplog.at_level(logging.WARNING):
        got = [await answer(second, op, args) for op, args in QUESTIONS]
    assert got == expected
    assert document_hits(upstream) == fetched, "the second replica fetched what the first had stored"
    assert second.stats["plans"] <= 1  # PyPI's project index for did-you-mean, which is not recorded here
    assert shared_of(second).stats["reads"] >= len(QUESTIONS)
    assert not [r for r in caplog.records if r.name.startswith("mcp_registries")], caplog.text


async def test_the_project_index_one_replica_loaded_serves_the_others_searches(
    replicas: Replicas, upstream: MockUpstream
) -> None:
    upstream.routes.update(search_routes())
    first, second = replicas.start(), replicas.start()
    query = {"registry": "pypi", "query": "requests"}
    expected = await answer(first, "search", query)
    assert isinstance(expected, dict) and expected["results"]
    await first.cache.flush()
    assert upstream.hits[PYPI + "simple/"] == 1
    assert await answer(second, "search", query) == expected
    assert upstream.hits[PYPI + "simple/"] == 1, "the second replica downloaded the index again"


async def test_replicas_searching_at_once_download_the_project_index_once(
    replicas: Replicas, upstream: MockUpstream
) -> None:
    upstream.routes.update(search_routes())
    three = [replicas.start() for _ in range(3)]
    query = {"registry": "pypi", "query": "requests"}
    answers = await asyncio.gather(*(answer(service, "search", query) for service in three))
    assert all(a == answers[0] for a in answers) and answers[0]["results"]
    assert upstream.hits[PYPI + "simple/"] == 1


async def test_keys_carry_prefix_and_schema_and_expire_after_the_stale_window(
    replicas: Replicas, inspect: redis.Redis
) -> None:
    service = replicas.start()
    await answer(service, "package", {"registry": "npm", "name": "express"})
    await service.cache.flush()
    keys = [key.decode() for key in inspect.scan_iter("*")]
    assert keys and all(key.startswith(f"mcp-registries:v2.{codec.VERSION}:") for key in keys), keys
    for key in keys:
        left = inspect.pttl(key) / 1000
        assert STALE_WINDOW < left <= STALE_WINDOW + 300 + 1, (key, left)  # the index: 5 min fresh
    assert all(":lock:" not in key for key in keys), "a leader's claim outlived its fetch"


async def test_values_on_the_server_are_records_not_pickles(replicas: Replicas, inspect: redis.Redis) -> None:
    service = replicas.start()
    await answer(service, "version", {"registry": "npm", "name": "express", "version": "4.18.2"})
    await service.cache.flush()
    for key in inspect.scan_iter("*"):
        value = inspect.get(key)
        assert isinstance(value, bytes) and value.startswith(codec.MAGIC)
        with pytest.raises(pickle.UnpicklingError):
            pickle.loads(value)


class _Planted:
    """What a hostile writer would put on the server: a pickle that runs code when unpickled."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(_Planted.target),))

    target = ""


async def test_what_another_writer_planted_is_a_miss_and_never_runs(
    replicas: Replicas, inspect: redis.Redis, upstream: MockUpstream, tmp_path: Path
) -> None:
    _Planted.target = str(tmp_path / "ran")
    service = replicas.start()
    prefix = shared_of(service).prefix
    key = service._key("index", service.registries["npm"], "express")
    for planted in (
        pickle.dumps(_Planted()),
        codec.MAGIC + pickle.dumps(_Planted()),
        codec.MAGIC + b'{"kind": "index", "stored_at": 1, "ttl": 1e9}\n' + pickle.dumps(_Planted()),
        codec.MAGIC + b'{"kind": "not-found", "stored_at": 1, "ttl": 1e9}\n{"class": "Path", "message": "x"}',
        codec.MAGIC + b"no header line",
    ):
        inspect.set(prefix + key, planted)
        shared_of(service).stats.clear()
        before = upstream.total
        got = await answer(service, "package", {"registry": "npm", "name": "express"})
        assert isinstance(got, dict) and got["name"] == "express"
        assert upstream.total == before + 1, "an unreadable entry was not a miss"
        await service.cache.flush()
        service.cache._entries.clear()  # type: ignore[attr-defined]
    assert not Path(_Planted.target).exists(), "a planted pickle ran"


async def test_an_older_layout_is_never_read(
    replicas: Replicas, inspect: redis.Redis, upstream: MockUpstream
) -> None:
    first = replicas.start()
    await answer(first, "package", {"registry": "npm", "name": "ms"})
    await first.cache.flush()
    # The same entries under the previous layout's prefix only: a new version must not read them.
    for key in list(inspect.scan_iter("*")):
        inspect.rename(key, key.replace(f"v2.{codec.VERSION}:".encode(), b"v2.0:"))
    second = replicas.start()
    before = upstream.total
    await answer(second, "package", {"registry": "npm", "name": "ms"})
    assert upstream.total == before + 1


async def test_concurrent_cold_calls_on_three_replicas_fetch_once(
    replicas: Replicas, upstream: MockUpstream
) -> None:
    gate = asyncio.Event()

    three = [replicas.start() for _ in range(3)]

    async def call(service: Service) -> Any:
        await gate.wait()
        return await answer(service, "package", {"registry": "npm", "name": "express"})

    tasks = [asyncio.create_task(call(three[i % 3])) for i in range(30)]
    await asyncio.sleep(0.05)
    gate.set()
    answers = await asyncio.gather(*tasks)
    assert all(a == answers[0] for a in answers) and answers[0]["name"] == "express"
    assert upstream.hits[NPM + "express"] == 1
    assert sum(shared_of(s).stats["follows"] for s in three) >= 1


async def test_a_leader_that_dies_is_replaced_once_its_claim_expires(
    replicas: Replicas, upstream: MockUpstream, inspect: redis.Redis
) -> None:
    service = replicas.start(lease=0.5)
    cache = shared_of(service)
    key = service._key("index", service.registries["npm"], "ms")
    # A replica that claimed the key and died: its claim is never renewed nor released.
    assert inspect.set(f"{cache.prefix}lock:{key}", b"dead-replica", nx=True, px=500)
    started = time.monotonic()
    got = await answer(service, "package", {"registry": "npm", "name": "ms"})
    waited = time.monotonic() - started
    assert isinstance(got, dict) and got["name"] == "ms"
    assert upstream.hits[NPM + "ms"] == 1
    assert 0.3 < waited < 3.0, waited
    assert cache.stats["follows"] == 1


async def test_a_long_fetch_keeps_its_claim(replicas: Replicas, upstream: MockUpstream) -> None:
    """A leader whose fetch outlasts the lease renews its claim: the followers do not fetch too."""
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    body = (Path(__file__).parent / "data/npm/ms.json").read_bytes()

    async def held(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, content=body)

    upstream.routes[NPM + "ms"] = lambda request: httpx.Response(200, content=body)
    leader = replicas.start(httpx.MockTransport(held), lease=0.3)
    follower = replicas.start(lease=0.3)
    first = asyncio.create_task(answer(leader, "package", {"registry": "npm", "name": "ms"}))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(answer(follower, "package", {"registry": "npm", "name": "ms"}))
    loop.call_later(1.0, release.set)  # over three leases
    assert (await first) == (await second)
    assert upstream.hits[NPM + "ms"] == 0, "the follower fetched while the leader still held its claim"
    assert shared_of(follower).stats["follows"] == 1


async def test_killed_server_degrades_to_uncached_answers_then_recovers(
    replicas: Replicas, server: RedisServer, upstream: MockUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    service = replicas.start(probe_every=0.2)
    cache = shared_of(service)
    await answer(service, "package", {"registry": "npm", "name": "express"})
    await service.cache.flush()
    server.kill()
    with caplog.at_level(logging.WARNING, logger="mcp_registries.shared"):
        warm = await answer(service, "package", {"registry": "npm", "name": "express"})
        assert warm["name"] == "express", "the memory front answers a warm call"
        for name in ("react", "ms", "left-pad"):
            got = await answer(service, "package", {"registry": "npm", "name": name})
            assert isinstance(got, dict) and got["name"] == name
        assert cache.state == "degraded" and service.cache.state == "degraded"
        down = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(down) == 1, "one warning per outage"
        assert "127.0.0.1" in down[0].getMessage()
        server.start()
        deadline = time.monotonic() + 5
        while cache.state != "ok" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert cache.state == "ok"
    assert any("is back" in r.getMessage() for r in caplog.records)
    # Shared again: what this replica fetches now, another one reads.
    await answer(service, "package", {"registry": "npm", "name": "JSONStream"})
    await service.cache.flush()
    before = upstream.total
    other = replicas.start()
    assert (await answer(other, "package", {"registry": "npm", "name": "JSONStream"}))["name"] == "JSONStream"
    assert upstream.total == before


async def test_a_server_that_stops_answering_costs_one_time_limit(
    replicas: Replicas, server: RedisServer, upstream: MockUpstream
) -> None:
    service = replicas.start(op_timeout=0.3, probe_every=0.2)
    await answer(service, "package", {"registry": "npm", "name": "ms"})  # connected
    server.pause()
    try:
        started = time.monotonic()
        got = await answer(service, "package", {"registry": "npm", "name": "express"})
        first = time.monotonic() - started
        started = time.monotonic()
        again = await answer(service, "package", {"registry": "npm", "name": "react"})
        second = time.monotonic() - started
    finally:
        server.resume()
    assert got["name"] == "express" and again["name"] == "react"
    assert first < 2.0, first
    assert second < 0.25, f"a call after the outage was seen waited {second:.2f} s for the server"
    assert shared_of(service).state == "degraded"
    deadline = time.monotonic() + 5
    while shared_of(service).state != "ok" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert shared_of(service).state == "ok"


async def test_a_server_never_reached_is_an_outage_not_an_error(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    from .redis_server import free_port

    settings = make_settings(tmp_path, cache_url=f"redis://127.0.0.1:{free_port()}/0")
    service = Service(settings, transport=upstream.transport(), backoff=0.0)
    try:
        got = await answer(service, "package", {"registry": "npm", "name": "express"})
        assert got["name"] == "express"
        assert service.cache.state == "degraded"
    finally:
        await service.aclose()


async def test_values_of_an_unknown_kind_stay_in_memory_with_one_warning(
    replicas: Replicas, inspect: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = replicas.start().cache
    with caplog.at_level(logging.WARNING, logger="mcp_registries.shared"):
        for n in range(3):
            await cache.set(f"odd|{n}", {"a": object()}, 60)
        await cache.flush()
    assert (await cache.get("odd|2")) is not None, "the memory front keeps it"
    assert not list(inspect.scan_iter("*odd*"))
    assert len([r for r in caplog.records if "not sharing" in r.getMessage()]) == 1
