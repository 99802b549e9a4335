"""Faults over real sockets: a misbehaving upstream on a loopback port, bounded time, counted requests.

Every test builds the service the way the server does (a real httpx client, a diskcache in a
temporary directory) and points all four base URLs, path prefixes included, at `LoopbackUpstream`.
Bounds follow from the settings below: a retried fault costs `retries` backoff sleeps; a silent
server costs at most `total_timeout`. `MARGIN` absorbs scheduling on a loaded 2-core machine.

The service runs on a `FastForwardClock`: backoff and Retry-After sleeps return at once and are
recorded, and cool-downs are passed with `advance()`, so the tests prove what was waited without
waiting it. Network timeouts and slow bodies are real (and kept short).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import diskcache
import pytest
from mcp import Client
from mcp_types import TextContent

from mcp_registries.cache import MemoryFront, NullCache
from mcp_registries.errors import RegistryError
from mcp_registries.models import PackageResult
from mcp_registries.server import build_server
from mcp_registries.service import Service
from mcp_registries.settings import Settings

from .conftest import FastForwardClock, data, recorded_routes, server_settings
from .upstream import (
    Exchange,
    LoopbackUpstream,
    conditional,
    delayed,
    drop,
    failing,
    hang,
    held,
    oversized,
    refused_url,
    reply,
    trickle,
    truncated,
)

pytestmark = pytest.mark.anyio

MS = data("npm/ms.json")
MB = 1024 * 1024
BACKOFF = 0.05
RETRIES = 2
TOTAL = 3.0
MARGIN = 1.0
#: An upstream that failed is answered for at once this long; `assert_still_answers` waits it out.
COOLDOWN = 0.3
#: Retried faults: RETRIES sleeps of BACKOFF * 2**n plus up to BACKOFF of jitter each.
RETRY_BOUND = sum(BACKOFF * 2**n + BACKOFF for n in range(RETRIES))
NO_CACHE = "; no cached answer was available."


def settings_for(server: LoopbackUpstream, directory: Path, **overrides: object) -> Settings:
    limits: dict[str, object] = {
        "total_timeout": TOTAL,
        "retries": RETRIES,
        "max_response_bytes": 1 * MB,
        "outage_cooldown": COOLDOWN,
    }
    return server_settings(server, directory, **{**limits, **overrides})


def generated_packument(ex: Exchange) -> None:
    """Any `/npm/gen-…` path is a one-version package named after it: new cache keys on demand."""
    name = ex.path.rsplit("/", 1)[1]
    version = {"name": name, "version": "1.0.0"}
    ex.send(
        200,
        json.dumps({"name": name, "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": version}}).encode(),
    )


def serve_recorded(server: LoopbackUpstream) -> None:
    """The conftest's recorded documents, by path under the four prefixes, and generated packuments."""
    server.routes.update(recorded_routes())
    server.prefixes["/npm/gen-"] = generated_packument


@pytest.fixture
def server() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream({"/npm/ms": reply(200, MS)}) as running:
        yield running


@pytest.fixture
def clock() -> FastForwardClock:
    return FastForwardClock()


@pytest.fixture
async def service(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock
) -> AsyncIterator[Service]:
    svc = Service(settings_for(server, tmp_path), backoff=BACKOFF, clock=clock)
    yield svc
    await svc.aclose()


def clock_of(service: Service) -> FastForwardClock:
    assert isinstance(service.http.clock, FastForwardClock)
    return service.http.clock


async def failure(
    service: Service, name: str, operation: str = "package", registry: str = "npm"
) -> tuple[str, float]:
    """The error sentence of one failing call, and how long it took on the service's clock (sleeps included)."""
    clock = clock_of(service)
    started = clock.now()
    with pytest.raises(RegistryError) as caught:
        await service.call(operation, {"registry": registry, "name": name})
    return caught.value.message, clock.now() - started


def assert_backoff(sleeps: list[float]) -> None:
    """The sleeps between retries: BACKOFF * 2**n, plus up to BACKOFF of jitter, one per retry."""
    assert len(sleeps) == RETRIES, sleeps
    for n, slept in enumerate(sleeps):
        assert BACKOFF * 2**n <= slept <= BACKOFF * 2**n + BACKOFF, sleeps


