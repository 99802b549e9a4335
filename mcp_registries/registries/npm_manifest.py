"""npm version manifests (package.json as the registry serves it) → answers: licence, deprecation,
engines, dependency groups, the tarball; shapes every npm client has published over the years."""

from __future__ import annotations

from typing import Any

from ..fetching import BadDocument
from ..models import Artifact, Dependency, Person
from .base import DependencyGroups, VersionDoc
from .common import browsable_repository, person, text


def license_of(manifest: dict[str, Any]) -> str | None:
    """npm licence shapes: SPDX string, {type,url}, legacy `licenses` list, misspelled `licence`."""
    for key in ("license", "licence"):
        value = manifest.get(key)
        if isinstance(value, str) and value.strip():
            return text(value, 200)
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            return text(value["type"], 200)
    value = manifest.get("licenses") or manifest.get("licences")
    if isinstance(value, list):
        raw = [item.get("type") if isinstance(item, dict) else item for item in value]
        kinds = [k.strip() for k in raw if isinstance(k, str) and k.strip()]
        if kinds:
            return " OR ".join(kinds) if len(kinds) > 1 else kinds[0]
    if isinstance(value, str | dict):
        return license_of({"license": value})
    return None


def deprecation(manifest: dict[str, Any]) -> str | None:
    # Old manifests carry `"deprecated": false`; only a non-empty string is a deprecation.
    value = manifest.get("deprecated")
    return text(value, 500) if isinstance(value, str) and value.strip() else None


def engines_of(manifest: dict[str, Any]) -> dict[str, str]:
    value = manifest.get("engines")
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}
    if isinstance(value, list):
        # Very old manifests: ["node >= 0.4"].
        found = {}
        for item in value:
            if isinstance(item, str) and item.strip():
                engine, _, requirement = item.strip().partition(" ")
                found[engine] = requirement.strip() or "*"
        return found
    return {}


def _group(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(item): "*" for item in value if isinstance(item, str)}
    return {}


def dependencies_of(manifest: dict[str, Any]) -> DependencyGroups:
    optional = _group(manifest.get("optionalDependencies"))
    peer_meta = manifest.get("peerDependenciesMeta")
    peer_meta = peer_meta if isinstance(peer_meta, dict) else {}

    def peer_optional(name: str) -> bool:
        meta = peer_meta.get(name)
        return isinstance(meta, dict) and meta.get("optional") is True

    return {
        # npm copies optionalDependencies into dependencies at publish time; list them once.
        "runtime": [
            Dependency(name=n, requirement=r)
            for n, r in _group(manifest.get("dependencies")).items()
            if n not in optional
        ],
        "dev": [
            Dependency(name=n, requirement=r) for n, r in _group(manifest.get("devDependencies")).items()
        ],
        "peer": [
            Dependency(name=n, requirement=r, optional=peer_optional(n))
            for n, r in _group(manifest.get("peerDependencies")).items()
        ],
        "optional": [Dependency(name=n, requirement=r, optional=True) for n, r in optional.items()],
    }


def _artifact(manifest: dict[str, Any]) -> list[Artifact]:
    dist = manifest.get("dist")
    if not isinstance(dist, dict) or not isinstance(dist.get("tarball"), str):
        return []
    url: str = dist["tarball"]
    digest = None
    if isinstance(dist.get("integrity"), str):
        digest = dist["integrity"]
    elif isinstance(dist.get("shasum"), str):
        digest = "sha1:" + dist["shasum"]
    return [Artifact(filename=url.rsplit("/", 1)[-1], url=url, size=None, digest=digest, kind="tarball")]


def npm_user(value: Any) -> Person | None:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return Person(username=value["name"], email=text(value.get("email"), 200))
    return None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_manifest(manifest: Any, asked_name: str, released: str | None = None) -> VersionDoc:
    """One version's package.json as the registry serves it (per-version document or packument entry)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
        raise BadDocument("an npm version document is an object with a 'version'")
    groups = dependencies_of(manifest)
    return VersionDoc(
        registry="npm",
        name=as_str(manifest.get("name")) or asked_name,
        version=manifest["version"],
        released=released,
        summary=text(manifest.get("description")),
        license=license_of(manifest),
        homepage=text(manifest.get("homepage"), 500),
        repository=browsable_repository(manifest.get("repository")),
        author=person(manifest.get("author")),
        deprecated=deprecation(manifest),
        engines=engines_of(manifest),
        artifacts=_artifact(manifest),
        **groups,
    )
