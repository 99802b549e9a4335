"""Shared-cache benchmark (issue 14): replicas pointed at one Redis server (MCP_REGISTRIES_CACHE_URL), called
over the REST API, against a loopback upstream serving the recorded documents (tests/data; no network).

    python benchmarks/team.py                    # full: the three targets, judged
    python benchmarks/team.py --quick            # CI smoke: small counts, no clock; exit 1 on a count regression
    python benchmarks/team.py --enforce-targets  # exit 1 when a target is missed too
    python benchmarks/team.py --load python      # the Python load generator even where wrk is installed

A real redis-server (or valkey-server) on a free loopback port, no persistence (tests/redis_server.py), and
every replica a real `python -m mcp_registries --transport http --stateless` subprocess, started by
bench.py's `http_server`. The table goes to stdout and everything to benchmarks/results/team-<mode>.json.

- redis hits: replica A (Redis cache, fresh, the Redis server emptied) fetches each recorded package once,
  cold. Then per round a new replica B makes one untimed call (a Redis hit too: it opens B's connection to
  Redis) and asks each package once, in a new order: each call a Redis hit, its memory front empty.
  Target: p50 <= 5 ms. B's upstream requests must be none (its /healthz stats and the loopback's count).
  Beside it: the same calls again on B (memory-front hits), and GET + decode of each record timed in
  this process: where a Redis hit's time goes.
- warm: a replica with the Redis cache and one with diskcache, the same call (`package npm express`),
  warmed, then timed calls on each in alternation (one kept-alive connection each): both memory-front
  hits. Target: |p50 (Redis) - p50 (diskcache)| <= 0.5 ms. Upstream requests, plans and cache reads
  during the timed calls must be none.
- throughput: warm calls/s of one replica, then of three (the load spread evenly over their ports), in
  alternating rounds, with the same load generator: wrk when installed (a Lua script: the POST bodies in
  turn, each wrk thread on one port), else Python processes (asyncio, raw keep-alive HTTP/1.1). Target:
  three / one >= 1.3 (this machine has 2 cores). Upstream requests and plans during the load must be
  none, and every answer a 200.
- single flight: 30 concurrent identical cold calls spread over the three replicas, the upstream answering
  after 0.3 s: one upstream request in all.

The exit status reflects the counts only, as bench.py's does, unless --enforce-targets. --quick measures
the same counts at a small scale and judges no clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from redis import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench import (
    Bound,
    HttpServer,
    benchmark_parser,
    conclude,
    http_server,
    ms,
    parsed,
    process_cpu_seconds,
    slowest,
    spread,
    verdict_lines,
    verdicts,
)
from mcp_registries import codec
from mcp_registries.shared import PREFIX
from tests.conftest import recorded_routes
from tests.redis_server import BINARIES, RedisServer
from tests.upstream import LoopbackUpstream, delayed

#: An operation and its arguments, as the REST API takes them (`POST /packages/v1/<operation>`).
Call = tuple[str, dict[str, Any]]


def package(registry: str, name: str) -> Call:
    return "package", {"registry": registry, "name": name}


#: The recorded packages (tests/conftest.py's routes) a second replica reads from Redis, one document each.
SHARED = [
    *(package("npm", name) for name in ("react", "express", "JSONStream", "@types/node", "request")),
    package("npm", "full-example"),
    *(package("pypi", name) for name in ("requests", "django", "zope-interface", "typing-extensions")),
    *(package("pypi", name) for name in ("botocore", "gitlab", "pytz", "numpy", "transformers")),
    *(package("pypi", name) for name in ("apache-airflow", "ray", "pydantic-core")),
]
#: B's untimed first call: a Redis hit too, that opens B's connection to Redis.
OPENER = package("npm", "ms")
WARM = package("npm", "express")
#: The throughput mix: warm calls of four operations.
LOAD = [
    package("npm", "express"),
    package("pypi", "requests"),
    ("versions", {"registry": "npm", "name": "react"}),
    ("dependencies", {"registry": "pypi", "name": "django"}),
]
#: The single-flight key: a package no other section asks for, its document served after SINGLE_DELAY.
SINGLE = package("npm", "left-pad")
SINGLE_PATH = "/npm/left-pad"
SINGLE_DELAY = 0.3
SINGLE_CALLS = 30
REPLICAS = 3


#: Figures in milliseconds to the microsecond: warm calls take about one.
FINE = 3
#: Issue 14's bounds.
TARGETS = (
    Bound("warm_p50_gap_ms", 0.5, "ms", "warm call p50, Redis replica vs diskcache replica (absolute gap)"),
    Bound("redis_hit_p50_ms", 5.0, "ms", "first call on a second replica (a Redis hit), p50"),
    Bound("throughput_ratio", 1.3, "x", f"{REPLICAS} replicas' warm calls/s over one's", at_least=True),
)


async def timed(client: httpx.AsyncClient, server: HttpServer, call: Call) -> float:
    """One REST call's seconds; anything but a 200 stops the run (every call here has an answer)."""
    operation, arguments = call
    started = time.perf_counter()
    response = await client.post(f"{server.base}/packages/v1/{operation}", json=arguments)
    spent = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{operation} {arguments}: HTTP {response.status_code} {response.text[:300]}")
    return spent


