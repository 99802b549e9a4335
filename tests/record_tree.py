"""Records tests/data/tree/pypi: the documents the PyPI resolver reads for `pip_oracle.CASES`, and pip's answers.

    python -m tests.record_tree [directory]     # default tests/data/tree/pypi; needs the network and pip

Each case is resolved through a real `Service` whose HTTP transport keeps every 200 body it receives; then
the bodies are trimmed (see tests/data/README.md) and written as the offline tests replay them: project
JSON `<name>.json`, Simple API `simple-<name>.json`, core metadata `<wheel filename>.metadata`. pip's
answers go to `pip-reports.json`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from packaging.version import InvalidVersion, Version

from mcp_registries.cache import NullCache
from mcp_registries.http import _ssl_context
from mcp_registries.registries.base import IndexBundle, PackageIndex, VersionDoc
from mcp_registries.registries.pypi_simple import version_of_file
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from mcp_registries.tree_pypi import marker_environment, resolve_pypi

from .pip_oracle import CASES, Case, pip_command, pip_install

DEFAULT = Path(__file__).parent / "data" / "tree" / "pypi"
#: Versions kept in a trimmed project JSON besides those read: the newest few, and a few older than any read.
NEWEST, OLDER = 3, 2
DESCRIPTION = 200


class ServiceLookups:
    """The tree's `Lookups` over a `Service`: its cached index, and a version's document (the one the
    project document already gave for the latest version, else the service's own cached read)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.registry = service.registries["pypi"]
        self.bundles: dict[str, IndexBundle] = {}

    async def index(self, name: str) -> PackageIndex:
        bundle, _ = await self.service._index(self.registry, self.registry.check_name(name))
        self.bundles[name] = bundle
        return bundle.index

    async def manifest(self, name: str, version: str) -> VersionDoc:
        bundle = self.bundles.get(name)
        if bundle is not None and version in bundle.versions:
            return bundle.versions[version]
        doc, _ = await self.service._version_doc(self.registry, name, version)
        return doc


class Recording(ServiceLookups):
    """Also notes which versions' documents were asked for."""

    def __init__(self, service: Service, asked: dict[str, set[str]]) -> None:
        super().__init__(service)
        self.asked = asked

    async def manifest(self, name: str, version: str) -> VersionDoc:
        self.asked.setdefault(name, set()).add(version)
        return await super().manifest(name, version)


@dataclass
class Keeper(httpx.AsyncBaseTransport):
    """A real transport that keeps each successful body by URL path."""

    inner: httpx.AsyncBaseTransport
    bodies: dict[str, bytes] = field(default_factory=dict)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()  # decoded: gzip is the transport's business, not the record's
        dropped = ("content-encoding", "content-length")
        headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
        if response.status_code == 200:
            self.bodies[urlsplit(str(request.url)).path] = body
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)


@dataclass
class Recorded:
    bodies: dict[str, bytes]
    asked: dict[str, set[str]]
    answers: dict[str, dict[str, str]]


async def resolve_all(cases: tuple[Case, ...]) -> Recorded:
    keeper = Keeper(httpx.AsyncHTTPTransport(verify=_ssl_context()))
    service = Service(Settings.from_env(cache_enabled=False), transport=keeper, cache=NullCache())
    asked: dict[str, set[str]] = {}
    answers = {}
    try:
        for case in cases:
            resolution = await resolve_pypi(
                Recording(service, asked),
                case.name,
                case.version,
                extras=case.extras,
                python=case.python,
                platform=case.platform,
            )
            answers[case.key] = {p.name: p.version for p in [resolution.root, *resolution.packages]}
    finally:
        await service.aclose()
    return Recorded(keeper.bodies, asked, answers)


def _order(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def _few(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first wheel as served (whose metadata the service reads) and the sdist; a non-yanked file kept
    when there is one, so that yanks and Requires-Python read the same."""
    wheels = [f for f in files if f.get("filename", "").endswith(".whl")]
    others = [f for f in files if not f.get("filename", "").endswith(".whl")]
    kept = wheels[:1] + others[:1]
    if kept and all(f.get("yanked") for f in kept):
        kept += [f for f in files if not f.get("yanked")][:1]
    return kept or files[:1]


def trim_project(body: bytes, asked: set[str]) -> bytes:
    """Project JSON: description cut, `releases` to the versions asked for plus a few, two files each."""
    data = json.loads(body)
    data["info"]["description"] = (data["info"].get("description") or "")[:DESCRIPTION]
    releases = data.get("releases") or {}
    ordered = sorted(releases, key=_order, reverse=True)
    keep = set(asked) | set(ordered[:NEWEST]) | {data["info"].get("version")}
    if asked:
        oldest = min(_order(v) for v in asked)
        keep |= set([v for v in ordered if _order(v) < oldest][:OLDER])
    data["releases"] = {v: _few(files) for v, files in releases.items() if v in keep}
    data["urls"] = _few(data.get("urls") or [])
    return json.dumps(data).encode()


def trim_simple(body: bytes, asked: set[str]) -> bytes:
    """Simple API JSON: only the files of the versions asked for (first wheel and sdist each)."""
    data = json.loads(body)
    wanted = {_order(v) for v in asked}
    by_version: dict[Version, list[dict[str, Any]]] = {}
    for file in data.get("files", []):
        version = version_of_file(file["filename"])
        if version in wanted:
            by_version.setdefault(version, []).append(file)
    data["files"] = [f for version in sorted(by_version) for f in _few(by_version[version])]
    data["versions"] = sorted(asked, key=_order)
    return json.dumps(data).encode()


def trim_metadata(body: bytes) -> bytes:
    """Core metadata: the headers, and the description body cut."""
    head, separator, description = body.decode("utf-8").partition("\n\n")
    return (head + separator + description[:DESCRIPTION]).encode()


def write(directory: Path, recorded: Recorded) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path, body in sorted(recorded.bodies.items()):
        parts = path.strip("/").split("/")
        if parts[0] == "pypi" and len(parts) == 3:
            target, trimmed = f"{parts[1]}.json", trim_project(body, recorded.asked.get(parts[1], set()))
        elif parts[0] == "simple" and len(parts) == 2:
            target, trimmed = (
                f"simple-{parts[1]}.json",
                trim_simple(body, recorded.asked.get(parts[1], set())),
            )
        elif path.endswith(".metadata"):
            target, trimmed = parts[-1], trim_metadata(body)
        else:
            continue
        (directory / target).write_bytes(trimmed)


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    recorded = asyncio.run(resolve_all(CASES))
    write(directory, recorded)
    answers = recorded.answers
    version = _pip_version()
    reports = []
    for case in CASES:
        environment = marker_environment(case.python, case.platform)
        installed = pip_install(case.requirement, environment, case.platform)
        reports.append({"case": case.key, "pip": version, "install": dict(sorted(installed.items()))})
        print(f"{case.key}: pip {len(installed)}, resolver {len(answers[case.key])}", file=sys.stderr)
    (directory / "pip-reports.json").write_text(json.dumps(reports, indent=1) + "\n")


def _pip_version() -> str:
    import subprocess

    done = subprocess.run(
        [*pip_command(), "-m", "pip", "--version"], capture_output=True, text=True, check=True
    )
    return done.stdout.split()[1]


if __name__ == "__main__":
    main()
