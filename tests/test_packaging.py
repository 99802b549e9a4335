"""Packaging and documentation stay consistent: server.json, pyproject, README, SPEC and `.ci/run`."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import mcp_registries
from mcp_registries.models import Operation
from mcp_registries.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
SCHEMA = SHARED / "server.schema.json"
SPEC = SHARED / "SPEC.md"

_MCP_NAME = re.compile(r"<!--\s*mcp-name:\s*(\S+)\s*-->")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ENV_VAR = re.compile(r"\bMCP_REGISTRIES_[A-Z0-9_]+\b")
CI_MARKER = "# test command:"
#: How the README names the checkout in client snippets.
CHECKOUT = "/path/to/mcp-registries"
CHECKOUT_SCRIPT = CHECKOUT + "/.venv/bin/mcp-registries"


def _server_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    return data


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_test_command() -> str:
    """The README's test command: the one-line code block before the mcp-name line that runs pytest."""
    head = _readme().split("<!-- mcp-name:", 1)[0]
    commands = [block.strip() for block in _FENCE.findall(head) if "pytest" in block]
    assert len(commands) == 1, f"expected one pytest code block at the top of README.md, found {commands}"
    assert "\n" not in commands[0], "the README's test command must be a single line"
    return commands[0]


def _ci_test_command() -> str:
    """The command on the line after the marker comment in .ci/run."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    found = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if line.strip() == CI_MARKER]
    assert len(found) == 1, f".ci/run must hold exactly one line after {CI_MARKER!r}"
    return found[0]


def _spec_env_vars() -> set[str]:
    if not SPEC.is_file():
        pytest.skip(f"SPEC.md not found at {SPEC} (../shared is not next to this checkout)")
    # The configuration table and the prose (the PyPI file host is named in "Upstreams").
    return set(_ENV_VAR.findall(SPEC.read_text(encoding="utf-8")))


def test_server_json_valid_against_schema() -> None:
    """server.json validates against the official MCP Registry schema (draft 7, formats checked)."""
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip(f"server.schema.json not found at {SCHEMA} (../shared is not next to this checkout)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(_server_json()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_server_json_schema_id_matches_schema() -> None:
    """server.json's $schema names the schema it is validated against."""
    if not SCHEMA.is_file():
        pytest.skip(f"server.schema.json not found at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert _server_json()["$schema"] == schema["$id"]


def test_server_json_version_matches_package() -> None:
    """server.json and its PyPI package carry pyproject's version, which is the package's __version__."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    server = _server_json()
    (package,) = [p for p in server["packages"] if p["registryType"] == "pypi"]
    assert package["identifier"] == pyproject["name"]
    assert server["version"] == pyproject["version"] == mcp_registries.__version__
    assert package["version"] == pyproject["version"]


def test_readme_mcp_name_matches_server_json() -> None:
    """The README's mcp-name comment (registry ownership check) names the server in server.json."""
    names = _MCP_NAME.findall(_readme())
    assert names == [_server_json()["name"]]


def test_readme_starts_with_run_and_test_commands() -> None:
    """The README opens with the server command and the test command, both single shell lines."""
    head = _readme().split("<!-- mcp-name:", 1)[0]
    blocks = [block.strip() for block in _FENCE.findall(head)]
    assert len(blocks) == 2, blocks
    assert blocks[0].endswith(".venv/bin/mcp-registries") and "\n" not in blocks[0]
    assert blocks[1] == _readme_test_command()


def _readme_client_entries() -> list[dict[str, Any]]:
    """The stdio server entries (those with a `command`) of the README's client snippets, in order."""
    section = _readme().split("\n## Client configuration\n", 1)[1].split("\n## ", 1)[0]
    entries: list[dict[str, Any]] = []
    for block in _FENCE.findall(section):
        config = json.loads(block)
        servers = config.get("mcpServers") or config.get("servers") or {}
        entries += [entry for entry in servers.values() if "command" in entry]
    return entries


def test_readme_client_snippets_run_the_checkout() -> None:
    """Client snippets lead with the checkout's console script and never run `uvx mcp-registries` from PyPI."""
    entries = _readme_client_entries()
    assert len(entries) >= 3
    assert entries[0] == {"command": CHECKOUT_SCRIPT}
    for entry in entries:
        if entry["command"] == "uvx":
            assert entry["args"] == ["--from", CHECKOUT, "mcp-registries"], entry
        else:
            assert entry["command"] == CHECKOUT_SCRIPT and "args" not in entry, entry


@pytest.mark.anyio
async def test_readme_first_client_snippet_serves_the_tools() -> None:
    """The README's first client configuration, pointed at this checkout, starts a server that lists every tool."""
    from mcp import Client, StdioServerParameters

    entry = _readme_client_entries()[0]
    command = entry["command"].replace(CHECKOUT, str(ROOT))
    if entry["command"] == CHECKOUT_SCRIPT and not Path(command).is_file():
        pytest.skip(f"{command} is missing: this checkout was installed into another venv")
    params = StdioServerParameters(
        command=command, args=entry.get("args", []), env={"MCP_REGISTRIES_CACHE": "off"}
    )
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == {op.value for op in Operation}


def test_readme_test_command_is_what_ci_runs() -> None:
    """`.ci/run` runs exactly the README's test command (compared as parsed shell words)."""
    readme, ci = _readme_test_command(), _ci_test_command()
    assert shlex.split(ci) == shlex.split(readme)
    assert ci == readme


def test_env_vars_documented_everywhere() -> None:
    """Every MCP_REGISTRIES_* variable the server reads is named in SPEC.md, the README and server.json.

    SPEC.md may name variables of features not built yet; server.json declares only what is read.
    """
    spec = _spec_env_vars()
    assert spec, "no MCP_REGISTRIES_* variables found in SPEC.md"
    read = set(ENV_VARS)
    readme = set(_ENV_VAR.findall(_readme()))
    declared = {var["name"] for p in _server_json()["packages"] for var in p.get("environmentVariables", [])}
    assert read - spec == set(), "read by the server but not in SPEC.md"
    assert read - readme == set(), "missing from README.md"
    assert declared == read, "server.json must declare exactly the variables the server reads"


def test_server_json_auth_token_is_secret() -> None:
    """The auth token and the cache URL (which may carry the cache server's password) are the variables
    marked secret, and none is required."""
    variables = [var for p in _server_json()["packages"] for var in p.get("environmentVariables", [])]
    secret = {"MCP_REGISTRIES_AUTH_TOKEN", "MCP_REGISTRIES_CACHE_URL"}
    assert {v["name"] for v in variables if v.get("isSecret")} == secret
    assert not any(v.get("isRequired") for v in variables)


def test_server_json_description_fits() -> None:
    """server.json's description is at most 100 characters (the registry's limit)."""
    description = _server_json()["description"]
    assert 0 < len(description) <= 100, len(description)


def test_ci_run_is_executable() -> None:
    """`.ci/run` is an executable bash script with strict mode on."""
    path = ROOT / ".ci" / "run"
    assert path.stat().st_mode & 0o111
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


#: What `.ci/run` checks after the tests, with the tools the test extra installs.
CI_CHECKS = (".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy mcp_registries")


def test_test_extra_bounds_ruff_and_mypy() -> None:
    """The test extra installs ruff and mypy within bounded ranges that the versions in use satisfy."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = {req.name: req for req in map(Requirement, extra["optional-dependencies"]["test"])}
    for tool in ("ruff", "mypy"):
        assert tool in requirements, f"{tool} is missing from the test extra"
        operators = {spec.operator for spec in requirements[tool].specifier}
        assert {">=", "<"} <= operators, f"{tool} needs a lower and an upper bound"
        assert requirements[tool].specifier.contains(metadata.version(tool))


def test_ci_run_checks_ruff_and_mypy_after_the_tests() -> None:
    """`.ci/run` runs ruff check, ruff format --check and mypy after the test command, which installs them."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    after = text.split(CI_MARKER + "\n" + _ci_test_command(), 1)[1]
    lines = [shlex.split(line, comments=True) for line in after.splitlines()]
    for check in map(shlex.split, CI_CHECKS):
        assert any(words[-len(check) :] == check for words in lines), f"{check} does not run after the tests"
