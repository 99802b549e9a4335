"""npm's search endpoint (`GET /-/v1/search?text=…&size=…&from=…`), as registry/docs/REGISTRY-API.md
documents it: `objects` (each a `package` with name, version, description, date…, and its scores) and
`total`. Registries and mirrors without it answer 404, 405 or 501: this registry offers no search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..errors import SearchUnavailable, UpstreamStatus
from ..fetching import BadDocument, Fetch, Missing, Plan
from ..models import SearchHit
from .common import iso_utc, text

SERVICE = "npm registry"
#: The endpoint's own largest page.
MAX_SIZE = 250
#: Statuses that mean "no such endpoint here", not "the endpoint failed".
NO_SEARCH = frozenset({404, 405, 501})
SEARCH_PATH = "-/v1/search"


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int | None
    hits: list[SearchHit] = field(default_factory=list)


def search_url(registry_url: str, words: str, offset: int, size: int) -> str:
    # The words travel only as one form-encoded query value: '&', '#', '/' and '..' stay inert.
    query = urlencode({"text": words, "size": min(size, MAX_SIZE), "from": offset})
    return f"{registry_url}{SEARCH_PATH}?{query}"


def search(registry_url: str, words: str, offset: int, size: int) -> Plan[SearchPage]:
    # A service of its own behind the registry's host: its failures must not cut off packuments.
    fetch = Fetch(
        search_url(registry_url, words, offset, size),
        "The npm registry's search",
        outage_scope=f"{registry_url}{SEARCH_PATH}",
    )
    try:
        data = yield fetch
    except Missing as missing:
        raise SearchUnavailable(SERVICE, missing.status, "search endpoint (/-/v1/search)") from None
    except UpstreamStatus as failed:
        if failed.status in NO_SEARCH:
            raise SearchUnavailable(SERVICE, failed.status, "search endpoint (/-/v1/search)") from None
        raise
    return parse_search(data)


def parse_search(data: Any) -> SearchPage:
    """The documented response shape; any field but the package name may be missing."""
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise BadDocument("a search answer without an 'objects' list")
    hits = []
    for item in data["objects"]:
        package = item.get("package") if isinstance(item, dict) else None
        name = text(package.get("name")) if isinstance(package, dict) else None
        if not name:
            continue
        assert isinstance(package, dict)
        hits.append(
            SearchHit(
                name=name,
                latest_version=text(package.get("version")),
                summary=text(package.get("description")),
                released=iso_utc(package.get("date")),
                match="text",
            )
        )
    total = data.get("total")
    return SearchPage(total if isinstance(total, int) and not isinstance(total, bool) else None, hits)