def grown(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """What a replica's /healthz counters added between two readings."""
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in ("upstream_requests", "plans", "cache_reads_from_disk")
    }


# -- redis hits: a second replica's first calls, after another replica fetched ---------------------


async def redis_hits(
    env: dict[str, str], store: Redis, upstream: LoopbackUpstream, rounds: int, tmp: Path
) -> dict[str, Any]:
    store.flushall()
    before = upstream.total
    async with (
        http_server(env, stateless=True, log=tmp / "replica-a.log") as first,
        httpx.AsyncClient() as client,
    ):
        cold = [await timed(client, first, call) for call in [OPENER, *SHARED]]
    # Its writes to Redis run in the background; a replica stopping waits for them (SIGTERM, then flush).
    fetched = upstream.total - before
    hits: list[float] = []
    memory: list[float] = []
    by_package: dict[str, list[float]] = {call[1]["name"]: [] for call in SHARED}
    counters: list[dict[str, int]] = []
    before = upstream.total
    for round_ in range(rounds):
        order = list(SHARED)
        random.Random(round_).shuffle(order)
        async with http_server(env, stateless=True, log=tmp / f"replica-b{round_}.log") as second:
            stats = await second.stats()
            async with httpx.AsyncClient() as client:
                await timed(client, second, OPENER)
                for call in order:
                    spent = await timed(client, second, call)
                    hits.append(spent)
                    by_package[call[1]["name"]].append(spent)
                memory += [await timed(client, second, call) for call in order]
            counters.append(grown(await second.stats(), stats))
    return {
        "packages": len(SHARED),
        "rounds": rounds,
        "replica_a_cold_calls": len(cold),
        "replica_a_cold_p50_ms": ms(statistics.median(cold), FINE),
        "replica_a_upstream_requests": fetched,
        "keys_in_redis": store.dbsize(),
        "calls": len(hits),
        **spread(hits, FINE),
        "memory_hit": spread(memory, FINE),
        "replica_b_upstream_requests": sum(c["upstream_requests"] for c in counters),
        "replica_b_plans": sum(c["plans"] for c in counters),
        "replica_b_redis_reads": sum(c["cache_reads_from_disk"] for c in counters),
        "loopback_requests_during_b_rounds": upstream.total - before,
        "slowest_ms": slowest(by_package, digits=FINE),
    }


