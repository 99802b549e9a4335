"""The node_modules tree as arborist (npm 7 and later) models it: packages as declared, folders holding them,
the edges between them; shared by `tree_npm` (which fetches) and `tree_npm_placement` (which places).

A package finds a dependency by walking up from its own folder: its node_modules, its parent's, ... the
project's. An installed version serves an edge when the folder named by the edge holds a version its spec
admits (Edge.satisfiedBy and dep-valid.js), whatever package that folder holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from .registries.npm_pick import admits

EdgeKind = Literal["prod", "optional", "peer", "peerOptional"]

# Intl.Collator("en") (arborist sorts with localeCompare) on the characters npm names and paths use:
# punctuation before digits before letters, case only when all else is equal (lower case first).
_ORDER = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_RANK = {c: i for i, c in enumerate(_ORDER)}


def collation(text: str) -> tuple[list[int], list[bool]]:
    """A sort key giving arborist's order (localeCompare 'en') for ASCII names and paths."""
    return [_RANK.get(c.lower(), 1000 + ord(c)) for c in text], [c.isupper() for c in text]


@dataclass(frozen=True, slots=True)
class Wanted:
    """One dependency as a package declares it."""

    #: The folder it is looked up by in node_modules: the name as written (an alias's own name).
    key: str
    #: The requirement as written.
    raw: str
    kind: EdgeKind
    #: The registry package and spec it installs (an alias's target), when it is a registry one.
    package: str | None = None
    spec: str | None = None
    #: Why it cannot be resolved from the registry (a git URL, a path, an unreadable spec).
    why: str | None = None

    @property
    def peer(self) -> bool:
        return self.kind in ("peer", "peerOptional")

    @property
    def optional(self) -> bool:
        return self.kind in ("optional", "peerOptional")


@dataclass(frozen=True, slots=True, eq=False)
class Package:
    """One name@version, as much of its document as the tree needs."""

    name: str
    version: str
    #: By key, in npm's precedence: a name in several groups keeps the last of peer, dependencies, optional.
    wants: tuple[Wanted, ...]
    license: str | None = None
    deprecated: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


def satisfies(package: Package, wanted: Wanted) -> bool:
    """Whether the package in the folder `wanted.key` serves the edge: by version alone, whatever package it is
    (arborist's Edge.satisfiedBy and dep-valid.js: an alias of `react-loadable` to another package serves a
    `react-loadable@*` peer)."""
    return wanted.spec is not None and admits(wanted.spec, package.version)


class Edge:
    __slots__ = ("conflicted", "source", "wanted")

    def __init__(self, source: Node, wanted: Wanted) -> None:
        self.source = source
        self.wanted = wanted
        #: A peer npm could not satisfy ("overriding peer dependency"): left as it is.
        self.conflicted = False

    @property
    def key(self) -> str:
        return self.wanted.key

    def target(self) -> Node | None:
        return self.source.resolve(self.wanted.key)

    def valid(self) -> bool:
        """arborist's Edge.valid: a missing optional is fine, a peer inside its dependent is not."""
        found = self.target()
        if found is None:
            return self.wanted.optional
        if self.wanted.peer and found.parent is self.source and self.source.parent is not None:
            return False
        return satisfies(found.package, self.wanted)


class Node:
    """A package in a node_modules folder (or a candidate not yet placed: no parent); the project has no
    package. A link stands for an ancestor of the same version (arborist's answer to a dependency loop)."""

    __slots__ = ("children", "edges", "key", "link", "package", "parent")

    def __init__(self, key: str, package: Package, link: Node | None = None) -> None:
        self.key = key
        self.package = package
        self.parent: Node | None = None
        self.children: dict[str, Node] = {}
        self.link = link
        self.edges = {} if link else {w.key: Edge(self, w) for w in package.wants}

    def resolve(self, key: str) -> Node | None:
        node: Node | None = self
        while node is not None:
            found = node.children.get(key)
            if found is not None:
                return found
            node = node.parent
        return None

    def ancestry(self) -> Iterator[Node]:
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent

    def within(self, other: Node) -> bool:
        """True when this node is `other` or sits below it."""
        return any(node is other for node in self.ancestry())

    @property
    def location(self) -> str:
        return "/".join(f"node_modules/{n.key}" for n in reversed(list(self.ancestry())) if n.parent)

    @property
    def depth(self) -> int:
        return sum(1 for _ in self.ancestry()) - 1


def deepest_target(start: Node, key: str) -> Node:
    """The deepest folder `key` may go in for a dependent at `start`: above it while it is a peer."""
    for target in start.ancestry():
        edge = target.edges.get(key)
        if target.parent is None or edge is None or not edge.wanted.peer:
            return target
    raise AssertionError("a node's ancestry ends at a root")
