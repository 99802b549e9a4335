"""Which packages a manifest or a list of requirement strings names, judged without the code under test: the
property tests' oracle for `audit` (tests/test_properties.py).

Two answers, one loose and one exact:
- `named_in`: every name the text could be naming, normalized per registry: each name-shaped token of its
  text, of its JSON or TOML strings (escapes decoded), and of its lines joined at pip's continuations.
  Whatever a reader makes of any text, an audit may fetch the documents of these names only.
- `read_manifest` / `read_packages`: a verdict on the arguments (valid, invalid, or unknown to the oracle)
  and, for texts in a plain subset of each format (the shapes people write, which the strategies generate),
  exactly which packages are fetched and how many dependencies the answer lists.

The formats' rules written here are the formats' own (JSON and TOML through the standard library; pip's
comments, options and URL lines; PEP 508 and PEP 440 spellings; npm's ranges, dist-tags, aliases and the
specs that are not registry ones; Poetry's tables and constraints), in a subset small enough to be read
without a parser. Outside that subset the oracle answers `unknown` and only the loose rule applies.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"
#: SPEC: an audit checks at most 500 dependencies.
MOST = 500
NPM_GROUPS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
#: The registries' own limits on a name's length (npm's validate-npm-package-name; PyPI's, as this server
#: checks names before any request).
LONGEST_NPM_NAME = 214
LONGEST_PYPI_NAME = 200

# -- names ------------------------------------------------------------------------------------------------

_NPM_PART = r"[A-Za-z0-9\-~!*'()][A-Za-z0-9\-._~!*'()]*"
NPM_NAME = re.compile(rf"(?:@{_NPM_PART}/)?{_NPM_PART}", re.ASCII)
_PYPI_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
PYPI_NAME = re.compile(_PYPI_NAME, re.ASCII)
_PYPI_RUN = re.compile(r"[A-Za-z0-9._-]+", re.ASCII)
#: What str.splitlines() splits at, as pip (and this server) split a requirements file.
_LINE_BREAK = r"(?:\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])"


def normalized(registry: str, name: str) -> str:
    """The name a registry document is asked for: npm's as written, PyPI's PEP 503-normalized."""
    return name if registry == "npm" else re.sub(r"[-_.]+", "-", name).lower()


def npm_name(name: str) -> bool:
    return len(name) <= LONGEST_NPM_NAME and NPM_NAME.fullmatch(name) is not None


def _readable(text: str) -> str:
    """JSON can carry lone surrogates, which no name holds and no answer can: each reads as '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _strings(value: Any) -> Iterator[str]:
    """Every key and string of a JSON or TOML document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _joined(text: str) -> str:
    """pip's join_lines: a line that ends with a backslash goes on with the next one, its backslashes (at
    both ends) left out."""
    lines: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line.strip("\\")
            continue
        lines.append(pending + line)
        pending = ""
    return "\n".join([*lines, pending])


def _views(text: str) -> Iterator[str]:
    """The text, its lines joined at pip's continuations, and the strings of its JSON or TOML document."""
    text = _readable(text)
    yield text
    yield _joined(text)
    try:
        yield from _strings(json.loads(text.removeprefix("\ufeff")))
    except (ValueError, RecursionError):
        pass
    try:
        yield from _strings(tomllib.loads(text.removeprefix("\ufeff")))
    except (ValueError, RecursionError):
        pass


def named_in(registry: str, texts: list[str]) -> set[str]:
    """Every name the texts could be naming (loose): name-shaped tokens, normalized as the registry does."""
    names: set[str] = set()
    for text in texts:
        for view in _views(text):
            if registry == "npm":
                names.update(m.group() for m in NPM_NAME.finditer(view))
                continue
            for run in _PYPI_RUN.findall(view):
                names.update(normalized("pypi", part) for part in (run, run.strip("._-")) if part)
    return names