def records(store: Redis, repeats: int = 20) -> dict[str, Any]:
    """GET and `codec.decode` of each record in Redis, timed in this process (medians of `repeats`): what a
    Redis hit costs before the server's own work (REST, the answer built from the index, JSON)."""
    rows = []
    for key in sorted(store.scan_iter(match=f"{PREFIX}:*", count=1000)):
        if b":lock:" in key:
            continue
        gets, decodes = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            raw = store.get(key)
            got = time.perf_counter()
            assert isinstance(raw, bytes)
            codec.decode(raw)
            decodes.append(time.perf_counter() - got)
            gets.append(got - started)
            size = len(raw)
        name = key.decode().split("|")[3] if key.count(b"|") >= 3 else key.decode()
        rows.append((name, size, statistics.median(gets), statistics.median(decodes)))
    rows.sort(key=lambda row: row[2] + row[3])
    return {
        "records": len(rows),
        "bytes_p50": int(statistics.median(row[1] for row in rows)),
        "get_p50_ms": ms(statistics.median(row[2] for row in rows), FINE),
        "decode_p50_ms": ms(statistics.median(row[3] for row in rows), FINE),
        "slowest": {
            row[0]: {"bytes": row[1], "get_ms": ms(row[2], FINE), "decode_ms": ms(row[3], FINE)}
            for row in rows[-5:][::-1]
        },
    }


# -- warm: the same memory-front hit on a Redis replica and a diskcache replica --------------------


