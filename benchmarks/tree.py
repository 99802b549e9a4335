"""Tree benchmark (issue 15): `tree` of a real npm package and of a Python web framework with its standard
extra, cold against this machine's mirror beside the floor of fetching the same documents; warm; the memory
of resolving a tree of over 500 packages.

    python benchmarks/tree.py                    # this machine's mirror (the default public URLs reach it)
    python benchmarks/tree.py --quick            # CI smoke: loopback only, recorded documents, counts not clocks
    python benchmarks/tree.py --enforce-targets  # exit 1 when a target is missed too
    python benchmarks/tree.py --profile          # also a cold and a warm tree of each (react-scripts too)
                                                 # under cProfile, in this process with the server's Service

Servers are real stdio subprocesses started by bench.py's `stdio_server`, importing this checkout's package
(checked: the one the venv installs may be another checkout's), with OSV off (`tree` never asks it). The
table goes to stdout and everything to benchmarks/results/tree-<mode>.json.

- census: one server whose upstream is a loopback relay of the mirror (bench.py's `Relay`: the mirror's
  answers, fetched once and kept; PyPI's file URLs rewritten to the loopback, so its core metadata files
  are asked there too) resolves each case once: the documents it fetched (URL and Accept header) are the
  floor's. The same call again on that server, and then every warm call, must fetch nothing. A second
  server (empty cache) makes the call twice at once: the documents fetched twice are counted (see
  `pair`). The answer's total, depth, duplicated names and unresolved edges are counted from a call that
  names its page_size (a default answer past the text budget lists fewer of them).
- cold: per round and case, a new server with an empty cache directory, started untimed, then in turn (the
  order alternating by round) its first `tree` call and the floor: a new raw httpx client fetching the
  census's documents from the mirror, at most 16 in flight (the resolvers' own bound), plus one MCP ping
  of that server. Target: median call <= 3 s; beside it the ratio call / floor. Each timed step waits
  --gap seconds first, as audit.py's do (this machine's resolver drops a second burst of lookups).
- warm: on each cold server after its cold call, the same call --warm-calls times, each followed by a
  ping. Server-side time: call minus ping (bench.py's `repeated`). Target: median <= 100 ms.
- memory: a new server, empty cache, resolves npm react-scripts 5.0.1 (1,212 packages) cold. Target:
  its peak RSS (VmHWM) <= 200 MB; the tree must hold 500 packages or more.

The exit status reflects the counts only (an error answer, a document fetched twice, a repeated call that
went upstream, a big tree under 500 packages), unless --enforce-targets. --quick serves the documents the
resolvers' tests recorded (tests/data/tree/) on loopback and judges no clock.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
from mcp import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench import (
    STALL,
    Bound,
    Relay,
    benchmark_parser,
    cold_options,
    conclude,
    fetch_floor,
    last_header,
    ms,
    parsed,
    peak_rss_mb,
    profile,
    repeated,
    server_pid,
    stdio_server,
    verdict_lines,
    verdicts,
)
from mcp_registries.operations import TREE_PAGE_SIZE
from mcp_registries.pypi_provider import PREFETCH
from mcp_registries.tree_npm import IN_FLIGHT
from tests.upstream import Behaviour, Exchange, LoopbackUpstream, reply

RECORDED = ROOT / "tests" / "data" / "tree"
FILES = "https://files.pythonhosted.org/"
#: The mirror, under the public URLs; the loopback serves each under a path prefix (tests/upstream.PREFIXES).
MIRROR = {"/npm/": "https://registry.npmjs.org/", "/pypi/": "https://pypi.org/", "/files/": FILES}
#: Documents in flight at once, each resolver's own bound: the floor fetches at the same.
BOUND = {"npm": IN_FLIGHT, "pypi": PREFETCH}


@dataclass(frozen=True)
class Case:
    label: str
    arguments: dict[str, Any]

    @property
    def registry(self) -> str:
        return str(self.arguments["registry"])


CASES = (
    Case("npm express 4.18.2", {"registry": "npm", "name": "express", "version": "4.18.2"}),
    # The version the PyPI resolver's tests compare with pip's answer (tests/pip_oracle.py).
    Case(
        "pypi fastapi[standard] 0.115.6",
        {"registry": "pypi", "name": "fastapi", "version": "0.115.6", "extras": ["standard"]},
    ),
)
BIG = Case("npm react-scripts 5.0.1", {"registry": "npm", "name": "react-scripts", "version": "5.0.1"})
#: The fewest packages a tree must hold for the memory target to mean anything (issue 15).
BIG_AT_LEAST = 500

#: Issue 15's bounds.
TARGETS = (
    *(
        Bound(f"cold_ms|{c.label}", 3000, "ms", f"{c.label}: cold tree (new server, empty cache)")
        for c in CASES
    ),
    *(Bound(f"warm_ms|{c.label}", 100, "ms", f"{c.label}: warm tree, server-side") for c in CASES),
    Bound("peak_rss_mb", 200, "MB", f"{BIG.label}: peak RSS of a server resolving it cold"),
)


@dataclass
class Answer:
    seconds: float
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


async def tree(client: Client, arguments: dict[str, Any]) -> Answer:
    started = time.perf_counter()
    result = await client.call_tool("tree", arguments)
    spent = time.perf_counter() - started
    data = result.structured_content
    if result.is_error or data is None:
        return Answer(spent, result.content[0].text[:300])  # type: ignore[union-attr]
    figures = {
        "total": data["total"],
        "max_depth": data["max_depth"],
        "duplicates": len(data["duplicates"]),
        "unresolved": len(data["unresolved"]),
        "notes": len(data["notes"]),
    }
    return Answer(spent, None, figures)


def check(label: str, what: str, answer: Answer, failures: list[str]) -> None:
    if answer.error is not None:
        failures.append(f"{label}: {what} answered an error: {answer.error}")
    elif not answer.figures["total"]:
        failures.append(f"{label}: {what} answered an empty tree")


def server_env(upstream: LoopbackUpstream) -> dict[str, str]:
    """A server asking the loopback for everything: the registries, and PyPI's file host under /files/."""
    return {**upstream.env(), "MCP_REGISTRIES_PYPI_FILES_URL": upstream.url + "files"}


