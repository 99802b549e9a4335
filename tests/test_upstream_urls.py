"""URLs that upstream documents give (PEP 658 metadata files next to Simple API file URLs), over real
sockets: a malformed one is an error sentence, never a crash.

The metadata file is a secondary document: when it cannot be read, the release is answered from the
Simple API alone, with a note saying why, as for any other failure of that file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from mcp_types import CallToolResult, TextContent

from mcp_registries.cache import NullCache
from mcp_registries.operations import OPERATIONS
from mcp_registries.server import answer
from mcp_registries.service import Service

from .conftest import data, make_settings
from .faults import FaultServer, reply

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
def upstream() -> Iterator[FaultServer]:
    """The configured PyPI: the project document as recorded, no per-version JSON (as some mirrors)."""
    with FaultServer({"/pypi/pypi/django/json": reply(200, data("pypi/Django.json"))}) as running:
        yield running


@pytest.fixture
async def service(upstream: FaultServer) -> AsyncIterator[Service]:
    settings = make_settings(
        npm_url=upstream.url + "npm/",
        npm_downloads_url=upstream.url + "npm-dl/",
        pypi_url=upstream.url + "pypi/",
        pypistats_url=upstream.url + "stats/",
        connect_timeout=1.0,
        read_timeout=1.0,
    )
    svc = Service(settings, cache=NullCache(), backoff=0.0)
    yield svc
    await svc.aclose()


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


async def version_42(service: Service, upstream: FaultServer, wheel_url: str) -> CallToolResult:
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
    service: Service, upstream: FaultServer, wheel_url: str
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