async def warm(
    shared: HttpServer, disk: HttpServer, upstream: LoopbackUpstream, calls: int
) -> dict[str, Any]:
    servers = {"redis": shared, "disk": disk}
    times: dict[str, list[float]] = {label: [] for label in servers}
    async with httpx.AsyncClient() as one, httpx.AsyncClient() as other:
        clients = {"redis": one, "disk": other}
        for _ in range(max(10, calls // 8)):  # the first fetches; then connections, caches and branches warm
            for label, server in servers.items():
                await timed(clients[label], server, WARM)
        stats = {label: await server.stats() for label, server in servers.items()}
        before = upstream.total
        for turn in range(calls):
            # Alternate which goes first, so drift between them cancels out.
            for label in list(servers)[:: 1 if turn % 2 else -1]:
                times[label].append(await timed(clients[label], servers[label], WARM))
        loopback = upstream.total - before
    counters = {label: grown(await server.stats(), stats[label]) for label, server in servers.items()}
    redis_p50, disk_p50 = statistics.median(times["redis"]), statistics.median(times["disk"])
    return {
        "call": f"{WARM[0]} {WARM[1]['registry']} {WARM[1]['name']}",
        "calls_each": calls,
        "redis": {**spread(times["redis"], FINE), **counters["redis"]},
        "disk": {**spread(times["disk"], FINE), **counters["disk"]},
        "p50_difference_ms": ms(redis_p50 - disk_p50, FINE),
        "loopback_requests_during_timed_calls": loopback,
    }


# -- throughput: one replica against three, the same load generator ------------------------------


WRK_SCRIPT = """-- Written by benchmarks/team.py: the REST calls in turn, each wrk thread on one replica's port.
local ports = {%(ports)s}
local calls = {%(calls)s}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread.addr = wrk.lookup("127.0.0.1", tostring(ports[(threads - 1) %% #ports + 1]))[1]
end
local requests = {}
local turn = 0
function init(args)
  for i, call in ipairs(calls) do
    requests[i] = wrk.format("POST", call[1], {["Content-Type"] = "application/json"}, call[2])
  end
end
function request()
  turn = turn %% #requests + 1
  return requests[turn]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"calls": %%d, "seconds": %%.6f, "failed": %%d}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def machine_cpu() -> tuple[int, int]:
    """Ticks since boot over all cores, (busy, all), from /proc/stat: what the neighbours took too."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


async def cpu_shares(pids: list[int], start: float, seconds: int, into: dict[str, Any]) -> None:
    """The replicas' and the whole machine's CPU (in cores) from `start` (wall clock) for `seconds`."""
    await anyio.sleep(max(0.0, start - time.time()))
    replicas, machine, started = sum(map(process_cpu_seconds, pids)), machine_cpu(), time.perf_counter()
    await anyio.sleep(seconds)
    busy, ticks = (now - was for now, was in zip(machine_cpu(), machine, strict=True))
    elapsed = time.perf_counter() - started
    into["replica_cpu_share"] = round((sum(map(process_cpu_seconds, pids)) - replicas) / elapsed, 2)
    into["machine_cpu_share"] = round(busy / ticks * (os.cpu_count() or 1), 2)


def rest_calls(calls: Sequence[Call]) -> list[tuple[str, str]]:
    return [(f"/packages/v1/{operation}", json.dumps(arguments)) for operation, arguments in calls]


async def wrk(
    ports: list[int], calls: Sequence[Call], connections: int, seconds: int, tmp: Path
) -> dict[str, Any]:
    """{calls, seconds, failed, load_generator_cpu_s} of one wrk run, starting now."""
    script = tmp / "team.lua"
    entries = ", ".join(f"{{{json.dumps(path)}, {json.dumps(body)}}}" for path, body in rest_calls(calls))
    script.write_text(WRK_SCRIPT % {"ports": ", ".join(map(str, ports)), "calls": entries})
    # One thread per replica port (three in both runs: the same generator); -c is shared among them.
    options = [f"-t{REPLICAS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = await anyio.run_process(["wrk", *options, f"http://127.0.0.1:{ports[0]}/"], check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout.decode()} {done.stderr.decode()}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["load_generator_cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return result


def python_worker(
    ports: list[int], calls: list[tuple[str, str]], connections: int, start: float, stop: float
) -> tuple[int, int, float]:
    """One load process: `connections` keep-alive connections over `ports` in turn, each sending the calls
    in turn from `start` to `stop` (wall clock): (answers 200, other answers and failures, CPU seconds)."""
    return asyncio.run(_python_load(ports, calls, connections, start, stop))


async def _python_load(
    ports: list[int], calls: list[tuple[str, str]], connections: int, start: float, stop: float
) -> tuple[int, int, float]:
    length = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
    counts = [0, 0]

    async def connection(port: int, turn: int) -> None:
        requests = [
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            ).encode()
            for path, body in calls
        ]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(start - time.time())
        try:
            while time.time() < stop:
                writer.write(requests[turn % len(requests)])
                turn += 1
                head = await reader.readuntil(b"\r\n\r\n")
                found = length.search(head)
                await reader.readexactly(int(found.group(1)) if found else 0)
                counts[head[9:12] != b"200"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts[1] += 1
        finally:
            writer.close()

    cpu = 0.0

    async def meter() -> None:
        nonlocal cpu
        await asyncio.sleep(start - time.time())
        cpu = -time.process_time()
        await asyncio.sleep(stop - time.time())
        cpu += time.process_time()

    await asyncio.gather(meter(), *(connection(ports[i % len(ports)], i) for i in range(connections)))
    return counts[0], counts[1], cpu


async def python_load(
    ports: list[int], calls: Sequence[Call], connections: int, seconds: int, start: float
) -> dict[str, Any]:
    """{calls, seconds, failed, load_generator_cpu_s} of one run by processes, one per core, from `start`."""
    processes = os.cpu_count() or 2
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]

    def run_all() -> list[tuple[int, int, float]]:
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            jobs = [
                pool.submit(python_worker, ports, rest_calls(calls), share, start, start + seconds)
                for share in shares
            ]
            return [job.result() for job in jobs]

    counts = await anyio.to_thread.run_sync(run_all)
    return {
        "calls": sum(c[0] for c in counts),
        "seconds": seconds,
        "failed": sum(c[1] for c in counts),
        "load_generator_cpu_s": sum(c[2] for c in counts),
    }


#: Seconds from the start of a run to its load: spawned Python processes import this module again first.
PYTHON_LEAD = 3.0


async def throughput(
    replicas: list[HttpServer],
    upstream: LoopbackUpstream,
    generator: str,
    rounds: int,
    seconds: int,
    connections: int,
    tmp: Path,
) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        for server in replicas:
            for call in LOAD:
                await timed(client, server, call)
    stats = [await server.stats() for server in replicas]
    before = upstream.total
    ports = [int(server.base.rsplit(":", 1)[1]) for server in replicas]
    runs: dict[str, list[dict[str, Any]]] = {"one": [], "three": []}
    for round_ in range(rounds):
        # Alternate which goes first, so drift between them cancels out.
        for label in ("one", "three")[:: 1 if round_ % 2 == 0 else -1]:
            used = ports[:1] if label == "one" else ports
            pids = [server.process.pid for server in replicas[: len(used)]]
            shares: dict[str, Any] = {}
            async with anyio.create_task_group() as group:
                if generator == "wrk":
                    group.start_soon(cpu_shares, pids, time.time(), seconds, shares)
                    run = await wrk(used, LOAD, connections, seconds, tmp)
                else:
                    start = time.time() + PYTHON_LEAD
                    group.start_soon(cpu_shares, pids, start, seconds, shares)
                    run = await python_load(used, LOAD, connections, seconds, start)
            run["calls_per_s"] = round(run["calls"] / run["seconds"], 1)
            run["load_generator_cpu_share"] = round(run.pop("load_generator_cpu_s") / run["seconds"], 2)
            runs[label].append({**run, **shares})
    counters = [grown(await server.stats(), was) for server, was in zip(replicas, stats, strict=True)]
    one = statistics.median(run["calls_per_s"] for run in runs["one"])
    three = statistics.median(run["calls_per_s"] for run in runs["three"])
    return {
        "load_generator": generator,
        "connections": connections,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "one_calls_per_s": one,
        "three_calls_per_s": three,
        "ratio": round(three / one, 3),
        "runs": runs,
        "answers_not_200": sum(run["failed"] for group in runs.values() for run in group),
        "calls": sum(run["calls"] for group in runs.values() for run in group),
        "upstream_requests_during_load": sum(c["upstream_requests"] for c in counters),
        "plans_during_load": sum(c["plans"] for c in counters),
        "redis_reads_during_load": sum(c["cache_reads_from_disk"] for c in counters),
        "loopback_requests_during_load": upstream.total - before,
    }


# -- single flight across replicas -------------------------------------------------------------


async def single_flight(replicas: list[HttpServer], upstream: LoopbackUpstream) -> dict[str, Any]:
    times: list[float] = []
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=SINGLE_CALLS)) as client:

        async def one(index: int) -> None:
            times.append(await timed(client, replicas[index % len(replicas)], SINGLE))

        async with anyio.create_task_group() as group:
            for index in range(SINGLE_CALLS):
                group.start_soon(one, index)
    return {
        "concurrent_calls": SINGLE_CALLS,
        "replicas": len(replicas),
        "upstream_delay_s": SINGLE_DELAY,
        "upstream_requests": upstream.hits[SINGLE_PATH],
        "slowest_call_ms": ms(max(times), FINE),
    }


