"""A loopback upstream for the benchmarks: serves files under path prefixes, counts hits, can delay."""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from pathlib import Path


class FakeUpstream:
    def __init__(self, routes: dict[str, Path | bytes], delay: float = 0.0) -> None:
        self.hits: Counter[str] = Counter()
        self.delay = delay
        bodies = {
            path: body if isinstance(body, bytes) else body.read_bytes() for path, body in routes.items()
        }
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer.hits[self.path] += 1
                if outer.delay:
                    time.sleep(outer.delay)
                body = bodies.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

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
