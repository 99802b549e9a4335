"""Helpers for the HTTP tests: the app on a background uvicorn thread and the console script as an HTTP
server. Every wait here is bounded."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn
from starlette.types import ASGIApp

from .upstream import LoopbackUpstream

SCRIPT = Path(sys.executable).parent / "mcp-registries"
LISTENING = re.compile(r"Uvicorn running on http://\S+:(\d+)")


class ThreadedServer:
    """An ASGI app served by uvicorn on a free loopback port, in a thread with its own event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_config=None, lifespan="on", timeout_graceful_shutdown=3, ws="none", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        assert not self._thread.is_alive(), "the test server did not stop within 10 s"


def cli_env(upstream: LoopbackUpstream, home: Path, **extra: str) -> dict[str, str]:
    """The environment for the console script: upstream base URLs under path prefixes, INFO logs."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        **upstream.env(),
        "MCP_REGISTRIES_CACHE_DIR": str(home / "cache"),
        "MCP_REGISTRIES_LOG_LEVEL": "INFO",
        **extra,
    }


class CliServer:
    """`mcp-registries <args> --port 0` as a subprocess; the port is read from uvicorn's startup line."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [str(SCRIPT), *args, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            env=env,
        )
        self.url = ""

    @property
    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0) -> str:
        """The base URL (over 127.0.0.1) once /healthz answers; fails if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.stderr}")
            found = LISTENING.search(self.stderr)
            if found:
                self.url = f"http://127.0.0.1:{found.group(1)}"
                try:
                    if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                        return self.url
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer /healthz within {timeout} s:\n{self.stderr}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and return the exit status; fails if the process outlives `timeout`."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the server did not exit within {timeout} s of {sig.name}:\n{self.stderr}"
            ) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log_file.close()