async def assert_still_answers(service: Service) -> None:
    """After a fault's cool-down, the service answers again (here, from the healthy `ms` route)."""
    clock_of(service).advance(COOLDOWN)
    result = await service.call("package", {"registry": "npm", "name": "ms"})
    assert isinstance(result, PackageResult)
    assert (result.name, result.latest_version) == ("ms", "2.1.3")


async def backdate(directory: Path, seconds: float, service: Service | None = None) -> int:
    """Age every cached npm index record by `seconds`, on disk and in the service's memory front (once the
    service's writes have reached the disk)."""
    if service is not None:
        await service.cache.flush()
    with diskcache.Cache(str(directory)) as raw:
        keys = [key for key in raw if "index|npm" in key]
        for key in keys:
            stored_at, ttl, value, validators = raw[key]
            raw[key] = (stored_at - seconds, ttl, value, validators)
    if service is not None and isinstance(service.cache, MemoryFront):
        live = service.cache._entries
        for key, entry in list(live.items()):
            live[key] = dataclasses.replace(entry, stored_at=entry.stored_at - seconds)
    return len(keys)


# -- each fault: its sentence, its bound, its request count; the service keeps answering ----------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_service_5xx_is_retried_then_reported(
    server: LoopbackUpstream, service: Service, status: int
) -> None:
    """A persistent 5xx is tried 1 + retries times, then named in one sentence within the backoff bound."""
    server.route("/npm/broken", failing(status, MS))
    message, elapsed = await failure(service, "broken")
    assert message == f"The npm registry failed: it answered HTTP {status}{NO_CACHE}"
    assert server.hits["/npm/broken"] == 1 + RETRIES
    assert_backoff(clock_of(service).sleeps)
    assert elapsed < RETRY_BOUND + MARGIN
    await assert_still_answers(service)


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (404, "npm package 'absent' not found"),
        (403, f"The npm registry failed: it answered HTTP 403{NO_CACHE}"),
    ],
)
async def test_service_non_retryable_status_is_asked_once(
    server: LoopbackUpstream, service: Service, status: int, sentence: str
) -> None:
    """A 404 is an answer and a 403 a refusal: one request each, no retry."""
    server.route("/npm/absent", reply(status))
    message, elapsed = await failure(service, "absent")
    assert message == sentence
    assert server.hits["/npm/absent"] == 1
    assert clock_of(service).sleeps == []
    assert elapsed < MARGIN
    await assert_still_answers(service)


async def test_service_429_honours_retry_after_that_fits(
    server: LoopbackUpstream, service: Service, clock: FastForwardClock
) -> None:
    """Retry-After: 1 is waited out between attempts (it fits the 3 s bound) before the 429 is reported, and
    the registry is not asked again for that second, although the configured cool-down is shorter."""
    server.route("/npm/limited", failing(429, MS, headers={"Retry-After": "1"}))
    message, elapsed = await failure(service, "limited")
    assert (
        message
        == f"The npm registry failed: it is rate limiting requests (HTTP 429); retry after 1 s{NO_CACHE}"
    )
    assert server.hits["/npm/limited"] == 1 + RETRIES
    # Each wait is the Retry-After asked for, plus the jitter: not the (shorter) exponential backoff.
    assert len(clock.sleeps) == RETRIES and all(1.0 <= slept <= 1.0 + BACKOFF for slept in clock.sleeps)
    assert RETRIES * 1.0 <= elapsed < RETRIES * (1.0 + BACKOFF) + MARGIN
    clock.advance(COOLDOWN)
    again, _ = await failure(service, "ms")
    assert again == (
        "The npm registry failed: it is rate limiting requests (HTTP 429); retry after 1 s; "
        f"it is tried again in 1 s{NO_CACHE}"
    )
    assert server.hits["/npm/ms"] == 0
    clock.advance(1.0 - COOLDOWN)
    await assert_still_answers(service)


