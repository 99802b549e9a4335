"""The console script over stdio: stdout carries only JSON-RPC, logs go to stderr; the query command."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from .conftest import recorded_routes
from .upstream import LoopbackUpstream

SCRIPT = Path(sys.executable).parent / "mcp-registries"


def env_for(upstream: LoopbackUpstream, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        **upstream.env(),
        "MCP_REGISTRIES_CACHE_DIR": str(tmp_path / "cache"),
        "MCP_REGISTRIES_LOG_LEVEL": "DEBUG",
    }


def rpc(id_: int, method: str, params: dict[str, object]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}) + "\n"


def test_stdio_stdout_carries_only_json_rpc(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """With DEBUG logging on, every stdout line of the console script is a JSON-RPC message; logs go to stderr."""
    messages = [
        rpc(
            1,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        ),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n",
        rpc(2, "tools/list", {}),
        rpc(3, "tools/call", {"name": "package", "arguments": {"registry": "npm", "name": "react"}}),
        rpc(4, "tools/call", {"name": "package", "arguments": {"registry": "npm", "name": "nope-nope"}}),
    ]
    log = (tmp_path / "stderr.txt").open("w")
    process = subprocess.Popen(
        [str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env_for(local_upstream, tmp_path),
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("".join(messages))
    process.stdin.flush()
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    parsed = []
    deadline = time.monotonic() + 30
    # Keep stdin open until the answers are in: EOF ends the session and cancels calls in flight.
    while {m.get("id") for m in parsed} < {1, 2, 3, 4} and time.monotonic() < deadline:
        try:
            parsed.append(json.loads(lines.get(timeout=1.0)))
        except queue.Empty:
            continue
    process.stdin.close()
    process.wait(timeout=30)
    reader.join(timeout=5)
    while not lines.empty():
        parsed.append(json.loads(lines.get()))
    log.close()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert all(message.get("jsonrpc") == "2.0" for message in parsed)
    by_id = {message.get("id"): message for message in parsed}
    assert {1, 2, 3, 4} <= set(by_id)
    assert [tool["name"] for tool in by_id[2]["result"]["tools"]] == [
        "package", "versions", "version", "dependencies", "downloads", "maintainer", "search", "audit", "tree"
    ]  # fmt: skip
    assert by_id[3]["result"]["structuredContent"]["latest_version"] == "19.3.1"
    assert by_id[4]["result"]["isError"] is True
    assert by_id[4]["result"]["content"][0]["text"] == "npm package 'nope-nope' not found"
    assert "DEBUG" in stderr  # the logs went somewhere, and it was not stdout


def test_stdio_client_closing_stdout_ends_quietly(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """A client that closes the server's stdout (it exited) ends the server with status 0 and no traceback."""
    initialize = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    with (tmp_path / "stderr.txt").open("w") as log:
        process = subprocess.Popen(
            [str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env_for(local_upstream, tmp_path),
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(rpc(1, "initialize", initialize).encode())
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1
        process.stdout.close()
        # Every answer now meets a closed pipe; the server notices at its next read, so keep sending.
        deadline = time.monotonic() + 20
        next_id = 2
        while process.poll() is None and time.monotonic() < deadline:
            try:
                process.stdin.write(rpc(next_id, "ping", {}).encode())
                process.stdin.flush()
            except BrokenPipeError:
                break  # the server has gone
            next_id += 1
            time.sleep(0.1)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        status = process.wait(timeout=20)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    assert "BrokenPipeError" not in stderr
    assert status == 0


@pytest.mark.anyio
async def test_stdio_sdk_client_calls_a_tool(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """The SDK's stdio client starts `python -m mcp_registries` and gets a PyPI answer."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_registries"], env=env_for(local_upstream, tmp_path)
    )
    async with Client(params) as client:
        result = await client.call_tool("dependencies", {"registry": "pypi", "name": "requests"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["version"] == "2.34.2"
    assert local_upstream.hits["/pypi/pypi/requests/json"] == 1


@pytest.mark.anyio
async def test_stdio_json_lookalike_arguments_arrive_as_sent(
    local_upstream: LoopbackUpstream, tmp_path: Path
) -> None:
    """Over stdio, the name 'null' and the version '1.10' reach the service as the strings the client sent."""
    params = StdioServerParameters(command=str(SCRIPT), env=env_for(local_upstream, tmp_path))
    async with Client(params) as client:
        named = await client.call_tool("package", {"registry": "npm", "name": "null"})
        versioned = await client.call_tool("version", {"registry": "npm", "name": "react", "version": "1.10"})
    assert named.is_error and named.content[0].text == "npm package 'null' not found"
    assert local_upstream.hits["/npm/null"] == 1
    assert versioned.is_error
    assert versioned.content[0].text.startswith("npm package 'react' has no version '1.10'")


def run_query(upstream: LoopbackUpstream, tmp_path: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """`mcp-registries query <words>` against the recorded documents, errors only in its log."""
    return subprocess.run(
        [str(SCRIPT), "query", *words],
        capture_output=True,
        text=True,
        check=False,
        env={**env_for(upstream, tmp_path), "MCP_REGISTRIES_LOG_LEVEL": "ERROR"},
        timeout=60,
    )


def answer_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_query_prints_compact_json(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """`mcp-registries query` prints the tool's compact JSON on stdout and exits 0."""
    answer = answer_of(run_query(local_upstream, tmp_path, "versions", "npm", "ms", "--page-size", "2"))
    assert answer["page_size"] == 2 and len(answer["versions"]) == 2 and answer["total"] == 32


def test_query_group_and_extra_list_one_in_full(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """`query dependencies … --group dev` lists the group a default answer leaves out, and `--extra` an extra."""

    def query(*words: str) -> dict[str, Any]:
        return answer_of(run_query(local_upstream, tmp_path, "dependencies", *words))

    assert len(query("npm", "next", "--version", "15.0.0", "--group", "dev")["dev"]) == 201
    assert "dev" not in query("npm", "next", "--version", "15.0.0")
    assert len(query("pypi", "apache-airflow", "--extra", "all")["extras"]["all"]) == 123


def test_query_error_goes_to_stderr_with_status_1(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """A query that cannot be answered prints the sentence on stderr, nothing on stdout, and exits 1."""
    done = run_query(local_upstream, tmp_path, "version", "npm", "react", "--version", "99.0.0")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().startswith(
        "npm package 'react' has no version '99.0.0'; the latest version is 19.3.1"
    )


def test_query_search_takes_the_words_in_place_of_a_name(tmp_path: Path) -> None:
    """`query search <registry> "<words>"` searches for the words (PyPI: its project index), with --page-size."""
    with LoopbackUpstream(recorded_routes(searchable=True)) as upstream:
        answer = answer_of(run_query(upstream, tmp_path, "search", "pypi", " Requests  toolbelt "))
        paged = answer_of(run_query(upstream, tmp_path, "search", "npm", "http client", "--page-size", "10"))
        done = run_query(upstream, tmp_path, "search", "npm", "   ")
    assert answer["query"] == "Requests toolbelt"
    assert answer["results"][0] == {"name": "requests-toolbelt", "match": "exact"}
    assert [hit["name"] for hit in paged["results"]] == ["axios", "got", "@tiny/http-client"]
    assert upstream.hits["/npm/-/v1/search?text=http+client&size=10&from=0"] == 1
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "The 'query' argument must have some words or a package name in it."
