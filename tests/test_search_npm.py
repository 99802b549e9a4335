"""npm's search and did-you-mean over real sockets: the loopback fake serves npm's prefix, a real Service asks.

The search bodies are the hand-made documented ones (`data/documented/npm-search-*.json`); what the fake
received (path, query values, request counts) is what the tests assert on, as much as what came back.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from mcp import Client

from mcp_registries import search
from mcp_registries.errors import InvalidResponse, PackageNotFound, RegistryError, SearchUnavailable
from mcp_registries.models import PackageResult, SearchHit, SearchResult, structured
from mcp_registries.server import build_server
from mcp_registries.service import Service
from mcp_registries.web import build_app

from .conftest import data, recorded_routes, server_settings
from .upstream import Behaviour, Exchange, LoopbackUpstream, delayed, reply
from .webserver import ThreadedServer

pytestmark = pytest.mark.anyio

SEARCH = "/npm/-/v1/search"
REACT_PAGE = data("documented/npm-search-react.json")
REACTT_POOL = data("documented/npm-search-reactt.json")
NO_SEARCH = (
    "This npm registry (or the mirror configured for it) offers no search: its search endpoint "
    "(/-/v1/search) answered HTTP {}. Look packages up by their exact name instead."
)
#: What the documented `text=react` page maps to, result by result.
REACT_HITS = [
    SearchHit(
        name="react",
        latest_version="19.3.1",
        summary="React is a JavaScript library for building user interfaces.",
        released="2026-10-14T16:47:15Z",
        match="text",
    ),
    SearchHit(
        name="react-dom",
        latest_version="19.3.1",
        summary="React package for working with the DOM.",
        released="2026-10-14T16:47:19Z",
        match="text",
    ),
    SearchHit(
        name="@types/react",
        latest_version="19.2.7",
        summary="TypeScript definitions for react",
        released="2026-09-30T07:02:11Z",
        match="text",
    ),
    SearchHit(
        name="react-is",
        latest_version="19.3.1",
        summary="Brand checking of React Elements.",
        released="2026-10-14T16:47:22Z",
        match="text",
    ),
    SearchHit(name="react-tiny-tabs", latest_version="0.2.0", released="2019-03-08T21:44:05Z", match="text"),
]


def paged(total: int) -> Behaviour:
    """A search endpoint over `total` made-up packages `pkg-1`…: the page its `from` and `size` ask for."""

    def behave(ex: Exchange) -> None:
        asked = parse_qs(urlsplit(ex.path).query)
        start, size = int(asked["from"][0]), int(asked["size"][0])
        objects = [
            {
                "package": {
                    "name": f"pkg-{n}",
                    "scope": "unscoped",
                    "version": "1.0.0",
                    "date": "2025-01-02T03:04:05.678Z",
                }
            }
            for n in range(start + 1, min(start + size, total) + 1)
        ]
        ex.send(200, json.dumps({"objects": objects, "total": total, "time": "Sun Nov 29 2026"}).encode())

    return behave


def asked(server: LoopbackUpstream) -> list[dict[str, list[str]]]:
    """The query of every request the search endpoint received, decoded as a form, in order."""
    return [
        parse_qs(urlsplit(path).query, keep_blank_values=True)
        for path, count in server.hits.items()
        if urlsplit(path).path == SEARCH
        for _ in range(count)
    ]


def searched(server: LoopbackUpstream) -> int:
    return sum(count for path, count in server.hits.items() if path.startswith(SEARCH))


@pytest.fixture
def server() -> Iterator[LoopbackUpstream]:
    """The recorded documents (react's packument among them) and the documented `react` search page."""
    with LoopbackUpstream(recorded_routes()) as running:
        running.prefixes[SEARCH] = reply(200, REACT_PAGE)
        yield running


@pytest.fixture
async def service(server: LoopbackUpstream, tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(server_settings(server, tmp_path), backoff=0.01)
    yield svc
    await svc.aclose()


async def failure(service: Service, operation: str, **arguments: Any) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        await service.call(operation, {"registry": "npm", **arguments})
    return caught.value


# -- search ------------------------------------------------------------------------------------------------


async def test_search_npm_maps_the_documented_answer(service: Service, server: LoopbackUpstream) -> None:
    """Each documented object becomes {name, latest_version, summary, released (ISO UTC), match='text'}."""
    result = await service.call("search", {"registry": "npm", "query": "react"})
    assert result == SearchResult(
        registry="npm",
        query="react",
        total=301234,
        page=1,
        page_size=10,
        has_more=True,
        results=REACT_HITS,
    )
    assert asked(server) == [{"text": ["react"], "size": ["10"], "from": ["0"]}]


async def test_search_npm_page_and_page_size_become_from_and_size(
    service: Service, server: LoopbackUpstream
) -> None:
    """page 3 of 10 asks from=20 size=10; total and has_more come from the answer, true before the end."""
    server.prefixes[SEARCH] = paged(57)
    result = await service.call("search", {"registry": "npm", "query": "pkg", "page": 3, "page_size": 10})
    assert isinstance(result, SearchResult)
    assert asked(server) == [{"text": ["pkg"], "size": ["10"], "from": ["20"]}]
    assert [hit.name for hit in result.results] == [f"pkg-{n}" for n in range(21, 31)]
    assert (result.total, result.page, result.page_size, result.has_more) == (57, 3, 10, True)
    assert result.results[0].released == "2025-01-02T03:04:05Z"


async def test_search_npm_last_page_has_no_more(service: Service, server: LoopbackUpstream) -> None:
    """The page that reaches `total` says has_more false, with the few results left."""
    server.prefixes[SEARCH] = paged(57)
    result = await service.call("search", {"registry": "npm", "query": "pkg", "page": 6, "page_size": 10})
    assert isinstance(result, SearchResult)
    assert asked(server) == [{"text": ["pkg"], "size": ["10"], "from": ["50"]}]
    assert [hit.name for hit in result.results] == [f"pkg-{n}" for n in range(51, 58)]
    assert (result.total, result.has_more) == (57, False)


async def test_search_npm_page_size_above_250_is_clamped_with_a_note(
    service: Service, server: LoopbackUpstream
) -> None:
    """page_size 1000 asks size=250 (npm's largest page) and from=250 for page 2, and a note says so."""
    server.prefixes[SEARCH] = paged(600)
    result = await service.call("search", {"registry": "npm", "query": "pkg", "page": 2, "page_size": 1000})
    assert isinstance(result, SearchResult)
    assert asked(server) == [{"text": ["pkg"], "size": ["250"], "from": ["250"]}]
    assert (result.page_size, len(result.results), result.results[0].name) == (250, 250, "pkg-251")
    assert result.notes == ["page_size 1000 was clamped to 250"]


async def test_search_npm_without_total_has_more_when_the_page_is_full(
    service: Service, server: LoopbackUpstream
) -> None:
    """An answer without `total` (a mirror's) leaves total unknown; a full page may have more."""
    document = json.loads(REACT_PAGE)
    del document["total"]
    server.prefixes[SEARCH] = reply(200, json.dumps(document).encode())
    full = await service.call("search", {"registry": "npm", "query": "react", "page_size": 5})
    short = await service.call("search", {"registry": "npm", "query": "react", "page_size": 6})
    assert isinstance(full, SearchResult) and isinstance(short, SearchResult)
    assert (full.total, full.has_more, short.total, short.has_more) == (None, True, None, False)


@pytest.mark.parametrize(
    "query",
    ["a&b=c#d/../x ?é", "%2e%2e/%2F?text=evil&size=1", "@types/ react+dom;x=1"],
    ids=["ampersand-hash-dots", "percent-escapes", "scope-plus-semicolon"],
)
async def test_search_npm_query_arrives_as_one_text_value(
    service: Service, server: LoopbackUpstream, query: str
) -> None:
    """Whatever the query holds, the fake receives one path and exactly one form-decoded `text` equal to it."""
    result = await service.call("search", {"registry": "npm", "query": query})
    assert isinstance(result, SearchResult) and result.query == query
    assert [urlsplit(path).path for path in server.hits] == [SEARCH]
    assert asked(server) == [{"text": [query], "size": ["10"], "from": ["0"]}]


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_search_npm_without_the_endpoint_says_no_search(
    service: Service, server: LoopbackUpstream, status: int
) -> None:
    """404, 405 and 501 are one sentence, asked once (a 501 is not retried), and npm still answers after."""
    server.prefixes[SEARCH] = reply(status)
    error = await failure(service, "search", query="react")
    assert isinstance(error, SearchUnavailable)
    assert error.message == NO_SEARCH.format(status)
    assert searched(server) == 1
    package = await service.call("package", {"registry": "npm", "name": "react"})
    assert isinstance(package, PackageResult) and package.latest_version == "19.3.1"
    assert service.http.outages.down() == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>search</html>", "not JSON"),
        (b"", "the body was empty"),
        (b'{"total": 3, "time": "now"}', "a search answer without an 'objects' list"),
        (b'[{"package": {"name": "react"}}]', "a search answer without an 'objects' list"),
        (
            b'{"objects": {"package": {"name": "react"}}, "total": 1}',
            "a search answer without an 'objects' list",
        ),
    ],
    ids=["html", "empty", "no-objects", "list", "objects-not-a-list"],
)
async def test_search_npm_malformed_answer_is_an_invalid_response(
    service: Service, server: LoopbackUpstream, body: bytes, why: str
) -> None:
    """A 200 that is not the documented shape is the search's invalid response, in one sentence."""
    server.prefixes[SEARCH] = reply(200, body)
    error = await failure(service, "search", query="react")
    assert isinstance(error, InvalidResponse)
    assert error.message == (
        f"The npm registry's search failed: it sent an invalid response ({why}); no cached answer was available."
    )


