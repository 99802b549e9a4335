"""The real npm client as the oracle of `tree_npm`: what `npm install --package-lock-only` writes, and the
registry documents the resolver reads, recorded for tests/test_tree_npm.py.

Recording (from the repository root, with npm on PATH and the registry reachable):

    python -m tests.npm_lock express@4.18.2 react-dom@18.2.0 ...

runs npm in an empty folder for each root, then resolves the same root with `resolve_npm` through a
`Service` against the configured registry (MCP_REGISTRIES_NPM_URL; npm's own `registry` setting should
name the same one), noting every packument and version document it reads, and writes to
tests/data/tree/npm/:

- `<root>.lock.json`: the lockfile's `packages`, trimmed to each entry's version, its `name` (aliases only)
  and its `optional`/`peer`/`extraneous` flags, with npm's and Node.js's versions;
- `<root>.packuments.json.xz`: the packuments read, as the registry serves them but trimmed to what a
  resolution reads: `name`, `dist-tags`, and every version, whose manifest keeps its dependency groups,
  licence and deprecation when the resolver read it and only `name`/`version`/`deprecated` otherwise
  (the version list is what picking reads); plus the list of the manifests read.

`npm_over` asks npm about a registry a test writes: the packuments served on loopback (`upstream`), a
fresh npm cache, the lockfile's packages back.
"""

from __future__ import annotations

import asyncio
import json
import lzma
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mcp_registries.registries.base import PackageIndex, VersionDoc
from mcp_registries.service import Service
from mcp_registries.settings import Settings
from mcp_registries.tree_npm import resolve_npm

from .upstream import LoopbackUpstream, reply

DATA = Path(__file__).parent / "data" / "tree" / "npm"
#: The manifest keys a resolution reads (npm_manifest: dependency groups, licence shapes, deprecation).
KEPT = (
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "license",
    "licence",
    "licenses",
    "deprecated",
)


@dataclass(frozen=True)
class Locked:
    path: str
    name: str
    version: str
    optional: bool
    extraneous: bool


def run_npm(root: str, folder: Path, *options: str, timeout: float = 600) -> dict[str, Any]:
    """`npm install --package-lock-only` of one root in an empty folder; the package-lock.json it wrote."""
    command = [
        "npm",
        "install",
        "--package-lock-only",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        *options,
        root,
    ]
    # Its own process group: npm's children keep the pipes open, so a timeout ends them all.
    with subprocess.Popen(
        command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    ) as npm:
        try:
            _, errors = npm.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(npm.pid, signal.SIGKILL)
            npm.communicate()
            raise
    if npm.returncode:
        raise subprocess.CalledProcessError(npm.returncode, command, stderr=errors)
    lock: dict[str, Any] = json.loads((folder / "package-lock.json").read_text())
    return lock


def npm_over(packuments: dict[str, dict[str, Any]], root: str, timeout: float = 60) -> dict[str, Any]:
    """What npm writes for `root` when the registry holds only `packuments` (served on loopback, with a fresh
    npm cache); its `packages`. A lockfile-only install reads no tarball, but every version needs one named."""
    with LoopbackUpstream() as server, tempfile.TemporaryDirectory() as folder:
        for name, document in packuments.items():
            served = {
                **document,
                "versions": {
                    version: {**manifest, "dist": {"tarball": f"{server.url}{name}/-/{name}-{version}.tgz"}}
                    for version, manifest in document["versions"].items()
                },
            }
            server.route("/" + name.replace("/", "%2f"), reply(200, json.dumps(served).encode()))
        project, cache = Path(folder, "project"), Path(folder, "cache")
        project.mkdir()
        lock = run_npm(root, project, "--registry", server.url, "--cache", str(cache), timeout=timeout)
        packages: dict[str, Any] = lock["packages"]
        return packages


def locked(packages: dict[str, Any]) -> list[Locked]:
    """The lockfile's packages but the project itself, each with its real name (an alias's target)."""
    return [
        Locked(
            path,
            entry.get("name") or path.rpartition("node_modules/")[2],
            entry["version"],
            bool(entry.get("optional")),
            bool(entry.get("extraneous")),
        )
        for path, entry in packages.items()
        if path
    ]