async def test_service_429_retry_after_beyond_the_bound_is_not_waited(
    server: LoopbackUpstream, service: Service
) -> None:
    """A Retry-After longer than the call's time bound is reported at once, with the wait it asked for."""
    server.route("/npm/limited", failing(429, MS, headers={"Retry-After": "10"}))
    message, elapsed = await failure(service, "limited")
    assert (
        message
        == f"The npm registry failed: it is rate limiting requests (HTTP 429); retry after 10 s{NO_CACHE}"
    )
    assert server.hits["/npm/limited"] == 1
    assert elapsed < MARGIN
    # It asked for ten seconds: the registry is not asked again before then, for any package.
    again, elapsed = await failure(service, "ms")
    assert again == (
        "The npm registry failed: it is rate limiting requests (HTTP 429); retry after 10 s; "
        f"it is tried again in 10 s{NO_CACHE}"
    )
    assert elapsed < 0.1 and server.hits["/npm/ms"] == 0
    assert clock_of(service).sleeps == []


async def test_service_429_without_retry_after_backs_off(server: LoopbackUpstream, service: Service) -> None:
    """A bare 429 is retried on the exponential backoff, like a 5xx."""
    server.route("/npm/limited", failing(429, MS))
    message, elapsed = await failure(service, "limited")
    assert message == f"The npm registry failed: it is rate limiting requests (HTTP 429){NO_CACHE}"
    assert server.hits["/npm/limited"] == 1 + RETRIES
    assert_backoff(clock_of(service).sleeps)
    assert elapsed < RETRY_BOUND + MARGIN
    await assert_still_answers(service)


async def test_service_silent_server_times_out_at_the_total_bound(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock, record_property: Any
) -> None:
    """A server that accepts and never answers costs read timeouts and retries, cut off at total_timeout."""
    server.route("/npm/silent", hang())
    total, read = 2.0, 0.75
    svc = Service(
        settings_for(server, tmp_path, total_timeout=total, read_timeout=read), backoff=BACKOFF, clock=clock
    )
    message, elapsed = await failure(svc, "silent")
    record_property("seconds_to_timeout_error", round(elapsed, 2))
    assert message == f"The npm registry failed: it did not answer within 2 s{NO_CACHE}"
    # Two 0.75 s read timeouts, two backoff sleeps (0.15 to 0.25 s), then the third attempt is cut off by
    # the 2 s bound at least 0.4 s before its own read timeout.
    assert server.hits["/npm/silent"] == 1 + RETRIES
    assert_backoff(clock.sleeps)
    assert total - 0.05 <= elapsed < total + MARGIN
    await assert_still_answers(svc)
    await svc.aclose()


async def test_service_endless_trickle_times_out_at_the_total_bound(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock
) -> None:
    """Bytes arriving every 0.2 s (for 3.8 s) never trip the 0.5 s read timeout; the 1 s total bound still
    ends the call."""
    server.route("/npm/trickle", trickle(MS, pieces=20, interval=0.2))
    settings = settings_for(server, tmp_path, total_timeout=1.0, read_timeout=0.5)
    svc = Service(settings, backoff=BACKOFF, clock=clock)
    message, elapsed = await failure(svc, "trickle")
    assert message == f"The npm registry failed: it did not answer within 1 s{NO_CACHE}"
    assert server.hits["/npm/trickle"] == 1
    assert 1.0 - 0.05 <= elapsed < 1.0 + MARGIN
    await assert_still_answers(svc)
    await svc.aclose()


async def test_service_short_trickle_is_read_whole(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock
) -> None:
    """A body trickling in for longer than the read timeout (0.6 s against 0.5 s), each gap below it, is an
    answer: the read timeout bounds each wait for bytes, not the whole body."""
    server.route("/npm/ms-slowly", trickle(MS, pieces=4, interval=0.2))
    service = Service(settings_for(server, tmp_path, read_timeout=0.5), backoff=BACKOFF, clock=clock)
    result = await service.call("package", {"registry": "npm", "name": "ms-slowly"})
    await service.aclose()
    assert isinstance(result, PackageResult) and result.latest_version == "2.1.3"
    assert server.hits["/npm/ms-slowly"] == 1


