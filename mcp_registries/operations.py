"""The seed's six operations and their parameter table, as data.

One table feeds the MCP tools' input schemas, the REST API's OpenAPI document and the CLI, and
`parse_arguments` applies its rules (synonyms, ranges, clamping) with one error sentence each,
whatever the entry point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument, shown
from .models import Operation, RegistryName
from .registries.base import Period

REGISTRY_SYNONYMS: dict[str, RegistryName] = {
    "npm": "npm",
    "node": "npm",
    "nodejs": "npm",
    "pypi": "pypi",
    "python": "pypi",
    "pip": "pypi",
}
PERIODS = ("last-day", "last-week", "last-month", "last-year")
FILE_VIEWS = ("summary", "all")
GROUPS = ("runtime", "dev", "peer", "optional")
DEFAULT_PERIOD: Period = "last-month"
MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 50
SEARCH_PAGE_SIZE = 10
MAX_QUERY_LENGTH = 200
#: An audit checks at most this many dependencies (SPEC); a manifest's text at most this long.
MAX_DEPENDENCIES = 500
MAX_MANIFEST_LENGTH = 200_000
TREE_PAGE_SIZE = 100
PLATFORMS = ("linux", "macos", "windows")
DEFAULT_PYTHON = "3.12"
MAX_EXTRAS = 50
_PYTHON_VERSION = re.compile(r"3\.[0-9]{1,2}(\.[0-9]{1,3})?", re.ASCII)
# PEP 685: an extra's name as written (compared normalized).
_EXTRA_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?", re.ASCII)
#: The largest whole number every JSON reader keeps exact (JavaScript's Number.MAX_SAFE_INTEGER);
#: a larger page could not be echoed in the answer faithfully.
MAX_PAGE = 2**53 - 1
# ASCII digits only: str.isdigit() also accepts '²' and '①', which int() refuses.
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    default: Any = None
    minimum: int | None = None
    #: Bounds of a string's length (names and versions are never empty).
    min_length: int | None = None
    max_length: int | None = None
    #: An array's item schema.
    items: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.items is not None:
            schema["items"] = self.items
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        return schema


REGISTRY = Param(
    "registry",
    "string",
    "Which package registry to query. npm = Node.js packages; pypi = Python packages. "
    "(Synonyms node/nodejs -> npm, python/pip -> pypi.)",
    required=True,
    enum=tuple(REGISTRY_SYNONYMS),
)
REGISTRY_INFERRED = Param(
    "registry",
    "string",
    "npm or pypi (synonyms node/nodejs, python/pip). Required with packages; with a manifest it is inferred "
    "from the manifest's kind when left out.",
    enum=tuple(REGISTRY_SYNONYMS),
)
MANIFEST = Param(
    "manifest",
    "string",
    "The text of a package.json (all four dependency groups), a requirements file (as pip reads it: "
    "comments, options, markers, extras, URLs) or a pyproject.toml (PEP 621 [project] and Poetry tables). "
    "Give this or packages.",
    min_length=1,
    max_length=MAX_MANIFEST_LENGTH,
)
PACKAGES = Param(
    "packages",
    "array",
    "Requirement strings instead of a manifest: npm 'name' or 'name@range' (e.g. 'express@^4.18'), PyPI PEP 508 "
    f"(e.g. 'requests>=2.31'). Needs registry. At most {MAX_DEPENDENCIES}.",
    items={"type": "string", "minLength": 1},
)
FULL = Param(
    "full",
    "boolean",
    "audit: list every dependency with every field, however long the answer (default: a long answer lists "
    "the problems, and counts the dependencies without one).",
    default=False,
)
NAME = Param(
    "name",
    "string",
    "Exact package name (e.g. npm 'react', PyPI 'requests'). Scoped npm names like '@scope/pkg' are supported.",
    required=True,
    min_length=1,
)
PAGE = Param(
    "page", "integer", "1-based page number for paginated lists (versions / search).", default=1, minimum=1
)
PAGE_SIZE = Param(
    "page_size",
    "integer",
    f"Results per page (1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}). Larger values are clamped.",
    default=DEFAULT_PAGE_SIZE,
    minimum=1,
)
SEARCH_PAGE_SIZE_PARAM = Param(
    "page_size",
    "integer",
    f"Results per page (1-{MAX_PAGE_SIZE}, default {SEARCH_PAGE_SIZE}). Larger values are clamped.",
    default=SEARCH_PAGE_SIZE,
    minimum=1,
)
QUERY = Param(
    "query",
    "string",
    "What to look for: words ('http client', 'django rest framework') or a name you are unsure of "
    "(e.g. 'reqeusts'). PyPI matches package names (separators and case ignored); npm uses the registry's "
    "own full-text search.",
    required=True,
    min_length=1,
    max_length=MAX_QUERY_LENGTH,
)
VERSION_REQUIRED = Param(
    "version",
    "string",
    "Exact version string to fetch (e.g. '18.2.0', '2.31.0'). npm also accepts a dist-tag such as 'latest' "
    "or 'next'; PyPI matches PEP 440-equivalent spellings ('4.2' = '4.2.0').",
    required=True,
    min_length=1,
)
VERSION_OPTIONAL = Param(
    "version",
    "string",
    "Optional exact version; omit to use the latest published version. npm also accepts a dist-tag.",
)
FILES = Param(
    "files",
    "string",
    "version: 'summary' (default) gives a summary of every file and at most 5 of them (sdist first, then the "
    "most general wheels); 'all' lists every file, paginated by page/page_size.",
    enum=FILE_VIEWS,
    default="summary",
)
GROUP = Param(
    "group",
    "string",
    "List this dependency group in full (runtime, dev, peer, optional) when a large answer would shrink it.",
    enum=GROUPS,
)
EXTRA = Param(
    "extra",
    "string",
    "PyPI: list this extra's requirements in full when a large answer shows extras as counts.",
)
PERIOD = Param(
    "period",
    "string",
    "npm download window (rejects unknown values). Ignored for PyPI, which always returns recent "
    "last-day/last-week/last-month totals.",
    enum=PERIODS,
    default=DEFAULT_PERIOD,
)

TREE_PAGE_SIZE_PARAM = Param(
    "page_size",
    "integer",
    f"Packages per page (1-{MAX_PAGE_SIZE}, default {TREE_PAGE_SIZE}). Larger values are clamped.",
    default=TREE_PAGE_SIZE,
    minimum=1,
)
EXTRAS = Param(
    "extras",
    "array",
    "PyPI: extras of the root to install too (e.g. ['standard'] for 'fastapi[standard]').",
    items={"type": "string", "minLength": 1},
)
PYTHON = Param(
    "python",
    "string",
    f"PyPI: the target Python version markers and Requires-Python are evaluated for (default {DEFAULT_PYTHON}).",
    default=DEFAULT_PYTHON,
)
PLATFORM = Param(
    "platform",
    "string",
    "PyPI: the target operating system for environment markers (default linux, x86_64).",
    enum=PLATFORMS,
    default="linux",
)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    operation: Operation
    title: str
    summary: str
    description: str
    params: tuple[Param, ...] = field(default=())

    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {p.name: p.schema() for p in self.params},
            "required": [p.name for p in self.params if p.required],
        }


OPERATIONS: dict[Operation, OperationSpec] = {
    spec.operation: spec
    for spec in (
        OperationSpec(
            Operation.PACKAGE,
            "Package overview",
            "full package metadata (latest version normalized)",
            "Overview of an npm or PyPI package: latest version (the registry's own choice), summary, "
            "license, homepage, repository, author, maintainers, number of versions, first and latest "
            "release dates, dist-tags (npm), deprecation (npm) or yank (PyPI) of the latest version, "
            "engines (node/python requirement) and runtime dependency count. Start here.",
            (REGISTRY, NAME),
        ),
        OperationSpec(
            Operation.VERSIONS,
            "List versions",
            "paginated version list for a package",
            "Versions of a package, newest first by version precedence (SemVer for npm, PEP 440 for PyPI), "
            "each with release date, prerelease flag, yanked/deprecated status and dist-tags. Paginated: "
            "the answer gives total, pages and has_more.",
            (REGISTRY, NAME, PAGE, PAGE_SIZE),
        ),
        OperationSpec(
            Operation.VERSION,
            "One version",
            "single version metadata",
            "Metadata of one exact version: release date, prerelease, whether it is the latest, license, "
            "deprecation or yank with reason, engines, dependency count, a summary of its files (Python tags "
            "and platforms of the wheels) with up to 5 downloadable files and their digests (files='all' "
            "lists every one), and known vulnerabilities (OSV; null when they cannot be known).",
            (REGISTRY, NAME, VERSION_REQUIRED, FILES, PAGE, PAGE_SIZE),
        ),
        OperationSpec(
            Operation.DEPENDENCIES,
            "Dependencies",
            "runtime + dev dependencies for a version (latest if omitted)",
            "Dependencies of a version (latest if omitted), grouped as runtime, dev, peer and optional, each "
            "with its requirement as the package wrote it; PyPI adds environment markers and its extras "
            "(extra -> requirements). A large answer shrinks its biggest groups or extras to names or counts "
            "(runtime last, with a note); group or extra lists one in full.",
            (REGISTRY, NAME, VERSION_OPTIONAL, GROUP, EXTRA),
        ),
        OperationSpec(
            Operation.DOWNLOADS,
            "Download counts",
            "download statistics (npm: period=last-day|week|month|year; pypi: recent day/week/month)",
            "How popular a package is: download counts for a period (npm) or the recent day/week/month "
            "totals (PyPI, from pypistats).",
            (REGISTRY, NAME, PERIOD),
        ),
        OperationSpec(
            Operation.MAINTAINER,
            "Maintainers",
            "maintainer/author records for a package",
            "Who maintains a package: registry accounts with their roles (PyPI owners, npm maintainers), "
            "the author, the latest publisher (npm) and the owning organization (PyPI).",
            (REGISTRY, NAME),
        ),
        OperationSpec(
            Operation.SEARCH,
            "Search packages",
            "find packages by words or by a guessed name",
            "Find packages by words or by a name you are not sure of: use it before guessing a package name. "
            "Each result gives the name, how it matched (exact, prefix, contains, similar; npm: text), and "
            "for the first ten the latest version, summary and release date. Paginated.",
            (REGISTRY, QUERY, PAGE, SEARCH_PAGE_SIZE_PARAM),
        ),
        OperationSpec(
            Operation.AUDIT,
            "Audit dependencies",
            "check a whole manifest's dependencies at once, with known vulnerabilities",
            "Check every dependency of a package.json, requirements file or pyproject.toml (or a list of "
            "requirements) in one call: the version a fresh install picks, the latest, whether the requirement "
            "allows it, deprecation or yank, license and known vulnerabilities (OSV). Problems come first; use it "
            "instead of one call per package.",
            (REGISTRY_INFERRED, MANIFEST, PACKAGES, FULL),
        ),
        OperationSpec(
            Operation.TREE,
            "Dependency tree",
            "everything installing a version pulls in, resolved as npm and pip would",
            "What installing a version (latest if omitted) brings with it, resolved as npm 7+ or pip would for "
            "a fresh install: every package with its version, depth, which package required it and how, license, "
            "deprecation or yank; totals, licenses counted, names resolved to several versions, and the "
            "dependencies that could not be resolved. PyPI: extras, target python and platform. Paginated.",
            (REGISTRY, NAME, VERSION_OPTIONAL, PAGE, TREE_PAGE_SIZE_PARAM, EXTRAS, PYTHON, PLATFORM),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Query:
    """One operation's arguments after the table's rules; the name is checked by the registry adapter."""

    operation: Operation
    #: None only for an audit of a manifest that names none (the manifest's kind tells).
    registry: RegistryName | None
    #: The package name ('' for search and audit, which take `text` or a manifest instead).
    name: str
    #: search: the words or guessed name to look for.
    text: str | None = None
    version: str | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    period: Period = DEFAULT_PERIOD
    files: str = "summary"
    group: str | None = None
    extra: str | None = None
    #: The arguments the caller gave: an answer shrinks to its budget only where the caller asked for no more.
    given: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    #: audit: a manifest's text, or requirement strings.
    manifest: str | None = None
    packages: tuple[str, ...] | None = None
    #: tree (PyPI): the root's extras, and the target environment.
    extras: tuple[str, ...] = ()
    python: str = DEFAULT_PYTHON
    platform: str = "linux"


def registry_of(raw: Any) -> RegistryName:
    if not isinstance(raw, str) or raw.strip().lower() not in REGISTRY_SYNONYMS:
        raise InvalidArgument(
            "registry",
            f"Unknown registry {shown(raw)}: use 'npm' or 'pypi' (synonyms node, nodejs -> npm; python, pip -> pypi).",
        )
    return REGISTRY_SYNONYMS[raw.strip().lower()]


def _integer(arguments: dict[str, Any], param: Param, maximum: int | None = None) -> int:
    raw = arguments.get(param.name)
    if raw is None:
        return int(param.default)
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw.strip()):
        value = int(raw.strip())
    if value is None or value < 1:
        raise InvalidArgument(
            param.name, f"{param.name} must be a whole number of 1 or more; got {shown(raw)}."
        )
    if maximum is not None and value > maximum:
        raise InvalidArgument(
            param.name, f"{param.name} must be a whole number from 1 to {maximum}; got {shown(raw)}."
        )
    return value


def _string(arguments: dict[str, Any], param: Param) -> str | None:
    raw = arguments.get(param.name)
    if raw is None or (isinstance(raw, str) and not raw.strip() and not param.required):
        if param.required:
            raise InvalidArgument(param.name, f"The '{param.name}' argument is required.")
        return None
    if not isinstance(raw, str):
        raise InvalidArgument(param.name, f"The '{param.name}' argument must be a string; got {shown(raw)}.")
    return raw


def parse_arguments(operation: Operation | str, arguments: dict[str, Any]) -> Query:
    """Apply the parameter table's rules; raise InvalidArgument with one sentence on the first violation."""
    try:
        spec = OPERATIONS[Operation(operation)]
    except ValueError:
        names = ", ".join(o.value for o in Operation)
        raise InvalidArgument(
            "operation", f"Unknown operation {shown(operation)}: use one of {names}."
        ) from None
    params = {p.name: p for p in spec.params}
    if spec.operation is Operation.AUDIT:
        return _audit_query(arguments)
    registry = registry_of(arguments.get("registry"))
    name = _string(arguments, NAME) or "" if "name" in params else ""
    values: dict[str, Any] = {}
    notes: list[str] = []
    if "query" in params:
        values["text"] = _search_text(arguments)
    if "version" in params:
        values["version"] = _string(
            arguments, VERSION_REQUIRED if spec.operation is Operation.VERSION else VERSION_OPTIONAL
        )
    if "page" in params:
        values["page"] = _integer(arguments, PAGE, MAX_PAGE)
        size = _integer(arguments, params["page_size"])
        if size > MAX_PAGE_SIZE:
            asked = f" {size}" if size.bit_length() <= 64 else ""
            notes.append(f"page_size{asked} was clamped to {MAX_PAGE_SIZE}")
            size = MAX_PAGE_SIZE
        values["page_size"] = size
    if "period" in params:
        raw = arguments.get("period")
        period = DEFAULT_PERIOD if raw is None else raw.strip().lower() if isinstance(raw, str) else None
        if period not in PERIODS:
            raise InvalidArgument(
                "period",
                f"Unknown period {shown(raw)}: use one of {', '.join(PERIODS)} (default last-month).",
            )
        values["period"] = period
    for param in (FILES, GROUP):
        if param.name in params:
            values[param.name] = _choice(arguments, param)
    if "extra" in params:
        values["extra"] = _string(arguments, EXTRA)
    if "extras" in params:
        values.update(_environment(arguments))
        if registry != "pypi" and any(arguments.get(p) is not None for p in ("extras", "python", "platform")):
            notes.append("extras, python and platform apply to PyPI only and were ignored")
    given = frozenset(k for k, v in arguments.items() if k in params and v is not None)
    return Query(
        operation=spec.operation, registry=registry, name=name, given=given, notes=tuple(notes), **values
    )


