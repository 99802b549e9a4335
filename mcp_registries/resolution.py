"""What a dependency resolution produces (`tree`), shared by the npm and PyPI resolvers.

A resolver is handed `Lookups`: the service's cached reads of a package's index and of one version's
document, so that a tree reuses (and fills) the cache every other tool uses. It returns a `Resolution`:
every package the installation brings (the root excluded), each once per resolved version, with the
edge that first brought it, and the edges it could not resolve. Never an error for a dependency: only a
root that does not exist fails the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .registries.base import PackageIndex, VersionDoc

#: The most packages a tree resolves; past it the resolution stops, with a note.
MAX_PACKAGES = 2000


class Lookups(Protocol):
    async def index(self, name: str) -> PackageIndex:
        """The package's index; raises `PackageNotFound` (or another RegistryError) when it cannot be read."""
        ...

    async def manifest(self, name: str, version: str) -> VersionDoc:
        """One version's document (dependencies, license, deprecation); raises a RegistryError when unread."""
        ...


@dataclass(slots=True)
class Resolved:
    name: str
    version: str
    #: 1 for the root's own dependencies, 2 for theirs, ...: the shortest path from the root.
    depth: int
    #: "name@version" of the package whose edge brought it first (on a shortest path).
    required_by: str
    #: That edge's requirement as written (a range, a specifier with its extras and marker).
    requirement: str | None
    optional: bool = False
    license: str | None = None
    deprecated: str | None = None
    yanked: bool = False


@dataclass(slots=True)
class Unresolved:
    name: str
    requirement: str | None
    required_by: str
    #: One sentence: no version satisfies it, the package does not exist, its document failed, a conflict.
    reason: str


@dataclass
class Resolution:
    root: Resolved
    packages: list[Resolved] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: PyPI: the marker values used (python_version, sys_platform, ...); None for npm.
    environment: dict[str, str] | None = None
