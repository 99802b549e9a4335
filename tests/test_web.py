"""The HTTP surface on one port: streamable HTTP, SSE, the REST API, OpenAPI, health, the guard, the CLI server.

Most tests serve `web.build_app` on a uvicorn thread over the mock upstream (fast, in process); the
CLI, bind-refusal and shutdown tests run the console script against a loopback upstream.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from mcp_registries import cli
from mcp_registries.cache import DiskCache, NullCache
from mcp_registries.errors import RegistryError
from mcp_registries.models import RESULT_MODELS, Operation, structured
from mcp_registries.operations import OPERATIONS
from mcp_registries.rest import MAX_BODY_BYTES
from mcp_registries.service import Service
from mcp_registries.web import Guard, build_app, is_loopback

from .conftest import NPM, MockUpstream, make_settings, search_routes
from .upstream import LoopbackUpstream, held
from .webserver import CliServer, ThreadedServer, cli_env

#: The bound on any one test's MCP conversation.
WAIT = 30
TOKEN = "s3cret-token"
REACT = {"registry": "npm", "name": "react"}
TOOLS = {op.value for op in Operation}


@dataclass
class Web:
    url: str
    service: Service
    upstream: MockUpstream

    def post(self, operation: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/packages/v1/{operation}", content=content, timeout=10, **kwargs)


@contextmanager
def serve(upstream: MockUpstream, tmp_path: Path, **app_options: Any) -> Iterator[Web]:
    """build_app over one cached service on the mock upstream, on a free loopback port."""
    token = app_options.pop("token", None)
    settings = make_settings(tmp_path, auth_token=token)
    service = Service(settings, transport=upstream.transport(), cache=DiskCache(tmp_path, 10**8), backoff=0.0)
    with ThreadedServer(build_app(service, **app_options)) as server:
        yield Web(server.url, service, upstream)


@pytest.fixture
def web(upstream: MockUpstream, tmp_path: Path) -> Iterator[Web]:
    with serve(upstream, tmp_path) as served:
        yield served


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One server for the tests that neither change the upstream's routes nor count its requests from zero;
    its upstream also serves npm's search (for 'http client') and PyPI's project index."""
    upstream = MockUpstream()
    upstream.routes.update(search_routes())
    with serve(upstream, tmp_path_factory.mktemp("shared")) as served:
        yield served


@pytest.fixture(scope="module")
def shared_guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """As `shared`, with MCP_REGISTRIES_AUTH_TOKEN configured."""
    with serve(MockUpstream(), tmp_path_factory.mktemp("guarded"), token=TOKEN) as served:
        yield served


@pytest.fixture
def stateless_web(upstream: MockUpstream, tmp_path: Path) -> Iterator[Web]:
    with serve(upstream, tmp_path, stateless=True) as served:
        yield served


def expected(upstream: MockUpstream, operation: str, arguments: dict[str, Any]) -> dict[str, Any] | str:
    """What the service itself answers (JSON) or the sentence it fails with, from a copy of the upstream."""

    async def answer() -> dict[str, Any] | str:
        copy = MockUpstream(routes=dict(upstream.routes))
        settings = make_settings(Path("/nonexistent"))
        service = Service(settings, transport=copy.transport(), cache=NullCache(), backoff=0.0)
        try:
            return structured(await service.call(operation, arguments))
        except RegistryError as exc:
            return exc.message
        finally:
            await service.aclose()

    return anyio.run(answer)