# -- census: what a cold tree fetches, and what a repeated one must not ---------------------------------


async def census(
    cases: tuple[Case, ...],
    upstream: LoopbackUpstream,
    relay: Relay | None,
    warm_calls: int,
    tmp: Path,
    failures: list[str],
) -> dict[str, Any]:
    """One server resolves each case: what it fetched (the floor's documents); the same call again, and the
    warm calls, fetch nothing. The answer's figures from a call that names its page_size."""
    env = {**server_env(upstream), "MCP_REGISTRIES_CACHE_DIR": str(tmp / "census-cache")}
    found: dict[str, Any] = {}
    async with stdio_server(env, tmp / "census.pid", ROOT) as client:
        for case in cases:
            before = Counter(upstream.hits)
            answer = await tree(client, case.arguments)
            fetched = Counter(upstream.hits) - before
            check(case.label, "census tree", answer, failures)
            twice = sorted(path for path, n in fetched.items() if n > 1)
            if twice:
                failures.append(
                    f"{case.label}: one tree fetched {len(twice)} document(s) twice, e.g. {twice[0]}"
                )
            before_again = upstream.total
            again = await tree(client, case.arguments)
            check(case.label, "the same tree again", again, failures)

            for _ in range(warm_calls):
                check(case.label, "warm tree", await tree(client, case.arguments), failures)
            counted = await tree(client, {**case.arguments, "page_size": TREE_PAGE_SIZE})
            went = upstream.total - before_again
            if went:
                failures.append(
                    f"{case.label}: the same tree again, or a warm one, made {went} upstream request(s)"
                )
            found[case.label] = {
                "requests": fetched.total(),
                "documents": len(fetched),
                "by_prefix": dict(Counter(path.split("/")[1] for path in fetched)),
                "fetched_twice": twice,
                "mb": round(sum(upstream.sent[path] for path in fetched) / 1e6, 2),
                "requests_after_first_call": went,
                "repeated_calls": 1 + warm_calls,
                "answer": counted.figures,
                "floor": [
                    relay.source(path, last_header(upstream, path, "Accept")) for path in sorted(fetched)
                ]
                if relay
                else [],
            }
    return found