@pytest.mark.parametrize("behaviour", [truncated(MS), drop()], ids=["truncated", "dropped"])
async def test_service_broken_connection_is_an_invalid_response(
    server: LoopbackUpstream, service: Service, behaviour: Any
) -> None:
    """A body cut short of its Content-Length, or no answer at all before close, is retried then reported."""
    server.route("/npm/broken", behaviour)
    message, elapsed = await failure(service, "broken")
    assert message == (
        f"The npm registry failed: it sent an invalid response (the connection broke: RemoteProtocolError){NO_CACHE}"
    )
    assert server.hits["/npm/broken"] == 1 + RETRIES
    assert_backoff(clock_of(service).sleeps)
    assert elapsed < RETRY_BOUND + MARGIN
    await assert_still_answers(service)


async def test_service_html_page_is_not_json(server: LoopbackUpstream, service: Service) -> None:
    """A 200 HTML page (a captive portal, a proxy's login) is an invalid response, not retried."""
    server.route(
        "/npm/portal", reply(200, b"<!doctype html><title>Sign in</title>", {"Content-Type": "text/html"})
    )
    message, elapsed = await failure(service, "portal")
    assert message == f"The npm registry failed: it sent an invalid response (not JSON){NO_CACHE}"
    assert server.hits["/npm/portal"] == 1
    assert elapsed < MARGIN
    await assert_still_answers(service)


@pytest.mark.parametrize(
    "behaviour",
    [
        oversized(3 * MB, declare=True),
        oversized(3 * MB, declare=False),
        reply(200, gzip.compress(b" " * 3 * MB), {"Content-Encoding": "gzip"}),
    ],
    ids=["declared", "streamed", "gzip-bomb"],
)
async def test_service_oversized_body_hits_the_size_limit(
    server: LoopbackUpstream, service: Service, behaviour: Any
) -> None:
    """3 MB against a 1 MB cap (declared, close-delimited, or only once decompressed): stopped, not retried."""
    server.route("/npm/huge", behaviour)
    message, elapsed = await failure(service, "huge")
    assert message == f"The npm registry failed: its response passed the 1 MB size limit{NO_CACHE}"
    assert server.hits["/npm/huge"] == 1
    assert elapsed < MARGIN
    await assert_still_answers(service)


async def test_service_refused_connection_is_unreachable_quickly(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock, record_property: Any
) -> None:
    """A port with nothing listening: 'could not be reached' after the retries, in well under 2 s."""
    serve_recorded(server)
    settings = settings_for(server, tmp_path, npm_url=refused_url() + "npm/")
    svc = Service(settings, backoff=BACKOFF, clock=clock)
    message, elapsed = await failure(svc, "ms")
    record_property("seconds_to_refused_error", round(elapsed, 2))
    assert message == (
        "The npm registry failed: it could not be reached "
        f"(connection failed: All connection attempts failed){NO_CACHE}"
    )
    assert_backoff(clock.sleeps)
    assert elapsed < 2.0
    # The same service still answers from an upstream that is up.
    result = await svc.call("package", {"registry": "pypi", "name": "requests"})
    assert isinstance(result, PackageResult) and result.name == "requests"
    await svc.aclose()


# -- recovery: retries, stale-if-error, revalidation, single-flight -----------------------------------


async def test_service_flaky_upstream_answers_on_the_third_try(
    server: LoopbackUpstream, service: Service
) -> None:
    """503 twice, then 200: the caller gets the answer, after exactly three requests."""
    server.route("/npm/flaky", failing(503, MS, times=2))
    result = await service.call("package", {"registry": "npm", "name": "flaky"})
    assert isinstance(result, PackageResult) and result.latest_version == "2.1.3"
    assert server.statuses["/npm/flaky"] == [503, 503, 200]


