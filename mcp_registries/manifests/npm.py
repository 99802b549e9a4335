"""npm: package.json's four dependency groups, and requirement strings (`name@range`, aliases)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import shown
from ..registries.npm import valid_name as npm_name
from ..registries.npm_pick import is_range
from .base import LIST, Manifest, Refused, Wanted, unchecked

NPM_GROUPS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")

# How npm tells a registry spec from the others: npm-package-arg (lib/npa.js) tests, in this order, an
# alias (`npm:`), a hosted-git shortcut, a URL-like scheme, an scp-like git address, a path or tarball file;
# what is left is a version, a range (node-semver, loose) or a dist-tag.

_SCHEME = re.compile(r"(?:git\+)?([a-z]+):", re.IGNORECASE)
_SCP_GIT = re.compile(r"[^@]+@[^:.]+\.[^:]+:.+")
_SHORTHAND = re.compile(r"[^./~\\@:#][^/\\:#]*/[^/\\:#]+(?:#.*)?")
_TARBALL = (".tgz", ".tar.gz", ".tar")
#: Characters encodeURIComponent leaves alone: npm refuses a dist-tag it would escape (npa's invalidTagName).
_TAG = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SCHEMES = {
    "github": "a GitHub dependency",
    "gitlab": "a GitLab dependency",
    "bitbucket": "a Bitbucket dependency",
    "gist": "a GitHub gist dependency",
    "git": "a git dependency",
    "ssh": "a git dependency",
    "http": "a URL dependency",
    "https": "a URL dependency",
    "file": "a local path (file:)",
    "link": "a link to a local folder (link:)",
    "workspace": "a workspace package (workspace:)",
    "catalog": "a pnpm catalog entry (catalog:)",
    "portal": "a Yarn portal to a local folder (portal:)",
    "patch": "a Yarn patched package (patch:)",
}


def read(data: dict[str, Any]) -> Manifest:
    """A package.json's dependencies; Refused for a lock file."""
    if "lockfileVersion" in data:
        raise Refused("it is a package-lock.json (a lock file), not the package.json")
    wanted: list[Wanted] = []
    notes: list[str] = []
    for group in NPM_GROUPS:
        declared = data.get(group)
        if isinstance(declared, dict):
            wanted += [_entry(name, raw, group) for name, raw in declared.items()]
        elif declared is not None:
            notes.append(f"{group} is {shown(declared)}, not an object: skipped")
    if "workspaces" in data:
        notes.append("workspaces are not read: only this package.json's own dependencies are listed")
    if not wanted:
        notes.append("this package.json declares no dependencies")
    return Manifest("npm", "package.json", wanted, notes)


def _entry(name: str, raw: Any, group: str) -> Wanted:
    if not isinstance(raw, str):
        return unchecked(name, None, group, f"its requirement is {shown(raw)}, not a string")
    if not npm_name(name):
        return unchecked(name, raw, group, "not a valid npm package name")
    try:
        package, spec, why = read_requirement(name, raw)
    except Refused as refused:
        return unchecked(name, raw, group, f"npm cannot read it: {refused}")
    return Wanted(name, raw, group, package, spec, why)


def read_requirement(name: str, raw: str) -> tuple[str | None, str | None, str | None]:
    """(package, spec, why unchecked) of one npm requirement; Refused when npm cannot read it."""
    text = raw.strip()
    if text.startswith("npm:"):
        alias = text[4:]
        at = alias.find("@", 1)
        target, spec = (alias[:at], alias[at + 1 :].strip()) if at > 0 else (alias, "")
        if not npm_name(target):
            raise Refused(f"the alias names {shown(target)}, which is not an npm package name")
        if why := _kind(spec):
            # npa: "aliases only work for registry deps".
            raise Refused(f"an alias must name a version, range or dist-tag, not {why}")
        return target, spec, None
    if why := _kind(text):
        return None, None, why
    return name, text, None


def _kind(text: str) -> str | None:
    """Why a spec is not a registry one (None: a version, range or dist-tag); Refused when it is none."""
    if scheme := _SCHEME.match(text):
        kind = "git" if text[:4].lower() == "git+" else scheme.group(1).lower()
        if len(kind) == 1:  # C:\…, a Windows path
            return "a local path"
        return _SCHEMES.get(kind, f"not a registry requirement ({kind}:)")
    if _SCP_GIT.fullmatch(text):
        return "a git dependency"
    if _SHORTHAND.fullmatch(text):
        return "a GitHub dependency (user/repo)"
    if "/" in text or "\\" in text:
        return "a local path"
    if text.lower().endswith(_TARBALL):
        return "a local tarball"
    if _TAG.fullmatch(text) or is_range(text):
        return None
    raise Refused(f"{shown(text)} is not a version, range or dist-tag")


def item(written: str, notes: list[str]) -> Wanted:
    """One requirement string of a list (`name`, `name@range`, `alias@npm:name@range`); Refused when npm
    cannot read it."""
    text = written.strip()
    at = text.find("@", 1)
    name, raw = (text[:at], text[at + 1 :]) if at > 0 else (text, None)
    if not npm_name(name):
        raise Refused(f"{shown(name)} is not an npm package name")
    if raw is None:
        return Wanted(name, None, LIST, name, "")
    package, spec, why = read_requirement(name, raw)
    return Wanted(name, raw, LIST, package, spec, why)
