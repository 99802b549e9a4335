"""The HTTP layer: statuses and transport failures become the right typed errors; URLs stay under the base."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import ClassVar

import httpx
import pytest

from mcp_registries.clock import Clock
from mcp_registries.errors import (
    InvalidResponse,
    RateLimited,
    ResponseTooLarge,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from mcp_registries.fetching import BadDocument, Fetch, Missing
from mcp_registries.http import USER_AGENT, HttpClient
from mcp_registries.registries.base import segment, url_under

from .conftest import FILES, NPM, FastForwardClock, make_settings

pytestmark = pytest.mark.anyio

URL = NPM + "thing"
FETCH = Fetch(URL, "The test registry")


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None, **settings: object
) -> HttpClient:
    return HttpClient(
        make_settings(**settings), transport=httpx.MockTransport(handler), backoff=0.0, clock=clock
    )


def counting(
    *responses: httpx.Response,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


async def test_fetch_decodes_json_and_sends_user_agent() -> None:
    """A 200 JSON body is decoded; the request names the project in its User-Agent and accepts gzip."""
    handler, seen = counting(httpx.Response(200, json={"a": 1}))
    assert await client_for(handler).fetch(FETCH) == {"a": 1}
    assert seen[0].headers["user-agent"] == USER_AGENT and "mcp-registries" in USER_AGENT
    assert "gzip" in seen[0].headers["accept-encoding"]


async def test_fetch_decodes_gzip_bodies() -> None:
    """A gzip-encoded body is decompressed before decoding."""
    import gzip

    body = gzip.compress(b'{"zipped": true}')
    handler, _ = counting(httpx.Response(200, content=body, headers={"content-encoding": "gzip"}))
    assert await client_for(handler).fetch(FETCH) == {"zipped": True}


@pytest.mark.parametrize("status", [404, 410])
async def test_not_found_is_missing_and_never_retried(status: int) -> None:
    """404 and 410 are answers: raised as Missing after exactly one request."""
    handler, seen = counting(httpx.Response(status, json={"error": "Not found"}))
    with pytest.raises(Missing):
        await client_for(handler, retries=3).fetch(FETCH)
    assert len(seen) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_then_reported(status: int) -> None:
    """5xx is retried `retries` times, then reported with its status."""
    handler, seen = counting(httpx.Response(status))
    with pytest.raises(UpstreamStatus) as caught:
        await client_for(handler, retries=2).fetch(FETCH)
    assert len(seen) == 3
    assert caught.value.status == status
    assert str(caught.value) == f"The test registry failed: it answered HTTP {status}."


async def test_not_implemented_is_reported_at_once_and_the_upstream_stays_up() -> None:
    """501 (a mirror without an endpoint) is an answer: one request, its status, and no outage of the base."""
    handler, seen = counting(httpx.Response(501))
    client = client_for(handler, retries=2)
    with pytest.raises(UpstreamStatus) as caught:
        await client.fetch(FETCH)
    assert len(seen) == 1
    assert caught.value.status == 501
    assert client.outages.down() == []


async def test_server_error_then_success_recovers() -> None:
    """A 503 followed by a 200 gives the answer."""
    handler, seen = counting(httpx.Response(503), httpx.Response(200, json=[1]))
    assert await client_for(handler, retries=2).fetch(FETCH) == [1]
    assert len(seen) == 2


async def test_rate_limit_honours_retry_after_then_reports_it() -> None:
    """429 with Retry-After is retried after that delay; when it persists the sentence gives the retry time."""
    handler, seen = counting(httpx.Response(429, headers={"retry-after": "1"}))
    clock = FastForwardClock()
    with pytest.raises(RateLimited) as caught:
        await client_for(handler, clock, retries=1).fetch(FETCH)
    assert len(seen) == 2
    assert clock.sleeps == [1.0]  # the Retry-After, not the (zero) backoff
    assert caught.value.retry_after == 1.0
    assert "rate limiting requests (HTTP 429); retry after 1 s" in str(caught.value)


async def test_rate_limit_past_the_time_bound_fails_at_once() -> None:
    """A Retry-After longer than the call's time bound is not waited for."""
    handler, seen = counting(httpx.Response(429, headers={"retry-after": "3600"}))
    clock = FastForwardClock()
    started = time.monotonic()
    with pytest.raises(RateLimited, match="retry after 3600 s"):
        await client_for(handler, clock, retries=3, total_timeout=5.0).fetch(FETCH)
    assert len(seen) == 1 and clock.sleeps == [] and time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"", "the body was empty"), (b"<html>proxy error</html>", "not JSON"), (b'{"truncated": ', "not JSON")],
)
async def test_non_json_body_is_invalid_response(body: bytes, why: str) -> None:
    """Empty, HTML and truncated bodies become an 'invalid response' error naming the service."""
    handler, _ = counting(httpx.Response(200, content=body))
    with pytest.raises(InvalidResponse) as caught:
        await client_for(handler).fetch(FETCH)
    assert why in str(caught.value) and str(caught.value).startswith("The test registry failed:")


