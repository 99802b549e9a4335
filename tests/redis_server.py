"""A real Redis (or Valkey) server for the tests: Debian's `redis-server` on a free loopback port, no
persistence, started and stopped by the test that needs it. `.ci/run` installs the package, so CI always
runs these tests; elsewhere they are skipped, with the reason, when neither binary is installed."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from .conftest import under_ci

BINARIES = ("redis-server", "valkey-server")


def server_binary() -> str:
    """The installed server, or a skip (a failure under CI, which installs it)."""
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    reason = "neither redis-server nor valkey-server is installed (apt-get install redis-server)"
    if under_ci():
        pytest.fail(f"{reason}: .ci/run installs it, so under CI these tests must run")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One server process; `kill` and `start` again keep its port (replicas find it where it was)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.binary = server_binary()
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "dir": str(self.directory),
            "daemonize": "no",
            "loglevel": "warning",
        }
        self.process = subprocess.Popen(
            [self.binary, *(word for name, value in options.items() for word in (f"--{name}", value))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}")
            if self.ping():
                return
            time.sleep(0.01)
        raise RuntimeError(f"{self.binary} did not answer within {timeout} s")

    def ping(self) -> bool:
        try:
            return self.command("PING") == "+PONG"
        except OSError:
            return False

    def command(self, *words: str) -> str:
        """One inline command over a plain socket, its first reply line (no client library involved)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(" ".join(words).encode() + b"\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply.decode(errors="replace").split("\r\n", 1)[0]

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, as a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a server stuck, or a network that drops)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
        self.kill()