# -- report -------------------------------------------------------------------------------------


def figures(results: dict[str, Any]) -> dict[str, float]:
    return {
        "warm_p50_gap_ms": abs(results["warm"]["p50_difference_ms"]),
        "redis_hit_p50_ms": results["redis_hits"]["p50_ms"],
        "throughput_ratio": results["throughput"]["ratio"],
    }


def checks(results: dict[str, Any]) -> list[str]:
    """What must hold whatever the clock says: the failures, as sentences."""
    failures = []
    s, w, h, t = (results[k] for k in ("single_flight", "warm", "redis_hits", "throughput"))
    if s["upstream_requests"] != 1:
        failures.append(
            f"{s['concurrent_calls']} concurrent cold calls over {s['replicas']} replicas made {s['upstream_requests']} upstream requests, not 1"
        )
    for label in ("redis", "disk"):
        if w[label]["upstream_requests"] or w[label]["plans"] or w[label]["cache_reads_from_disk"]:
            failures.append(
                f"warm calls on the {label} replica fetched, parsed or read the cache again: {w[label]}"
            )
    if w["loopback_requests_during_timed_calls"]:
        failures.append("warm calls reached the upstream")
    if h["replica_b_upstream_requests"] or h["replica_b_plans"] or h["loopback_requests_during_b_rounds"]:
        failures.append("a second replica fetched what the first had stored in Redis")
    if t["upstream_requests_during_load"] or t["plans_during_load"] or t["loopback_requests_during_load"]:
        failures.append("warm calls under load fetched or parsed again")
    failures += [
        f"{label}'s cache is {state}" for label, state in results["cache_states"].items() if state != "ok"
    ]
    if t["answers_not_200"] or not t["calls"]:
        failures.append(f"the load generator got {t['answers_not_200']} failed answers in {t['calls']} calls")
    return failures


