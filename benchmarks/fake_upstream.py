"""A loopback upstream for the benchmarks: serves files under path prefixes, counts hits, can delay,
and can pace bodies to a link speed."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path


class FakeUpstream:
    def __init__(
        self, routes: Mapping[str, Path | bytes], delay: float = 0.0, rate: float | None = None
    ) -> None:
        self.hits: Counter[str] = Counter()
        self.delay = delay
        #: Bytes per second to pace bodies at (None: as fast as the machine goes).
        self.rate = rate
        bodies = {
            path: body if isinstance(body, bytes) else body.read_bytes() for path, body in routes.items()
        }
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the stdlib's name
                outer.hits[self.path] += 1
                if outer.delay:
                    time.sleep(outer.delay)
                body = bodies.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                if outer.rate is None or not body:
                    self.wfile.write(body or b"")
                    return
                started, step = time.perf_counter(), 64 * 1024
                try:
                    for at in range(0, len(body), step):
                        self.wfile.write(body[at : at + step])
                        ahead = started + (at + step) / outer.rate - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
                except (BrokenPipeError, ConnectionResetError):
                    # A client may stop reading once it has what it needs: not the upstream's fault.
                    self.close_connection = True

            def setup(self) -> None:
                super().setup()
                # Paced writes end with a short segment: without this, it waits for a delayed ACK (40 ms).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def env(self) -> dict[str, str]:
        """MCP_REGISTRIES_* variables pointing a server at this upstream (with path prefixes)."""
        return {
            "MCP_REGISTRIES_NPM_URL": self.url + "npm/",
            "MCP_REGISTRIES_NPM_DOWNLOADS_URL": self.url + "npm-dl/",
            "MCP_REGISTRIES_PYPI_URL": self.url + "pypi/",
            "MCP_REGISTRIES_PYPISTATS_URL": self.url + "stats/",
        }
