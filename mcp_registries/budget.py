"""Answers that fit an agent's context: a default answer's text stays under `LIMIT` bytes.

Agents pay for every byte a tool returns. A default answer that would pass the limit shrinks its largest
parts first, and says in a note what it left out and which argument shows it; an answer the caller asked
to be large (`page_size`, `files`, `group`, `extra`) is left whole.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from pydantic import BaseModel

from .models import (
    Artifact,
    AuditEntry,
    AuditResult,
    DependenciesResult,
    Dependency,
    FileSummary,
    SearchResult,
    VersionResult,
    VersionsResult,
    compact_json,
    structured,
)

#: Bytes of a default answer's text block: under 4 KB with room for the notes that explain a cut.
LIMIT = 3800
#: Files a `version` answer lists by default.
ARTIFACTS = 5
#: Characters of a search result's summary when the default page would pass the limit.
SEARCH_SUMMARY = 100

_ARCHES = (
    "x86_64", "aarch64", "arm64", "amd64", "i686", "ppc64le", "ppc64", "s390x", "armv7l", "universal2",
    "intel", "riscv64", "loongarch64", "x86", "arm64_v8a", "armeabi_v7a",
)  # fmt: skip
#: Where most installs run: a pick of "general" wheels covers these first.
_COMMON = ("manylinux x86_64", "macosx arm64", "win amd64", "manylinux aarch64", "musllinux x86_64")


def size(result: BaseModel) -> int:
    return len(compact_json(structured(result)).encode())


# -- files ------------------------------------------------------------------------------------------


def platform_label(platform: str) -> str:
    """A wheel platform tag as a person says it: 'manylinux_2_17_x86_64' → 'manylinux x86_64'."""
    if platform in {"any", "win32"}:
        return platform
    arch = next((a for a in _ARCHES if platform.endswith("_" + a)), platform.rsplit("_", 1)[-1])
    family = re.sub(r"\d+$", "", platform.split("_", 1)[0])
    return f"{family} {arch}"


def _tags(filename: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()


def _python_key(tag: str) -> tuple[str, int]:
    match = re.fullmatch(r"([a-z]+)(\d*)", tag)
    if match is None:
        return tag, 0
    digits = match.group(2)
    # 'cp310' is 3.10, 'py3' is 3: compare the minor number after the major digit.
    return match.group(1), int(digits[1:] or -1) if digits else -1


def file_summary(artifacts: Sequence[Artifact]) -> FileSummary | None:
    if not artifacts:
        return None
    sizes = [a.size for a in artifacts]
    tags = [tag for a in artifacts if a.kind == "wheel" for tag in _tags(a.filename)]
    return FileSummary(
        count=len(artifacts),
        total_size=sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) else None,
        sdist=any(a.kind == "sdist" for a in artifacts),
        python=sorted({t.interpreter for t in tags}, key=_python_key),
        platforms=sorted({platform_label(t.platform) for t in tags}),
    )


def _generality(artifact: Artifact) -> tuple[int, int, int]:
    tags = _tags(artifact.filename)
    if not tags:
        return 3, 0, 0
    platforms = {platform_label(t.platform) for t in tags}
    pure = "any" in platforms
    common = min((_COMMON.index(p) for p in platforms if p in _COMMON), default=len(_COMMON))
    newest = max(_python_key(t.interpreter)[1] for t in tags)
    return (0 if pure else 1 if any(t.abi == "abi3" for t in tags) else 2), common, -newest


def pick_artifacts(artifacts: Sequence[Artifact], count: int = ARTIFACTS) -> list[Artifact]:
    """The sdist, then the most general wheels: pure, then abi3, then one per common platform (newest
    Python first)."""
    ranked = [a for a in artifacts if a.kind != "wheel"] + sorted(
        (a for a in artifacts if a.kind == "wheel"), key=_generality
    )
    picked: list[Artifact] = []
    seen: set[tuple[int, int]] = set()
    for artifact in ranked:
        rank = _generality(artifact)[:2] if artifact.kind == "wheel" else (-1, len(picked))
        if rank not in seen:
            seen.add(rank)
            picked.append(artifact)
    picked += [a for a in ranked if a not in picked]
    return picked[:count]


def fit_files(
    artifacts: list[Artifact], *, all_files: bool, page: int, page_size: int
) -> tuple[list[Artifact], list[str]]:
    """The files a `version` answer lists: a few by default, a page of every one with files='all'."""
    total = len(artifacts)
    if all_files:
        start = (page - 1) * page_size
        shown = artifacts[start : start + page_size]
        pages = math.ceil(total / page_size)
        if pages <= 1 and page == 1:
            return shown, []
        more = f"; page={page + 1} for more" if start + page_size < total else ""
        span = f"{start + 1}–{start + len(shown)}" if shown else "none"
        return shown, [f"files {span} of {total} (page {page} of {pages}){more}"]
    picked = pick_artifacts(artifacts)
    if len(picked) == total:
        return picked, []
    note = (
        f"{total} files; artifacts lists {len(picked)} (the sdist and the most general wheels); "
        "files='all' lists every one"
    )
    return picked, [note]


# -- versions ---------------------------------------------------------------------------------------


def fit_versions(result: VersionsResult, *, asked: bool) -> VersionsResult:
    """A default page past the limit drops release dates (the `version` tool gives them), then versions
    from its end."""
    if asked or size(result) <= LIMIT:
        return result
    dated = sum(1 for entry in result.versions if entry.released)
    undated = result.model_copy(
        update={"versions": [entry.model_copy(update={"released": None}) for entry in result.versions]}
    )
    notes = [
        f"release dates of these {dated} versions left out to stay under 4 KB; a smaller page_size shows them"
    ]
    fitted = undated.model_copy(update={"notes": [*result.notes, *notes]})
    shown = len(fitted.versions)
    while shown > 1 and size(fitted) > LIMIT:
        shown -= 1
        fitted = undated.model_copy(
            update={
                "versions": undated.versions[:shown],
                "has_more": True,
                "notes": [
                    *result.notes,
                    (
                        f"this page lists {shown} of its {len(result.versions)} versions to stay under 4 KB; "
                        f"page_size={shown} pages through every one"
                    ),
                ],
            }
        )
    return fitted


# -- search ---------------------------------------------------------------------------------------


def fit_search(result: SearchResult, *, asked: bool) -> SearchResult:
    """A default page past the limit shortens its results' summaries (the package tool gives them whole),
    then lists fewer results."""
    if asked or size(result) <= LIMIT:
        return result
    cut = [
        hit.model_copy(update={"summary": hit.summary[: SEARCH_SUMMARY - 1].rstrip() + "…"})
        if hit.summary and len(hit.summary) > SEARCH_SUMMARY
        else hit
        for hit in result.results
    ]
    note = (
        f"summaries cut to {SEARCH_SUMMARY} characters to stay under 4 KB; a page_size given keeps them "
        "whole, and the package tool gives each one"
    )
    fitted = result.model_copy(update={"results": cut, "notes": [*result.notes, note]})
    shown = len(cut)
    while shown > 1 and size(fitted) > LIMIT:
        shown -= 1
        fewer = (
            f"this page lists {shown} of its {len(cut)} results to stay under 4 KB; "
            f"page_size={shown} pages through every one"
        )
        fitted = fitted.model_copy(
            update={"results": cut[:shown], "has_more": True, "notes": [*result.notes, note, fewer]}
        )
    return fitted


# -- audit ----------------------------------------------------------------------------------------

#: What a problem entry keeps past the limit: the license is in the answer's `licenses` count.
_PROBLEM = frozenset(AuditEntry.model_fields) - {"license", "latest_allowed"}
#: Statuses that are not problems.
_FINE = ("ok", "unchecked")
#: The group most dependencies are in, left unnamed in a shortened audit.
_MAIN_GROUP = {"npm": "dependencies", "pypi": "runtime"}


def fit_audit(result: AuditResult, *, full: bool) -> AuditResult:
    """Past the limit (unless `full`): the dependencies without a problem are counted, not listed (the
    manifest names them; `full` lists them), then the problems leave out their license (counted in
    `licenses`). A long list of problems is the answer asked for: none is dropped."""
    if full or size(result) <= LIMIT:
        return result
    fine = [entry for entry in result.dependencies if entry.status in _FINE]
    problems = [entry for entry in result.dependencies if entry.status not in _FINE]
    notes = [*result.notes]
    if fine:
        notes.append(
            f"{len(fine)} dependencies without a problem ({', '.join(f'{n} {s}' for s, n in _counts(fine))}) are "
            "counted, not listed, to keep this answer small; full=true lists every one"
        )
    fitted = result.model_copy(update={"dependencies": problems, "notes": notes})
    if size(fitted) <= LIMIT:
        return fitted
    main = _MAIN_GROUP[result.registry]
    slim = [
        AuditEntry.model_validate(
            entry.model_dump(include=set(_PROBLEM) - ({"group"} if entry.group == main else set()))
        )
        for entry in problems
    ]
    note = (
        f"problems leave out their license (counted in licenses) and the group {main!r} (the one not named)"
    )
    return fitted.model_copy(update={"dependencies": slim, "notes": [*notes, note]})


def _counts(entries: list[AuditEntry]) -> list[tuple[str, int]]:
    found: dict[str, int] = {}
    for entry in entries:
        found[entry.status] = found.get(entry.status, 0) + 1
    return list(found.items())


# -- vulnerabilities --------------------------------------------------------------------------------


def fit_vulnerabilities(result: VersionResult, *, asked: bool, listing: str) -> VersionResult:
    """A default `version` answer past the limit lists its vulnerabilities without summaries and aliases,
    then fewer of them; the notes say where each is read in full (`listing`: every advisory of the package)."""
    found = result.vulnerabilities
    if asked or not found or size(result) <= LIMIT:
        return result
    short = [v.model_copy(update={"summary": None, "aliases": []}) for v in found]
    shortened = (
        f"{len(found)} vulnerabilities shown without summaries and aliases to stay under 4 KB; "
        "https://osv.dev/vulnerability/<id> gives each"
    )
    fitted = result.model_copy(update={"vulnerabilities": short, "notes": [*result.notes, shortened]})
    shown = len(short)
    while shown > 1 and size(fitted) > LIMIT:
        shown -= 1
        fewer = f"{shown} of {len(found)} known vulnerabilities listed to stay under 4 KB; {listing} lists them all"
        fitted = result.model_copy(
            update={"vulnerabilities": short[:shown], "notes": [*result.notes, shortened, fewer]}
        )
    return fitted


# -- dependencies -----------------------------------------------------------------------------------


def fit_dependencies(
    result: DependenciesResult, *, group: str | None, extra: str | None
) -> DependenciesResult:
    """Past the limit: the largest extras become counts, then the largest groups become names, then
    counts; runtime last. The group or extra the caller named stays whole."""
    if size(result) <= LIMIT:
        return result
    extras = dict(result.extras)
    notes: list[str] = []
    lengths = {k: len(json.dumps(v, ensure_ascii=False)) for k, v in extras.items() if k != extra}
    largest_first = sorted(lengths, key=lengths.__getitem__, reverse=True)
    counted = 0
    # Estimated from each list's own length (cheap), then checked against the real text.
    excess = size(result) - LIMIT
    while largest_first and (excess > 0 or size(result.model_copy(update={"extras": extras})) > LIMIT):
        name = largest_first.pop(0)
        value = extras[name]
        if isinstance(value, list):
            extras[name] = len(value)
            excess -= lengths[name] - len(str(len(value)))
            counted += 1
    if counted:
        notes.append(
            f"{counted} of {len(extras)} extras shown as the count of their requirements to stay under 4 KB; "
            "extra='<name>' lists one in full"
        )
    fitted = result.model_copy(update={"extras": extras})
    for name in _shrinkable(fitted, group):
        if size(fitted) <= LIMIT:
            break
        fitted, note = _shrink_group(fitted, name)
        notes.append(note)
    return fitted.model_copy(update={"notes": [*result.notes, *notes]})


def _shrinkable(result: DependenciesResult, asked: str | None) -> list[str]:
    others = [g for g in ("dev", "optional", "peer") if g != asked and getattr(result, g)]
    others.sort(key=lambda g: len(getattr(result, g)), reverse=True)
    return [*others, *(["runtime"] if asked != "runtime" and result.runtime else [])]


def _shrink_group(result: DependenciesResult, group: str) -> tuple[DependenciesResult, str]:
    rows: list[Dependency] = getattr(result, group)
    named = result.model_copy(update={group: [Dependency(name=row.name) for row in rows]})
    if size(named) <= LIMIT:
        return named, (
            f"{group}: {len(rows)} dependencies shown by name only to stay under 4 KB; "
            f"group='{group}' lists their requirements"
        )
    return result.model_copy(update={group: []}), (
        f"{group}: {len(rows)} dependencies left out to stay under 4 KB; group='{group}' lists them"
    )


__all__ = [
    "ARTIFACTS",
    "LIMIT",
    "file_summary",
    "fit_dependencies",
    "fit_files",
    "fit_versions",
    "fit_vulnerabilities",
    "pick_artifacts",
    "platform_label",
]