# -- readings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """The oracle's judgement of an audit's arguments."""

    verdict: str
    #: The registry whose documents are read (a manifest's kind, or the registry given with packages).
    registry: str | None
    #: For a valid reading: the packages whose documents are fetched, normalized as the registry does.
    names: frozenset[str] | None = None
    #: For a valid reading: how many dependencies the answer lists (None: not counted here).
    entries: int | None = None


class _Unknown(Exception):
    """Outside the plain subset: the oracle cannot say what the reader makes of it."""


#: A dependency that is listed but not looked up (a git, URL or path requirement, a bad name...).
_LISTED_ONLY = None


def kind_of(text: str) -> str:
    """npm for a text that starts (after a BOM and whitespace) with '{', as a package.json does; else PyPI
    (a requirements file or a pyproject.toml)."""
    return "npm" if _readable(text).removeprefix("\ufeff").lstrip().startswith("{") else "pypi"


def read_manifest(text: str) -> Reading:
    text = _readable(text).removeprefix("\ufeff")
    kind = kind_of(text)
    try:
        if kind == "npm":
            return _package_json(text)
        try:
            doc = tomllib.loads(text)
        except (ValueError, RecursionError):
            return _requirements(text)
        if "project" in doc or "dependency-groups" in doc or "poetry" in _table(doc, "tool"):
            return _pyproject(doc)
        # A TOML document without the tables of a pyproject.toml is none of the accepted kinds.
        return Reading(INVALID, kind) if doc else _requirements(text)
    except _Unknown:
        return Reading(UNKNOWN, kind)


def read_packages(items: list[str], registry: str) -> Reading:
    """Requirement strings (already checked to be non-blank strings, at most 500 of them)."""
    names: set[str] = set()
    unknown = False
    for item in items:
        try:
            fetched = _npm_item(item) if registry == "npm" else _pypi_item(item)
        except _Unknown:
            unknown = True
            continue
        if fetched is False:
            return Reading(INVALID, registry)
        if fetched is not _LISTED_ONLY:
            names.add(normalized(registry, fetched))
    if unknown:
        return Reading(UNKNOWN, registry)
    return Reading(VALID, registry, frozenset(names), len(items))


def _counted(registry: str, entries: int, fetched: list[str | None], pending: bool) -> Reading:
    if entries > MOST:
        return Reading(INVALID, registry)
    if pending:
        return Reading(UNKNOWN, registry)
    names = frozenset(normalized(registry, name) for name in fetched if name is not _LISTED_ONLY)
    return Reading(VALID, registry, names, entries)


# -- npm: package.json and `name@spec` ------------------------------------------------------------------

_NPM_IDENTIFIERS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_NPM_VERSION = (
    rf"v?(?:\d+\.\d+\.\d+(?:-{_NPM_IDENTIFIERS})?(?:\+{_NPM_IDENTIFIERS})?|\d+(?:\.(?:\d+|x|\*)){{0,2}})"
)
_NPM_COMPARATOR = rf"(?:[\^~]|[<>]=?|=)?{_NPM_VERSION}"
_NPM_SET = rf"{_NPM_COMPARATOR}(?:\s++{_NPM_COMPARATOR})*"
#: A node-semver range (`^4.18.2`, `>=1 <3`, `1.x || ^2`, `*`, '') or a dist-tag (`latest`, `next`).
_NPM_REGISTRY_SPEC = re.compile(
    rf"\s*+(?:\*|{_NPM_SET}(?:\s*+\|\|\s*+{_NPM_SET})*|[A-Za-z][A-Za-z0-9_-]*)?\s*+", re.ASCII
)
#: Specs that are not registry ones (npm-package-arg): git, hosted shortcuts, URLs, paths, workspaces.
_NPM_ELSEWHERE = re.compile(
    r"\s*+(?:(?:git\+[a-z]+|git|github|gitlab|file|link|workspace|https?):\S*"
    r"|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+|\.{1,2}/\S*)\s*+",
    re.ASCII,
)
_NPM_ALIAS = re.compile(rf"\s*+npm:((?:@{_NPM_PART}/)?{_NPM_PART})(?:@(.*))?\s*+", re.ASCII | re.DOTALL)
#: npm reads a spec that ends as a tarball's file name as a local tarball.
_TARBALL = (".tgz", ".tar.gz", ".tar")