async def test_oversized_body_is_refused() -> None:
    """A body past the size cap is aborted with a size error."""
    handler, _ = counting(httpx.Response(200, content=b"[" + b"1," * 600_000 + b"1]"))
    with pytest.raises(ResponseTooLarge, match="size limit"):
        await client_for(handler, max_response_bytes=1024 * 1024).fetch(FETCH)


class _Chunks(httpx.AsyncByteStream):
    """A body that arrives in the given pieces, as a socket delivers it."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for chunk in self.chunks:
            yield chunk


class _Collect:
    """A body reader that keeps the chunks it is fed."""

    made: ClassVar[list[_Collect]] = []

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        _Collect.made.append(self)

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(bytes(chunk))

    def finish(self) -> tuple[bytes, ...]:
        return tuple(self.chunks)


async def test_reader_is_fed_each_chunk_and_its_result_is_the_body() -> None:
    """A fetch with a reader feeds it the chunks as they arrive; the plan gets what `finish` returns.
    A retried request gets a fresh reader, so a broken first attempt leaves nothing behind."""
    _Collect.made.clear()
    handler, seen = counting(httpx.Response(503), httpx.Response(200, stream=_Chunks(b'{"a": ', b"1", b"}")))
    got = await client_for(handler).fetch(Fetch(URL, "The test registry", body="bytes", reader=_Collect))
    assert got == (b'{"a": ', b"1", b"}")
    assert len(seen) == 2 and len(_Collect.made) == 1  # the 503 never reached a reader


async def test_reader_body_past_the_size_cap_is_refused() -> None:
    """The size cap holds for a reader too, counted on the bytes fed."""
    handler, _ = counting(httpx.Response(200, stream=_Chunks(b"x" * 600_000, b"y" * 600_000)))
    with pytest.raises(ResponseTooLarge, match="size limit"):
        await client_for(handler, max_response_bytes=1024 * 1024).fetch(
            Fetch(URL, "The test registry", body="bytes", reader=_Collect)
        )


async def test_timeout_is_retried_then_reported() -> None:
    """A read timeout is retried, then reported as a timeout."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout, match="did not answer within"):
        await client_for(handler, retries=1).fetch(FETCH)
    assert len(seen) == 2


async def test_connection_refused_is_unreachable_within_seconds() -> None:
    """A closed loopback port gives an 'could not be reached' error quickly, over a real socket."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    client = HttpClient(make_settings(retries=1, npm_downloads_url=base), backoff=0.05)
    started = time.monotonic()
    with pytest.raises(UpstreamUnreachable, match="could not be reached"):
        await client.fetch(Fetch(base + "x", "npm's download-counts API"))
    await client.aclose()
    assert time.monotonic() - started < 3.0


async def test_redirect_within_origin_is_followed() -> None:
    """A redirect to a normalized name on the same host is followed."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/pypi/Django/json":
            return httpx.Response(301, headers={"location": "/pypi/django/json"})
        return httpx.Response(200, json={"ok": True})

    assert await client_for(handler).fetch(Fetch("https://pypi.test/pypi/Django/json", "PyPI")) == {
        "ok": True
    }


async def test_redirect_to_another_host_is_refused() -> None:
    """A redirect that leaves the configured upstream's origin is not followed."""
    handler, seen = counting(httpx.Response(302, headers={"location": "https://elsewhere.test/steal"}))
    with pytest.raises(UpstreamStatus, match="redirected outside"):
        await client_for(handler).fetch(FETCH)
    assert len(seen) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://registry.test:[::1/x",
        "https://registry.test:99999/x",
        "https://registry.test/\x7fx",
        "https://registry.test]/x",
    ],
    ids=["unclosed-bracket", "port-out-of-range", "control-character", "bracket-in-host"],
)
async def test_malformed_url_is_invalid_response_and_never_sent(url: str) -> None:
    """A malformed URL (an upstream document's) is that upstream's invalid response, and nothing is sent."""
    handler, seen = counting(httpx.Response(200, json={}))
    client = client_for(handler)
    with pytest.raises(InvalidResponse, match="the document gave a malformed URL"):
        await client.fetch(Fetch(url, "PyPI"))
    assert seen == [] and client.request_count == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://npm.test/api/npm/npm-remote/x",
        "data:text/plain,secret",
        "//npm.test/api/npm/npm-remote/x",
        "https://npm.test:8443/api/npm/npm-remote/x",
        "http://npm.test/api/npm/npm-remote/x",
        "https://npm.test@evil.test/api/npm/npm-remote/x",
        "https://files.pythonhosted.org.evil.test/x",
    ],
    ids=[
        "cloud-metadata",
        "file",
        "ftp",
        "data",
        "no-scheme",
        "other-port",
        "other-scheme",
        "userinfo",
        "suffixed-host",
    ],
)
async def test_url_outside_the_configured_upstreams_is_never_sent(url: str) -> None:
    """A URL at any origin but the configured bases' and PyPI's file host is refused, and nothing is sent."""
    handler, seen = counting(httpx.Response(200, json={}))
    client = client_for(handler)
    with pytest.raises(InvalidResponse, match="the document pointed at .*, outside the configured upstreams"):
        await client.fetch(Fetch(url, "PyPI"))
    assert seen == [] and client.request_count == 0


