"""Which version npm installs for a registry spec (a range, an exact version or a dist-tag), and which
installed version satisfies one: shared by `audit` (one pick per manifest entry) and `tree_npm` (one per
edge).

`pick` follows npm-pick-manifest (lib/index.js): a dist-tag names its version; an exact version is itself;
a range takes the `latest` dist-tag when it admits it, else the highest version it admits, a deprecated
version only when it admits nothing else. Prereleases only for a range that names one (node-semver's
`satisfies` without `includePrerelease`), except that `*` takes whatever `latest` is. Engines are not
weighed: npm prefers versions whose `engines.node` admits the Node.js running it, which an answer about
a package cannot know.

`admits` follows arborist's dep-valid.js: an installed version satisfies a range or version by
node-semver (loose), `*` whatever it is, a dist-tag any registry version.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import nodesemver

from .versioning import semver_key, semver_prerelease

SpecKind = Literal["version", "range", "tag"]


class Choices(Protocol):
    """What a pick reads of a package: `PackageIndex` has it, as can something smaller."""

    @property
    def version_order(self) -> Sequence[str]:
        """Every version, newest first by SemVer precedence."""
        ...

    @property
    def dist_tags(self) -> Mapping[str, str]: ...

    @property
    def deprecations(self) -> Mapping[str, str]: ...


@functools.lru_cache(maxsize=8192)
def spec_kind(spec: str) -> SpecKind | None:
    """npm-package-arg's reading of a registry spec: a version, a range or a dist-tag (None: none of them,
    e.g. a tag with characters a URL would escape)."""
    text = spec.strip()
    if nodesemver.valid(text, loose=True) is not None:
        return "version"
    if _range(text) is not None:
        return "range"
    return "tag" if text and _TAG_SAFE.issuperset(text) else None


_TAG_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")


def is_range(text: str) -> bool:
    """node-semver's `validRange(text, loose)`."""
    return _range(text.strip()) is not None


class _Range:
    """A node-semver range compiled to comparisons of `semver_key` strings: the same answers as
    `Range.test` (tests/test_tree_npm.py holds it to them), several times faster. Each comparator set
    is its bounds and the releases whose prereleases it admits (those a comparator names)."""

    __slots__ = ("sets",)

    def __init__(self, parsed: nodesemver.Range) -> None:
        self.sets = tuple(
            (
                tuple(
                    (c.operator, semver_key(c.semver.version)) for c in group if c.semver != nodesemver.ANY
                ),
                frozenset(
                    _release(semver_key(c.semver.version))
                    for c in group
                    if c.semver != nodesemver.ANY and c.semver.prerelease
                ),
            )
            for group in parsed.set
        )

    def test(self, version: str) -> bool:
        key = semver_key(version)
        if key[0] == "\x00":  # not SemVer, even loosely
            return False
        prerelease = semver_prerelease(version)
        return any(
            all(_OPERATORS[op](key, bound) for op, bound in bounds)
            and (not prerelease or _release(key) in admitted)
            for bounds, admitted in self.sets
        )


_OPERATORS = {
    "": operator.eq,
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _release(key: str) -> str:
    """The major.minor.patch part of a `semver_key` (three self-delimiting numbers after the marker)."""
    at = 1
    for _ in range(3):
        at += 1 + ord(key[at]) - 0x30
    return key[:at]


@functools.lru_cache(maxsize=8192)
def _range(text: str) -> _Range | None:
    try:
        if nodesemver.valid_range(text, loose=True) is None:
            return None
        return _Range(nodesemver.make_range(text, loose=True))
    except (ValueError, TypeError):
        return None


def in_range(version: str, spec: str) -> bool:
    """node-semver's `satisfies(version, spec, {loose: true})`: prereleases only when the range names one."""
    allowed = _range(spec.strip())
    return allowed is not None and allowed.test(version)


def admits(spec: str, version: str) -> bool:
    """Whether an installed `version` satisfies a registry `spec` (arborist's dep-valid.js)."""
    text = spec.strip()
    kind = spec_kind(text)
    if kind == "tag":
        return True
    return text == "*" or (kind is not None and in_range(version, text))


def pick(choices: Choices, spec: str) -> str | None:
    """The version npm installs for `spec` (npm-pick-manifest), or None when there is none."""
    text = spec.strip()
    kind = spec_kind(text)
    known = choices.version_order
    if kind == "tag":
        tagged = choices.dist_tags.get(text)
        return tagged if tagged in known else None
    if kind == "version":
        exact = nodesemver.clean(text, loose=True)
        return exact if exact in known else next((v for v in known if v == text), None)
    if kind is None:
        return None
    deprecations = choices.deprecations
    latest = choices.dist_tags.get("latest")
    if (
        latest is not None
        and latest in known
        and latest not in deprecations
        and (text in ("*", "") or in_range(latest, text))
    ):
        return latest
    fallback = None
    for version in known:
        if in_range(version, text):
            if version not in deprecations:
                return version
            fallback = fallback or version
    return fallback
