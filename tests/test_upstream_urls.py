"""URLs that upstream documents give (PEP 658 metadata files next to Simple API file URLs), over real
sockets: asked only at the configured upstreams' origins and PyPI's file host, never elsewhere (no
connection is even opened), and a malformed one is an error sentence, never a crash.

The metadata file is a secondary document: when it cannot be read, the release is answered from the
Simple API alone, with a note saying why, as for any other failure of that file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from mcp_types import CallToolResult, TextContent

from mcp_registries.cache import NullCache
from mcp_registries.operations import OPERATIONS
from mcp_registries.server import answer
from mcp_registries.service import Service

from .conftest import data, server_settings
from .upstream import LoopbackUpstream, reply

pytestmark = pytest.mark.anyio

WHEEL = "Django-4.2-py3-none-any.whl"
METADATA = data(f"pypi/{WHEEL}.metadata")
VERSION_42 = {"registry": "pypi", "name": "django", "version": "4.2"}


def simple_page(wheel_url: str) -> bytes:
    """The recorded Simple API page of Django trimmed to release 4.2, its wheel's URL replaced."""
    page = json.loads(data("pypi/simple-django.json"))
    files = [f for f in page["files"] if f["filename"] in (WHEEL, "Django-4.2.tar.gz")]
    for file in files:
        if file["filename"] == WHEEL:
            file["url"] = wheel_url
    return json.dumps({**page, "versions": ["4.2"], "files": files}).encode()


@pytest.fixture
def upstream() -> Iterator[LoopbackUpstream]:
    """The configured PyPI: the project document as recorded, no per-version JSON (as some mirrors)."""
    with LoopbackUpstream({"/pypi/pypi/django/json": reply(200, data("pypi/Django.json"))}) as running:
        yield running


@pytest.fixture
def elsewhere() -> Iterator[LoopbackUpstream]:
    """A second loopback listener, configured nowhere, that would serve the metadata to anyone asking."""
    with LoopbackUpstream() as running:
        running.prefixes["/"] = reply(200, METADATA)
        yield running


class Recording(httpx.AsyncBaseTransport):
    """The real transport, noting every URL the HTTP client hands it."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def transport() -> Recording:
    return Recording()


@pytest.fixture
async def service(upstream: LoopbackUpstream, transport: Recording) -> AsyncIterator[Service]:
    svc = Service(server_settings(upstream), cache=NullCache(), backoff=0.0, transport=transport)
    yield svc
    await svc.aclose()


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


async def version_42(service: Service, upstream: LoopbackUpstream, wheel_url: str) -> CallToolResult:
    """The `version` tool's answer for Django 4.2 when the Simple API gives `wheel_url` for its wheel."""
    upstream.route("/pypi/simple/django/", reply(200, simple_page(wheel_url)))
    return await answer(service, OPERATIONS["version"], VERSION_42)


@pytest.mark.parametrize(
    "wheel_url",
    [
        "http://[::1/" + WHEEL,
        "http://127.0.0.1:99999/" + WHEEL,
        "http://127.0.0.1]/" + WHEEL,
        # Relative, so on the mirror's own origin; a control character httpx refuses to send.
        "../../files/Django\x01-4.2-py3-none-any.whl",
    ],
    ids=["unclosed-bracket", "port-out-of-range", "bracket-in-host", "control-character"],
)
async def test_version_malformed_metadata_url_is_a_note(
    service: Service, upstream: LoopbackUpstream, wheel_url: str
) -> None:
    """A malformed wheel URL leaves the release answered without its metadata, with a note, never a crash."""
    result = await version_42(service, upstream, wheel_url)
    text = text_of(result)
    assert not result.is_error, text
    assert result.structured_content is not None
    notes = result.structured_content["notes"]
    assert any("the document gave a malformed URL" in note for note in notes), notes
    assert all(len(note) < 300 for note in notes), notes
    assert upstream.hits["/pypi/simple/django/"] == 1
    assert not [path for path in upstream.hits if path.startswith("/files/")]


def assert_asked_only(transport: Recording, upstream: LoopbackUpstream) -> None:
    """Every URL the HTTP client sent went to the configured upstream."""
    assert transport.urls and all(url.startswith(upstream.url) for url in transport.urls), transport.urls


OUTSIDE: dict[str, Callable[[LoopbackUpstream], str]] = {
    "another-loopback-port": lambda other: other.url + "files/" + WHEEL,
    "cloud-metadata-address": lambda other: "http://169.254.169.254/latest/meta-data/" + WHEEL,
    "file-scheme": lambda other: "file:///etc/passwd",
}


@pytest.mark.parametrize("wheel_url", OUTSIDE.values(), ids=OUTSIDE.keys())
async def test_version_metadata_url_outside_the_upstreams_is_never_asked(
    service: Service,
    transport: Recording,
    upstream: LoopbackUpstream,
    elsewhere: LoopbackUpstream,
    wheel_url: Callable[[LoopbackUpstream], str],
) -> None:
    """A wheel URL outside the configured upstreams leaves the metadata out with a note; nothing is sent there."""
    result = await version_42(service, upstream, wheel_url(elsewhere))
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    notes = result.structured_content["notes"]
    assert any("the document pointed at" in n and "outside the configured upstreams" in n for n in notes)
    assert all(len(note) < 300 for note in notes), notes
    assert [a["filename"] for a in result.structured_content["artifacts"]] == ["Django-4.2.tar.gz", WHEEL]
    assert elsewhere.connections == 0
    assert_asked_only(transport, upstream)


async def test_version_metadata_at_the_configured_file_host_is_read(
    upstream: LoopbackUpstream, elsewhere: LoopbackUpstream
) -> None:
    """Metadata on the host MCP_REGISTRIES_PYPI_FILES_URL names is read: the release is answered whole."""
    svc = Service(server_settings(upstream, pypi_files_url=elsewhere.url), cache=NullCache(), backoff=0.0)
    try:
        result = await version_42(svc, upstream, elsewhere.url + "packages/" + WHEEL)
    finally:
        await svc.aclose()
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["dependencies_count"] == 4
    assert not any("metadata is not available" in note for note in result.structured_content["notes"])
    assert elsewhere.hits == {f"/packages/{WHEEL}.metadata": 1}


async def test_version_metadata_redirect_outside_the_upstreams_is_not_followed(
    service: Service, transport: Recording, upstream: LoopbackUpstream, elsewhere: LoopbackUpstream
) -> None:
    """Metadata on the upstream's own origin that redirects to another port is left out, unasked there."""
    upstream.prefixes["/files/"] = reply(302, headers={"Location": elsewhere.url + "files/" + WHEEL})
    result = await version_42(service, upstream, upstream.url + "files/" + WHEEL)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert any("redirected outside" in note for note in result.structured_content["notes"])
    assert elsewhere.connections == 0
    assert_asked_only(transport, upstream)