async def pair(
    cases: tuple[Case, ...], upstream: LoopbackUpstream, found: dict[str, Any], tmp: Path, failures: list[str]
) -> None:
    """Two identical calls at once on a new server (empty cache): the documents fetched twice. Counted, not a
    failure: a lookup that misses memory waits for the disk, and a fetch of the same key by the other call can
    start and end meanwhile (cache.MemoryFront.get reads its memory only before the disk), so a few of them
    are fetched again (12 of 30 pairs on loopback)."""
    env = {**server_env(upstream), "MCP_REGISTRIES_CACHE_DIR": str(tmp / "pair-cache")}
    async with stdio_server(env, tmp / "pair.pid", ROOT) as client:
        for case in cases:
            before = Counter(upstream.hits)
            pair: list[Answer] = []

            async def one(case: Case = case, pair: list[Answer] = pair) -> None:
                pair.append(await tree(client, case.arguments))

            async with anyio.create_task_group() as group:
                group.start_soon(one)
                group.start_soon(one)
            fetched = Counter(upstream.hits) - before
            for answer in pair:
                check(case.label, "a tree called twice at once", answer, failures)
            row = found[case.label]
            row["pair_requests"] = fetched.total()
            row["pair_fetched_twice"] = sorted(path for path, n in fetched.items() if n > 1)


# -- cold: a new server per round and case, beside the floor; then warm calls on it -----------------------


async def cold(
    cases: tuple[Case, ...],
    floors: dict[str, list[tuple[str, str]]],
    rounds: int,
    warm_calls: int,
    gap: float,
    tmp: Path,
    failures: list[str],
) -> dict[str, Any]:
    env = {"MCP_REGISTRIES_OSV": "off"}
    calls: dict[str, list[float]] = {c.label: [] for c in cases}
    baselines: dict[str, list[float]] = {c.label: [] for c in cases}
    starts: dict[str, list[float]] = {c.label: [] for c in cases}
    warm: dict[str, list[dict[str, Any]]] = {c.label: [] for c in cases}
    peaks: dict[str, list[float]] = {c.label: [] for c in cases}
    answers: dict[str, dict[str, Any]] = {}
    received: dict[str, int] = {}
    stalls: Counter[str] = Counter()
    for round_ in range(rounds):
        for case in cases:
            pidfile = tmp / f"cold-{round_}-{case.registry}.pid"
            cache = tmp / f"cold-cache-{round_}-{case.registry}"
            spawned = time.perf_counter()
            async with stdio_server({**env, "MCP_REGISTRIES_CACHE_DIR": str(cache)}, pidfile, ROOT) as client:
                starts[case.label].append(time.perf_counter() - spawned)

                async def call(client: Client = client, case: Case = case, round_: int = round_) -> None:
                    answer = await tree(client, case.arguments)
                    calls[case.label].append(answer.seconds)
                    answers[case.label] = answer.figures
                    check(case.label, f"cold tree (round {round_ + 1})", answer, failures)

                async def baseline(client: Client = client, case: Case = case) -> None:
                    spent, received[case.label], stalled = await fetch_floor(
                        floors[case.label], BOUND[case.registry], client
                    )
                    baselines[case.label].append(spent)
                    stalls[case.label] += stalled

                async def again(client: Client = client, case: Case = case) -> float:
                    answer = await tree(client, case.arguments)
                    check(case.label, "warm tree", answer, failures)
                    return answer.seconds

                steps = [call, baseline]
                for step in steps if round_ % 2 == 0 else steps[::-1]:
                    await anyio.sleep(gap)  # the resolver's budget refilled (see the module's docstring)
                    await step()
                warm[case.label].append(await repeated(client, server_pid(pidfile), warm_calls, again))
                peaks[case.label].append(peak_rss_mb(pidfile))
    return {
        c.label: {
            "call_ms": ms(statistics.median(calls[c.label])),
            "floor_ms": ms(statistics.median(baselines[c.label])),
            "ratio": round(statistics.median(calls[c.label]) / statistics.median(baselines[c.label]), 3),
            "floor_documents": len(floors[c.label]),
            "floor_mb": round(received[c.label] / 1e6, 2),
            "floor_in_flight": BOUND[c.registry],
            "floor_requests_stalled": stalls[c.label],
            "process_start_ms": ms(statistics.median(starts[c.label])),
            "peak_rss_mb": round(max(peaks[c.label]), 1),
            "answer": answers[c.label],
            "rounds_call_ms": [ms(t) for t in calls[c.label]],
            "rounds_floor_ms": [ms(t) for t in baselines[c.label]],
            "warm": {
                "calls": sum(w["calls"] for w in warm[c.label]),
                # Per round: the median of its calls; the figure is the median of the rounds'.
                **{
                    figure: round(statistics.median(w[figure] for w in warm[c.label]), 1)
                    for figure in (
                        "call_p50_ms",
                        "call_p90_ms",
                        "ping_p50_ms",
                        "server_side_ms",
                        "server_cpu_ms_per_call",
                    )
                },
                "rounds_server_side_ms": [w["server_side_ms"] for w in warm[c.label]],
            },
        }
        for c in cases
    }


