"""pyproject.toml: PEP 621 `[project]`, PEP 735 `[dependency-groups]`, and Poetry's tables."""

from __future__ import annotations

import re
from typing import Any

from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import shown
from .base import RUNTIME, Manifest, Refused, Wanted, cut, table, unchecked
from .pip import pep508


def read(doc: dict[str, Any]) -> Manifest:
    """The dependencies of a pyproject.toml's tables, in this order: [project] dependencies, its optional
    dependencies (group: the extra), [dependency-groups], uv's dev-dependencies (group: dev), then Poetry's
    runtime, dev and group tables."""
    wanted: list[Wanted] = []
    notes: list[str] = []
    project, poetry = table(doc, "project"), table(table(doc, "tool"), "poetry")
    own = _canonical(project.get("name", poetry.get("name")))
    listed = project.get("dependencies")
    for item in _strings(listed, "[project] dependencies", notes):
        wanted.append(_pyproject_entry(item, RUNTIME, own))
    dynamic = project.get("dynamic")
    if isinstance(dynamic, list) and "dependencies" in dynamic and "dependencies" not in poetry:
        notes.append("[project] dependencies are dynamic (the build backend adds them): none are listed")
    for extra, items in table(project, "optional-dependencies").items():
        for item in _strings(items, f"optional-dependencies {extra}", notes):
            wanted.append(_pyproject_entry(item, extra, own))
    wanted += _dependency_groups(table(doc, "dependency-groups"), own, notes)
    # uv's name for a dev group before PEP 735 (still read by uv, and common in uv projects).
    for item in _strings(
        table(table(doc, "tool"), "uv").get("dev-dependencies"), "[tool.uv] dev-dependencies", notes
    ):
        wanted.append(_pyproject_entry(item, "dev", own))
    poetry_runtime = table(poetry, "dependencies")
    if isinstance(listed, list) and set(poetry_runtime) - {"python"}:
        # Poetry 2: "When both are specified, project.dependencies are used for metadata when building the
        # project, tool.poetry.dependencies is only used to enrich project.dependencies for locking."
        notes.append(
            "[tool.poetry.dependencies] only adds details to [project] dependencies: not listed again"
        )
    elif poetry_runtime:
        wanted += _poetry_runtime(poetry_runtime, table(poetry, "extras"))
    for name, value in table(poetry, "dev-dependencies").items():
        wanted += _poetry_entries(name, value, "dev")
    for group, declared in table(poetry, "group").items():
        for name, value in table(declared if isinstance(declared, dict) else {}, "dependencies").items():
            wanted += _poetry_entries(name, value, group)
    if not wanted:
        notes.append("this pyproject.toml declares no dependencies")
    return Manifest("pypi", "pyproject", wanted, notes)


def _canonical(name: Any) -> str | None:
    return canonicalize_name(name) if isinstance(name, str) else None


def _strings(value: Any, where: str, notes: list[str]) -> list[Any]:
    if value is None or isinstance(value, list):
        return value or []
    notes.append(f"{where} is {shown(value)}, not a list: skipped")
    return []


def _pyproject_entry(item: Any, group: str, own: str | None) -> Wanted:
    if not isinstance(item, str):
        return unchecked(shown(item), None, group, "not a requirement string")
    try:
        wanted = pep508(item, group)
    except Refused as refused:
        return unchecked(cut(item.strip()), cut(item), group, f"not a PEP 508 requirement: {refused}")
    if own is not None and wanted.package == own:
        return unchecked(
            wanted.name, wanted.requirement, group, "this project itself (its extras are listed)"
        )
    return wanted


def _dependency_groups(groups: dict[str, Any], own: str | None, notes: list[str]) -> list[Wanted]:
    wanted: list[Wanted] = []
    included: list[str] = []
    for group, items in groups.items():
        names: list[str] = []
        for item in _strings(items, f"dependency group {group}", notes):
            if isinstance(item, dict) and isinstance(item.get("include-group"), str):
                names.append(item["include-group"])
            else:
                wanted.append(_pyproject_entry(item, group, own))
        if names:
            included.append(f"{group} includes {', '.join(names)}")
    if included:
        notes.append(f"dependency groups listed once, under their own names ({'; '.join(included)})")
    return wanted