async def test_service_expired_answer_is_served_when_the_upstream_fails(
    server: LoopbackUpstream, service: Service, tmp_path: Path
) -> None:
    """An hour-old cached answer is served, with a note naming the failure, while the upstream answers 503."""
    server.route("/npm/wobbly", reply(200, MS))
    fresh = await service.call("package", {"registry": "npm", "name": "wobbly"})
    assert await backdate(tmp_path, 3600, service) == 1
    server.route("/npm/wobbly", failing(503, MS))
    stale = await service.call("package", {"registry": "npm", "name": "wobbly"})
    assert stale.notes == [
        *fresh.notes,
        "served from cache (60 min old) because The npm registry failed: it answered HTTP 503",
    ]
    assert stale.model_copy(update={"notes": fresh.notes}) == fresh
    assert server.statuses["/npm/wobbly"] == [200, 503, 503, 503]


async def test_service_expired_answer_is_revalidated_without_a_body(
    server: LoopbackUpstream, service: Service, tmp_path: Path
) -> None:
    """An expired entry costs one If-None-Match request answered 304: the body crosses the wire once."""
    server.route("/npm/tagged", conditional(MS, '"ms-v1"'))
    first = await service.call("package", {"registry": "npm", "name": "tagged"})
    await backdate(tmp_path, 3600, service)
    second = await service.call("package", {"registry": "npm", "name": "tagged"})
    third = await service.call("package", {"registry": "npm", "name": "tagged"})
    assert first == second == third
    assert server.statuses["/npm/tagged"] == [200, 304]
    assert [h.get("If-None-Match") for h in server.headers["/npm/tagged"]] == [None, '"ms-v1"']
    assert server.sent["/npm/tagged"] == len(MS)


async def test_service_single_flight_shares_one_slow_fetch(
    server: LoopbackUpstream, service: Service, record_property: Any
) -> None:
    """Fifty concurrent identical cold calls against a 0.3 s upstream make exactly one request."""
    server.route("/npm/slow", delayed(0.3, reply(200, MS)))
    results: list[Any] = []

    async def one() -> None:
        results.append(await service.call("package", {"registry": "npm", "name": "slow"}))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(one)
    record_property("single_flight_requests", server.hits["/npm/slow"])
    assert len(results) == 50 and all(r == results[0] for r in results)
    assert server.hits["/npm/slow"] == 1


async def test_service_single_flight_survives_a_caller_giving_up(
    server: LoopbackUpstream, service: Service
) -> None:
    """When the caller leading a shared fetch is cancelled, a caller waiting on it still gets the answer."""
    server.route("/npm/slow", delayed(0.3, reply(200, MS)))
    answers: list[Any] = []

    async def impatient() -> None:
        with anyio.move_on_after(0.1):
            await service.call("package", {"registry": "npm", "name": "slow"})

    async def patient() -> None:
        await anyio.sleep(0.02)
        answers.append(await service.call("package", {"registry": "npm", "name": "slow"}))

    with anyio.fail_after(TOTAL + MARGIN):
        async with anyio.create_task_group() as group:
            group.start_soon(impatient)
            group.start_soon(patient)
    assert len(answers) == 1 and answers[0].latest_version == "2.1.3"
    assert server.hits["/npm/slow"] == 2


# -- outages: after a failure, answers at once until a probe finds the upstream back -------------------