def _npm_spec(name: str, spec: str) -> str | None:
    """The package a spec of `name` looks up: an alias's target, `name` itself, or none; _Unknown outside
    the plain subset."""
    if alias := _NPM_ALIAS.fullmatch(spec):
        target, aliased = alias.group(1), alias.group(2) or ""
        if npm_name(target) and _NPM_REGISTRY_SPEC.fullmatch(aliased) and not _tarball(aliased):
            return target
        raise _Unknown
    if _tarball(spec):
        return _LISTED_ONLY
    if _NPM_REGISTRY_SPEC.fullmatch(spec):
        return name
    if _NPM_ELSEWHERE.fullmatch(spec):
        return _LISTED_ONLY
    raise _Unknown


def _tarball(spec: str) -> bool:
    return spec.strip().lower().endswith(_TARBALL)


def _package_json(text: str) -> Reading:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return Reading(INVALID, "npm")
    if "lockfileVersion" in data:
        raise _Unknown
    entries, fetched, pending = 0, [], False
    for group in NPM_GROUPS:
        declared = data.get(group)
        for name, raw in declared.items() if isinstance(declared, dict) else ():
            entries += 1
            try:
                # A bad name, or a requirement that is not a string, is listed, not looked up.
                ok = npm_name(name) and isinstance(raw, str)
                fetched.append(_npm_spec(name, raw) if ok else _LISTED_ONLY)
            except _Unknown:
                pending = True
    return _counted("npm", entries, fetched, pending)


def _npm_item(item: str) -> str | None | bool:
    """`name`, `name@spec` or `alias@npm:name@spec`: the package looked up; False when the name is not one
    npm's grammar allows (the call is refused)."""
    text = item.strip()
    at = text.find("@", 1)
    name, spec = (text[:at], text[at + 1 :]) if at > 0 else (text, None)
    if not npm_name(name):
        return False
    return name if spec is None else _npm_spec(name, spec)


# -- PyPI: requirements files, PEP 508 strings, pyproject.toml -------------------------------------------