def _audit_query(arguments: dict[str, Any]) -> Query:
    raw_registry = arguments.get("registry")
    registry = None if raw_registry is None else registry_of(raw_registry)
    full = _flag(arguments, FULL)
    given = frozenset({"full"} if full else ())
    manifest, packages = arguments.get("manifest"), arguments.get("packages")
    if (manifest is None) == (packages is None):
        raise InvalidArgument(
            "manifest",
            "Give either manifest (the text of a package.json, requirements file or pyproject.toml) or "
            "packages (a list of requirement strings), not both or neither.",
        )
    if manifest is not None:
        if not isinstance(manifest, str) or not manifest.strip():
            raise InvalidArgument(
                "manifest", f"manifest must be a manifest's text (a string); got {shown(manifest)}."
            )
        if len(manifest) > MAX_MANIFEST_LENGTH:
            raise InvalidArgument(
                "manifest",
                f"manifest must be at most {MAX_MANIFEST_LENGTH:,} characters; got {len(manifest):,}.",
            )
        return Query(Operation.AUDIT, registry, "", manifest=manifest, given=given)
    if registry is None:
        raise InvalidArgument("registry", "registry ('npm' or 'pypi') is required with packages.")
    if not isinstance(packages, list) or not all(isinstance(p, str) and p.strip() for p in packages):
        raise InvalidArgument(
            "packages", f"packages must be a list of requirement strings; got {shown(packages)}."
        )
    if not packages:
        raise InvalidArgument("packages", "packages is empty: give at least one requirement string.")
    if len(packages) > MAX_DEPENDENCIES:
        raise InvalidArgument(
            "packages", f"An audit checks at most {MAX_DEPENDENCIES} dependencies; got {len(packages)}."
        )
    return Query(
        Operation.AUDIT,
        registry,
        "",
        packages=tuple(p.strip() for p in packages),
        given=given,
    )