def error_of(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"], body["error"]["message"]


async def exercise(client: Client) -> None:
    """List the nine tools, answer one call and turn a missing package into one isError sentence."""
    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
    found = await client.call_tool("package", REACT)
    assert not found.is_error
    assert found.structured_content is not None and found.structured_content["name"] == "react"
    missing = await client.call_tool("package", {"registry": "npm", "name": "nope-nope"})
    assert missing.is_error
    assert [block.text for block in missing.content] == ["npm package 'nope-nope' not found"]  # type: ignore[union-attr]


# -- MCP over streamable HTTP and SSE ----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_answers_under_both_handshakes(shared: Web, mode: str) -> None:
    """An SDK client at /mcp lists nine tools, calls one, and gets an isError sentence for a missing package."""
    with anyio.fail_after(WAIT):
        async with Client(f"{shared.url}/mcp", mode=mode) as client:
            await exercise(client)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_stateless_answers(stateless_web: Web, mode: str) -> None:
    """Stateless streamable HTTP answers the same way under both handshakes."""
    with anyio.fail_after(WAIT):
        async with Client(f"{stateless_web.url}/mcp", mode=mode) as client:
            await exercise(client)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sse_answers_under_both_handshakes(shared: Web, mode: str) -> None:
    """An SDK client over /sse + /messages/ lists nine tools, calls one, and gets an isError sentence."""
    with anyio.fail_after(WAIT):
        async with Client(
            sse_client(f"{shared.url}/sse", timeout=10, sse_read_timeout=30), mode=mode
        ) as client:
            await exercise(client)


@pytest.mark.anyio
async def test_sessions_share_one_service(web: Web) -> None:
    """Two streamable sessions and one SSE session answer from one cache and one HTTP client."""
    with anyio.fail_after(WAIT):
        http = web.service.http
        async with (
            Client(f"{web.url}/mcp", mode="legacy") as first,
            Client(f"{web.url}/mcp", mode="auto") as second,
            Client(sse_client(f"{web.url}/sse", timeout=10, sse_read_timeout=30), mode="legacy") as third,
        ):
            answers = [
                (await client.call_tool("package", REACT)).structured_content
                for client in (first, second, third)
            ]
            assert answers[0] == answers[1] == answers[2]
            assert web.upstream.hits == {NPM + "react": 1}
            # The same packument serves `versions` too, whichever session asks.
            assert not (await third.call_tool("versions", REACT)).is_error
            assert web.upstream.total == 1
        # The SSE connection's lifespan has ended; the service's one client is still the same and still open.
        async with Client(
            sse_client(f"{web.url}/sse", timeout=10, sse_read_timeout=30), mode="legacy"
        ) as fourth:
            assert not (await fourth.call_tool("package", {"registry": "npm", "name": "express"})).is_error
        assert web.service.http is http
        assert http.request_count == web.upstream.total == 2


# -- REST ------------------------------------------------------------------------------------

ANSWERABLE: list[tuple[str, dict[str, Any]]] = [
    ("package", REACT),
    ("versions", {"registry": "npm", "name": "express", "page": 2, "page_size": 10}),
    ("version", {"registry": "npm", "name": "react", "version": "18.2.0"}),
    ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}),
    ("downloads", {"registry": "npm", "name": "express", "period": "last-week"}),
    ("maintainer", {"registry": "pypi", "name": "requests"}),
    ("search", {"registry": "npm", "query": "http client"}),
    ("search", {"registry": "pip", "query": "Requests", "page": 1, "page_size": 2}),
    ("audit", {"manifest": '{"dependencies": {"express": "^4.18.2", "my-ms": "npm:ms@^2"}}'}),
    ("audit", {"registry": "python", "packages": ["requests>=2.31", "Django<4", "no-such-project"]}),
]


@pytest.mark.parametrize(
    ("operation", "arguments"),
    ANSWERABLE,
    ids=[f"{op}-{args.get('registry', 'inferred')}" for op, args in ANSWERABLE],
)
def test_rest_answers_with_the_tools_structured_content(
    shared: Web, operation: str, arguments: dict[str, Any]
) -> None:
    """POST /packages/v1/<operation> answers 200 with exactly the JSON the tool's structured content holds."""
    response = shared.post(operation, arguments)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected(shared.upstream, operation, arguments)


@pytest.mark.anyio
async def test_rest_and_mcp_tools_answer_alike(shared: Web) -> None:
    """For every operation, the REST body equals the structured content the MCP tool returns on the same port."""
    with anyio.fail_after(WAIT):
        async with (
            Client(f"{shared.url}/mcp", mode="legacy") as client,
            httpx.AsyncClient(timeout=10) as http,
        ):
            for operation, arguments in ANSWERABLE:
                tool = await client.call_tool(operation, arguments)
                rest = await http.post(f"{shared.url}/packages/v1/{operation}", json=arguments)
                assert not tool.is_error and rest.json() == tool.structured_content, operation