# -- memory: a big tree resolved cold ----------------------------------------------------------------------


async def memory(case: Case, warm_calls: int, tmp: Path, failures: list[str]) -> dict[str, Any]:
    pidfile = tmp / "memory.pid"
    env = {"MCP_REGISTRIES_OSV": "off", "MCP_REGISTRIES_CACHE_DIR": str(tmp / "memory-cache")}
    async with stdio_server(env, pidfile, ROOT) as client:
        idle = peak_rss_mb(pidfile)
        answer = await tree(client, case.arguments)
        check(case.label, "cold tree", answer, failures)
        peak = peak_rss_mb(pidfile)

        async def again() -> float:
            answer = await tree(client, case.arguments)
            check(case.label, "warm tree", answer, failures)
            return answer.seconds

        warm = await repeated(client, server_pid(pidfile), warm_calls, again)
        after_warm = peak_rss_mb(pidfile)
        counted = await tree(client, {**case.arguments, "page_size": TREE_PAGE_SIZE})
    total = answer.figures.get("total", 0)
    if answer.error is None and total < BIG_AT_LEAST:
        failures.append(f"{case.label}: its tree holds {total} packages, fewer than {BIG_AT_LEAST}")
    return {
        "case": case.label,
        "idle_peak_rss_mb": round(idle, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_rss_mb_after_warm_calls": round(after_warm, 1),
        "cold_call_ms": ms(answer.seconds),
        "answer": counted.figures,
        "warm": warm,
    }


# -- the loopback upstream: a relay of the mirror, or the recorded documents (--quick) ---------------------


def recorded(upstream: LoopbackUpstream, cases: tuple[Case, ...]) -> None:
    """The documents the resolvers' tests recorded (tests/data/tree/), served where a server asks for them:
    PyPI's project JSON, Simple API pages and core metadata files (their file URLs moved to the loopback),
    and the npm packuments of each npm case's bundle, with the version documents they hold."""
    here = upstream.url + "files/"
    for path in (RECORDED / "pypi").glob("*.json"):
        body = path.read_bytes().replace(FILES.encode(), here.encode())
        if path.name.startswith("simple-"):
            upstream.route(f"/pypi/simple/{path.stem.removeprefix('simple-')}/", reply(200, body))
        elif path.name != "pip-reports.json":
            upstream.route(f"/pypi/pypi/{path.stem}/json", reply(200, body))
    upstream.prefixes["/files/"] = metadata_by_file_name(RECORDED / "pypi")
    packuments: dict[str, Any] = {}
    for case in cases:
        if case.registry == "npm":
            stem = f"{case.arguments['name']}@{case.arguments['version']}".replace("/", "__")
            bundle = json.loads(
                lzma.decompress((RECORDED / "npm" / f"{stem}.packuments.json.xz").read_bytes())
            )
            for name, packument in bundle["packuments"].items():
                # Each bundle keeps whole only the manifests its own root read: keep the fuller of each.
                kept = packuments.setdefault(name, packument)["versions"]
                for version, manifest in packument["versions"].items():
                    if len(manifest) > len(kept.get(version, {})):
                        kept[version] = manifest
    upstream.prefixes["/npm/"] = npm_documents(packuments)


def metadata_by_file_name(directory: Path) -> Behaviour:
    """A core metadata file of `directory`, by the file name that ends the path; 404 for any other."""

    def behave(ex: Exchange) -> None:
        file = directory / ex.path.rsplit("/", 1)[-1]
        ex.send(200, file.read_bytes()) if file.suffix == ".metadata" and file.is_file() else ex.send(404)

    return behave


def npm_documents(packuments: dict[str, Any]) -> Behaviour:
    """`/npm/<name>`: its packument; `/npm/<name>/<version>`: that version's document, as the packument holds
    it; 404 for any other."""

    def behave(ex: Exchange) -> None:
        name = unquote(ex.path.removeprefix("/npm/"))
        document = packuments.get(name)
        if document is None and "/" in name.lstrip("@"):
            name, _, version = name.rpartition("/")
            document = packuments.get(name, {}).get("versions", {}).get(version)
        ex.send(200, json.dumps(document).encode()) if document is not None else ex.send(404)

    return behave


# -- report ------------------------------------------------------------------------------------------------


def figures(results: dict[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {"peak_rss_mb": results["memory"]["peak_rss_mb"]}
    for case in CASES:
        values[f"cold_ms|{case.label}"] = results["cold"][case.label]["call_ms"]
        values[f"warm_ms|{case.label}"] = results["cold"][case.label]["warm"]["server_side_ms"]
    return values


def verdict(results: dict[str, Any], figure: str) -> str:
    """' (<= 3000 ms: PASS)' beside a judged figure; '' in a run that judges none."""
    for v in results.get("targets", []):
        if v["figure"] == figure:
            return f" (<= {v['limit']} {v['unit']}: {'PASS' if v['pass'] else 'FAIL'})"
    return ""


def described(answer: dict[str, Any]) -> str:
    if not answer:
        return "no answer"
    return (
        f"total {answer['total']}, max depth {answer['max_depth']}, duplicated names {answer['duplicates']}, "
        f"unresolved {answer['unresolved']}"
    )


def table(results: dict[str, Any]) -> str:
    lines = [f"upstream: {results['upstream']}; servers import {results['server_package']}"]
    for case in CASES:
        s = results["census"][case.label]
        lines += [
            f"{case.label}: {described(s['answer'])}",
            (
                f"  census: {s['requests']} requests for {s['documents']} documents ({s['mb']} MB; {s['by_prefix']}), "
                f"fetched twice {len(s['fetched_twice'])}; then {s['repeated_calls']} identical calls: "
                f"{s['requests_after_first_call']} requests; two at once on a new server: {s['pair_requests']} "
                f"requests, {len(s['pair_fetched_twice'])} documents twice"
            ),
        ]
        if case.label not in results.get("cold", {}):
            continue
        c = results["cold"][case.label]
        w = c["warm"]
        label = case.label
        lines += [
            (
                f"  cold ({len(c['rounds_call_ms'])} rounds): tree {c['call_ms']} ms{verdict(results, f'cold_ms|{label}')}, "
                f"floor {c['floor_ms']} ms ({c['floor_documents']} documents, {c['floor_mb']} MB, "
                f"{c['floor_in_flight']} in flight, + ping), ratio {c['ratio']:.2f}; floor requests stalled >= "
                f"{STALL} s: {c['floor_requests_stalled']}"
            ),
            f"    rounds: tree {c['rounds_call_ms']}, floor {c['rounds_floor_ms']}",
            (
                f"    process start {c['process_start_ms']} ms, peak RSS {c['peak_rss_mb']} MB; answer on the "
                f"mirror: {described(c['answer'])}"
            ),
            (
                f"  warm ({w['calls']} calls over the rounds): call p50 {w['call_p50_ms']} ms, p90 {w['call_p90_ms']} ms, "
                f"ping p50 {w['ping_p50_ms']} ms, server-side {w['server_side_ms']} ms{verdict(results, f'warm_ms|{label}')} "
                f"(server CPU {w['server_cpu_ms_per_call']} ms per call); rounds {w['rounds_server_side_ms']}"
            ),
        ]
    if "memory" in results:
        m = results["memory"]
        lines += [
            f"{m['case']}: {described(m['answer'])}",
            (
                f"  memory: peak RSS {m['peak_rss_mb']} MB after the cold tree{verdict(results, 'peak_rss_mb')} "
                f"(idle {m['idle_peak_rss_mb']} MB; {m['peak_rss_mb_after_warm_calls']} MB after warm calls); cold "
                f"call {m['cold_call_ms']} ms, warm call p50 {m['warm']['call_p50_ms']} ms"
            ),
        ]
    return "\n".join(lines + verdict_lines(results))


async def run(args: argparse.Namespace) -> int:
    mode = "quick" if args.quick else "mirror"
    results: dict[str, Any] = {"mode": mode, "python": sys.version.split()[0]}
    # Other work on the machine moves every clock: the load averages say how busy it was.
    results["load_before"] = [round(load, 2) for load in os.getloadavg()]
    failures: list[str] = []
    upstream = LoopbackUpstream()
    relay = None
    if args.quick:
        recorded(upstream, CASES)
        results["upstream"] = "loopback: the documents recorded under tests/data/tree/"
    else:
        relay = Relay(MIRROR, {FILES: upstream.url + "files/"})
        upstream.prefixes.update(dict.fromkeys(MIRROR, relay))
        results["upstream"] = (
            f"this machine's mirror at {', '.join(MIRROR.values())} (census: a loopback relay)"
        )
    try:
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            results["census"] = await census(CASES, upstream, relay, args.warm_calls, tmp, failures)
            await pair(CASES, upstream, results["census"], tmp, failures)
            # Where the servers imported the package from (stdio_server checked it is this checkout's).
            results["server_package"] = (tmp / "census.pid").read_text().split(maxsplit=1)[1]
            if not args.quick:
                floors = {label: row["floor"] for label, row in results["census"].items()}
                results["cold"] = await cold(
                    CASES, floors, args.rounds, args.warm_calls, args.gap, tmp, failures
                )
                results["memory"] = await memory(BIG, min(args.warm_calls, 3), tmp, failures)
            if args.profile:
                # The mirror (or in --quick, the loopback and its recorded documents), as the servers asked.
                settings: dict[str, Any] = {"osv_enabled": False}
                if args.quick:
                    settings |= {**upstream.bases(), "pypi_files_url": upstream.url + "files/"}
                profiled = CASES if args.quick else (*CASES, BIG)
                calls = {case.label: ("tree", case.arguments) for case in profiled}
                results["profile"] = await profile("tree", settings, calls, tmp, args.warm_calls)
    finally:
        upstream.close()
        if relay is not None:
            relay.close()
    if not args.quick:
        results["targets"] = verdicts(TARGETS, figures(results))
    return conclude(results, f"tree-{mode}", table(results), failures, args.enforce_targets)


def main() -> int:
    # bench.py's servers keep the legacy handshake for its ping, the protocol's cheapest round trip.
    warnings.filterwarnings("ignore", message="ping is removed")
    parser = benchmark_parser(__doc__, "CI smoke: loopback only, no targets judged")
    parser.add_argument(
        "--rounds", type=int, default=5, help="cold rounds, each a new server per case (default 5)"
    )
    parser.add_argument(
        "--warm-calls",
        type=int,
        default=10,
        help="warm calls after each cold one, and in the census (default 10)",
    )
    cold_options(parser, "tree")
    args = parsed(parser)
    if args.quick:
        args.warm_calls = min(args.warm_calls, 3)
    if min(args.rounds, args.warm_calls) < 1:
        parser.error("--rounds and --warm-calls must be at least 1")
    return anyio.run(run, args)


if __name__ == "__main__":
    raise SystemExit(main())