def lock_set(entries: Iterable[Locked]) -> dict[str, bool]:
    """name@version → optional: every copy optional (npm flags a copy reached only through optional edges
    `optional`, and one reached only through an optional peer `extraneous`)."""
    found: dict[str, bool] = {}
    for entry in entries:
        key = f"{entry.name}@{entry.version}"
        found[key] = found.get(key, True) and (entry.optional or entry.extraneous)
    return found


class Recording:
    """Lookups through a service, noting what they read."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.registry = service.registries["npm"]
        self.indexes: set[str] = set()
        self.manifests: set[tuple[str, str]] = set()

    async def index(self, name: str) -> PackageIndex:
        self.indexes.add(name)
        index: PackageIndex = (await self.service._index(self.registry, name))[0].index
        return index

    async def manifest(self, name: str, version: str) -> VersionDoc:
        self.manifests.add((name, version))
        bundle, _ = await self.service._index(self.registry, name)
        doc: VersionDoc = (await self.service._doc_for(self.registry, bundle, name, version))[0]
        return doc


def trimmed(packument: dict[str, Any], read: set[str]) -> dict[str, Any]:
    versions = {}
    for version, manifest in packument.get("versions", {}).items():
        keys = KEPT if version in read else ("name", "version", "deprecated")
        versions[version] = {k: manifest[k] for k in keys if k in manifest}
    return {"name": packument.get("name"), "dist-tags": packument.get("dist-tags", {}), "versions": versions}


def lock_text(about: dict[str, str], entries: dict[str, dict[str, Any]]) -> str:
    """The trimmed lockfile as JSON, one package a line."""
    head = json.dumps(about)[:-1]
    lines = ",\n".join(f"{json.dumps(path)}: {json.dumps(entry)}" for path, entry in entries.items())
    return f'{head}, "packages": {{\n{lines}\n}}}}\n'


def file_stem(root: str) -> str:
    return root.replace("/", "__")


async def record(root: str, lock: dict[str, Any], about: dict[str, str]) -> None:
    """Resolve `root` as npm's `lock` was written, noting what is read; write both files."""
    with tempfile.TemporaryDirectory() as cache:
        service = Service(Settings.from_env(cache_dir=Path(cache)))
        try:
            lookups = Recording(service)
            name, _, version = root.rpartition("@")
            await resolve_npm(lookups, name, version)
        finally:
            await service.aclose()
    read: dict[str, set[str]] = {}
    for package, release in lookups.manifests:
        read.setdefault(package, set()).add(release)
    base = service.settings.npm_url
    packuments = {}
    async with httpx.AsyncClient(timeout=120) as client:
        for package in sorted(lookups.indexes):
            response = await client.get(base + package.replace("/", "%2F"))
            response.raise_for_status()
            packuments[package] = trimmed(response.json(), read.get(package, set()))
    flags = ("name", "version", "optional", "peer", "extraneous")
    entries = {
        path: {k: v for k, v in entry.items() if k in flags}
        for path, entry in lock["packages"].items()
        if path
    }
    for path, entry in entries.items():
        if entry.get("name") == path.rpartition("node_modules/")[2]:
            del entry["name"]
    stem = file_stem(root)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / f"{stem}.lock.json").write_text(lock_text({"root": root, **about}, entries))
    body = {"manifests": sorted(f"{n}@{v}" for n, v in lookups.manifests), "packuments": packuments}
    (DATA / f"{stem}.packuments.json.xz").write_bytes(lzma.compress(json.dumps(body).encode()))


def main(roots: list[str]) -> None:
    about = {
        tool: subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout.strip()
        for tool in ("npm", "node")
    }
    for root in roots:
        with tempfile.TemporaryDirectory() as folder:
            lock = run_npm(root, Path(folder))
        asyncio.run(record(root, lock, about))
        sys.stderr.write(f"recorded {root}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
