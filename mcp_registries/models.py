"""Public result models: the contract of SPEC.md. Every tool returns one of these.

Absent data is None or empty, never invented. `compact_json` is the text block most models read:
no indentation, None and empty values left out.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RegistryName = Literal["npm", "pypi"]


class Operation(StrEnum):
    PACKAGE = "package"
    VERSIONS = "versions"
    VERSION = "version"
    DEPENDENCIES = "dependencies"
    DOWNLOADS = "downloads"
    MAINTAINER = "maintainer"
    SEARCH = "search"
    AUDIT = "audit"
    TREE = "tree"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Model):
    name: str | None = None
    email: str | None = None
    url: str | None = None
    username: str | None = Field(default=None, description="Registry account name, when known.")
    role: str | None = Field(default=None, description="e.g. Owner, Maintainer (PyPI) or maintainer (npm).")


class Artifact(_Model):
    filename: str
    url: str | None = None
    size: int | None = None
    digest: str | None = Field(
        default=None, description="'sha256:<hex>' or 'sha512-<base64>' (npm integrity)."
    )
    kind: str = Field(description="tarball (npm), wheel or sdist (PyPI).")


class Vulnerability(_Model):
    id: str = Field(description="The advisory's id (GHSA-…, PYSEC-…, CVE-…).")
    aliases: list[str] = []
    summary: str | None = None
    severity: str | None = Field(
        default=None, description="The record's CVSS vector, or the database's own rating (e.g. HIGH)."
    )
    fixed: list[str] = Field(default=[], description="Versions of this package that fix it.")


class VersionEntry(_Model):
    version: str
    released: str | None = Field(default=None, description="Release date (ISO 8601, UTC).")
    prerelease: bool = False
    yanked: bool = False
    yanked_reason: str | None = None
    deprecated: str | None = None
    tags: list[str] = []


class Dependency(_Model):
    name: str
    requirement: str | None = Field(default=None, description="Version range or specifier as written.")
    marker: str | None = Field(default=None, description="PEP 508 environment marker (PyPI).")
    extras: list[str] = Field(default=[], description="Extras requested of the dependency itself (PyPI).")
    optional: bool = False


class FileSummary(_Model):
    count: int = Field(description="Files in the release.")
    total_size: int | None = Field(default=None, description="Bytes, when the registry states sizes.")
    sdist: bool = Field(default=False, description="A source distribution is among the files (PyPI).")
    python: list[str] = Field(default=[], description="The wheels' Python tags, e.g. cp312, py3 (PyPI).")
    platforms: list[str] = Field(default=[], description="The wheels' platforms, e.g. 'manylinux x86_64'.")


class _Result(_Model):
    registry: RegistryName
    name: str = Field(description="The registry's own spelling of the package name.")
    notes: list[str] = Field(default=[], description="Caveats that matter to the reader.")


class PackageResult(_Result):
    latest_version: str | None = None
    summary: str | None = None
    license: str | None = None
    homepage: str | None = None
    repository: str | None = None
    keywords: list[str] = []
    author: Person | None = None
    maintainers: list[Person] = []
    versions_count: int = 0
    created: str | None = None
    latest_release_date: str | None = None
    dist_tags: dict[str, str] = {}
    deprecated: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    engines: dict[str, str] = {}
    dependencies_count: int | None = None


class VersionsResult(_Result):
    latest_version: str | None = None
    total: int
    page: int
    page_size: int
    pages: int
    has_more: bool
    versions: list[VersionEntry] = Field(description="Newest first by version precedence (SemVer / PEP 440).")


class VersionResult(_Result):
    version: str
    released: str | None = None
    prerelease: bool = False
    is_latest: bool = False
    tags: list[str] = []
    summary: str | None = None
    license: str | None = None
    homepage: str | None = None
    repository: str | None = None
    author: Person | None = None
    deprecated: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    engines: dict[str, str] = {}
    dependencies_count: int | None = None
    files: FileSummary | None = Field(default=None, description="A summary of every file of the release.")
    artifacts: list[Artifact] = Field(
        default=[],
        description="At most 5 files (sdist first, then the most general wheels); files='all' lists every one.",
    )
    vulnerabilities: list[Vulnerability] | None = Field(
        default=None,
        description="Known vulnerabilities (OSV, else the registry's own list); null when unknown.",
    )


class DependenciesResult(_Result):
    version: str
    runtime: list[Dependency] = []
    dev: list[Dependency] = []
    peer: list[Dependency] = []
    optional: list[Dependency] = []
    extras: dict[str, list[str] | int] = Field(
        default={},
        description="PyPI: extra name -> its requirement strings as written (PEP 508); a number when the "
        "answer shrank it to a count (the 'extra' argument lists it).",
    )
    dev_extras: list[str] = Field(
        default=[], description="PyPI: extras that play the role of dev dependencies."
    )


class DownloadCount(_Model):
    period: str
    downloads: int
    start: str | None = None
    end: str | None = None


class DownloadsResult(_Result):
    source: str = Field(description="The service the counts come from.")
    counts: list[DownloadCount] = []


class MaintainerResult(_Result):
    maintainers: list[Person] = []
    author: Person | None = None
    publisher: Person | None = Field(default=None, description="npm: who published the latest version.")
    organization: str | None = Field(default=None, description="PyPI: the owning organization.")
    source: str = Field(description="registry accounts, or declared in package metadata.")


class SearchHit(_Model):
    name: str
    latest_version: str | None = None
    summary: str | None = None
    released: str | None = Field(
        default=None, description="Release date of the latest version (ISO 8601, UTC)."
    )
    match: Literal["exact", "prefix", "contains", "similar", "text"] = Field(
        description="How the name matched the query (PyPI); text: the registry's own full-text ranking (npm)."
    )


class SearchResult(_Model):
    registry: RegistryName
    query: str
    total: int | None = Field(default=None, description="Matches in all, when the registry says.")
    page: int
    page_size: int
    has_more: bool
    results: list[SearchHit] = Field(description="Best match first.")
    notes: list[str] = Field(default=[], description="Caveats that matter to the reader.")


AuditStatus = Literal[
    "vulnerable", "deprecated", "yanked", "not-found", "outdated", "unchecked", "error", "ok"
]
#: Problems first: the order `dependencies` are listed in.
AUDIT_ORDER: tuple[AuditStatus, ...] = (
    "vulnerable",
    "deprecated",
    "yanked",
    "not-found",
    "error",
    "outdated",
    "unchecked",
    "ok",
)


class AuditEntry(_Model):
    name: str
    requirement: str | None = Field(default=None, description="As the manifest wrote it.")
    group: str | None = Field(
        default=None, description="npm: dependencies, devDependencies…; PyPI: runtime, an extra or a group."
    )
    status: AuditStatus
    resolved_version: str | None = Field(default=None, description="What a fresh install picks.")
    latest_version: str | None = None
    latest_allowed: bool | None = Field(
        default=None, description="The requirement admits the latest version."
    )
    deprecated: str | None = None
    yanked: bool = False
    license: str | None = None
    vulnerabilities: list[Vulnerability] | None = Field(
        default=None, description="Known vulnerabilities of the resolved version (OSV); null when unknown."
    )
    error: str | None = Field(default=None, description="Why this entry could not be checked.")


class AuditResult(_Model):
    registry: RegistryName
    source: Literal["package.json", "requirements", "pyproject", "list"]
    summary: dict[str, int] = Field(description="Dependencies by status.")
    licenses: dict[str, int] = Field(
        default={}, description="License → how many resolved dependencies use it."
    )
    dependencies: list[AuditEntry] = Field(description="Problems first.")
    notes: list[str] = Field(default=[], description="Caveats that matter to the reader.")


class TreeRoot(_Model):
    name: str
    version: str


class TreePackage(_Model):
    name: str
    version: str
    depth: int = Field(description="1 for the root's own dependencies; the shortest path from the root.")
    required_by: str = Field(description="name@version of the package whose dependency brought it first.")
    requirement: str | None = Field(default=None, description="That dependency as written.")
    license: str | None = None
    deprecated: str | None = None
    yanked: bool = False
    optional: bool = Field(default=False, description="npm: installed as an optional dependency.")


class TreeUnresolved(_Model):
    name: str
    requirement: str | None = None
    required_by: str
    reason: str


class TreeResult(_Model):
    registry: RegistryName
    name: str
    root: TreeRoot
    environment: dict[str, str] | None = Field(
        default=None, description="PyPI: the environment markers were evaluated for."
    )
    total: int = Field(description="Packages the installation brings, the root excluded.")
    max_depth: int
    page: int
    page_size: int
    pages: int
    has_more: bool
    packages: list[TreePackage] = Field(description="By depth, then name.")
    licenses: dict[str, int] = Field(default={}, description="License -> how many of the packages use it.")
    duplicates: dict[str, list[str]] = Field(
        default={}, description="Names resolved to more than one version -> those versions."
    )
    unresolved: list[TreeUnresolved] = Field(
        default=[], description="Dependencies that could not be resolved."
    )
    notes: list[str] = Field(default=[], description="Caveats that matter to the reader.")


Result = (
    PackageResult
    | VersionsResult
    | VersionResult
    | DependenciesResult
    | DownloadsResult
    | MaintainerResult
    | SearchResult
    | AuditResult
    | TreeResult
)

RESULT_MODELS: dict[Operation, type[_Model]] = {
    Operation.PACKAGE: PackageResult,
    Operation.VERSIONS: VersionsResult,
    Operation.VERSION: VersionResult,
    Operation.DEPENDENCIES: DependenciesResult,
    Operation.DOWNLOADS: DownloadsResult,
    Operation.MAINTAINER: MaintainerResult,
    Operation.SEARCH: SearchResult,
    Operation.AUDIT: AuditResult,
    Operation.TREE: TreeResult,
}


#: Lists that are the answer itself: an empty one says "none", so the text keeps it.
_ALWAYS = frozenset({"versions", "runtime", "counts", "results", "dependencies", "packages"})


def _prune(value: Any, *, top: bool) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v, top=False) for k, v in value.items()}
        # Inside list items a false flag repeats on every row; its absence reads the same.
        return {
            k: v
            for k, v in pruned.items()
            if (top and k in _ALWAYS) or (v is not None and v != [] and v != {} and (top or v is not False))
        }
    if isinstance(value, list):
        return [_prune(v, top=False) for v in value]
    return value


def _present(value: Any) -> bool:
    return value is not None and value is not False and value != [] and value != {}


def structured(result: BaseModel) -> dict[str, Any]:
    """The answer as JSON data (MCP structuredContent, REST body): every top-level field SPEC lists, and
    rows of lists without their null, false or empty fields (a 50-row page repeats them 50 times; the
    output schema does not require them, and a client validates the rest twice as fast)."""
    data = result.model_dump(mode="json")
    for field, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            data[field] = [{k: v for k, v in row.items() if _present(v) or k in _KEPT} for row in value]
    return data


#: Row fields whose null ("unknown") and empty list ("none") say different things: kept in structured data.
#: The text block leaves both out, and a note says when they are unknown.
_KEPT = frozenset({"vulnerabilities"})


def compact_json(result: BaseModel | dict[str, Any]) -> str:
    """The text block: compact JSON; null and empty fields (and false flags below the top level) left out.

    Given the answer already dumped to JSON-ready data (as the tool does for structuredContent), it is
    not dumped a second time.
    """
    data = result if isinstance(result, dict) else result.model_dump(mode="json")
    return json.dumps(_prune(data, top=True), separators=(",", ":"), ensure_ascii=False)


def flat_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with `$ref`s inlined and titles dropped.

    Clients validate every structured result against the tool's outputSchema, and the SDK's client
    re-reads the schema on each call: resolving references was most of that cost for a 50-entry
    page. Nullable fields stay `anyOf` branches with one `type` each, which every client dialect reads
    (type arrays are flagged as unportable by the MCP Inspector).
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = walk(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {**target, **{k: walk(v) for k, v in node.items() if k != "$ref"}}
        # Titles repeat the field names; every client reads the schema on each tools/list.
        node = {k: walk(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node.get("properties"), dict):
            node["properties"] = {
                name: _likely_branch_first(name, value) for name, value in node["properties"].items()
            }
        return node

    flat: dict[str, Any] = walk(schema)
    return flat


#: Nullable fields that hold a value in nearly every answer; the rest are null in most.
_USUALLY_SET = frozenset({"requirement", "released", "size", "digest", "name"})


def _likely_branch_first(field: str, schema: Any) -> Any:
    """A nullable field's `anyOf` with the branch most answers match first: a validator that tries
    branches in order (building an error for each miss) then matches on its first try. In a page of
    50 versions or a list of 30 dependencies this is a seventh of a Python client's validation time."""
    options = schema.get("anyOf") if isinstance(schema, dict) else None
    null = {"type": "null"}
    if not isinstance(options, list) or null not in options:
        return schema
    values = [o for o in options if o != null]
    return {**schema, "anyOf": [*values, null] if field in _USUALLY_SET else [null, *values]}