async def test_service_outage_answers_at_once_then_recovers(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock, record_property: Any
) -> None:
    """After one failed call, 20 calls answer in under 100 ms each (stale entry or sentence) without asking
    the upstream or waiting; after the cool-down the first call fetches again and gets a fresh answer."""
    cooldown = 2.0
    settings = settings_for(server, tmp_path, outage_cooldown=cooldown)
    service = Service(settings, backoff=BACKOFF, clock=clock)
    server.route("/npm/wobbly", reply(200, MS))
    fresh = await service.call("package", {"registry": "npm", "name": "wobbly"})
    await backdate(tmp_path, 3600, service)
    server.prefixes["/npm/"] = failing(503, MS)
    server.route("/npm/wobbly", failing(503, MS))
    first, _ = await failure(service, "gen-first")
    assert first == f"The npm registry failed: it answered HTTP 503{NO_CACHE}"
    asked, slept = server.total, len(clock.sleeps)
    timings = []
    for number in range(20):
        started = time.monotonic()
        if number % 2:
            stale = await service.call("package", {"registry": "npm", "name": "wobbly"})
            assert (
                stale.notes[-1]
                == "served from cache (60 min old) because The npm registry failed: it answered HTTP 503"
            )
        else:
            message, _ = await failure(service, f"gen-{number}")
            assert (
                message
                == f"The npm registry failed: it answered HTTP 503; it is tried again in 2 s{NO_CACHE}"
            )
        timings.append(time.monotonic() - started)
    record_property("outage_call_ms", [round(t * 1000, 1) for t in timings])
    assert max(timings) < 0.1
    assert server.total == asked and len(clock.sleeps) == slept
    assert service.http.outages.down() == [server.url + "npm/"]
    server.route("/npm/wobbly", reply(200, MS))
    clock.advance(cooldown - 0.1)
    assert service.http.outages.down() == [server.url + "npm/"]
    clock.advance(0.1)
    recovered = await service.call("package", {"registry": "npm", "name": "wobbly"})
    await service.aclose()
    assert recovered == fresh
    assert server.statuses["/npm/wobbly"][-1] == 200 and server.total == asked + 1
    assert service.http.outages.down() == []


async def test_service_outage_lets_one_probe_through(
    server: LoopbackUpstream, tmp_path: Path, clock: FastForwardClock
) -> None:
    """When the cool-down ends, one call probes; calls meanwhile fail at once, and the probe's answer ends it."""
    service = Service(settings_for(server, tmp_path, outage_cooldown=COOLDOWN), backoff=BACKOFF, clock=clock)
    server.route("/npm/down", failing(503, MS))
    await failure(service, "down")
    clock.advance(COOLDOWN)
    release = threading.Event()
    server.route("/npm/slow", held(release, reply(200, MS)))
    messages: list[str] = []

    async def other() -> None:
        with anyio.fail_after(TOTAL):
            while not server.hits["/npm/slow"]:  # until the probe is under way
                await anyio.sleep(0.01)
        messages.append((await failure(service, "ms"))[0])
        release.set()

    async with anyio.create_task_group() as group:
        group.start_soon(other)
        probe = await service.call("package", {"registry": "npm", "name": "slow"})
    after = await service.call("package", {"registry": "npm", "name": "ms"})
    await service.aclose()
    assert probe.latest_version == after.latest_version == "2.1.3"
    assert messages == [
        f"The npm registry failed: it answered HTTP 503; it is being tried again now{NO_CACHE}"
    ]
    assert server.hits["/npm/ms"] == 1


# -- through the MCP layer -------------------------------------------------------------------------


async def test_server_tool_error_carries_the_fault_sentence(
    server: LoopbackUpstream, service: Service
) -> None:
    """Over MCP, an upstream 503 is an isError result whose text is the service's sentence; the first call
    after the cool-down works."""
    server.route("/npm/broken", failing(503, MS))
    async with Client(build_server(service)) as client:
        failed = await client.call_tool("package", {"registry": "npm", "name": "broken"})
        clock_of(service).advance(COOLDOWN)
        worked = await client.call_tool("package", {"registry": "npm", "name": "ms"})
    assert failed.is_error
    assert failed.content == [
        TextContent(type="text", text=f"The npm registry failed: it answered HTTP 503{NO_CACHE}")
    ]
    assert not worked.is_error and worked.structured_content is not None
    assert worked.structured_content["latest_version"] == "2.1.3"
    assert server.hits["/npm/broken"] == 1 + RETRIES


# -- one cache directory, four processes --------------------------------------------------------------

WORKER = """
import json, sys, time, pathlib
import anyio
from mcp_registries.errors import RegistryError
from mcp_registries.service import Service
from mcp_registries.settings import Settings

calls, barrier, me = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]

async def main():
    service = Service(Settings.from_env(connect_timeout=2.0, read_timeout=5.0, total_timeout=10.0))
    try:
        for operation, arguments in calls:
            try:
                out = {"ok": (await service.call(operation, arguments)).model_dump(mode="json")}
            except RegistryError as exc:
                out = {"error": exc.message}
            sys.stdout.write(json.dumps(out) + "\\n")
    finally:
        await service.aclose()

(barrier / f"ready-{me}").touch()
for _ in range(400):  # everyone starts together, or after 20 s at most
    if (barrier / "go").exists():
        break
    time.sleep(0.05)
anyio.run(main)
"""