BAD_REQUESTS = [
    ("malformed-json", "package", b'{"registry": "npm", "name":', "invalid_json"),
    ("non-object", "package", b'["npm", "react"]', "invalid_json"),
    ("unknown-registry", "package", {"registry": "cargo", "name": "serde"}, "invalid_argument"),
    ("page-zero", "versions", {"registry": "npm", "name": "react", "page": 0}, "invalid_argument"),
    (
        "bad-period",
        "downloads",
        {"registry": "npm", "name": "react", "period": "fortnight"},
        "invalid_argument",
    ),
    ("no-query", "search", {"registry": "npm", "name": "react"}, "invalid_argument"),
    ("blank-query", "search", {"registry": "npm", "query": " \t"}, "invalid_argument"),
    ("long-query", "search", {"registry": "pypi", "query": "x" * 201}, "invalid_argument"),
    (
        "search-page-size-zero",
        "search",
        {"registry": "pypi", "query": "x", "page_size": 0},
        "invalid_argument",
    ),
    ("audit-neither", "audit", {"registry": "npm"}, "invalid_argument"),
    ("audit-packages-no-registry", "audit", {"packages": ["react"]}, "invalid_argument"),
    ("audit-unreadable-item", "audit", {"registry": "pypi", "packages": ["requests>>2"]}, "invalid_argument"),
    ("audit-unreadable-manifest", "audit", {"manifest": "{not json"}, "invalid_argument"),
    ("audit-wrong-registry", "audit", {"registry": "npm", "manifest": "requests\n"}, "invalid_argument"),
]


@pytest.mark.parametrize(
    ("operation", "body", "code"), [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS]
)
def test_rest_bad_request_is_400(shared: Web, operation: str, body: Any, code: str) -> None:
    """Malformed JSON, a non-object body and every bad argument answer 400 with a sentence, before any request."""
    before = shared.upstream.total
    response = shared.post(operation, body)
    assert response.status_code == 400
    got_code, message = error_of(response)
    assert got_code == code
    if isinstance(body, dict):
        assert message == expected(shared.upstream, operation, body)
    else:
        assert "JSON object" in message
    assert shared.upstream.total == before


def test_rest_missing_package_is_404(shared: Web) -> None:
    """A missing package answers 404 with the tool's sentence."""
    response = shared.post("package", {"registry": "npm", "name": "nope-nope"})
    assert response.status_code == 404
    assert error_of(response) == ("not_found", "npm package 'nope-nope' not found")


def test_rest_missing_version_is_404_naming_the_latest(shared: Web) -> None:
    """A missing version answers 404 and the sentence names the latest version."""
    arguments = {"registry": "npm", "name": "react", "version": "99.0.0"}
    response = shared.post("version", arguments)
    assert response.status_code == 404
    code, message = error_of(response)
    assert code == "not_found"
    assert message == expected(shared.upstream, "version", arguments)
    assert "the latest version is 19.3.1" in message


def test_rest_search_without_a_search_endpoint_is_501(web: Web) -> None:
    """A registry (or mirror) without a search endpoint answers 501 with the tool's sentence."""
    arguments = {"registry": "npm", "query": "http client"}
    response = web.post("search", arguments)
    assert response.status_code == 501
    code, message = error_of(response)
    assert code == "search_unavailable"
    assert message == expected(web.upstream, "search", arguments)
    assert "offers no search" in message


