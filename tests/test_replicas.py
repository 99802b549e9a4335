"""The team setup, proven with real processes: three `mcp-registries --transport http --stateless` replicas
on three ports, one real redis-server, one loopback upstream. Concurrent cold calls spread over the three
fetch once; warm calls fetch nothing on any replica; Redis killed mid-run: every call still answers and
`/healthz` says degraded; Redis restarted on its port: shared again, the replicas untouched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import data, recorded_routes
from .redis_server import RedisServer
from .upstream import LoopbackUpstream, delayed, reply
from .webserver import CliServer, cli_env

#: The recorded packuments the run asks for, by name, and where the upstream serves them.
PACKAGES = {
    "express": "npm/express.json",
    "react": "npm/react.json",
    "ms": "npm/ms.json",
    "left-pad": "npm/left-pad.json",
}


def path_of(name: str) -> str:
    return f"/npm/{name}"


@pytest.fixture
def upstream() -> Iterator[LoopbackUpstream]:
    """Each packument takes 0.3 s to come: concurrent calls are all waiting when the first one arrives."""
    routes = recorded_routes()
    for name, recorded in PACKAGES.items():
        routes[path_of(name)] = delayed(0.3, reply(200, data(recorded), {"content-type": "application/json"}))
    with LoopbackUpstream(routes) as server:
        yield server


class Team:
    def __init__(self, redis: RedisServer, replicas: list[CliServer]) -> None:
        self.redis = redis
        self.replicas = replicas
        self.urls = [replica.wait_ready() for replica in replicas]

    def health(self) -> list[dict[str, Any]]:
        return [httpx.get(url + "/healthz", timeout=5).json() for url in self.urls]

    async def ask(self, names: list[str], *, spread: int = 1) -> list[dict[str, Any]]:
        """`package npm <name>` for each name, `spread` times over the replicas in turn, all at once."""
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(n: int, name: str) -> dict[str, Any]:
                url = self.urls[n % len(self.urls)] + "/packages/v1/package"
                response = await client.post(url, json={"registry": "npm", "name": name})
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                return body

            calls = [one(n, name) for name in names for n in range(spread)]
            return list(await asyncio.gather(*calls))


@pytest.fixture
def team(tmp_path: Path, upstream: LoopbackUpstream) -> Iterator[Team]:
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(tmp_path / "redis"))
        replicas = []
        for n in range(3):
            home = tmp_path / f"replica-{n}"
            home.mkdir()
            env = cli_env(upstream, home, MCP_REGISTRIES_CACHE_URL=redis.url)
            args = ["--transport", "http", "--stateless"]
            replicas.append(stack.enter_context(CliServer(args, env, home / "server.log")))
        yield Team(redis, replicas)


def test_three_replicas_share_one_redis_through_its_outage(team: Team, upstream: LoopbackUpstream) -> None:
    # 30 identical cold calls spread over the three replicas at once: one upstream request.
    answers = asyncio.run(team.ask(["express"], spread=30))
    assert {a["name"] for a in answers} == {"express"} and len({str(a) for a in answers}) == 1
    assert upstream.hits[path_of("express")] == 1
    assert sum(h["stats"]["upstream_requests"] for h in team.health()) == 1

    # Warm calls on every replica: no upstream request at all.
    before = upstream.total
    asyncio.run(team.ask(["express"], spread=9))
    assert upstream.total == before

    # A replica that never asked reads another's answer from Redis.
    asyncio.run(team.ask(["react"], spread=1))  # replica 0 fetches
    assert upstream.hits[path_of("react")] == 1
    time.sleep(0.2)  # its write reaches Redis in the background
    asyncio.run(team.ask(["react"], spread=3))
    assert upstream.hits[path_of("react")] == 1

    # Redis killed mid-run: every call answers (warm ones from memory, cold ones upstream), each replica
    # that touches the cache says degraded, and its log has one warning for the outage.
    team.redis.kill()
    assert {a["name"] for a in asyncio.run(team.ask(["express", "react"], spread=3))} == {"express", "react"}
    assert {a["name"] for a in asyncio.run(team.ask(["ms"], spread=3))} == {"ms"}
    assert [h["cache"] for h in team.health()] == ["degraded"] * 3
    assert all(h["status"] == "ok" for h in team.health())
    for replica in team.replicas:
        assert replica.stderr.count("failed (") == 1, [
            l for l in replica.stderr.splitlines() if "failed (" in l
        ]

    # Redis back on its port: each replica finds it within seconds, without a restart, and shares again.
    team.redis.start()
    deadline = time.monotonic() + 10
    while any(h["cache"] != "ok" for h in team.health()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [h["cache"] for h in team.health()] == ["ok"] * 3
    asyncio.run(team.ask(["left-pad"], spread=30))
    assert upstream.hits[path_of("left-pad")] == 1
    assert all("is back" in replica.stderr for replica in team.replicas)
