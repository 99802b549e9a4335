"""Reading what an audit is asked to check: a manifest's text, or a list of requirement strings.

package.json (all four dependency groups), requirements files as pip reads them, pyproject.toml (PEP 621
`[project]`, PEP 735 `[dependency-groups]` and Poetry's tables, with tomllib), or requirement strings (npm
`name@range`, PyPI PEP 508). Well-kept parsers do the reading (json, tomllib, packaging, node-semver);
what is written here is only how pip and npm sort a line or a spec before those parsers see it.

    __init__    the kind of a text, whether the registry fits it, the limit, the one error sentence
    base        Wanted and Manifest (what the audit reads), helpers the readers share
    npm         package.json and npm requirement strings
    pip         requirements files as pip reads them, PEP 508 strings
    pyproject   PEP 621, PEP 735 and Poetry tables (Poetry constraints → PEP 440)

Choices a reader of the results should know:
- Environment markers are kept (in `requirement`, as written) and never evaluated: the machine that
  installs is not this one, so a requirement is listed and checked whatever its marker says.
- Poetry's `^` and `~` become PEP 440 bounds (`^1.2.3` → `>=1.2.3,<2.0.0`); an either-or (`||`) cannot,
  and is unchecked with that reason.
- A text is read as a requirements file when at least half of its meaningful lines read as pip reads
  them; the others become unchecked entries (requirement lines) or notes (option lines), never an error.
- PEP 735 `{include-group = …}` entries are not expanded (their packages are listed once, under the
  included group's name); a note says which group includes which.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgument, shown
from ..models import RegistryName
from ..operations import MAX_DEPENDENCIES
from . import npm, pip, pyproject
from .base import Manifest, Refused, Source, Wanted, reason, table

__all__ = ["ACCEPTED", "Manifest", "Source", "Wanted", "read_manifest", "read_packages"]

ACCEPTED = "accepted: package.json, requirements.txt, pyproject.toml (PEP 621 or Poetry)"
#: What each kind is called in a sentence, and the registry its names belong to.
_KINDS: dict[Source, tuple[str, RegistryName]] = {
    "package.json": ("package.json", "npm"),
    "requirements": ("requirements file", "pypi"),
    "pyproject": ("pyproject.toml", "pypi"),
}
_REGISTRY_NAMES: dict[RegistryName, str] = {"npm": "npm", "pypi": "PyPI"}
#: Per registry: how an item of `packages` is read, what it must be, and an example for the sentence.
_ITEMS: dict[RegistryName, tuple[Callable[[str, list[str]], Wanted], str, str]] = {
    "npm": (
        npm.item,
        "an npm requirement",
        "'name', 'name@range' (e.g. 'express@^4.18') or 'alias@npm:name@range'",
    ),
    "pypi": (pip.item, "a PEP 508 requirement", "e.g. 'requests>=2.31' or 'uvicorn[standard]'"),
}


def read_manifest(text: str, registry: RegistryName | None) -> Manifest:
    """The dependencies of a manifest's text; `registry` (when given) must fit its kind.

    Raises InvalidArgument with one sentence (what was wrong, which formats are accepted) when the text is
    none of the accepted kinds, or has more than MAX_DEPENDENCIES dependencies.
    """
    manifest = _read(_valid_text(text).removeprefix("\ufeff"))
    kind, fits = _KINDS[manifest.source]
    if registry is not None and registry != fits:
        raise InvalidArgument(
            "registry",
            f"The manifest is a {kind}, which lists {_REGISTRY_NAMES[fits]} packages, but registry is "
            f"{registry}: leave registry out or give {fits}.",
        )
    _within_limit(len(manifest.wanted), "manifest", "the manifest lists")
    return manifest


def read_packages(items: tuple[str, ...], registry: RegistryName) -> Manifest:
    """Requirement strings (npm `name`, `name@range`, `@scope/name@range`, `alias@npm:other@range`; PyPI PEP
    508); raises InvalidArgument naming the first that cannot be read."""
    _within_limit(len(items), "packages", "packages has")
    read, what, example = _ITEMS[registry]
    wanted: list[Wanted] = []
    notes: list[str] = []
    for number, item in enumerate(items, 1):
        try:
            wanted.append(read(_valid_text(item), notes))
        except Refused as refused:
            raise InvalidArgument(
                "packages",
                f"packages item {number}, {shown(item)}, is not {what} ({refused}): use {example}.",
            ) from None
    return Manifest(registry, "list", wanted, notes)


def _within_limit(count: int, argument: str, subject: str) -> None:
    if count > MAX_DEPENDENCIES:
        raise InvalidArgument(
            argument, f"An audit checks at most {MAX_DEPENDENCIES} dependencies; {subject} {count}."
        )


def _valid_text(text: str) -> str:
    # JSON can carry lone surrogates ('\ud800'), which no registry name, URL or UTF-8 answer can: each
    # becomes '?', so a line holding one is read (and refused) like any other bad line.
    return text.encode("utf-8", "replace").decode("utf-8")


def _valid_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A JSON escape ('\\ud800') decodes to a lone surrogate after _valid_text: names and requirements are an
    # object's keys and strings, so those are made valid text as they are read.
    return {_valid_text(key): _valid_text(value) if isinstance(value, str) else value for key, value in pairs}


def _unreadable(why: str) -> InvalidArgument:
    return InvalidArgument("manifest", f"The manifest could not be read: {why}; {ACCEPTED}.")


def _read(text: str) -> Manifest:
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text, object_pairs_hook=_valid_object)
        except (ValueError, RecursionError) as error:
            raise _unreadable(
                f"it starts like a package.json but is not valid JSON ({reason(error)})"
            ) from None
        try:
            return npm.read(data)  # a JSON text that starts with '{' is an object
        except Refused as refused:
            raise _unreadable(str(refused)) from None
    toml_error: Exception | None = None
    try:
        doc = tomllib.loads(text)
    except (ValueError, RecursionError) as error:  # TOMLDecodeError is a ValueError
        toml_error = error
    else:
        if "project" in doc or "dependency-groups" in doc or "poetry" in table(doc, "tool"):
            return pyproject.read(doc)
        if doc:
            raise _unreadable("it is TOML with no [project], [tool.poetry] or [dependency-groups] table")
    manifest, read, refusals = pip.read(text)
    if read and read >= len(refusals):
        return manifest
    raise _unreadable(_why_not_requirements(text, toml_error, refusals))


def _why_not_requirements(text: str, toml_error: Exception | None, refusals: list[str]) -> str:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        return "it is JSON, but not an object as a package.json is"
    if toml_error is not None and any(line.startswith("[") for _, line in pip.logical_lines(text)):
        return f"it looks like a pyproject.toml but is not valid TOML ({reason(toml_error)})"
    if not refusals:
        return "it holds only blank lines and comments"
    return refusals[0]