def test_rest_unknown_operation_is_404(shared: Web) -> None:
    """An operation that does not exist answers 404 listing the nine, without reading the body."""
    response = shared.post("publish", REACT)
    assert response.status_code == 404
    code, message = error_of(response)
    assert code == "unknown_operation"
    assert all(op in message for op in TOOLS)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_rest_oversized_body_is_413(web: Web, declared: bool) -> None:
    """A body over the limit answers 413, whether its length is declared or it arrives in chunks."""
    body = json.dumps({**REACT, "padding": "x" * MAX_BODY_BYTES}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = httpx.post(
        f"{web.url}/packages/v1/package", content=body if declared else chunks(), timeout=10
    )
    assert response.status_code == 413
    assert error_of(response)[0] == "body_too_large"
    assert web.upstream.total == 0


def test_rest_upstream_5xx_is_502(web: Web) -> None:
    """An upstream that keeps answering 500 gives 502 with the tool's sentence."""
    web.upstream.routes[NPM + "react"] = (500, b"")
    response = web.post("package", REACT)
    assert response.status_code == 502
    code, message = error_of(response)
    assert code == "upstream_error"
    assert message == expected(web.upstream, "package", REACT)
    assert "HTTP 500" in message


def test_rest_upstream_timeout_is_504(web: Web) -> None:
    """An upstream that times out gives 504 with the tool's sentence."""

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    web.upstream.routes[NPM + "react"] = timeout
    response = web.post("package", REACT)
    assert response.status_code == 504
    code, message = error_of(response)
    assert code == "upstream_timeout"
    assert message == expected(web.upstream, "package", REACT)


def test_rest_persistent_rate_limit_is_503_with_retry_after(web: Web) -> None:
    """An upstream 429 whose Retry-After outlasts the call's bound gives 503 with that Retry-After."""
    web.upstream.routes[NPM + "react"] = lambda request: httpx.Response(429, headers={"Retry-After": "30"})
    response = web.post("package", REACT)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    code, message = error_of(response)
    assert code == "rate_limited"
    assert message == expected(web.upstream, "package", REACT)
    assert "retry after 30 s" in message


def test_rest_get_on_post_route_is_405(shared: Web) -> None:
    """GET on an operation answers 405, Allow: POST, in the same error shape."""
    response = httpx.get(f"{shared.url}/packages/v1/package", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_of(response)[0] == "method_not_allowed"


def test_rest_unknown_path_is_404_json(shared: Web) -> None:
    """A path that is no endpoint answers 404 in the same error shape."""
    response = httpx.get(f"{shared.url}/nothing-here", timeout=10)
    assert response.status_code == 404
    assert error_of(response)[0] == "unknown_endpoint"


def test_rest_unexpected_failure_is_500_json(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the service answers 500 with a sentence in the error shape, not a text/plain page."""

    async def broken(*args: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(web.service, "_call", broken)
    response = web.post("package", REACT)
    assert response.status_code == 500
    code, message = error_of(response)
    assert code == "internal_error" and "KeyError" not in message


# -- OpenAPI and health ----------------------------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]


def test_openapi_describes_the_nine_operations(shared: Web) -> None:
    """/openapi.json is OpenAPI 3.1: one POST per tool, the tool's input schema, the result model's schema."""
    response = httpx.get(f"{shared.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {f"/packages/v1/{op}" for op in TOOLS}
    assert {"/packages/v1/search", "/packages/v1/audit", "/packages/v1/tree"} <= set(document["paths"])
    assert len(TOOLS) == 9
    search = document["paths"]["/packages/v1/search"]["post"]
    query = search["requestBody"]["content"]["application/json"]["schema"]["properties"]["query"]
    assert (query["minLength"], query["maxLength"]) == (1, 200)
    assert "501" in search["responses"]
    for op, spec in OPERATIONS.items():
        post = document["paths"][f"/packages/v1/{op.value}"]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"] == spec.input_schema()
        answer = resolve(document, post["responses"]["200"]["content"]["application/json"]["schema"])
        model = RESULT_MODELS[op].model_json_schema(ref_template="#/components/schemas/{model}")
        model.pop("$defs", None)
        assert answer == model
        for status in ("400", "404", "413", "500", "502", "503", "504"):
            error = post["responses"][status]["content"]["application/json"]["schema"]
            assert resolve(document, error)["required"] == ["error"]
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
    assert refs and all(ref.rsplit("/", 1)[1] in document["components"]["schemas"] for ref in refs), refs
    try:
        from openapi_spec_validator import validate
    except ImportError:
        return
    validate(document)


def test_openapi_declares_the_bearer_token_when_one_is_configured(shared: Web, shared_guarded: Web) -> None:
    """With a token configured the document declares bearer security and a 401; without one it declares none."""
    open_document = httpx.get(f"{shared.url}/openapi.json", timeout=10).json()
    assert "security" not in open_document and "securitySchemes" not in open_document["components"]
    document = httpx.get(
        f"{shared_guarded.url}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert document["security"] == [{"bearer": []}]
    assert all("401" in path["post"]["responses"] for path in document["paths"].values())
    try:
        from openapi_spec_validator import validate
    except ImportError:
        return
    validate(document)


def test_healthz_answers_without_a_token(shared_guarded: Web) -> None:
    """/healthz answers 200 {"status": "ok"} with no Authorization even when a token is configured."""
    response = httpx.get(f"{shared_guarded.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# -- the guard: Host, Origin, token ---------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
#: One request per endpoint; none of them opens a stream when it is refused.
ENDPOINTS = [
    ("POST", "/mcp", INITIALIZE),
    ("GET", "/mcp", None),
    ("GET", "/sse", None),
    ("POST", "/messages/?session_id=" + "0" * 32, INITIALIZE),
    ("POST", "/packages/v1/package", REACT),
    ("GET", "/openapi.json", None),
    ("GET", "/healthz", None),
]
ENDPOINT_IDS = [f"{method} {path.split('?')[0]}" for method, path, _ in ENDPOINTS]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def request(web: Web, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    content = None if body is None else json.dumps(body).encode()
    return httpx.request(
        method, web.url + path, content=content, headers={**MCP_HEADERS, **headers}, timeout=10
    )


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_guard_refuses_foreign_host_and_origin_everywhere(
    shared: Web, method: str, path: str, body: Any
) -> None:
    """A foreign Host (421) or Origin (403) is refused on every endpoint, before anything reaches the app."""
    before = shared.upstream.total
    for headers, status in (
        ({"Host": "evil.example"}, 421),
        ({"Host": "evil.example:8000"}, 421),
        ({"Host": "localhost.evil.example"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://127.0.0.1.evil.example:8000"}, 403),
    ):
        response = request(shared, method, path, body, headers)
        assert response.status_code == status, (headers, response.text)
        assert error_of(response)[0] in {"misdirected_request", "forbidden_origin"}
    assert shared.upstream.total == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "localhost"},
        {"Host": "localhost:1"},
        {"Host": "LocalHost:8000"},
        {"Host": "127.0.0.1:65535"},
        {"Host": "[::1]:8000"},
        {"Origin": "http://localhost:5173"},
        {"Origin": "https://127.0.0.1"},
        {"Origin": "http://[::1]:3000"},
    ],
    ids=lambda h: "-".join(h.values()),
)
def test_guard_accepts_loopback_names_with_any_port(shared: Web, headers: dict[str, str]) -> None:
    """Loopback names, with or without any port, pass the guard on the REST API and /healthz."""
    assert request(shared, "GET", "/healthz", None, headers).status_code == 200
    assert request(shared, "POST", "/packages/v1/package", REACT, headers).status_code == 200


def test_guard_allowed_host_adds_a_name(upstream: MockUpstream, tmp_path: Path) -> None:
    """An extra allowed host (and the bound address) is accepted as Host and Origin; others still are not."""
    with serve(upstream, tmp_path, bind_host="10.1.2.3", extra_hosts=("mcp.internal",)) as web:
        for headers in (
            {"Host": "mcp.internal:8443"},
            {"Host": "MCP.internal"},
            {"Origin": "https://mcp.internal"},
            {"Host": "10.1.2.3:8000"},
        ):
            assert request(web, "GET", "/healthz", None, headers).status_code == 200, headers
        assert request(web, "GET", "/healthz", None, {"Host": "other.internal"}).status_code == 421


def test_guard_wildcard_bind_is_not_a_host_name(upstream: MockUpstream, tmp_path: Path) -> None:
    """Binding 0.0.0.0 does not make "0.0.0.0" an allowed Host."""
    with serve(upstream, tmp_path, bind_host="0.0.0.0") as web:
        assert request(web, "GET", "/healthz", None, {"Host": "0.0.0.0:8000"}).status_code == 421
        assert request(web, "GET", "/healthz", None, {"Host": "127.0.0.1:8000"}).status_code == 200


BAD_CREDENTIALS = {
    "missing": {},
    "wrong": {"Authorization": "Bearer wrong-token-1"},
    "wrong-scheme": {"Authorization": f"Basic {TOKEN}"},
    "shorter": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "longer": {"Authorization": f"Bearer {TOKEN}x"},
    "scheme-only": {"Authorization": "Bearer"},
}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS[:-1], ids=ENDPOINT_IDS[:-1])
def test_guard_requires_the_token_everywhere_but_healthz(
    shared_guarded: Web, method: str, path: str, body: Any
) -> None:
    """With a token configured, every endpoint but /healthz answers 401 + WWW-Authenticate: Bearer without it."""
    before = shared_guarded.upstream.total
    for name, headers in BAD_CREDENTIALS.items():
        response = request(shared_guarded, method, path, body, headers)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert error_of(response)[0] == "unauthorized"
    assert shared_guarded.upstream.total == before


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_guard_accepts_the_token(shared_guarded: Web, scheme: str) -> None:
    """The right token (the scheme is case-insensitive) opens the REST API and OpenAPI."""
    headers = {"Authorization": f"{scheme} {TOKEN}"}
    response = httpx.post(
        f"{shared_guarded.url}/packages/v1/package", json=REACT, headers=headers, timeout=10
    )
    assert response.status_code == 200
    assert httpx.get(f"{shared_guarded.url}/openapi.json", headers=headers, timeout=10).status_code == 200


def test_guard_compares_non_ascii_tokens_as_utf8(upstream: MockUpstream, tmp_path: Path) -> None:
    """A non-ASCII token sent as UTF-8 header bytes is accepted; its latin-1 look-alike is not."""
    token = "clé-secrète"
    with serve(upstream, tmp_path, token=token) as web:
        url = f"{web.url}/openapi.json"
        utf8 = httpx.get(url, headers={b"Authorization": b"Bearer " + token.encode()}, timeout=10)
        latin = httpx.get(url, headers={b"Authorization": b"Bearer " + token.encode("latin-1")}, timeout=10)
        assert (utf8.status_code, latin.status_code) == (200, 401)


@pytest.mark.anyio
async def test_guard_token_with_sdk_clients(shared_guarded: Web) -> None:
    """SDK clients pass the bearer token: streamable HTTP through an httpx2 client's headers, SSE through headers=."""
    with anyio.fail_after(WAIT):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=auth, timeout=30) as http,
            Client(
                streamable_http_client(f"{shared_guarded.url}/mcp", http_client=http), mode="legacy"
            ) as client,
        ):
            await exercise(client)
        sse = sse_client(f"{shared_guarded.url}/sse", headers=auth, timeout=10, sse_read_timeout=30)
        async with Client(sse, mode="legacy") as client:
            await exercise(client)
        # Without the header the SDK gives up (it reports the 401 only as "Server returned an error response").
        with pytest.raises(ExceptionGroup) as refused:
            async with Client(f"{shared_guarded.url}/mcp", mode="legacy") as client:
                await client.list_tools()
        assert refused.group_contains(MCPError, match="Server returned an error response")


# -- the console script over HTTP -----------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse", "streamable-http"])
def test_cli_transport_aliases_parse_alike(transport: str) -> None:
    """`sse` and `streamable-http` are accepted wherever `http` is, with the same HTTP flags."""
    args = cli.parser().parse_args(
        ["--transport", transport, "--host", "::1", "--port", "9", "--stateless", "--allowed-host", "a.test"]
    )
    assert (args.transport, args.host, args.port, args.stateless, args.allowed_host) == (
        transport,
        "::1",
        9,
        True,
        ["a.test"],
    )


def test_cli_refuses_public_bind_without_token(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """--host 0.0.0.0 without MCP_REGISTRIES_AUTH_TOKEN exits 2 with a sentence on stderr, serving nothing."""
    with CliServer(
        ["--transport", "http", "--host", "0.0.0.0"], cli_env(local_upstream, tmp_path), tmp_path / "err"
    ) as server:
        assert server.process.wait(timeout=20) == 2
        assert "refusing to serve 0.0.0.0 without MCP_REGISTRIES_AUTH_TOKEN" in server.stderr
        assert "--allow-unauthenticated" in server.stderr
        assert "Traceback" not in server.stderr


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]
)
def test_is_loopback_accepts_loopback_addresses_and_names(host: str) -> None:
    """Loopback IPv4 and IPv6 addresses in any spelling, and a name resolving only to them, are loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["127.example.com", "0.0.0.0", "::", "[::]", "10.0.0.1", "::ffff:10.0.0.1", "", "no-such-host.invalid"],
)
def test_is_loopback_rejects_wildcards_public_and_unresolvable_hosts(host: str) -> None:
    """Wildcards, other addresses, names that merely start with '127.' and unresolvable names are not loopback."""
    assert not is_loopback(host)


def test_cli_refuses_lookalike_loopback_name_without_token(
    local_upstream: LoopbackUpstream, tmp_path: Path
) -> None:
    """--host 127.example.com is a name like any other: without a token the server refuses to bind it."""
    with CliServer(
        ["--transport", "http", "--host", "127.example.com"],
        cli_env(local_upstream, tmp_path),
        tmp_path / "err",
    ) as server:
        assert server.process.wait(timeout=20) == 2
        assert "refusing to serve 127.example.com without MCP_REGISTRIES_AUTH_TOKEN" in server.stderr
        assert "Traceback" not in server.stderr


@pytest.mark.parametrize(
    ("flags", "token"),
    [(["--allow-unauthenticated"], None), ([], TOKEN)],
    ids=["allow-unauthenticated", "with-token"],
)
def test_cli_serves_public_bind_when_allowed(
    local_upstream: LoopbackUpstream, tmp_path: Path, flags: list[str], token: str | None
) -> None:
    """--host 0.0.0.0 starts with --allow-unauthenticated or with a token; --allowed-host adds a Host name."""
    env = cli_env(local_upstream, tmp_path, **({"MCP_REGISTRIES_AUTH_TOKEN": token} if token else {}))
    args = ["--transport", "http", "--host", "0.0.0.0", "--allowed-host", "mcp.internal", *flags]
    with CliServer(args, env, tmp_path / "err") as server:
        url = server.wait_ready()
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(
            url + "/packages/v1/package", json=REACT, headers={"Host": "mcp.internal", **auth}, timeout=10
        )
        assert answer.status_code == 200
        foreign = httpx.get(url + "/openapi.json", headers={"Host": "evil.example", **auth}, timeout=10)
        assert foreign.status_code == 421
        if token:
            assert httpx.get(url + "/openapi.json", timeout=10).status_code == 401
        server.process.kill()


SHUTDOWNS = [
    (signal.SIGTERM, ["--transport", "http"]),
    (signal.SIGINT, ["--transport", "sse"]),
    (signal.SIGTERM, ["--transport", "streamable-http", "--stateless"]),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("sig", "args"), SHUTDOWNS, ids=["SIGTERM-http", "SIGINT-sse", "SIGTERM-streamable-stateless"]
)
async def test_cli_http_shuts_down_gracefully(
    local_upstream: LoopbackUpstream, tmp_path: Path, sig: signal.Signals, args: list[str]
) -> None:
    """After MCP and REST calls, with an SSE stream still open, a signal ends the server: exit 0, service closed."""
    with anyio.fail_after(WAIT):
        with CliServer(args, cli_env(local_upstream, tmp_path), tmp_path / "err") as server:
            url = server.wait_ready()
            async with Client(f"{url}/mcp", mode="legacy") as client:
                assert not (await client.call_tool("package", REACT)).is_error
            async with httpx.AsyncClient(timeout=10) as http:
                assert (await http.post(url + "/packages/v1/package", json=REACT)).status_code == 200
                async with http.stream("GET", url + "/sse") as stream:
                    lines = stream.aiter_lines()
                    assert await anext(lines) == "event: endpoint"
                    started = time.monotonic()
                    status = await anyio.to_thread.run_sync(server.stop, sig)
                    elapsed = time.monotonic() - started
                    # The open stream is ended by the server, cleanly.
                    with anyio.fail_after(5):
                        async for _ in lines:
                            pass
        log = server.stderr
        assert status == 0, log
        assert elapsed < 10
        assert "shutting down: closing the HTTP client and the cache" in log
        assert "Application shutdown complete" in log
        assert "Traceback" not in log and "ERROR" not in log, log


def test_cli_in_flight_calls_end_cleanly_on_sigterm(local_upstream: LoopbackUpstream, tmp_path: Path) -> None:
    """Calls waiting on a slow upstream when SIGTERM arrives both get their answers, then the server exits 0.

    sse-starlette ends every event stream as soon as uvicorn starts shutting down, and a streamable HTTP
    tool call is answered on one: the CLI therefore lets calls in flight finish before it tells uvicorn.
    The upstream holds both documents until the server has said it waits for the calls in flight.
    """
    release = threading.Event()
    for path in ("/npm/react", "/npm/express"):
        local_upstream.route(path, held(release, local_upstream.routes[path]))
    with CliServer(["--transport", "http"], cli_env(local_upstream, tmp_path), tmp_path / "err") as server:
        url = server.wait_ready()

        async def mcp_call() -> CallToolResult | Exception:
            try:
                with anyio.fail_after(WAIT):
                    async with Client(f"{url}/mcp", mode="legacy") as client:
                        return await client.call_tool("package", {"registry": "npm", "name": "express"})
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
                return exc

        with ThreadPoolExecutor(2) as pool:
            rest = pool.submit(httpx.post, url + "/packages/v1/package", json=REACT, timeout=20)
            mcp = pool.submit(anyio.run, mcp_call)
            deadline = time.monotonic() + 10
            while min(local_upstream.hits["/npm/react"], local_upstream.hits["/npm/express"]) < 1:
                assert time.monotonic() < deadline, "the calls never reached the upstream"
                time.sleep(0.02)
            server.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while "stopping once the calls in flight are answered" not in server.stderr:
                assert time.monotonic() < deadline, f"the server did not wait for the calls:\n{server.stderr}"
                assert server.process.poll() is None, f"the server exited:\n{server.stderr}"
                time.sleep(0.02)
            release.set()
            answer = rest.result(timeout=20)
            result = mcp.result(timeout=20)
        status = server.process.wait(timeout=10)
        assert answer.status_code == 200 and answer.json()["name"] == "react"
        assert isinstance(result, CallToolResult), repr(result)
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["name"] == "express"
        assert status == 0, server.stderr
        assert "Traceback" not in server.stderr


@pytest.mark.anyio
async def test_guard_counts_posts_until_their_response_ends() -> None:
    """A POST counts as in flight until the app has finished its response (a graceful stop waits on it);
    GET streams, which may never end, do not count."""
    seen: list[int] = []
    release = anyio.Event()
    guard: Guard

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(guard.posts_in_flight)
        if scope["method"] == "POST":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = Guard(app, allowed=frozenset({"testserver"}), token=None)
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/x")).status_code == 200
        async with anyio.create_task_group() as group:
            group.start_soon(client.post, "/x")
            with anyio.fail_after(5):
                while guard.posts_in_flight == 0:
                    await anyio.sleep(0.01)
            assert guard.posts_in_flight == 1
            release.set()
        assert guard.posts_in_flight == 0
    assert seen == [0, 1]
