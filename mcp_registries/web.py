"""One ASGI app on one port: MCP over streamable HTTP and SSE, the REST API, OpenAPI and a health check.

`Guard` runs in front of every endpoint: the Host (and any Origin) must be an allowed name, which
defeats DNS rebinding, and with a token configured every endpoint but `/healthz` wants
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__, rest
from .cache import disk_reads
from .server import build_server, http_routes
from .service import Service

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
OPEN_PATHS = frozenset({"/healthz"})


def _loopback_address(text: str) -> bool:
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # `::ffff:127.0.0.1` is IPv4's loopback reached over IPv6; ipaddress calls it loopback only from 3.13.
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback(host: str) -> bool:
    """Whether every address `host` stands for is a loopback address: only then may it serve without a token.

    An address literal (IPv6 with or without brackets) is read as such; a name is resolved, and one that
    does not resolve, or resolves to any other address, is not loopback.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not literal:
        return False
    try:
        return _loopback_address(literal)
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(literal, None)
    except (OSError, ValueError):  # unresolvable, or not a name at all (bad IDNA, NUL)
        return False
    # An IPv6 address resolved from a name may carry a scope id (`fe80::1%eth0`); ipaddress reads those.
    addresses = {str(info[4][0]) for info in found}
    try:
        return bool(addresses) and all(_loopback_address(address) for address in addresses)
    except ValueError:
        return False


def allowed_names(bind_host: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Loopback names, the bound host when it is a name or address (not a wildcard), and any extra names."""
    names = set(LOOPBACK_NAMES) | {name.lower().strip("[]") for name in extra}
    if bind_host not in WILDCARDS:
        names.add(bind_host.lower().strip("[]"))
    return frozenset(names)


def _hostname(value: str) -> str:
    try:
        return (urlsplit("//" + value).hostname or "").lower()
    except ValueError:
        return ""


class Guard:
    """Pure ASGI middleware: Host/Origin allow-list on every request, bearer token where configured."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str], token: str | None) -> None:
        self.app = app
        self.allowed = allowed
        self.token = token.encode() if token else None
        #: POST requests whose response has not ended: a streamable HTTP answer travels on its POST's
        #: response, after the call itself has returned. A graceful stop waits for these.
        self.posts_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = _hostname(headers.get("host", ""))
        if host not in self.allowed:
            await self._refuse(
                scope, receive, send, 421, "misdirected_request", "This server does not answer for that Host."
            )
            return
        origin = headers.get("origin")
        if origin and _hostname(urlsplit(origin).netloc) not in self.allowed:
            await self._refuse(
                scope, receive, send, 403, "forbidden_origin", "Requests from that Origin are not allowed."
            )
            return
        if self.token is not None and scope["path"] not in OPEN_PATHS:
            given = headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            # The header's raw bytes (latin-1 round-trips them) against the token's UTF-8 bytes.
            offered = credential.strip().encode("latin-1")
            if scheme.lower() != "bearer" or not hmac.compare_digest(offered, self.token):
                await self._refuse(
                    scope,
                    receive,
                    send,
                    401,
                    "unauthorized",
                    "This server requires 'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": 'Bearer realm="mcp-registries"'},
                )
                return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.posts_in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.posts_in_flight -= 1

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        response = rest.error_response(status, code, message, headers)
        await response(scope, receive, send)


#: How long calls in flight may take to finish once a stop is asked for.
GRACE_SECONDS = 5


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose exit signal first lets calls in flight finish (up to `GRACE_SECONDS`).

    Stopping uvicorn at once would close the event streams (sse-starlette) that carry their answers.
    """

    def __init__(self, config: uvicorn.Config, *, busy: Callable[[], bool]) -> None:
        super().__init__(config)
        #: A call still being answered, or an answer still being written to its POST's response.
        self.busy = busy
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # before the loop runs, or after it ended: nothing in flight
        if loop is None or self._draining is not None or not self.busy():
            super().handle_exit(sig, frame)
            return
        log.info("stopping once the calls in flight are answered")
        self._draining = loop.create_task(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        while self.busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        # An answer for a legacy SSE session goes out on its GET stream just after its call returns.
        await asyncio.sleep(0.05)
        super().handle_exit(sig, None)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    path = request.url.path[:100]
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        code, message = "method_not_allowed", f"{request.method} is not allowed on {path}; use {allowed}."
    elif exc.status_code == 404:
        code, message = "unknown_endpoint", f"There is no endpoint at {path}; see /openapi.json for the API."
    else:
        code, message = "http_error", exc.detail
    return rest.error_response(exc.status_code, code, message, dict(exc.headers) if exc.headers else None)


def build_app(
    service: Service,
    *,
    bind_host: str = "127.0.0.1",
    stateless: bool = False,
    extra_hosts: tuple[str, ...] = (),
) -> Guard:
    """The whole HTTP surface over one shared service (one HTTP client, one cache) for every session."""
    mcp_routes, run_sessions = http_routes(build_server(service), stateless=stateless)

    async def healthz(request: Request) -> Response:
        # Counters only (no names or URLs): operators and the benchmarks see cache hits and upstream load.
        stats = {
            "plans": service.stats["plans"],
            "upstream_requests": service.http.request_count,
            "cache_reads_from_disk": disk_reads(service.cache),
            # A count only: base URLs may carry a mirror's credentials, and this endpoint is open.
            "upstreams_down": len(service.http.outages.down()),
        }
        # "degraded": the cache failed (its server is away): answers go on, uncached, until it is back.
        health = {"status": "ok", "version": __version__, "cache": service.cache.state, "stats": stats}
        return JSONResponse(health)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with run_sessions():
                yield
        finally:
            # After the sessions have stopped, so that none of them is left with a closed client.
            log.info("shutting down: closing the HTTP client and the cache")
            await service.aclose()

    app = Starlette(
        routes=[*mcp_routes, *rest.routes(service), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    return Guard(app, allowed=allowed_names(bind_host, extra_hosts), token=service.settings.auth_token)


__all__ = ["DrainingServer", "Guard", "allowed_names", "build_app", "is_loopback"]
