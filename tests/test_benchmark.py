"""The benchmark's quick mode, as CI runs it: loopback upstream only, counts not clocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_quick_mode_holds_single_flight_and_warm_hits() -> None:
    """bench.py --quick exits 0: one upstream request for 50 identical cold calls, none for warm calls."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((ROOT / "benchmarks" / "results" / "quick.json").read_text())
    assert results["single_flight"]["upstream_requests"] == 1
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results and "cold" not in results
    assert results["warm_stdio"]["upstream_requests_during_warm_calls"] == 0
    assert results["warm_http"]["plans_during_run"] == 0
    assert results["warm_http"]["upstream_requests_during_run"] == 0
    assert results["warm_http"]["disk_reads_during_run"] == 0
    assert results["warm_http"]["calls"] > 0 and results["warm_stdio"]["calls"] > 0
