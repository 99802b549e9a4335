"""Benchmarks: cold calls against the network floor, warm latency and throughput, memory, single-flight.

    python benchmarks/bench.py            # full: the registries this machine reaches + a loopback upstream
    python benchmarks/bench.py --quick    # CI: loopback upstream only; exit 1 on a single-flight regression
                                          # or a warm call that fetches or parses again (no time thresholds)
    python benchmarks/bench.py --against /tmp/old   # full, with a second server importing the
                                          # mcp_registries package under /tmp/old, called in the same rounds

Every figure is a ratio against a baseline measured in the same run, or a count; the table goes to stdout
and everything to benchmarks/results/<mode>.json. Servers run as real subprocesses, as MCP clients run them.

The full mode judges its cold ratios against TARGETS and prints PASS or FAIL next to them. Its exit status
reflects only the counts (as --quick does), unless --enforce-targets: a ratio is a median over a few rounds
on whatever machine runs it, and on a shared one the cold median moves by more than the margin a target
leaves, so an exit status that followed it would fail for the neighbours' load. --quick measures no clock.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import anyio
import httpx
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
# The tests' loopback fake upstream (standard library only) serves the benchmarks too.
sys.path.insert(0, str(ROOT))
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from tests.upstream import Exchange, LoopbackUpstream, delayed, reply, throttled

DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "benchmarks" / "results"
NPM = "https://registry.npmjs.org/"
PYPI = "https://pypi.org/"

# Start the server in a way that leaves its pid (and where it imported the package from) behind, so its
# peak RSS can be read from /proc and a server started --against a tree can be checked to run that tree.
LAUNCH = (
    "import os, sys, mcp_registries; open(sys.argv[1], 'w').write(f'{os.getpid()} {mcp_registries.__file__}'); "
    "from mcp_registries.cli import main; sys.exit(main(sys.argv[2:]))"
)
#: The server of this checkout, in tables and results; servers started --against are named by their tree.
THIS = "this"


@dataclass(frozen=True)
class Target:
    """A bound on one cold figure (issue 9, decision (c)): printed PASS/FAIL next to it."""

    section: str
    figure: str  # median_ratio or max_ratio
    limit: float
    meaning: str


TARGETS = (
    # A link-speed upstream: the answer should cost little more than the download it needs.
    Target("cold_paced", "max_ratio", 1.05, "paced upstream (100 MB/s), every case"),
    # The mirror here outruns the receiving CPU, so these are a regression guard, not the goal.
    Target("cold", "median_ratio", 1.30, "mirror here, median of the cases"),
    Target("cold", "max_ratio", 1.60, "mirror here, every case"),
)
#: The paced target is stated for this rate; other --rate values are measured but not judged.
TARGET_RATE_MB_S = 100.0


@dataclass
class Case:
    label: str
    tool: str
    arguments: dict[str, Any]
    #: The cheapest upstream document(s) that hold the whole answer: the network floor.
    floor: list[str]
    #: Call durations by server (THIS, or the tree a server was started --against).
    calls: dict[str, list[float]] = field(default_factory=dict)
    baselines: list[float] = field(default_factory=list)

    def ratio(self, server: str = THIS) -> float:
        return statistics.median(self.calls[server]) / statistics.median(self.baselines)


def live_cases() -> list[Case]:
    return [
        Case("package npm react", "package", {"registry": "npm", "name": "react"}, [NPM + "react"]),
        Case("versions npm next", "versions", {"registry": "npm", "name": "next"}, [NPM + "next"]),
        Case(
            "versions npm typescript",
            "versions",
            {"registry": "npm", "name": "typescript"},
            [NPM + "typescript"],
        ),
        # Release date and tags of a version live only in the packument: it is the floor.
        Case(
            "version npm react 18.2.0",
            "version",
            {"registry": "npm", "name": "react", "version": "18.2.0"},
            [NPM + "react"],
        ),
        Case(
            "dependencies npm express 4.18.2",
            "dependencies",
            {"registry": "npm", "name": "express", "version": "4.18.2"},
            [NPM + "express/4.18.2"],
        ),
        Case(
            "package pypi requests",
            "package",
            {"registry": "pypi", "name": "requests"},
            [PYPI + "pypi/requests/json"],
        ),
        Case(
            "versions pypi botocore",
            "versions",
            {"registry": "pypi", "name": "botocore"},
            [PYPI + "pypi/botocore/json"],
        ),
        Case(
            "dependencies pypi django",
            "dependencies",
            {"registry": "pypi", "name": "django"},
            [PYPI + "pypi/django/json"],
        ),
    ]


def local_routes() -> dict[str, Path]:
    return {
        "/npm/react": DATA / "npm/react.json",
        "/npm/react/18.2.0": DATA / "npm/react@18.2.0.json",
        "/npm/express": DATA / "npm/express.json",
        "/npm/express/4.18.2": DATA / "npm/express@4.18.2.json",
        "/npm/ms": DATA / "npm/ms.json",
        "/pypi/pypi/requests/json": DATA / "pypi/requests.json",
        "/pypi/pypi/django/json": DATA / "pypi/Django.json",
        "/pypi/pypi/botocore/json": DATA / "pypi/botocore.json",
    }


LOCAL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("package", {"registry": "npm", "name": "react"}),
    ("versions", {"registry": "npm", "name": "express", "page": 2}),
    ("version", {"registry": "npm", "name": "react", "version": "18.2.0"}),
    ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}),
    ("package", {"registry": "pypi", "name": "requests"}),
    ("versions", {"registry": "pypi", "name": "botocore"}),
    ("dependencies", {"registry": "pypi", "name": "django"}),
    ("maintainer", {"registry": "pypi", "name": "requests"}),
]


def server_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_REGISTRIES_")}
    env.update(extra)
    return env


@asynccontextmanager
async def stdio_server(env: dict[str, str], pidfile: Path, tree: Path | None = None) -> AsyncIterator[Client]:
    """A server over stdio; with `tree`, one that imports the mcp_registries package found there."""
    if tree is not None:
        # PYTHONSAFEPATH: no current directory ahead of PYTHONPATH, which may be this checkout.
        env = {**env, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    params = StdioServerParameters(
        command=sys.executable, args=["-c", LAUNCH, str(pidfile)], env=server_env(env)
    )
    # The legacy handshake keeps `ping`, the protocol's cheapest round trip: the floor of every call.
    async with Client(params, mode="legacy") as client:
        if tree is not None:
            imported = Path(pidfile.read_text().split(maxsplit=1)[1])
            if not imported.is_relative_to(tree.resolve()):
                raise RuntimeError(f"--against {tree}: the server imported {imported} instead")
        yield client


def server_pid(pidfile: Path) -> int:
    return int(pidfile.read_text().split()[0])


def peak_rss_mb(pidfile: Path) -> float:
    pid = server_pid(pidfile)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> None:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{tool} {arguments}: {result.content[0].text}")  # type: ignore[union-attr]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float, digits: int = 1) -> float:
    return round(seconds * 1000, digits)


def spread(values: list[float], digits: int = 1) -> dict[str, float]:
    return {
        "p50_ms": ms(statistics.median(values), digits),
        "p90_ms": ms(percentile(values, 0.90), digits),
        "p99_ms": ms(percentile(values, 0.99), digits),
        "max_ms": ms(max(values), digits),
    }


def slowest(by_label: dict[str, list[float]], count: int = 5, digits: int = 1) -> dict[str, float]:
    """The labels (queries, packages) whose median time is longest: where to look first in a profile."""
    medians = {label: statistics.median(spent) for label, spent in by_label.items()}
    return {
        label: ms(medians[label], digits) for label in sorted(medians, key=medians.__getitem__)[-count:][::-1]
    }


# -- cold: each call against the network floor, interleaved ------------------------------------


async def cold(
    rounds: int,
    tmp: Path,
    cases: list[Case] | None = None,
    env: dict[str, str] | None = None,
    against: Sequence[Path] = (),
) -> dict[str, Any]:
    cases = live_cases() if cases is None else cases
    servers = {THIS: None, **{str(tree): tree for tree in against}}
    async with AsyncExitStack() as stack:
        clients = {
            label: await stack.enter_async_context(
                stdio_server({**(env or {}), "MCP_REGISTRIES_CACHE": "off"}, tmp / f"cold{i}.pid", tree)
            )
            for i, (label, tree) in enumerate(servers.items())
        }
        raw = await stack.enter_async_context(
            httpx.AsyncClient(timeout=60, headers={"Accept-Encoding": "gzip"})
        )
        ping = clients[THIS]

        async def floor(case: Case) -> None:
            started = time.perf_counter()
            for url in case.floor:
                response = await raw.get(url)
                response.read()
            await ping.send_ping()
            case.baselines.append(time.perf_counter() - started)

        def tool(server: str) -> Callable[[Case], Awaitable[None]]:
            async def timed(case: Case) -> None:
                started = time.perf_counter()
                await call(clients[server], case.tool, case.arguments)
                case.calls.setdefault(server, []).append(time.perf_counter() - started)

            return timed

        steps = [floor, *(tool(server) for server in servers)]
        for case in cases:  # warm connections and imports on every side
            for step in steps:
                await step(case)
            case.baselines.clear()
            case.calls.clear()
        for round_ in range(rounds):
            # Rotate which goes first, so drift between them cancels out.
            turn = round_ % len(steps)
            for case in cases:
                for step in steps[turn:] + steps[:turn]:
                    await step(case)
    return summary(cases, servers)


def summary(cases: list[Case], servers: dict[str, Path | None]) -> dict[str, Any]:
    ratios = [case.ratio() for case in cases]
    result: dict[str, Any] = {
        "cases": {
            case.label: {
                "call_ms": round(statistics.median(case.calls[THIS]) * 1000, 1),
                "floor_ms": round(statistics.median(case.baselines) * 1000, 1),
                "ratio": round(case.ratio(), 3),
                # Every round, for the spread (calls and floors alternate within a round).
                "rounds_call_ms": [round(t * 1000, 1) for t in case.calls[THIS]],
                "rounds_floor_ms": [round(t * 1000, 1) for t in case.baselines],
                **{
                    f"against {server}": {
                        "call_ms": round(statistics.median(case.calls[server]) * 1000, 1),
                        "ratio": round(case.ratio(server), 3),
                    }
                    for server in servers
                    if server != THIS
                },
            }
            for case in cases
        },
        "median_ratio": round(statistics.median(ratios), 3),
        "max_ratio": round(max(ratios), 3),
    }
    for server in servers:
        if server != THIS:
            theirs = [case.ratio(server) for case in cases]
            result[f"against {server}"] = {
                "median_ratio": round(statistics.median(theirs), 3),
                "max_ratio": round(max(theirs), 3),
            }
    return result


# -- cold at a link speed: the same packuments, paced by a loopback upstream --------------------


#: Big documents, fetched from the mirror at the start of a run: (registry, name) -> tool, arguments.
PACED: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("npm", "react"): ("package", {"registry": "npm", "name": "react"}),
    ("npm", "typescript"): ("versions", {"registry": "npm", "name": "typescript"}),
    ("pypi", "botocore"): ("versions", {"registry": "pypi", "name": "botocore"}),
    ("pypi", "boto3"): ("package", {"registry": "pypi", "name": "boto3"}),
}
#: Where each registry's document lives, under the mirror and under the loopback upstream.
PACED_PATHS = {"npm": (NPM + "{}", "npm/{}"), "pypi": (PYPI + "pypi/{}/json", "pypi/pypi/{}/json")}


async def paced(rounds: int, tmp: Path, rate: float, against: Sequence[Path]) -> dict[str, Any]:
    """Cold calls for big documents served at `rate` bytes/s: on a link slower than this machine's
    mirror (whose downloads are bound by the receiving CPU), how close the answer comes to the fetch."""
    bodies: dict[str, bytes] = {}
    async with httpx.AsyncClient(timeout=60) as live:
        for registry, name in PACED:
            mirror, local = PACED_PATHS[registry]
            bodies["/" + local.format(name)] = (
                (await live.get(mirror.format(name))).raise_for_status().content
            )
    upstream = LoopbackUpstream({path: throttled(body, rate) for path, body in bodies.items()})
    try:
        cases = [
            Case(
                f"{tool} {registry} {name} at {rate / 1e6:.0f} MB/s",
                tool,
                arguments,
                [upstream.url + PACED_PATHS[registry][1].format(name)],
            )
            for (registry, name), (tool, arguments) in PACED.items()
        ]
        result = await cold(rounds, tmp, cases, upstream.env(), against)
        result["rate_mb_s"] = rate / 1e6
        result["document_bytes"] = {path: len(body) for path, body in bodies.items()}
        return result
    finally:
        upstream.close()


# -- memory: peak RSS of a server after a cold versions of npm next -----------------------------


async def memory(tmp: Path) -> dict[str, Any]:
    pidfile = tmp / "memory.pid"
    async with stdio_server({"MCP_REGISTRIES_CACHE": "off"}, pidfile) as client:
        idle = peak_rss_mb(pidfile)
        await call(client, "versions", {"registry": "npm", "name": "next"})
        peak = peak_rss_mb(pidfile)
    return {"idle_peak_rss_mb": round(idle, 1), "peak_rss_mb_after_versions_next": round(peak, 1)}


# -- warm: repeated calls over stdio, and throughput over streamable HTTP ------------------------


async def warm_stdio(
    env: dict[str, str],
    calls: list[tuple[str, dict[str, Any]]],
    repeats: int,
    tmp: Path,
    upstream: LoopbackUpstream | None,
) -> dict[str, Any]:
    async with stdio_server(
        {**env, "MCP_REGISTRIES_CACHE_DIR": str(tmp / "warm-cache")}, tmp / "warm.pid"
    ) as client:
        floor: list[float] = []
        for tool, arguments in calls:
            await call(client, tool, arguments)
        before = upstream.total if upstream else None
        timings: list[float] = []
        for _ in range(repeats):
            for tool, arguments in calls:
                started = time.perf_counter()
                await call(client, tool, arguments)
                timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.send_ping()
            floor.append(time.perf_counter() - started)
        after = upstream.total if upstream else None
    return {
        "calls": len(timings),
        "p50_ms": round(percentile(timings, 0.5) * 1000, 3),
        "p99_ms": round(percentile(timings, 0.99) * 1000, 3),
        "ping_p50_ms": round(percentile(floor, 0.5) * 1000, 3),
        "upstream_requests_during_warm_calls": None if before is None else after - before,  # type: ignore[operator]
    }


@dataclass(frozen=True)
class HttpServer:
    """A server process on `--transport http` (MCP, REST and /healthz on one port), as a replica runs."""

    base: str
    process: subprocess.Popen[bytes]

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            answer: dict[str, Any] = (await client.get(self.base + "/healthz")).raise_for_status().json()
        return answer

    async def stats(self) -> dict[str, Any]:
        """The server's counters (plans, upstream_requests, cache_reads_from_disk, ...)."""
        stats: dict[str, Any] = (await self.health()).get("stats", {})
        return stats


