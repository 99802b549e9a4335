"""PyPI core metadata read into answers: licences, project URLs, keywords, people and requirements.

Pure functions over the JSON API's `info` object (or core metadata parsed into the same keys).
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..models import Dependency, Person
from .common import address_people, browsable_repository, text

DEV_EXTRAS = frozenset(
    {"dev", "devel", "develop", "development", "test", "tests", "testing", "doc", "docs", "documentation",
     "lint", "linting", "typing", "types", "mypy", "style", "qa", "check", "checks", "coverage", "cov"}
)  # fmt: skip
NOTE_DEV = "PyPI publishes no dev dependencies; dev_extras names the extras that play that role"
_REPOSITORY_KEYS = ("source", "sourcecode", "repository", "code", "github", "git", "sources", "repo")
_HOMEPAGE_KEYS = ("homepage", "home", "home-page", "website")
_NOT_OWNERS = frozenset({"sponsors", "orgs", "apps", "marketplace", "topics", "features"})


def license_of(info: dict[str, Any]) -> str | None:
    """PEP 639 expression, then a short License field (not a pasted licence text), then trove classifiers."""
    expression = text(info.get("license_expression"), 200)
    if expression:
        return expression
    value = info.get("license")
    if isinstance(value, str) and "\n" not in value.strip() and len(value.strip()) <= 100:
        # text() drops setuptools' placeholder 'UNKNOWN'; the classifiers may still say.
        short = text(value, 100)
        if short:
            return short
    classifiers = info.get("classifiers") or []
    found = [c.split(" :: ")[-1] for c in classifiers if isinstance(c, str) and c.startswith("License :: ")]
    found = [f for f in found if f not in {"OSI Approved", "Other/Proprietary License"}] or found
    if found:
        return " OR ".join(dict.fromkeys(found))
    if isinstance(value, str) and value.strip():
        return text(value.strip().splitlines()[0], 100)
    return None


def _urls(info: dict[str, Any]) -> dict[str, str]:
    urls = info.get("project_urls")
    found = {}
    if isinstance(urls, dict):
        for label, url in urls.items():
            if isinstance(label, str) and isinstance(url, str):
                found[re.sub(r"[\s_.-]+", "", label.lower())] = url.strip()
    return found


def homepage_of(info: dict[str, Any]) -> str | None:
    urls = _urls(info)
    home = next((urls[k.replace("-", "")] for k in _HOMEPAGE_KEYS if k.replace("-", "") in urls), None)
    return text(info.get("home_page"), 500) or (text(home, 500) if home else None)


def repository_of(info: dict[str, Any]) -> str | None:
    urls = _urls(info)
    for key in _REPOSITORY_KEYS:
        if key in urls:
            return browsable_repository(urls[key])
    candidates = [info.get("home_page"), *urls.values()]
    for url in candidates:
        if isinstance(url, str) and re.search(
            r"//(www\.)?(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/", url
        ):
            found = browsable_repository(url)
            parts = found.split("/") if found else []
            # A repository is owner/repo; 'Funding' links to github.com/sponsors/<user> are not one.
            if len(parts) >= 5 and parts[3].lower() not in _NOT_OWNERS:
                # Keep owner/repo only: project URLs often point at a sub-page (issues, docs).
                return "/".join(parts[:5])
    return None


def author_of(info: dict[str, Any]) -> Person | None:
    found = address_people(info.get("author"), info.get("author_email"))
    return found[0] if found else None


# An `extra` clause as packaging writes a marker back (`str(Marker)`): double quotes, single spaces, the
# extra's name already normalized (PEP 685), either way round.
_EXTRA_CLAUSE = re.compile(r'extra == "([^"]*)"|"([^"]*)" == extra')


def _top_level(marker: str) -> list[tuple[int, str]]:
    """Each character of a marker with its parenthesis depth (parentheses inside quotes do not count)."""
    found, depth, quote = [], 0, ""
    for char in marker:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        found.append((depth, char))
    return found


def _extra_of(requirement: Requirement) -> tuple[str | None, str | None]:
    """Split `extra == "x"` from a marker: (the extra, the rest of the marker or None).

    Only a clause joined by `and` at the top level leaves the marker; anything more tangled
    (`extra == "test" or extra == "dev"`, a clause inside parentheses) is kept whole under the first extra.
    """
    if requirement.marker is None:
        return None, None
    marker = str(requirement.marker)
    clauses = list(_EXTRA_CLAUSE.finditer(marker))
    if not clauses:
        return None, marker
    first = clauses[0]
    extra = canonicalize_name(first.group(1) if first.group(1) is not None else first.group(2))
    outside = "".join(char if depth == 0 else " " for depth, char in _top_level(marker))
    nested = outside[first.start() : first.end()] != marker[first.start() : first.end()]
    if len(clauses) > 1 or nested or " or " in outside:
        return extra, marker
    before, after = marker[: first.start()], marker[first.end() :]
    if before.endswith(" and "):
        before = before[: -len(" and ")]
    elif after.startswith(" and "):
        after = after[len(" and ") :]
    return extra, (before + after).strip() or None


#: A PEP 508 line's name and extras; what follows, up to the marker, is the requirement as written.
_HEAD = re.compile(
    r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*(?P<rest>.*)$", re.DOTALL
)


def _as_written(head: str, requirement: Requirement) -> str | None:
    """The version part of a requirement as its line spells it ('>=1.31.0,<3.0', not re-ordered)."""
    if requirement.url:
        return requirement.url
    match = _HEAD.match(head)
    rest = match.group("rest").strip() if match else str(requirement.specifier)
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()  # the old 'name (>=1.0)' spelling
    return rest or None


def is_dev_extra(extra: str) -> bool:
    return extra in DEV_EXTRAS or extra.split("-")[0] in DEV_EXTRAS


class Requirements(TypedDict):
    runtime: list[Dependency]
    extras: dict[str, list[str]]
    dev_extras: list[str]


def dependencies_of(requires_dist: Any) -> tuple[Requirements, list[str]]:
    """`requires_dist` split into runtime rows and extras (extra -> its lines, without the extra clause)."""
    found: Requirements = {"runtime": [], "extras": {}, "dev_extras": []}
    notes = [NOTE_DEV]
    if not isinstance(requires_dist, list):
        return found, notes
    skipped = 0
    for line in requires_dist:
        try:
            requirement = Requirement(line)
        except (InvalidRequirement, TypeError):
            skipped += 1
            continue
        head = line.split(";", 1)[0] if requirement.url is None else line.split(" ;", 1)[0]
        extra, marker = _extra_of(requirement)
        if extra is None:
            found["runtime"].append(
                Dependency(
                    name=requirement.name,
                    requirement=_as_written(head, requirement),
                    marker=marker,
                    extras=sorted(requirement.extras),
                )
            )
        else:
            written = head.strip() + (f"; {marker}" if marker else "")
            found["extras"].setdefault(extra, []).append(written)
    found["dev_extras"] = [extra for extra in found["extras"] if is_dev_extra(extra)]
    if skipped:
        notes.append(f"{skipped} requirement line(s) that are not valid PEP 508 were left out")
    return found, notes
