"""Pure helpers both adapters need: people, repository URLs, dates, short text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from ..models import Person

_SUMMARY_LIMIT = 300


def text(value: Any, limit: int = _SUMMARY_LIMIT) -> str | None:
    """A short single-line string, or None; never a README body."""
    if not isinstance(value, str):
        return None
    single: str = " ".join(value.split())
    if not single or single.upper() == "UNKNOWN":
        return None
    return single if len(single) <= limit else single[: limit - 1].rstrip() + "…"


# npm's and PyPI's own spelling ('2016-03-04T18:02:04.245Z', or '+00:00' from re-serializing mirrors):
# already UTC, only the fraction to drop. Thousands per packument, so no datetime round trip.
_UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|\+00:00)", re.ASCII)


def iso_utc(value: Any) -> str | None:
    """An upstream timestamp as ISO 8601 UTC with a 'Z', or None when it is not a timestamp."""
    if not isinstance(value, str) or not value:
        return None
    if _UTC_Z.fullmatch(value) and value[5:7] <= "12" and value[8:10] <= "31" and value[11:13] <= "23":
        return value[:19] + "Z"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # PyPI's `upload_time` has no offset; the JSON API documents it as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def keywords(value: Any) -> list[str]:
    """Keywords as npm (a list) or PyPI (a comma- or space-separated string, or a list) writes them."""
    if isinstance(value, str):
        value = value.split(",") if "," in value else value.split()
    if not isinstance(value, list):
        return []
    return [k for k in (text(item, 60) for item in value) if k][:20]


_EMAIL = re.compile(r"^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$")
_PERSON = re.compile(r"^(?P<name>[^<(]*?)\s*(?:<(?P<email>[^>]*)>)?\s*(?:\((?P<url>[^)]*)\))?\s*$")


def person(value: Any) -> Person | None:
    """npm's person: an object {name, email, url} or the string 'Name <email> (url)'."""
    if isinstance(value, str):
        match = _PERSON.match(value.strip())
        if match is None:
            return Person(name=text(value, 200))
        fields = {k: (v.strip() or None) if v else None for k, v in match.groupdict().items()}
        if (
            fields["email"] is None
            and fields["url"] is None
            and fields["name"]
            and _EMAIL.match(fields["name"])
        ):
            # A bare address ('jane@example.com') names no one; it is the email.
            fields["name"], fields["email"] = None, fields["name"]
        built = Person(name=fields["name"], email=fields["email"], url=fields["url"])
    elif isinstance(value, dict):
        built = Person(
            name=text(value.get("name"), 200),
            email=text(value.get("email"), 200),
            url=text(value.get("url") or value.get("web"), 300),
        )
    else:
        return None
    return built if (built.name or built.email or built.url) else None


def people(value: Any) -> list[Person]:
    """A list of npm people (tolerates a single person where a list belongs)."""
    items = value if isinstance(value, list) else [value]
    found = [p for p in (person(item) for item in items) if p is not None]
    return _unique(found)


def address_people(names: Any, emails: Any, role: str | None = None) -> list[Person]:
    """PyPI core metadata's Author/Author-email pair: comma-separated names and RFC 822 addresses."""
    found: list[Person] = []
    if isinstance(emails, str) and emails.strip():
        for display, address in getaddresses([emails]):
            if display or address:
                found.append(Person(name=display or None, email=address or None, role=role))
    if isinstance(names, str) and names.strip():
        known = {p.name for p in found}
        listed = [n.strip() for n in names.split(",") if n.strip()] if "," in names else [names.strip()]
        unnamed = [p for p in found if p.name is None]
        for name in listed:
            if name in known:
                continue
            if unnamed:
                # 'Author: Jane' + 'Author-email: jane@x' describe one person.
                first = unnamed.pop(0)
                found[found.index(first)] = Person(name=text(name, 200), email=first.email, role=role)
            else:
                found.append(Person(name=text(name, 200), role=role))
    return _unique(found)


def _unique(found: list[Person]) -> list[Person]:
    seen: set[tuple[str | None, str | None]] = set()
    unique = []
    for p in found:
        key = (p.name, p.email)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


_HOST_SHORTCUTS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "bitbucket": "bitbucket.org",
    "gist": "gist.github.com",
}
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+\.[a-z]{2,}):(?P<path>[^/].*)$", re.IGNORECASE)
_SHORTHAND = re.compile(r"^[\w.-]+/[\w.-]+$")


def browsable_repository(value: Any) -> str | None:
    """A repository reference (npm's many shapes, or a PyPI project URL) as a browsable https URL."""
    if isinstance(value, dict):
        url = browsable_repository(value.get("url"))
        directory = value.get("directory")
        if url and isinstance(directory, str) and directory.strip("/") and "github.com" in url:
            return f"{url}/tree/HEAD/{directory.strip('/')}"
        return url
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw:
        return None
    shortcut, _, rest = raw.partition(":")
    if shortcut in _HOST_SHORTCUTS and rest and not rest.startswith("//"):
        return _tidy(f"https://{_HOST_SHORTCUTS[shortcut]}/{rest}")
    if _SHORTHAND.match(raw):
        # npm: 'user/repo' means GitHub.
        return _tidy(f"https://github.com/{raw}")
    url = re.sub(r"^git\+", "", raw)
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        return _tidy(f"https://{scp['host']}/{scp['path']}")
    # 'git+ssh://git@github.com:u/r.git' mixes a URL scheme with scp's ':' before the path; npm accepts it.
    match = re.match(
        r"^(?:https?|git|ssh|git\+ssh)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+(?=/|$))?(?:[:/](?P<path>.*))?$",
        url,
    )
    if match is None:
        return None
    return _tidy(f"https://{match['host']}/{match['path'] or ''}")


def _tidy(url: str) -> str:
    url = url.split("#", 1)[0].rstrip("/")
    return url.removesuffix(".git")