def table(results: dict[str, Any]) -> str:
    s, w, h, t = (results[k] for k in ("single_flight", "warm", "redis_hits", "throughput"))
    lines = [
        (
            f"Redis: {results['redis']}; load generator: {t['load_generator']}; {os.cpu_count()} cores; "
            f"cache states at the end: {results['cache_states']}"
        ),
        (
            f"redis hits: replica A fetched {h['packages']} packages + 1 cold (p50 {h['replica_a_cold_p50_ms']} ms, "
            f"{h['replica_a_upstream_requests']} upstream requests, {h['keys_in_redis']} keys in Redis); "
            f"{h['rounds']} new replicas B asked each once:"
        ),
        (
            f"  first call on B (Redis hit): {h['calls']} calls, p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, "
            f"max {h['max_ms']} ms; the same again (memory hit) p50 {h['memory_hit']['p50_ms']} ms, "
            f"p99 {h['memory_hit']['p99_ms']} ms"
        ),
        (
            f"  B's upstream requests {h['replica_b_upstream_requests']}, plans {h['replica_b_plans']}, "
            f"Redis reads {h['replica_b_redis_reads']}; loopback requests {h['loopback_requests_during_b_rounds']}"
        ),
        f"  slowest Redis hits (median ms): {h['slowest_ms']}",
    ]
    if "records" in results:
        r = results["records"]
        lines.append(
            f"  in this process, per record ({r['records']}, p50 {r['bytes_p50']:,} B): GET p50 {r['get_p50_ms']} ms, "
            f"decode p50 {r['decode_p50_ms']} ms; slowest {r['slowest']}"
        )
    lines += [
        f"warm ({w['call']}, {w['calls_each']} calls each, alternating):",
        *(
            f"  {label:5} replica: p50 {w[label]['p50_ms']} ms, p99 {w[label]['p99_ms']} ms; upstream requests "
            f"{w[label]['upstream_requests']}, plans {w[label]['plans']}, cache reads {w[label]['cache_reads_from_disk']}"
            for label in ("redis", "disk")
        ),
        f"  p50 difference (Redis - disk) {w['p50_difference_ms']} ms; loopback requests {w['loopback_requests_during_timed_calls']}",
        (
            f"throughput ({t['load_generator']}, {t['connections']} connections, {t['rounds']} rounds of "
            f"{t['seconds_per_run']} s each): one replica {t['one_calls_per_s']} calls/s, {REPLICAS} replicas "
            f"{t['three_calls_per_s']} calls/s, ratio {t['ratio']}"
        ),
        *(
            f"  {label}: "
            + ", ".join(
                f"{run['calls_per_s']}/s (CPU: replicas {run['replica_cpu_share']:.0%}, load generator "
                f"{run['load_generator_cpu_share']:.0%}, machine {run['machine_cpu_share']:.0%}: others "
                f"{run['machine_cpu_share'] - run['replica_cpu_share'] - run['load_generator_cpu_share']:.0%})"
                for run in t["runs"][label]
            )
            for label in ("one", "three")
        ),
        (
            f"  {t['calls']} calls, answers not 200: {t['answers_not_200']}; upstream requests "
            f"{t['upstream_requests_during_load']}, plans {t['plans_during_load']}, Redis reads "
            f"{t['redis_reads_during_load']}, loopback requests {t['loopback_requests_during_load']}"
        ),
        (
            f"single flight: {s['concurrent_calls']} concurrent identical cold calls over {s['replicas']} replicas "
            f"(upstream {s['upstream_delay_s']} s away) -> {s['upstream_requests']} upstream request(s); "
            f"slowest call {s['slowest_call_ms']} ms"
        ),
    ]
    return "\n".join(lines + verdict_lines(results))


def redis_version(store: Redis, binary: str) -> str:
    info = store.info("server")
    version = info.get("valkey_version") or info.get("redis_version")
    return f"{Path(binary).name} {version}"