async def test_search_npm_through_the_mcp_tool(service: Service, server: LoopbackUpstream) -> None:
    """The `search` tool answers structuredContent and compact JSON text; no search is one isError sentence."""
    async with Client(build_server(service)) as client:
        found = await client.call_tool("search", {"registry": "node", "query": "react", "page_size": 5})
        server.prefixes[SEARCH] = reply(405)
        refused = await client.call_tool("search", {"registry": "npm", "query": "left pad"})
    assert not found.is_error and found.structured_content is not None
    assert [hit["name"] for hit in found.structured_content["results"]] == [h.name for h in REACT_HITS]
    # Rows leave out their null fields: react-tiny-tabs has no summary.
    assert found.structured_content["results"][4] == {
        "name": "react-tiny-tabs",
        "latest_version": "0.2.0",
        "released": "2019-03-08T21:44:05Z",
        "match": "text",
    }
    text = found.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text and '"summary":null' not in text
    assert json.loads(text)["total"] == 301234
    assert refused.is_error
    assert [block.text for block in refused.content] == [NO_SEARCH.format(405)]  # type: ignore[union-attr]
    assert asked(server)[-1] == {"text": ["left pad"], "size": ["10"], "from": ["0"]}


def test_search_npm_over_rest(server: LoopbackUpstream, tmp_path: Path) -> None:
    """POST /packages/v1/search answers the results as JSON, and 501 with the sentence where npm has no search."""
    service = Service(server_settings(server, tmp_path), backoff=0.01)
    with ThreadedServer(build_app(service)) as web:
        url = f"{web.url}/packages/v1/search"
        found = httpx.post(
            url, json={"registry": "npm", "query": "react", "page": 2, "page_size": 5}, timeout=10
        )
        server.prefixes[SEARCH] = reply(404)
        refused = httpx.post(url, json={"registry": "npm", "query": "react"}, timeout=10)
    assert found.status_code == 200
    assert found.json() == structured(
        SearchResult(
            registry="npm",
            query="react",
            total=301234,
            page=2,
            page_size=5,
            has_more=True,
            results=REACT_HITS,
        )
    )
    assert asked(server)[0] == {"text": ["react"], "size": ["5"], "from": ["5"]}
    assert refused.status_code == 501
    assert refused.json() == {"error": {"code": "search_unavailable", "message": NO_SEARCH.format(404)}}