def _environment(arguments: dict[str, Any]) -> dict[str, Any]:
    """tree's PyPI target: the root's extras, the Python version and the platform."""
    raw = arguments.get("extras")
    extras: list[str] = []
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
            raise InvalidArgument("extras", f"extras must be a list of extra names; got {shown(raw)}.")
        if len(raw) > MAX_EXTRAS:
            raise InvalidArgument("extras", f"At most {MAX_EXTRAS} extras; got {len(raw)}.")
        for extra in raw:
            if not _EXTRA_NAME.fullmatch(extra.strip()):
                raise InvalidArgument(
                    "extras", f"Not an extra's name: {shown(extra)} (letters, digits, '.', '-', '_')."
                )
            extras.append(extra.strip())
    python = _string(arguments, PYTHON)
    python = DEFAULT_PYTHON if python is None else python.strip()
    if not _PYTHON_VERSION.fullmatch(python):
        raise InvalidArgument(
            "python",
            f"python must be a Python 3 version such as '3.12'; got {shown(arguments.get('python'))}.",
        )
    platform = _choice(arguments, PLATFORM)
    return {"extras": tuple(dict.fromkeys(extras)), "python": python, "platform": platform}


def _flag(arguments: dict[str, Any], param: Param) -> bool:
    raw = arguments.get(param.name)
    if raw is None:
        return bool(param.default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise InvalidArgument(param.name, f"{param.name} must be true or false; got {shown(raw)}.")


def _search_text(arguments: dict[str, Any]) -> str:
    text = _string(arguments, QUERY) or ""
    if not text.strip():
        raise InvalidArgument("query", "The 'query' argument must have some words or a package name in it.")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidArgument(
            "query", f"The query must be at most {MAX_QUERY_LENGTH} characters; got {len(text)}."
        )
    try:
        # JSON can carry a lone surrogate ("\ud800"), which no URL and no registry can.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(
            "query", "The query has a lone surrogate character, which is not text: drop it."
        ) from None
    return " ".join(text.split())


def _choice(arguments: dict[str, Any], param: Param) -> str | None:
    raw = arguments.get(param.name)
    if raw is None:
        return param.default  # type: ignore[no-any-return]
    value = raw.strip().lower() if isinstance(raw, str) else None
    assert param.enum is not None
    if value not in param.enum:
        raise InvalidArgument(
            param.name, f"Unknown {param.name} {shown(raw)}: use one of {', '.join(param.enum)}."
        )
    return value