_EXTRAS = rf"\[[ \t]*+{_PYPI_NAME}(?:[ \t]*+,[ \t]*+{_PYPI_NAME})*[ \t]*+\]"
_RELEASE = r"\d+(?:\.\d+)*"
_SUFFIXES = r"(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?"
_CLAUSE = (
    rf"(?:(?:==|!=)[ \t]*+{_RELEASE}(?:\.\*|{_SUFFIXES}(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?)"
    rf"|(?:<=|>=|<|>)[ \t]*+{_RELEASE}{_SUFFIXES}|~=[ \t]*+\d+(?:\.\d+)+{_SUFFIXES})"
)
_SPECIFIERS = rf"{_CLAUSE}(?:[ \t]*+,[ \t]*+{_CLAUSE})*"
_MARKER_VARIABLE = (
    r"(?:python_version|python_full_version|platform_system|sys_platform|platform_machine|os_name"
    r"|implementation_name|platform_python_implementation)"
)
_MARKER_TEST = rf"{_MARKER_VARIABLE}[ \t]*+(?:==|!=|<=|>=|<|>)[ \t]*+(?:\"[^\"]*\"|'[^']*')"
_MARKER = rf"{_MARKER_TEST}(?:[ \t]++(?:and|or)[ \t]++{_MARKER_TEST})*"
# PEP 508 as packaging reads it: its whitespace is spaces and tabs only.
#: A PEP 508 requirement by name: extras, specifiers (bare or in parentheses), a marker.
PEP508 = re.compile(
    rf"[ \t]*+({_PYPI_NAME})[ \t]*+(?:{_EXTRAS})?[ \t]*+(?:\([ \t]*+{_SPECIFIERS}[ \t]*+\)|{_SPECIFIERS})?[ \t]*+(?:;[ \t]*+{_MARKER})?[ \t]*+",
    re.ASCII,
)
#: A PEP 508 requirement by URL (`name @ https://…`): listed, not looked up.
PEP508_URL = re.compile(
    rf"[ \t]*+{_PYPI_NAME}[ \t]*+(?:{_EXTRAS})?[ \t]*+@[ \t]*+(?:https?|git\+https?|file)://\S+(?:[ \t]*+;[ \t]*+{_MARKER})?[ \t]*+",
    re.ASCII,
)
#: pip's archive extensions (pip/_internal/utils/filetypes.py).
_ARCHIVES = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma", ".tar.gz")
_ARCHIVES += (".tgz", ".tar")
#: pip: a comment starts a line or follows whitespace.
_COMMENT = re.compile(r"(?:^|(?<!\s)\s++)#.*$")
#: Option lines pip reads that add no dependency.
_OPTION = re.compile(
    r"(?:-[rci]\s*+\S+|--(?:requirement|constraint|index-url|extra-index-url|find-links|trusted-host)[\s=]\S+"
    r"|--pre|--no-index|--prefer-binary)",
    re.ASCII,
)
#: Lines pip reads as a dependency that is not a registry one: a URL, an editable checkout or folder.
_ELSEWHERE_LINE = re.compile(
    rf"(?:(?:https?|git\+https?|git\+ssh)://\S+(?:\s*+;\s*+{_MARKER})?|-e\s++(?:git\+https://\S+|\.\S*|/\S+))",
    re.ASCII,
)
#: pip splits a line's options off at the first space-separated token that starts with '-'.
_HASHES = re.compile(r"(?<! )(?: ++--hash=sha256:[0-9a-f]++)++")


def _pypi_requirement(text: str) -> str | None:
    """The project a PEP 508 string looks up (None: a URL requirement); _Unknown outside the plain subset."""
    if match := PEP508.fullmatch(text):
        name = match.group(1)
        # pip reads a name that ends as an archive's file name as a local file.
        if len(name) > LONGEST_PYPI_NAME or name.lower().endswith(_ARCHIVES):
            raise _Unknown
        return match.group(1)
    if PEP508_URL.fullmatch(text):
        return _LISTED_ONLY
    raise _Unknown


def _pip_line(line: str) -> tuple[bool, str | None]:
    """(whether pip lists a dependency for the line, the project it looks up); _Unknown outside the subset."""
    if _OPTION.fullmatch(line):
        return False, None
    if _ELSEWHERE_LINE.fullmatch(line):
        return True, _LISTED_ONLY
    hashes = _HASHES.search(line)
    requirement = line[: hashes.start()] if hashes and hashes.end() == len(line) else line
    return True, _pypi_requirement(requirement)


def _requirements(text: str) -> Reading:
    entries, fetched, meaningful = 0, [], 0
    for raw in text.splitlines():
        if raw.endswith("\\"):
            raise _Unknown  # continuations: only the loose rule
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        meaningful += 1
        listed, name = _pip_line(line)
        if listed:
            entries += 1
            fetched.append(name)
    if not meaningful:
        # Blank lines and comments only: no requirements file at all.
        return Reading(INVALID, "pypi")
    return _counted("pypi", entries, fetched, False)


def _pypi_item(item: str) -> str | None:
    if re.search(_LINE_BREAK, item):
        raise _Unknown
    return _pypi_requirement(item)