# -- did-you-mean ------------------------------------------------------------------------------------------


async def test_not_found_npm_suggests_the_close_name_search_found(
    service: Service, server: LoopbackUpstream
) -> None:
    """`reactt`: the packument is 404, a 20-result search for the name finds `react` third, and the error ends
    with it."""
    server.prefixes[SEARCH] = reply(200, REACTT_POOL)
    error = await failure(service, "package", name="reactt")
    assert isinstance(error, PackageNotFound)
    assert error.message == "npm package 'reactt' not found. Did you mean 'react'?"
    assert error.suggestions == ["react"]
    assert server.statuses["/npm/reactt"] == [404]
    assert asked(server) == [{"text": ["reactt"], "size": ["20"], "from": ["0"]}]


async def test_not_found_npm_suggests_the_other_case(service: Service, server: LoopbackUpstream) -> None:
    """npm names are case-sensitive: `React` is not found, and `react` is suggested."""
    error = await failure(service, "version", name="React", version="19.3.1")
    assert error.message == "npm package 'React' not found. Did you mean 'react'?"
    assert server.statuses["/npm/React"] == [404]
    assert asked(server) == [{"text": ["React"], "size": ["20"], "from": ["0"]}]


async def test_not_found_npm_without_close_names_is_plain(service: Service, server: LoopbackUpstream) -> None:
    """A search whose results are all far from the name adds nothing to the sentence."""
    error = await failure(service, "package", name="zzqx-nothing")
    assert error.message == "npm package 'zzqx-nothing' not found"
    assert searched(server) == 1


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_not_found_npm_without_search_is_plain_and_not_asked_again(
    service: Service, server: LoopbackUpstream, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """No search: the plain sentence; later not-found answers within the pause do not ask the endpoint again,
    and the first one after it does."""
    monkeypatch.setattr(search, "NO_SEARCH_SECONDS", 0.5)
    server.prefixes[SEARCH] = reply(status)
    first = await failure(service, "package", name="reactt")
    second = await failure(service, "dependencies", name="expresss")
    assert (first.message, second.message) == (
        "npm package 'reactt' not found",
        "npm package 'expresss' not found",
    )
    assert searched(server) == 1
    assert service.http.outages.down() == []
    await anyio.sleep(0.6)
    server.prefixes[SEARCH] = reply(200, REACTT_POOL)
    third = await failure(service, "package", name="reactt")
    assert third.message == "npm package 'reactt' not found. Did you mean 'react'?"
    assert searched(server) == 2


async def test_not_found_npm_with_a_failing_search_leaves_npm_up(
    service: Service, server: LoopbackUpstream
) -> None:
    """A search endpoint answering 503 costs the did-you-mean only: the search is down for its cool-down,
    packuments are still asked and answered."""
    server.prefixes[SEARCH] = reply(503)
    error = await failure(service, "package", name="reactt")
    assert error.message == "npm package 'reactt' not found"
    assert service.http.outages.down() == [server.url + "npm/-/v1/search"]
    package = await service.call("package", {"registry": "npm", "name": "react"})
    assert isinstance(package, PackageResult) and package.latest_version == "19.3.1"
    again = await failure(service, "search", query="react")
    assert again.message.startswith(
        "The npm registry's search failed: it answered HTTP 503; it is tried again in "
    )
    assert (
        searched(server) == 2
    )  # the did-you-mean's request and its one retry; the search tool asked nothing


async def test_not_found_npm_does_not_wait_for_a_hanging_search(
    server: LoopbackUpstream, tmp_path: Path
) -> None:
    """A search that answers only after 5 s: the not-found answer comes within ~1 s, without suggestions, and
    npm is not taken for down."""
    server.prefixes[SEARCH] = delayed(5.0, reply(200, REACTT_POOL))
    settings = server_settings(server, tmp_path, read_timeout=10.0, total_timeout=10.0)
    service = Service(settings, backoff=0.01)
    try:
        started = time.monotonic()
        error = await failure(service, "package", name="reactt")
        elapsed = time.monotonic() - started
        assert error.message == "npm package 'reactt' not found"
        assert 0.9 < elapsed < 1.5, elapsed
        assert searched(server) == 1
        package = await service.call("package", {"registry": "npm", "name": "react"})
        assert isinstance(package, PackageResult)
        assert service.http.outages.down() == []
    finally:
        await service.aclose()
