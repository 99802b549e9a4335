"""The benchmarks' quick modes, as CI runs them: loopback upstream only, counts not clocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .redis_server import server_binary

ROOT = Path(__file__).resolve().parents[1]


def quick(script: str, written: str, timeout: float) -> dict[str, Any]:
    """Run benchmarks/<script> --quick, which must exit 0, and read the results it wrote."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, Any] = json.loads((ROOT / "benchmarks" / "results" / written).read_text())
    return results


def test_benchmark_quick_mode_holds_single_flight_and_warm_hits() -> None:
    """bench.py --quick exits 0: one upstream request for 50 identical cold calls, none for warm calls."""
    results = quick("bench.py", "quick.json", timeout=300)
    assert results["single_flight"]["upstream_requests"] == 1
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results and "cold" not in results
    assert results["warm_stdio"]["upstream_requests_during_warm_calls"] == 0
    assert results["warm_http"]["plans_during_run"] == 0
    assert results["warm_http"]["upstream_requests_during_run"] == 0
    assert results["warm_http"]["disk_reads_during_run"] == 0
    assert results["warm_http"]["calls"] > 0 and results["warm_stdio"]["calls"] > 0


def test_search_benchmark_quick_mode_finds_names_and_stays_warm() -> None:
    """search.py --quick exits 0: searches find what they must, warm calls and a restart go upstream for nothing."""
    results = quick("search.py", "search-quick.json", timeout=120)
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results
    assert results["warm"]["calls"] > 0 and results["warm"]["upstream_requests_during_timed_calls"] == 0
    assert results["restart"]["index_downloads_during_restarts"] == 0
    assert results["npm"]["upstream_requests_by_calls"] == results["npm"]["calls"]
    assert results["memory"]["peak_rss_mb"] >= results["memory"]["before_index_peak_rss_mb"] > 0


def test_audit_benchmark_quick_mode_fetches_each_document_once_and_stays_warm() -> None:
    """audit.py --quick exits 0: a cold audit fetches exactly the floor's documents and asks OSV once; warm
    audits go upstream for nothing; no audit or entry is an error."""
    results = quick("audit.py", "audit-quick.json", timeout=180)
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results
    for label, manifest in results["manifests"].items():
        census = results["census"][label]
        assert census["registry_requests"] == census["floor_documents"] == manifest["checked"] > 0
        assert census["osv_requests"]["/osv/v1/querybatch"] == 1
        assert results["warm"][label]["upstream_requests_during_timed_calls"] == 0
        assert results["text"][label]["counted"] == manifest["dependencies"]
        assert 0 < results["text"][label]["entries"] <= manifest["dependencies"]
        assert results["cold"][label]["peak_rss_mb"] > 0


def test_team_benchmark_quick_mode_fetches_once_across_replicas() -> None:
    """team.py --quick exits 0: 30 concurrent cold calls over three replicas sharing Redis make one upstream
    request; a second replica's first calls are Redis hits that fetch nothing; warm calls fetch nothing."""
    server_binary()  # a skip without redis-server or valkey-server (a failure under CI, which installs one)
    results = quick("team.py", "team-quick.json", timeout=240)
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results
    assert results["single_flight"]["upstream_requests"] == 1
    hits = results["redis_hits"]
    assert hits["calls"] > 0 and hits["replica_a_upstream_requests"] > 0
    assert hits["replica_b_upstream_requests"] == hits["loopback_requests_during_b_rounds"] == 0
    # Each call of a new replica, its untimed first one included, read one record from Redis.
    assert hits["replica_b_redis_reads"] == hits["calls"] + hits["rounds"]
    for label in ("redis", "disk"):
        assert results["warm"][label]["upstream_requests"] == results["warm"][label]["plans"] == 0
    load = results["throughput"]
    assert load["calls"] > 0 and load["answers_not_200"] == 0
    assert load["upstream_requests_during_load"] == load["loopback_requests_during_load"] == 0
    assert set(results["cache_states"].values()) == {"ok"}


def test_tree_benchmark_quick_mode_fetches_each_document_once_and_stays_warm() -> None:
    """tree.py --quick exits 0: each tree answers from the recorded documents, fetching each document once;
    the same call again and the warm calls go upstream for nothing; two identical calls at once on a new
    server answer too."""
    results = quick("tree.py", "tree-quick.json", timeout=180)
    # CI stays free of timing thresholds: the quick mode judges no clock.
    assert "targets" not in results and "cold" not in results
    assert len(results["census"]) == 2
    for census in results["census"].values():
        assert census["answer"]["total"] > 0
        assert census["requests"] == census["documents"] > 0 and census["fetched_twice"] == []
        assert census["requests_after_first_call"] == 0 and census["repeated_calls"] > 1
        # Not equal yet: a lookup that misses memory can miss the other call's fetch (tree.py's `pair`).
        assert census["pair_requests"] >= census["requests"]
