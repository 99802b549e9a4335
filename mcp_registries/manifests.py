"""Reading what an audit is asked to check: a manifest's text, or a list of requirement strings.

package.json (all four dependency groups), requirements files as pip reads them, pyproject.toml (PEP 621
`[project]` and Poetry's tables, with tomllib), or requirement strings (npm `name@range`, PyPI PEP 508).
Well-kept parsers do the reading (json, tomllib, packaging, node-semver); nothing here is a grammar of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .models import RegistryName

Source = Literal["package.json", "requirements", "pyproject", "list"]


@dataclass(frozen=True, slots=True)
class Wanted:
    """One dependency as the manifest declares it."""

    #: The name as written (an npm alias: the alias, e.g. `my-react` of `my-react@npm:react@^18`).
    name: str
    #: The requirement as written (`^4.18.2`, `>=2.31,<3`, `npm:react@^18`, `git+https://…`); None: any.
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


def read_manifest(text: str, registry: RegistryName | None) -> Manifest:
    """The dependencies of a manifest's text; `registry` (when given) must fit its kind.

    Raises InvalidArgument with one sentence (what was wrong, which formats are accepted) when the text is
    none of the accepted kinds, or has more than MAX_DEPENDENCIES dependencies.
    """
    raise NotImplementedError


def read_packages(items: tuple[str, ...], registry: RegistryName) -> Manifest:
    """Requirement strings (npm `name`, `name@range`, `@scope/name@range`, `alias@npm:other@range`; PyPI PEP
    508); raises InvalidArgument naming the first that cannot be read."""
    raise NotImplementedError
