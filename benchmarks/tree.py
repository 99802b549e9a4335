"""The PyPI tree against the registry this machine reaches: cold and warm wall time, and peak memory.

    python benchmarks/tree.py                        # the default roots, 3 rounds each
    python benchmarks/tree.py 'jupyter==1.1.1' --rounds 5

Each round runs in a fresh process (so that its peak RSS is the tree's own) with a fresh disk cache:
`cold` is the first resolution (every document fetched), `warm` the same resolution again through the same
service (every document a cache hit), `disk` a new service over the same cache directory (what a restarted
server answers). `idle` is the peak RSS of a process that builds the service and resolves nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOTS = ["fastapi[standard]==0.115.6", "jupyter==1.1.1"]


async def _one(requirement: str, directory: str, idle: bool) -> dict[str, Any]:
    from mcp_registries.service import Service
    from mcp_registries.settings import Settings
    from mcp_registries.tree_pypi import resolve_pypi
    from tests.record_tree import ServiceLookups

    settings = Settings.from_env(cache_dir=Path(directory), cache_enabled=True)
    parsed = Requirement(requirement)
    version = next(iter(parsed.specifier)).version
    figures: dict[str, Any] = {}

    async def timed(service: Service, label: str) -> None:
        started = time.perf_counter()
        resolution = await resolve_pypi(
            ServiceLookups(service), parsed.name, version, extras=sorted(parsed.extras)
        )
        figures[label] = round(time.perf_counter() - started, 3)
        figures["packages"], figures["unresolved"] = len(resolution.packages), len(resolution.unresolved)

    service = Service(settings)
    if not idle:
        await timed(service, "cold")
        await timed(service, "warm")
        await service.aclose()
        service = Service(settings)
        await timed(service, "disk")
    await service.aclose()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def child(requirement: str, idle: bool) -> dict[str, Any]:
    """One round in a fresh process and a fresh cache directory."""
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, __file__, "--child", requirement, directory, *(["--idle"] if idle else [])]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        result: dict[str, Any] = json.loads(done.stdout)
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("roots", nargs="*", default=ROOTS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--idle", action="store_true")
    arguments = parser.parse_args()
    if arguments.child:
        requirement, directory = arguments.child
        json.dump(asyncio.run(_one(requirement, directory, arguments.idle)), sys.stdout)
        return
    idle = child(arguments.roots[0], idle=True)["peak_rss_mb"]
    print(f"idle process (service built, nothing resolved): peak RSS {idle} MB")
    for root in arguments.roots:
        rounds = [child(root, idle=False) for _ in range(arguments.rounds)]
        median = {k: statistics.median(r[k] for r in rounds) for k in ("cold", "warm", "disk", "peak_rss_mb")}
        print(
            f"{root}: {rounds[0]['packages']} packages ({rounds[0]['unresolved']} unresolved); median of "
            f"{len(rounds)}: cold {median['cold']:.2f} s, warm {median['warm'] * 1000:.0f} ms, restarted "
            f"{median['disk'] * 1000:.0f} ms; peak RSS {median['peak_rss_mb']} MB; "
            f"cold runs: {', '.join(format(r['cold'], '.2f') for r in rounds)} s"
        )


if __name__ == "__main__":
    main()