def _table(parent: Any, key: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _listed(value: Any) -> list[Any]:
    """A list where one is expected; anything else is skipped (with a note)."""
    return value if isinstance(value, list) else []


_POETRY_VERSION = r"\d+(?:\.\d+){0,3}"
_POETRY_CLAUSE = rf"(?:>=|<=|>|<|==|!=)\s*+{_POETRY_VERSION}"
#: Poetry constraints: `*`, `^1.2`, `~1.2.3`, `1.2.3`, `>=1.2,<2`.
POETRY_CONSTRAINT = re.compile(
    rf"\s*+(?:\*|[\^~]?{_POETRY_VERSION}|{_POETRY_CLAUSE}(?:\s*+,\s*+{_POETRY_CLAUSE})*)?\s*+", re.ASCII
)


def _poetry(name: str, value: Any) -> list[str | None]:
    """One Poetry dependency: a constraint, a table or a list of them (one dependency each)."""
    if isinstance(value, list):
        return [found for form in value for found in _poetry(name, form)]
    form = value if isinstance(value, dict) else {"version": value}
    if any(key in form for key in ("git", "path", "url")):
        return [_LISTED_ONLY]
    constraint = form.get("version")
    if constraint is not None and not isinstance(constraint, str):
        return [_LISTED_ONLY]
    if not PYPI_NAME.fullmatch(name):
        return [_LISTED_ONLY]
    if len(name) > LONGEST_PYPI_NAME or not POETRY_CONSTRAINT.fullmatch(constraint or ""):
        raise _Unknown
    return [name]


def _optional(value: Any) -> bool:
    forms = value if isinstance(value, list) else [value]
    return any(isinstance(form, dict) and form.get("optional") is True for form in forms)


def _pyproject(doc: dict[str, Any]) -> Reading:
    """PEP 621 [project], PEP 735 [dependency-groups], uv's dev-dependencies and Poetry's tables."""
    project, poetry = _table(doc, "project"), _table(_table(doc, "tool"), "poetry")
    own_name = project.get("name", poetry.get("name"))
    own = normalized("pypi", own_name) if isinstance(own_name, str) else None
    pep621 = [
        *_listed(project.get("dependencies")),
        *(item for items in _table(project, "optional-dependencies").values() for item in _listed(items)),
        *(
            item
            for items in _table(doc, "dependency-groups").values()
            for item in _listed(items)
            # PEP 735: an include is not a dependency of its own.
            if not (isinstance(item, dict) and isinstance(item.get("include-group"), str))
        ),
        *_listed(_table(_table(doc, "tool"), "uv").get("dev-dependencies")),
    ]
    fetched: list[str | None] = []
    pending = False
    for item in pep621:
        try:
            name = _pypi_requirement(item) if isinstance(item, str) else _LISTED_ONLY
        except _Unknown:
            pending = True
            continue
        if name is not _LISTED_ONLY and normalized("pypi", name) == own:
            pending = True  # the project naming itself (for its extras)
            continue
        fetched.append(name)
    # Poetry lists an optional runtime dependency once under each extra that names it.
    extras: dict[str, int] = {}
    for names in _table(poetry, "extras").values():
        for name in _listed(names):
            if isinstance(name, str):
                key = normalized("pypi", name.split("[")[0])
                extras[key] = extras.get(key, 0) + 1
    declared: list[tuple[str, Any, int]] = []
    runtime = {name: value for name, value in _table(poetry, "dependencies").items() if name != "python"}
    # Poetry 2: with [project] dependencies, [tool.poetry.dependencies] only adds details to them.
    if not (isinstance(project.get("dependencies"), list) and runtime):
        declared += [
            (name, value, max(1, extras.get(normalized("pypi", name), 0)) if _optional(value) else 1)
            for name, value in runtime.items()
        ]
    tables = [_table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    declared += [(name, value, 1) for table in tables for name, value in table.items()]
    entries = len(pep621)
    for name, value, times in declared:
        try:
            found = _poetry(name, value)
        except _Unknown:
            pending = True
            found = [_LISTED_ONLY] * len(value if isinstance(value, list) else [value])
        fetched += found * times
        entries += len(found) * times
    return _counted("pypi", entries, fetched, pending)
