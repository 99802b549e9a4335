"""The one loopback fake upstream: a real HTTP/1.1 server on 127.0.0.1 whose paths behave as told.

Each path gets a behaviour: a function that answers one request through an `Exchange` (a recorded
document, a status, a hang, a dropped or truncated body, a trickle, a delay, a body paced to a link
speed, ...). GET and POST are routed alike (a POST's body is read first, for the behaviour and the
test to see). The server counts requests per path, records their headers and the statuses it sent,
and counts the body bytes it offered and the connections it accepted, so tests can prove retries,
single-flight, conditional requests and that nothing connected at all. Every wait is bounded (at most
`HANG_LIMIT`) and ends early when the server shuts down.

The tests (in process and through subprocesses) and the benchmarks (`benchmarks/bench.py`) use it;
it needs nothing but the standard library, so a process that does not import `mcp_registries` can
import it too.
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

#: The longest any behaviour waits; shutdown ends every wait sooner.
HANG_LIMIT = 30.0
#: Where each configured upstream lives on a loopback upstream, by the setting's name (`<name>_url`):
#: one path prefix each, as a corporate mirror serves several registries.
PREFIXES = {"npm": "npm/", "npm_downloads": "npm-dl/", "pypi": "pypi/", "pypistats": "stats/", "osv": "osv/"}


@dataclass
class Exchange:
    """One request as a behaviour sees it."""

    handler: http.server.BaseHTTPRequestHandler
    server: LoopbackUpstream
    path: str
    #: 1 for the first request to this path, 2 for the second, ...
    number: int
    method: str = "GET"
    #: The request's body (a POST's), as received.
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.handler.headers.get(name)

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.server.record_status(self.path, status)
        self.handler.send_response(status)
        for name, value in headers.items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def write(self, data: bytes) -> bool:
        """Send body bytes (counted as offered, before the write); False once the client has gone away."""
        self.server.count_sent(self.path, len(data))
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
        except OSError:
            self.handler.close_connection = True
            return False
        return True

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.head(
            status, {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        )
        if body:
            self.write(body)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (capped at HANG_LIMIT); False when the server is shutting down."""
        return not self.server.stopping.wait(min(seconds, HANG_LIMIT))


Behaviour = Callable[[Exchange], None]


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """Always the same answer."""
    return lambda ex: ex.send(status, body, headers)


def failing(
    status: int, body: bytes, times: int | None = None, headers: dict[str, str] | None = None
) -> Behaviour:
    """`status` for the first `times` requests (every request when None), then 200 with `body`."""

    def behave(ex: Exchange) -> None:
        if times is None or ex.number <= times:
            ex.send(status, b'{"error":"fake failure"}', headers)
        else:
            ex.send(200, body)

    return behave


def hang() -> Behaviour:
    """Accept the request and never answer (until shutdown or HANG_LIMIT), then drop the connection."""

    def behave(ex: Exchange) -> None:
        ex.wait(HANG_LIMIT)
        ex.handler.close_connection = True

    return behave


def drop() -> Behaviour:
    """Read the request, then close the connection without a word."""

    def behave(ex: Exchange) -> None:
        ex.handler.close_connection = True

    return behave


