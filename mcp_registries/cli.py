"""Command line: flags, logging to stderr, runs the stdio server or answers one query.

stdout belongs to JSON-RPC on stdio; this module writes to it only for `query`'s answer.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from . import __version__
from .errors import RegistryError
from .models import compact_json
from .operations import GROUPS, OPERATIONS, PERIODS, REGISTRY_SYNONYMS
from .settings import LOG_LEVELS, Settings

log = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    # Before the SDK's own basicConfig (which only acts when no handler exists): stderr, plain.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _common(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """The cache and log options, taken before a command or after it. (A subcommand's own defaults would
    overwrite what was given before it: there they default to nothing at all.)"""
    unset: Any = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "--cache-dir", type=Path, default=unset, help="diskcache directory (env MCP_REGISTRIES_CACHE_DIR)"
    )
    parser.add_argument(
        "--cache-url",
        metavar="URL",
        default=unset,
        help="redis://, rediss:// or unix:// URL of a Redis or Valkey server shared by every replica, instead "
        "of diskcache (env MCP_REGISTRIES_CACHE_URL)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        default=unset if sub else False,
        help="disable caching (env MCP_REGISTRIES_CACHE=off)",
    )
    parser.add_argument(
        "--log-level",
        default=unset,
        type=str.upper,
        choices=LOG_LEVELS,
        help="log level, to stderr (env MCP_REGISTRIES_LOG_LEVEL)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="mcp-registries",
        description="MCP server for npm and PyPI package questions. Without a command: serve MCP over stdio.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    root.add_argument(
        "--transport",
        choices=("stdio", "http", "sse", "streamable-http"),
        default="stdio",
        help="stdio (default), or http: /mcp, /sse, the REST API, /openapi.json and /healthz on one port "
        "(sse and streamable-http are aliases of http)",
    )
    root.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    root.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    root.add_argument("--stateless", action="store_true", help="stateless streamable HTTP (no MCP sessions)")
    root.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name clients may use (repeatable); loopback names and --host are always allowed",
    )
    root.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve a non-loopback address without MCP_REGISTRIES_AUTH_TOKEN",
    )
    _common(root)
    commands = root.add_subparsers(dest="command")
    query = commands.add_parser(
        "query",
        help="answer one question and print the JSON a tool returns",
        description="Print the compact JSON a tool returns; on failure, the error sentence on stderr and exit 1.",
    )
    query.add_argument("operation", choices=[op.value for op in OPERATIONS])
    query.add_argument("registry", help=f"one of {', '.join(REGISTRY_SYNONYMS)}")
    query.add_argument(
        "name",
        help="exact package name (search: the words or guessed name to look for; audit: a manifest file, or - "
        "for standard input, with registry 'auto' to infer it)",
    )
    query.add_argument("--version", dest="pkg_version", metavar="V", help="version (version, dependencies)")
    query.add_argument("--page", type=int, metavar="N", help="page number (versions, search, tree)")
    query.add_argument(
        "--page-size", type=int, metavar="N", help="page size, at most 250 (versions, search, tree)"
    )
    query.add_argument("--period", metavar="P", help=f"one of {', '.join(PERIODS)} (downloads)")
    query.add_argument("--files", metavar="F", help="'all' lists every file of a release (version)")
    query.add_argument("--group", metavar="G", help=f"one of {', '.join(GROUPS)}, in full (dependencies)")
    query.add_argument("--extra", metavar="E", help="a PyPI extra, in full (dependencies)")
    query.add_argument("--extras", metavar="E[,E...]", help="PyPI extras of the root, comma-separated (tree)")
    query.add_argument("--python", metavar="X.Y", help="target Python version, default 3.12 (tree, PyPI)")
    query.add_argument("--platform", metavar="P", help="linux (default), macos or windows (tree, PyPI)")
    query.add_argument("--full", action="store_true", help="print every field, nulls included, indented")
    _common(query, sub=True)
    return root


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        cache_dir=args.cache_dir,
        cache_url=args.cache_url,
        cache_enabled=False if args.no_cache else None,
        log_level=args.log_level,
    )


async def _query(settings: Settings, args: argparse.Namespace) -> int:
    from .service import Service

    arguments: dict[str, Any] = {"registry": args.registry}
    if args.operation == "audit":
        # `query audit <registry|auto> <manifest file, or - for standard input>`
        if args.registry == "auto":
            del arguments["registry"]
        try:
            text = sys.stdin.read() if args.name == "-" else Path(args.name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            sys.stderr.write(f"mcp-registries: cannot read the manifest {args.name!r}: {exc}\n")
            return 1
        arguments["manifest"] = text
        if args.full:
            arguments["full"] = True
    else:
        arguments["query" if args.operation == "search" else "name"] = args.name
    for key, value in (
        ("version", args.pkg_version),
        ("page", args.page),
        ("page_size", args.page_size),
        ("period", args.period),
        ("files", args.files),
        ("group", args.group),
        ("extra", args.extra),
        ("extras", args.extras.split(",") if args.extras is not None else None),
        ("python", args.python),
        ("platform", args.platform),
    ):
        if value is not None:
            arguments[key] = value
    service = Service(settings)
    try:
        result = await service.call(args.operation, arguments)
    except RegistryError as exc:
        sys.stderr.write(exc.message + "\n")
        return 1
    finally:
        await service.aclose()
    text = result.model_dump_json(indent=2) if args.full else compact_json(result)
    sys.stdout.write(text + "\n")
    return 0


def _settle_heap() -> None:
    # Everything imported and built so far lives as long as the process: moving it out of the
    # collector's reach spares every full collection a walk over ~100 MB of modules (it showed
    # as 50+ ms pauses in the middle of parsing a large packument).
    gc.collect()
    gc.freeze()


async def _serve_stdio(settings: Settings) -> None:
    from .server import build_server
    from .service import Service

    service = Service(settings)
    server = build_server(service)
    _settle_heap()
    try:
        await server.run_stdio_async()
    except* BrokenPipeError:
        # The client closed its end of our stdout (it exited): the session is over, as on stdin EOF. The
        # SDK's writer raises this from inside its task group, hence except*.
        log.info("the client closed stdout: ending the session")
        _discard_stdout()
    finally:
        await service.aclose()


def _discard_stdout() -> None:
    # Nothing can reach the client any more; without this, Python's own flush of stdout at exit may
    # report the broken pipe ("Exception ignored ... BrokenPipeError").
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)


def _serve_http(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .service import Service
    from .web import GRACE_SECONDS, DrainingServer, build_app, is_loopback

    if not is_loopback(args.host) and not settings.auth_token and not args.allow_unauthenticated:
        sys.stderr.write(
            f"mcp-registries: refusing to serve {args.host} without MCP_REGISTRIES_AUTH_TOKEN: anyone who can reach "
            "it could use it. Set a token, or pass --allow-unauthenticated.\n"
        )
        return 2
    service = Service(settings)
    app = build_app(
        service, bind_host=args.host, stateless=args.stateless, extra_hosts=tuple(args.allowed_host)
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        lifespan="on",
        # Long-lived SSE streams would hold shutdown forever; in-flight calls get this long.
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = DrainingServer(config, busy=lambda: bool(service.active or app.posts_in_flight))
    _settle_heap()
    # uvicorn installs the server's handle_exit for SIGINT and SIGTERM while it serves; installing it
    # before too covers a signal that arrives while it starts, and the signal uvicorn re-raises once it
    # has shut down (which would otherwise end the process as killed rather than with status 0).
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


#: glibc's mallopt parameter for the size from which allocations get their own mapping.
_M_MMAP_THRESHOLD = -3


def _return_big_blocks() -> None:
    """Have large blocks (128 KB and up) mapped on their own, so that freeing one gives it back.

    glibc raises that threshold each time such a block is freed, up to 32 MB, after which big buffers come
    from the heap and stay in RSS once freed: building PyPI's names index (buffers of MBs, freed as the next
    ones grow) peaked 19 MB higher and kept ~25 MB it no longer used. A fixed threshold ends that.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, 128 * 1024)


def main(argv: Sequence[str] | None = None) -> int:
    _return_big_blocks()
    args = parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        sys.stderr.write(f"mcp-registries: invalid configuration: {problems}\n")
        return 2
    configure_logging(settings.log_level.upper())
    if args.command == "query":
        return anyio.run(_query, settings, args)
    if args.transport != "stdio":
        return _serve_http(settings, args)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve_stdio, settings)
    return 0