SHARED_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("package", {"registry": "npm", "name": "react"}),
    ("package", {"registry": "npm", "name": "express"}),
    ("versions", {"registry": "npm", "name": "express", "page": 2, "page_size": 20}),
    ("maintainer", {"registry": "npm", "name": "express"}),
    ("package", {"registry": "npm", "name": "ms"}),
    ("versions", {"registry": "npm", "name": "ms"}),
    ("maintainer", {"registry": "npm", "name": "JSONStream"}),
    ("package", {"registry": "npm", "name": "@types/node"}),
    ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}),
    ("version", {"registry": "npm", "name": "react", "version": "18.2.0"}),
    ("downloads", {"registry": "npm", "name": "express", "period": "last-month"}),
    ("package", {"registry": "pypi", "name": "requests"}),
    ("versions", {"registry": "pypi", "name": "Django", "page": 3}),
    ("maintainer", {"registry": "pypi", "name": "requests"}),
    ("package", {"registry": "pypi", "name": "zope.interface"}),
    ("package", {"registry": "pypi", "name": "pytz"}),
    ("downloads", {"registry": "pypi", "name": "requests"}),
]


def worker_calls(worker: int, count: int = 50) -> list[tuple[str, dict[str, Any]]]:
    """Shared calls in a worker-specific rotation, every fifth call a package nobody has asked for yet."""
    calls = []
    for i in range(count):
        if i % 5 == 4:
            calls.append(("package", {"registry": "npm", "name": f"gen-{worker}-{i}"}))
        else:
            calls.append(SHARED_CALLS[(i * 3 + worker * 5) % len(SHARED_CALLS)])
    return calls


async def expected_answers(
    settings: Settings, calls: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """What a cache-less service answers for each call, as JSON."""
    reference = Service(settings, cache=NullCache(), backoff=BACKOFF)
    try:
        return [{"ok": (await reference.call(op, args)).model_dump(mode="json")} for op, args in calls]
    finally:
        await reference.aclose()


def test_cache_shared_by_four_processes_gives_correct_answers(
    server: LoopbackUpstream, tmp_path: Path, record_property: Any
) -> None:
    """Four processes making 50 mixed calls each over one cache directory: all correct, silent, each key fetched ≤ 4 times."""
    serve_recorded(server)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_REGISTRIES_")}
    env.update(server.env(), MCP_REGISTRIES_CACHE_DIR=str(tmp_path / "cache"))
    plans = [worker_calls(w) for w in range(4)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(plan), str(barrier), str(w)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, plan in enumerate(plans)
    ]
    try:
        deadline = time.monotonic() + 30
        while len(list(barrier.glob("ready-*"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        (barrier / "go").touch()
        outputs = [worker.communicate(timeout=60) for worker in workers]
        wall = time.monotonic() - started
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    record_property("four_process_wall_seconds", round(wall, 2))
    hits = dict(server.hits)
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
        assert stderr == ""
    distinct = list({json.dumps(call, sort_keys=True): call for plan in plans for call in plan}.values())
    expected = dict(
        zip(
            (json.dumps(call, sort_keys=True) for call in distinct),
            anyio.run(
                expected_answers,
                settings_for(server, tmp_path / "unused", max_response_bytes=64 * MB),
                distinct,
            ),
        )
    )
    for plan, (stdout, _) in zip(plans, outputs):
        answers = [json.loads(line) for line in stdout.splitlines()]
        assert answers == [expected[json.dumps(call, sort_keys=True)] for call in plan]
    # Each process fetches a key at most once (its own write, or another's, serves it afterwards).
    record_property("four_process_upstream_requests", sum(hits.values()))
    record_property("four_process_distinct_paths", len(hits))
    assert max(hits.values()) <= 4