def truncated(body: bytes, missing: int = 1000) -> Behaviour:
    """Declare a Content-Length `missing` bytes larger than the half body sent, then close."""

    def behave(ex: Exchange) -> None:
        sent = body[: len(body) // 2]
        ex.head(200, {"Content-Type": "application/json", "Content-Length": str(len(sent) + missing)})
        ex.write(sent)
        ex.handler.close_connection = True

    return behave


def oversized(size: int, *, declare: bool, chunk: int = 64 * 1024) -> Behaviour:
    """A `size`-byte body, with its Content-Length declared or close-delimited (streamed until done)."""

    def behave(ex: Exchange) -> None:
        headers = {"Content-Type": "application/json"}
        if declare:
            headers["Content-Length"] = str(size)
        else:
            headers["Connection"] = "close"
        ex.head(200, headers)
        ex.handler.close_connection = True
        for _ in range(0, size, chunk):
            if not ex.write(b" " * chunk):
                return

    return behave


def trickle(body: bytes, pieces: int, interval: float) -> Behaviour:
    """Send `body` in `pieces` parts with `interval` seconds between them (each gap below the read timeout)."""

    def behave(ex: Exchange) -> None:
        ex.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            if start and not ex.wait(interval):
                ex.handler.close_connection = True
                return
            if not ex.write(body[start : start + step]):
                return

    return behave


def throttled(body: bytes, rate: float, chunk: int = 64 * 1024) -> Behaviour:
    """200 with `body` sent at `rate` bytes per second, as over a link of that speed."""

    def behave(ex: Exchange) -> None:
        ex.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        started = time.perf_counter()
        for at in range(0, len(body), chunk):
            # A client may stop reading once it has what it needs: not the upstream's fault.
            if not ex.write(body[at : at + chunk]):
                return
            ahead = started + (at + chunk) / rate - time.perf_counter()
            if ahead > 0 and not ex.wait(ahead):
                ex.handler.close_connection = True
                return

    return behave


def delayed(seconds: float, then: Behaviour) -> Behaviour:
    """Wait, then behave as `then`."""

    def behave(ex: Exchange) -> None:
        if ex.wait(seconds):
            then(ex)
        else:
            ex.handler.close_connection = True

    return behave


def held(until: threading.Event, then: Behaviour) -> Behaviour:
    """Hold the request until `until` is set (at most HANG_LIMIT; shutdown ends it), then behave as `then`:
    a slow upstream whose answer a test releases when it is ready, instead of guessing a delay."""

    def behave(ex: Exchange) -> None:
        deadline = time.monotonic() + HANG_LIMIT
        while not until.wait(0.01):
            if ex.server.stopping.is_set() or time.monotonic() > deadline:
                ex.handler.close_connection = True
                return
        then(ex)

    return behave


def conditional(body: bytes, etag: str) -> Behaviour:
    """200 with an ETag; 304 without a body when If-None-Match carries that ETag."""

    def behave(ex: Exchange) -> None:
        if ex.header("If-None-Match") == etag:
            ex.head(304, {"ETag": etag, "Content-Length": "0"})
        else:
            ex.send(200, body, {"ETag": etag})

    return behave


class _CountingServer(http.server.ThreadingHTTPServer):
    """Counts accepted connections, requests or not: proof that a client never even connected."""

    daemon_threads = True
    connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # Called once per accepted connection, always from the serving thread: no lock needed.
        self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request or mid-answer is what several tests do on purpose.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class LoopbackUpstream:
    """A threaded HTTP/1.1 server on 127.0.0.1 (a free port); unrouted paths are 404 with an empty body."""

    def __init__(self, routes: dict[str, Behaviour] | None = None) -> None:
        self.routes: dict[str, Behaviour] = dict(routes or {})
        #: Prefix → behaviour, for paths not in `routes` (longest prefix wins).
        self.prefixes: dict[str, Behaviour] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.headers: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.statuses: defaultdict[str, list[int]] = defaultdict(list)
        #: The bodies of POST requests, per path, in the order received.
        self.bodies: defaultdict[str, list[bytes]] = defaultdict(list)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _CountingServer(("127.0.0.1", 0), self._handler_class())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.daemon = True
        self._thread.start()

    def route(self, path: str, behaviour: Behaviour) -> None:
        self.routes[path] = behaviour

    def record_status(self, path: str, status: int) -> None:
        with self._lock:
            self.statuses[path].append(status)

    def count_sent(self, path: str, size: int) -> None:
        with self._lock:
            self.sent[path] += size

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    @property
    def connections(self) -> int:
        """Connections accepted so far, whether or not a request came over them."""
        return self._server.connections

    def bases(self) -> dict[str, str]:
        """Each upstream's base URL setting (`npm_url`, ...) under its path prefix here (see PREFIXES)."""
        return {f"{name}_url": self.url + prefix for name, prefix in PREFIXES.items()}

    def env(self, *, osv: bool = False) -> dict[str, str]:
        """The MCP_REGISTRIES_*_URL variables pointing a server process at `bases()`, written without the
        trailing slash, as people write them (the settings add it). OSV is turned off unless `osv`: the
        answers tests compare are the registries' own, as conftest's settings give them in process."""
        env = {f"MCP_REGISTRIES_{name.upper()}": url.rstrip("/") for name, url in self.bases().items()}
        return env if osv else {**env, "MCP_REGISTRIES_OSV": "off"}

    def _behaviour(self, path: str) -> Behaviour:
        if path in self.routes:
            return self.routes[path]
        matches = [p for p in self.prefixes if path.startswith(p)]
        return self.prefixes[max(matches, key=len)] if matches else reply(404)

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real registries do

            def setup(self) -> None:
                super().setup()
                # A body's last short segment (of a paced or trickled answer) would otherwise wait for the
                # client's delayed ACK (40 ms).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                length = self.headers.get("Content-Length", "0")
                self._serve(self.rfile.read(int(length)) if length.isdigit() else b"")

            def _serve(self, body: bytes) -> None:
                path = self.path
                with outer._lock:
                    outer.hits[path] += 1
                    number = outer.hits[path]
                    outer.headers[path].append(dict(self.headers.items()))
                    if self.command == "POST":
                        outer.bodies[path].append(body)
                try:
                    outer._behaviour(path)(Exchange(self, outer, path, number, self.command, body))
                except OSError:  # the client gave up mid-answer: what several faults are about
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                return None

        return Handler

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def refused_url() -> str:
    """A loopback URL whose port has nothing listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Bound but never listening, and now closed: the kernel answers a SYN with RST.
    return f"http://127.0.0.1:{port}/"