@pytest.mark.parametrize(
    "url",
    [FILES + "packages/x.whl.metadata", "https://pypi.test/files/x.whl.metadata", "HTTPS://PYPI.test:443/x"],
    ids=["file-host", "base-origin-outside-its-prefix", "same-origin-spelt-otherwise"],
)
async def test_url_at_an_allowed_origin_is_sent(url: str) -> None:
    """PyPI's file host and the bases' origins are asked at any path, however the origin is spelt."""
    handler, seen = counting(httpx.Response(200, json={"ok": True}))
    assert await client_for(handler).fetch(Fetch(url, "PyPI")) == {"ok": True}
    assert len(seen) == 1


async def test_file_host_is_the_configured_one() -> None:
    """A configured file host replaces PyPI's public one, which is then refused like any other."""
    handler, seen = counting(httpx.Response(200, json={"ok": True}))
    client = client_for(handler, pypi_files_url="https://mirror.test/files")
    assert await client.fetch(Fetch("https://mirror.test/files/x.whl.metadata", "PyPI")) == {"ok": True}
    with pytest.raises(InvalidResponse, match="outside the configured upstreams"):
        await client.fetch(Fetch(FILES + "packages/x.whl.metadata", "PyPI"))
    assert [str(request.url) for request in seen] == ["https://mirror.test/files/x.whl.metadata"]


async def test_redirect_from_the_file_host_elsewhere_is_refused() -> None:
    """A file host's redirect may only stay on that host: one to another host is not followed."""
    handler, seen = counting(httpx.Response(302, headers={"location": "https://elsewhere.test/x.whl"}))
    with pytest.raises(UpstreamStatus, match="redirected outside"):
        await client_for(handler).fetch(Fetch(FILES + "packages/x.whl", "PyPI"))
    assert len(seen) == 1


async def test_redirect_to_malformed_url_is_invalid_response() -> None:
    """A redirect to a URL httpx lets through but urllib refuses is an invalid response, never asked."""
    handler, seen = counting(httpx.Response(302, headers={"location": "https://registry.test]/x"}))
    with pytest.raises(InvalidResponse, match="it redirected to a malformed URL"):
        await client_for(handler).fetch(FETCH)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("react", "react"),
        ("@types/node", "@types%2Fnode"),
        ("a?b#c", "a%3Fb%23c"),
        ("../../etc", "..%2F..%2Fetc"),
        ("1.0.0 ", "1.0.0%20"),
        ("é", "%C3%A9"),
    ],
)
def test_segment_escapes_user_text_as_one_path_segment(value: str, escaped: str) -> None:
    """User text becomes exactly one path segment: slashes, dots, query and fragment characters are inert."""
    assert segment(value) == escaped


@pytest.mark.parametrize("value", [".", ".."])
def test_segment_refuses_dot_segments(value: str) -> None:
    """'.' and '..' are never sent as segments: URL normalizers read even '%2E%2E' as a parent."""
    with pytest.raises(BadDocument, match="refusing the path segment"):
        segment(value)


def test_url_under_keeps_the_base_path_prefix() -> None:
    """URLs are built under the base URL's path prefix, with a trailing slash when asked."""
    base = "https://mirror.test/api/npm/npm-remote/"
    assert url_under(base, "@scope/pkg", "1.0.0") == base + "@scope%2Fpkg/1.0.0"
    assert url_under(base, "simple", "django", "") == base + "simple/django/"


async def test_probe_refused_before_sending_lets_the_next_request_probe() -> None:
    """A probe that ends without an answer (its URL refused before sending) does not hold the probe: the
    next request to that upstream is let through, not failed as 'being tried again now'."""
    handler, seen = counting(httpx.Response(503), httpx.Response(200, json={"ok": 1}))
    clock = FastForwardClock()
    client = client_for(handler, clock, retries=0, outage_cooldown=30.0)
    with pytest.raises(UpstreamStatus):
        await client.fetch(FETCH)
    clock.advance(31.0)
    with pytest.raises(InvalidResponse, match="malformed URL"):
        await client.fetch(Fetch(NPM + "bad\x7fname", "The test registry"))
    assert await client.fetch(FETCH) == {"ok": 1}
    assert len(seen) == 2


async def test_outage_scope_keeps_a_failing_service_from_taking_its_base_down() -> None:
    """A Fetch with its own outage scope (npm's search) that keeps failing is down alone: documents under
    the same base are still asked, and an answer from that service ends only its own outage."""
    scope = NPM + "-/v1/search"
    search = Fetch(NPM + "-/v1/search?text=x", "The test search", outage_scope=scope)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if request.url.path.endswith("/search") else 200, json={"ok": 1})

    client = client_for(handler, retries=0, outage_cooldown=30.0)
    with pytest.raises(UpstreamStatus):
        await client.fetch(search)
    assert client.outages.down() == [scope]
    assert await client.fetch(FETCH) == {"ok": 1}
    assert client.outages.down() == [scope]