@asynccontextmanager
async def http_server(
    env: dict[str, str], *, stateless: bool = False, log: Path | None = None
) -> AsyncIterator[HttpServer]:
    """A server on a free loopback port, once /healthz answers; stopped (SIGTERM) on the way out. It runs
    from this checkout (cwd: `-m` imports the package found there), its stderr goes to `log` if given."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mode = ["--stateless"] if stateless else []
    with open(log or os.devnull, "ab") as errors:  # noqa: ASYNC230 - a local file, opened at once
        process = subprocess.Popen(  # noqa: ASYNC220 - starting the server process does not wait on it
            [sys.executable, "-m", "mcp_registries", "--transport", "http", *mode, "--port", str(port)],
            env=server_env(env),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    server = HttpServer(f"http://127.0.0.1:{port}", process)
    try:
        for _ in range(200):
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} (its stderr: {log})")
            try:
                await server.health()
                break
            except httpx.TransportError:
                await anyio.sleep(0.05)
        else:
            raise RuntimeError(f"the server did not answer /healthz within 10 s (its stderr: {log})")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)


async def warm_http(
    env: dict[str, str],
    calls: list[tuple[str, dict[str, Any]]],
    clients: int,
    seconds: float,
    tmp: Path,
    upstream: LoopbackUpstream | None,
) -> dict[str, Any]:
    async with http_server({**env, "MCP_REGISTRIES_CACHE_DIR": str(tmp / "http-cache")}) as server:
        # The first calls fetch and parse; later ones must not.
        async with Client(server.base + "/mcp") as warmer:
            for tool, arguments in calls:
                await call(warmer, tool, arguments)
        stats_before = await server.stats()
        done = 0
        deadline = 0.0

        async def worker(index: int) -> None:
            nonlocal done
            async with LeanSession(server.base + "/mcp") as session:
                while time.perf_counter() < deadline:
                    tool, arguments = calls[done % len(calls)]
                    await session.call(tool, arguments)
                    done += 1

        before = upstream.total if upstream else None
        pid = server.process.pid
        cpu_before = process_cpu_seconds(pid), time.process_time()
        async with anyio.create_task_group() as group:
            started = time.perf_counter()
            deadline = started + seconds
            for index in range(clients):
                group.start_soon(worker, index)
        elapsed = time.perf_counter() - started
        server_cpu = (process_cpu_seconds(pid) - cpu_before[0]) / elapsed
        client_cpu = (time.process_time() - cpu_before[1]) / elapsed
        stats_after = await server.stats()
    return {
        "clients": clients,
        "calls": done,
        "calls_per_s": round(done / elapsed, 1),
        # Which side the 2 cores went to: a load generator at 100% measures itself, not the server.
        "server_cpu_share": round(server_cpu, 2),
        "load_generator_cpu_share": round(client_cpu, 2),
        "plans_during_run": stats_after.get("plans", 0) - stats_before.get("plans", 0),
        # A warm answer is a live object in memory: reading (unpickling) it from disk again is a re-parse.
        "disk_reads_during_run": stats_after.get("cache_reads_from_disk", 0)
        - stats_before.get("cache_reads_from_disk", 0),
        "upstream_requests_during_run": None if before is None else upstream.total - before,  # type: ignore[union-attr]
    }


class LeanSession:
    """A minimal streamable-HTTP MCP client: initialize once, then one POST per `tools/call`.

    The SDK's client spends about three times the server's CPU on each call (it validates every result
    against the tool's outputSchema, among other things), so 32 of them in one process saturate a core
    before the server does. This one checks each answer (JSON-RPC result, not an error, structured
    content present) and nothing more, so the figure is the server's.
    """

    PROTOCOL = "2025-06-18"

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(timeout=30)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self.next_id = 0

    async def __aenter__(self) -> Self:
        params = {
            "protocolVersion": self.PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        }
        response = await self.http.post(
            self.url, json=self._request("initialize", params), headers=self.headers
        )
        self._result(response)
        self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        self.headers["MCP-Protocol-Version"] = self.PROTOCOL
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        (await self.http.post(self.url, json=note, headers=self.headers)).raise_for_status()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.delete(self.url, headers=self.headers)
        await self.http.aclose()

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}

    @staticmethod
    def _result(response: httpx.Response) -> dict[str, Any]:
        response.raise_for_status()
        if response.headers.get("content-type", "").startswith("application/json"):
            message = response.json()
        else:  # an event stream: the answer is the `data:` of its message event
            data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
            message = json.loads(data[-1])
        if "result" not in message:
            raise RuntimeError(f"no result: {message}")
        return message["result"]  # type: ignore[no-any-return]

    async def call(self, tool: str, arguments: dict[str, Any]) -> None:
        request = self._request("tools/call", {"name": tool, "arguments": arguments})
        result = self._result(await self.http.post(self.url, json=request, headers=self.headers))
        if result.get("isError") or "structuredContent" not in result:
            raise RuntimeError(f"{tool} {arguments}: {result}")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- profile: a server's own Service in this process, under cProfile -------------------------------------


async def profile(
    name: str, settings: dict[str, Any], calls: dict[str, tuple[str, dict[str, Any]]], tmp: Path, repeats: int
) -> dict[str, Any]:
    """Each labelled call (tool, arguments) on a new Service with an empty cache: a cold call then `repeats`
    warm ones, each phase under cProfile. The top functions by own time go to stdout, the whole profiles to
    benchmarks/results/<name>-profile-<label>-<phase>.pstats. cProfile sees the event loop's thread only:
    TLS set-up, cache reads and writes, and whatever a tool runs in a worker thread are not in it."""
    found: dict[str, Any] = {}
    RESULTS.mkdir(exist_ok=True)
    for label, (tool, arguments) in calls.items():
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        service = Service(Settings.model_validate({**settings, "cache_dir": tmp / f"profile-{slug}"}))
        try:
            for phase, count in (("cold", 1), ("warm", repeats)):
                profiler = cProfile.Profile()
                times = []
                for _ in range(count):
                    started = time.perf_counter()
                    profiler.enable()
                    await service.call(tool, arguments)
                    profiler.disable()
                    times.append(time.perf_counter() - started)
                stats = f"{name}-profile-{slug}-{phase}.pstats"
                profiler.dump_stats(RESULTS / stats)
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
                found[f"{label} {phase}"] = {"p50_ms": ms(statistics.median(times)), "pstats": stats}
                print(f"== {label}, {phase}: p50 {ms(statistics.median(times))} ms (under cProfile)")
                print("\n".join(out.getvalue().splitlines()[6:]))
        finally:
            await service.aclose()
    return found


# -- the mirror's documents: relayed on loopback (a census of what a server fetches), and fetched raw ------


class Relay:
    """The mirror's answer for the same path and Accept header, fetched once and kept. `moved`: URLs that
    answers name (a file host's, in PyPI's documents) rewritten to where the loopback serves them, so that
    a server asks there for those too."""

    def __init__(self, origins: dict[str, str], moved: dict[str, str] | None = None) -> None:
        self.origins = origins  # loopback path prefix -> mirror base
        self.moved = {old.encode(): new.encode() for old, new in (moved or {}).items()}
        self.client = httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"})
        self.kept: dict[tuple[str, str], tuple[int, bytes, str]] = {}
        self.lock = threading.Lock()

    def source(self, path: str, accept: str | None) -> tuple[str, str]:
        """The mirror's URL for a loopback path, and the Accept header it is asked with."""
        prefix = max((p for p in self.origins if path.startswith(p)), key=len)
        return self.origins[prefix] + path[len(prefix) :], accept or "*/*"

    def __call__(self, ex: Exchange) -> None:
        key = self.source(ex.path, ex.header("Accept"))
        with self.lock:
            kept = self.kept.get(key)
        if kept is None:
            response = self.client.get(key[0], headers={"Accept": key[1]})
            body = response.content
            for old, new in self.moved.items():
                body = body.replace(old, new)
            kept = (response.status_code, body, response.headers.get("content-type", ""))
            with self.lock:
                self.kept[key] = kept
        status, body, kind = kept
        ex.send(status, body, {"Content-Type": kind or "application/json"})

    def close(self) -> None:
        self.client.close()
        self.kept.clear()


def last_header(upstream: LoopbackUpstream, path: str, name: str) -> str | None:
    """The header `name` of the last request for `path` the loopback upstream received."""
    return next((v for k, v in upstream.headers[path][-1].items() if k.lower() == name.lower()), None)


#: A request of a floor this slow waited out the resolver's 5 s timeout (resolv.conf's default).
STALL = 4.5


async def fetch_floor(
    documents: Sequence[tuple[str, str]], in_flight: int, server: Client
) -> tuple[float, int, int]:
    """The documents (URL, Accept header) fetched at most `in_flight` at a time by a new raw client (new
    connections, as a new server process opens), then one ping of the server: (seconds, body bytes,
    requests that took STALL seconds or more: a lost DNS answer waited out). A 404 is a document too."""
    limiter = anyio.CapacityLimiter(in_flight)
    received = stalls = 0

    async def one(raw: httpx.AsyncClient, url: str, accept: str) -> None:
        nonlocal received, stalls
        async with limiter:
            started = time.perf_counter()
            response = await raw.get(url, headers={"Accept": accept})
            if response.status_code not in (404, 410):
                response.raise_for_status()
            received += len(response.content)
            stalls += time.perf_counter() - started >= STALL

    async with httpx.AsyncClient(timeout=60, headers={"Accept-Encoding": "gzip"}) as raw:
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for url, accept in documents:
                group.start_soon(one, raw, url, accept)
        await server.send_ping()
        return time.perf_counter() - started, received, stalls


async def repeated(
    client: Client, pid: int, calls: int, timed: Callable[[], Awaitable[float]]
) -> dict[str, Any]:
    """`calls` warm calls (`timed` makes one and returns its seconds), each followed by a ping: the median
    call, and the server-side time (median call minus median ping), with the server's CPU per call."""
    times: list[float] = []
    pings: list[float] = []
    cpu = process_cpu_seconds(pid)
    for _ in range(calls):
        times.append(await timed())
        started = time.perf_counter()
        await client.send_ping()
        pings.append(time.perf_counter() - started)
    cpu = process_cpu_seconds(pid) - cpu
    return {
        "calls": calls,
        "call_p50_ms": ms(statistics.median(times)),
        "call_p90_ms": ms(percentile(times, 0.9)),
        "ping_p50_ms": ms(statistics.median(pings)),
        "server_side_ms": ms(statistics.median(times) - statistics.median(pings)),
        "server_cpu_ms_per_call": ms(cpu / calls),
    }


# -- single-flight: 50 concurrent identical cold calls -----------------------------------------


async def single_flight(tmp: Path, concurrent: int = 50) -> dict[str, Any]:
    upstream = LoopbackUpstream(
        {"/npm/react": delayed(0.3, reply(200, (DATA / "npm/react.json").read_bytes()))}
    )
    try:
        env = {**upstream.env(), "MCP_REGISTRIES_CACHE_DIR": str(tmp / "sf-cache")}
        async with stdio_server(env, tmp / "sf.pid") as client, anyio.create_task_group() as group:
            for _ in range(concurrent):
                group.start_soon(call, client, "versions", {"registry": "npm", "name": "react"})
        return {"concurrent_calls": concurrent, "upstream_requests": upstream.hits["/npm/react"]}
    finally:
        upstream.close()


# -- report -------------------------------------------------------------------------------------


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target next to its figure (none for a section this run did not measure)."""
    verdicts = []
    for target in TARGETS:
        section = results.get(target.section)
        if section is None or section.get("rate_mb_s", TARGET_RATE_MB_S) != TARGET_RATE_MB_S:
            continue
        value = section[target.figure]
        verdicts.append(
            {
                "target": target.meaning,
                "section": target.section,
                "figure": target.figure,
                "value": value,
                "limit": target.limit,
                "pass": value <= target.limit,
            }
        )
    return verdicts


def cold_table(title: str, section: dict[str, Any], verdicts: list[dict[str, Any]], name: str) -> list[str]:
    against = [key.removeprefix("against ") for key in section if key.startswith("against ")]
    header = f"{title:44} {'call ms':>9} {'floor ms':>9} {'ratio':>7}"
    lines = [header + "".join(f"  {'vs ' + Path(tree).name:>16}" for tree in against)]
    every = next((v for v in verdicts if v["section"] == name and v["figure"] == "max_ratio"), None)
    for label, row in section["cases"].items():
        line = f"  {label:42} {row['call_ms']:9.1f} {row['floor_ms']:9.1f} {row['ratio']:7.3f}"
        line += "".join(f"  {row['against ' + tree]['ratio']:16.3f}" for tree in against)
        if every is not None:
            line += f"  {'PASS' if row['ratio'] <= every['limit'] else 'FAIL'} (<= {every['limit']:.2f})"
        lines.append(line)
    median = f"  {'median ratio / max ratio':42} {'':9} {'':9} {section['median_ratio']:7.3f} / {section['max_ratio']:.3f}"
    median += "".join(
        f"  {section['against ' + tree]['median_ratio']:7.3f} / {section['against ' + tree]['max_ratio']:.3f}"
        for tree in against
    )
    lines.append(median)
    for verdict in verdicts:
        if verdict["section"] == name:
            lines.append(
                f"  target: {verdict['target']}: {verdict['figure'].replace('_', ' ')} {verdict['value']:.3f} "
                f"<= {verdict['limit']:.2f}: {'PASS' if verdict['pass'] else 'FAIL'}"
            )
    return lines


def table(results: dict[str, Any]) -> str:
    lines = []
    verdicts = results.get("targets", [])
    if "cold" in results:
        lines += cold_table("cold (cache off), this machine's mirror", results["cold"], verdicts, "cold")
    if "cold_paced" in results:
        lines += cold_table("cold, upstream paced (loopback)", results["cold_paced"], verdicts, "cold_paced")
    if "warm_stdio" in results:
        w = results["warm_stdio"]
        lines.append(
            f"warm stdio: {w['calls']} calls, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms (ping p50 {w['ping_p50_ms']} ms)"
            f"{'' if w['upstream_requests_during_warm_calls'] is None else ', upstream requests ' + str(w['upstream_requests_during_warm_calls'])}"
        )
    if "warm_http" in results:
        w = results["warm_http"]
        lines.append(
            f"warm streamable HTTP: {w['clients']} clients, {w['calls']} calls, {w['calls_per_s']} calls/s, plans run "
            f"{w['plans_during_run']} (CPU: server {w['server_cpu_share']:.0%}, load generator {w['load_generator_cpu_share']:.0%})"
        )
    if "memory" in results:
        m = results["memory"]
        lines.append(
            f"memory: peak RSS {m['peak_rss_mb_after_versions_next']} MB after a cold versions of npm next (idle {m['idle_peak_rss_mb']} MB)"
        )
    if "single_flight" in results:
        s = results["single_flight"]
        lines.append(
            f"single-flight: {s['concurrent_calls']} concurrent identical cold calls -> {s['upstream_requests']} upstream request(s)"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    mode = "quick" if args.quick else "cold" if args.cold_only else "full"
    results: dict[str, Any] = {"mode": mode, "python": sys.version.split()[0]}
    # Other work on the machine moves every clock: the load averages say how busy it was.
    results["load_before"] = [round(load, 2) for load in os.getloadavg()]
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        if not args.cold_only:
            results["single_flight"] = await single_flight(tmp)
            upstream = LoopbackUpstream(
                {path: reply(200, file.read_bytes()) for path, file in local_routes().items()}
            )
            try:
                env = upstream.env()
                results["warm_stdio"] = await warm_stdio(env, LOCAL_CALLS, args.repeats, tmp, upstream)
                results["warm_http"] = await warm_http(
                    env, LOCAL_CALLS, args.clients, args.seconds, tmp, upstream
                )
            finally:
                upstream.close()
        if not args.quick:
            results["cold"] = await cold(args.rounds, tmp, against=args.against)
            results["cold_paced"] = await paced(args.rounds, tmp, args.rate * 1e6, args.against)
            if not args.cold_only:
                results["memory"] = await memory(tmp)
            results["targets"] = judge(results)
    results["load_after"] = [round(load, 2) for load in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{results['mode']}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"load average (1, 5, 15 min): {results['load_before']} before, {results['load_after']} after")
    failures = []
    if not args.cold_only:
        if results["single_flight"]["upstream_requests"] != 1:
            failures.append("single-flight: 50 identical cold calls made more than one upstream request")
        if results["warm_stdio"]["upstream_requests_during_warm_calls"]:
            failures.append("warm stdio calls went upstream again")
        warm = results["warm_http"]
        if warm["plans_during_run"] or warm["upstream_requests_during_run"] or warm["disk_reads_during_run"]:
            failures.append("warm HTTP calls fetched or parsed again")
    missed = [v for v in results.get("targets", []) if not v["pass"]]
    if args.enforce_targets:
        failures += [f"target {v['target']}: {v['value']:.3f} > {v['limit']:.2f}" for v in missed]
    elif missed:
        print(f"{len(missed)} timing target(s) missed; the exit status ignores them (see --enforce-targets)")
    for failure in failures:
        print("FAIL: " + failure, file=sys.stderr)
    return 1 if failures else 0


@dataclass(frozen=True)
class Bound:
    """A target of search.py, audit.py, team.py or tree.py on one figure of its results, printed PASS/FAIL next to it:
    a ceiling, or a floor when `at_least`."""

    figure: str
    limit: float
    unit: str
    meaning: str
    at_least: bool = False


def verdicts(bounds: Sequence[Bound], values: dict[str, float]) -> list[dict[str, Any]]:
    """Each bound beside its figure, as `conclude` reads them (results["targets"])."""
    return [
        {
            "target": b.meaning,
            "figure": b.figure,
            "value": values[b.figure],
            "limit": b.limit,
            "unit": b.unit,
            "at_least": b.at_least,
            "pass": values[b.figure] >= b.limit if b.at_least else values[b.figure] <= b.limit,
        }
        for b in bounds
    ]


def verdict_lines(results: dict[str, Any]) -> list[str]:
    return [
        f"target: {v['target']}: {v['value']} {v['unit']} {'>=' if v['at_least'] else '<='} {v['limit']} "
        f"{v['unit']}: {'PASS' if v['pass'] else 'FAIL'}"
        for v in results.get("targets", [])
    ]


def benchmark_parser(doc: str | None, quick: str) -> argparse.ArgumentParser:
    """The options search.py, audit.py, team.py and tree.py share: --quick (its help `quick`) and
    --enforce-targets; `parsed` reads them."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--enforce-targets",
        action="store_true",
        help="exit 1 when a target is missed too (for a quiet machine)",
    )
    return parser