def _poetry_runtime(declared: dict[str, Any], extras: dict[str, Any]) -> list[Wanted]:
    # An optional dependency is installed by the extras that name it: it is listed under each of them.
    named_by: dict[str, list[str]] = {}
    for extra, names in extras.items():
        for name in names if isinstance(names, list) else ():
            if isinstance(name, str):
                named_by.setdefault(canonicalize_name(name.split("[")[0]), []).append(extra)
    wanted: list[Wanted] = []
    for name, value in declared.items():
        if name == "python":
            continue
        forms = value if isinstance(value, list) else [value]
        optional = any(isinstance(form, dict) and form.get("optional") is True for form in forms)
        groups = named_by.get(canonicalize_name(name), []) if optional else []
        for group in groups or [RUNTIME]:
            wanted += _poetry_entries(name, value, group)
    return wanted


_POETRY_SOURCES = (("git", "a git dependency"), ("path", "a local path"), ("url", "a direct URL"))


def _poetry_entries(name: str, value: Any, group: str) -> list[Wanted]:
    """One Poetry dependency: a constraint, a table, or a list of them (one entry each)."""
    if isinstance(value, list):
        return [entry for form in value for entry in _poetry_entries(name, form, group)]
    form = value if isinstance(value, dict) else {"version": value}
    for key, why in _POETRY_SOURCES:
        if key in form:
            return [unchecked(name, str(form[key]), group, why)]
    constraint = form.get("version")
    if constraint is not None and not isinstance(constraint, str):
        return [unchecked(name, None, group, f"its version is {shown(constraint)}, not a string")]
    try:
        package = canonicalize_name(name, validate=True)
    except InvalidName:
        return [unchecked(name, constraint, group, "not a valid PyPI project name")]
    try:
        spec = poetry_specifier(constraint or "")
    except Refused as refused:
        return [unchecked(name, constraint, group, str(refused))]
    return [Wanted(name, constraint, group, package, spec)]


# Poetry's constraint grammar (poetry-core, constraints/version/parser.py): clauses joined by ',' or by
# spaces, each an operator and a version; '^' and '~' are ranges PEP 440 has no operator for.
_POETRY_AND = re.compile(r"\s*,\s*|(?<=[\w*])\s+(?=[<>=!~^\w])")
_POETRY_CLAUSE = re.compile(r"(\^|~=|~|===|==|!=|<>|>=|<=|>|<|=)?\s*v?(\S+)")


def poetry_specifier(constraint: str) -> str:
    """A Poetry constraint as a PEP 440 specifier set ('' for any): `^1.2.3` → `>=1.2.3,<2.0.0`,
    `~1.2` → `>=1.2,<1.3`, `1.2.*` → `==1.2.*`; ValueError when it is none, or an either-or (`||`)."""
    text = constraint.strip()
    if text in {"", "*"}:
        return ""
    if "|" in text:
        raise Refused("an either-or constraint (||), which no PEP 440 specifier set can say")
    clauses: list[str] = []
    for part in _POETRY_AND.split(text):
        match = _POETRY_CLAUSE.fullmatch(part)
        if match is None:
            raise Refused(f"{shown(part)} is not a Poetry constraint")
        clauses += _poetry_clause(match.group(1), match.group(2))
    for clause in clauses:
        try:
            Specifier(clause)
        except InvalidSpecifier:
            raise Refused(f"{shown(constraint)} is not a Poetry constraint") from None
    return ",".join(clauses)


def _poetry_clause(operator: str | None, version: str) -> list[str]:
    if operator is None and version == "*":
        return []
    if operator in {">=", "<=", ">", "<"}:
        # Poetry drops a wildcard after an inequality (`>=1.2.*` is `>=1.2`); PEP 440 refuses it.
        return [operator + version.removesuffix(".*")]
    if operator not in {"^", "~", "~="}:
        written = operator or "=="
        return [{"=": "==", "<>": "!="}.get(written, written) + version]
    if operator == "~=" and "." in version:
        return [operator + version]
    try:
        lowest = Version(version)
    except InvalidVersion:
        raise Refused(f"{shown(version)} is not a version") from None
    release = lowest.release
    if operator == "^":
        # The leftmost non-zero part may not change; a part not written counts as non-zero.
        bump = 0 if release[0] or len(release) == 1 else 1 if release[1] or len(release) == 2 else 2
    else:
        # '~=1' (which PEP 440 refuses) is Poetry's '~1'.
        bump = 0 if len(release) == 1 else 1
    upper = [*release[:bump], release[bump] + 1] + [0] * (len(release) - bump - 1)
    epoch = f"{lowest.epoch}!" if lowest.epoch else ""
    return [f">={lowest}", f"<{epoch}{'.'.join(map(str, upper))}"]
