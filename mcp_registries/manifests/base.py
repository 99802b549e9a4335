"""What manifest reading produces (`Wanted`, `Manifest`), and the small helpers its readers share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..models import RegistryName

Source = Literal["package.json", "requirements", "pyproject", "list"]
RUNTIME = "runtime"
LIST = "list"
#: Longest name or requirement kept from a line that is not a dependency's name (a URL, a broken line).
LONGEST = 100


@dataclass(frozen=True, slots=True)
class Wanted:
    """One dependency as the manifest declares it."""

    #: The name as written (an npm alias: the alias, e.g. `my-react` of `my-react@npm:react@^18`).
    name: str
    #: The requirement as written (`^4.18.2`, `>=2.31,<3`, `npm:react@^18`, `git+https://…`); None: any.
    #: PyPI: all that follows the name, so extras and the environment marker stay in view
    #: (`[socks]>=2.31; python_version < "3.13"`); markers are never evaluated here.
    requirement: str | None
    #: npm: dependencies, devDependencies, peerDependencies, optionalDependencies; PyPI: runtime, the extra's
    #: or Poetry group's name.
    group: str
    #: The registry package to look up (an npm alias's target; a PyPI name normalized by PEP 503); None when
    #: the requirement is not a registry one (git, URL, path, file:, workspace:, link:).
    package: str | None
    #: What to check against the versions: an npm range or dist-tag (`*` and '' mean any), a PEP 440
    #: specifier set ('' means any). None with `package` None.
    spec: str | None
    #: Why it is not checked (`package` None): e.g. "a git dependency".
    unchecked: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    registry: RegistryName
    source: Source
    wanted: list[Wanted]
    #: What was read but not followed, said once each (e.g. "-r base.txt is not followed: only this text is read").
    notes: list[str] = field(default_factory=list)


class Refused(ValueError):
    """A line, spec or item its own tool would refuse; the message says why, in a few words."""


def unchecked(name: str, requirement: str | None, group: str, why: str) -> Wanted:
    return Wanted(name, requirement, group, None, None, why)


def cut(text: str) -> str:
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def note(notes: list[str], text: str) -> None:
    """Adds a note once."""
    if text not in notes:
        notes.append(text)


def table(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def reason(error: Exception) -> str:
    """A parser's error as a few words: its first line, without a closing period."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__