def cold_options(parser: argparse.ArgumentParser, call: str) -> None:
    """audit.py's and tree.py's: the pause before each timed cold step, and the in-process profile."""
    parser.add_argument(
        "--gap",
        type=float,
        default=1.5,
        help="seconds of pause before each timed cold step, so DNS bursts do not queue (default 1.5)",
    )
    parser.add_argument(
        "--profile", action="store_true", help=f"also profile a cold and warm {call} of each in this process"
    )


def parsed(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if args.quick and args.enforce_targets:
        parser.error("--quick judges no clock: --enforce-targets goes with a full run")
    return args


def conclude(results: dict[str, Any], name: str, text: str, failures: list[str], enforce: bool) -> int:
    """The end of search.py's, audit.py's, team.py's and tree.py's runs: results written to results/<name>.json, the table and the
    load printed, missed targets said (and counted as failures only when enforced); the exit status."""
    results["load_after"] = [round(load, 2) for load in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
    print(f"load average (1, 5, 15 min): {results['load_before']} before, {results['load_after']} after")
    missed = [v for v in results.get("targets", []) if not v["pass"]]
    if enforce:
        failures = [
            *failures,
            *(
                f"target {v['target']}: {v['value']} {'<' if v['at_least'] else '>'} {v['limit']} {v['unit']}"
                for v in missed
            ),
        ]
    elif missed:
        print(f"{len(missed)} target(s) missed; the exit status ignores them (see --enforce-targets)")
    for failure in failures:
        print("FAIL: " + failure, file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="loopback upstream only; for CI")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds of cold calls (full mode)")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="MB/s at which the paced cold cases are served (full mode)"
    )
    parser.add_argument("--repeats", type=int, default=60, help="rounds of warm stdio calls")
    parser.add_argument("--clients", type=int, default=32, help="concurrent streamable HTTP clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the HTTP throughput run")
    parser.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        metavar="TREE",
        help="also time the cold calls of a server importing mcp_registries from TREE (e.g. an old commit's "
        "`git archive`), in the same rounds; repeatable (full mode)",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="the full mode's cold sections only, into results/cold.json: for comparing trees",
    )
    parser.add_argument(
        "--enforce-targets",
        action="store_true",
        help="exit 1 when a timing target is missed too (full mode; for a quiet machine)",
    )
    args = parser.parse_args()
    if args.quick and (args.against or args.cold_only or args.enforce_targets):
        parser.error("--against, --cold-only and --enforce-targets go with the full mode, not --quick")
    if args.quick:
        args.repeats, args.seconds, args.clients = (
            min(args.repeats, 20),
            min(args.seconds, 2.0),
            min(args.clients, 8),
        )
    return anyio.run(run, args)


if __name__ == "__main__":
    raise SystemExit(main())