async def run(args: argparse.Namespace) -> int:
    mode = "quick" if args.quick else "full"
    results: dict[str, Any] = {"mode": mode, "python": sys.version.split()[0]}
    results["load_before"] = [round(load, 2) for load in os.getloadavg()]
    routes = recorded_routes()
    routes[SINGLE_PATH] = delayed(SINGLE_DELAY, routes[SINGLE_PATH])
    upstream = LoopbackUpstream(routes)
    try:
        with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory) / "redis") as server:
            tmp = Path(directory)
            store = Redis.from_url(server.url)
            results["redis"] = redis_version(store, server.binary)
            shared = {**upstream.env(), "MCP_REGISTRIES_CACHE_URL": server.url}
            results["redis_hits"] = await redis_hits(shared, store, upstream, args.rounds, tmp)
            if not args.quick:
                results["records"] = records(store)
            store.flushall()
            async with AsyncExitStack() as stack:
                replicas = [
                    await stack.enter_async_context(
                        http_server(shared, stateless=True, log=tmp / f"replica{i}.log")
                    )
                    for i in range(REPLICAS)
                ]
                disk_env = {**upstream.env(), "MCP_REGISTRIES_CACHE_DIR": str(tmp / "disk-cache")}
                disk = await stack.enter_async_context(
                    http_server(disk_env, stateless=True, log=tmp / "disk.log")
                )
                results["single_flight"] = await single_flight(replicas, upstream)
                results["warm"] = await warm(replicas[0], disk, upstream, args.calls)
                results["throughput"] = await throughput(
                    replicas, upstream, args.load, args.throughput_rounds, args.seconds, args.connections, tmp
                )
                servers = {**{f"replica {i}": r for i, r in enumerate(replicas)}, "diskcache replica": disk}
                results["cache_states"] = {label: (await s.health())["cache"] for label, s in servers.items()}
            store.close()
            warnings = [
                line
                for log in sorted(tmp.glob("*.log"))
                for line in log.read_text().splitlines()
                if "WARNING" in line
            ]
            results["replica_warnings"] = warnings
    finally:
        upstream.close()
    if not args.quick:
        results["targets"] = verdicts(TARGETS, figures(results))
    text = table(results)
    if results["replica_warnings"]:
        text += "\nreplica warnings:\n  " + "\n  ".join(results["replica_warnings"][:10])
    return conclude(results, f"team-{mode}", text, checks(results), args.enforce_targets)


def main() -> int:
    parser = benchmark_parser(__doc__, "CI smoke: small counts, no targets judged")
    parser.add_argument(
        "--calls", type=int, default=400, help="timed warm calls on each replica (default 400)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="new second replicas, each asking every package once (default 10)",
    )
    parser.add_argument(
        "--throughput-rounds", type=int, default=3, help="rounds of one and three replicas (default 3)"
    )
    parser.add_argument("--seconds", type=int, default=5, help="seconds of each throughput run (default 5)")
    parser.add_argument("--connections", type=int, default=24, help="load generator connections (default 24)")
    parser.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if installed (auto), or Python processes",
    )
    args = parsed(parser)
    if not any(shutil.which(binary) for binary in BINARIES):
        parser.error("needs redis-server or valkey-server on PATH (apt-get install redis-server)")
    if args.load == "auto":
        args.load = "wrk" if shutil.which("wrk") else "python"
    elif args.load == "wrk" and not shutil.which("wrk"):
        parser.error("--load wrk: wrk is not installed (apt-get install wrk)")
    if args.quick:
        args.calls, args.rounds, args.throughput_rounds = min(args.calls, 20), 1, 1
        args.seconds, args.connections = min(args.seconds, 1), min(args.connections, 6)
    if (
        min(args.calls, args.rounds, args.throughput_rounds, args.connections) < 1
        or args.connections < REPLICAS
    ):
        parser.error(
            f"--calls, --rounds and --throughput-rounds must be at least 1, --connections at least {REPLICAS}"
        )
    return anyio.run(run, args)


if __name__ == "__main__":
    raise SystemExit(main())
