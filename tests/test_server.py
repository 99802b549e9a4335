"""The MCP surface through an in-process SDK client, under both handshakes: nine tools, schemas, every error
path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client

from mcp_registries.cache import NullCache
from mcp_registries.models import RESULT_MODELS, Operation
from mcp_registries.operations import OPERATIONS
from mcp_registries.server import build_server
from mcp_registries.service import Service

from .conftest import NPM, MockUpstream, make_settings, search_routes

pytestmark = pytest.mark.anyio

#: A package.json whose npm dependencies are recorded (express outdated by its range), with a git one.
AUDITED_PACKAGE_JSON = json.dumps(
    {
        "name": "shop",
        "dependencies": {"express": "^4.18.2", "react": "^19.0.0", "tool": "git+https://example.test/t.git"},
        "devDependencies": {"ms": "*"},
    }
)


@pytest.fixture(params=["auto", "legacy"])
async def client(request: pytest.FixtureRequest, service: Service) -> AsyncIterator[Client]:
    async with Client(build_server(service), mode=request.param) as connected:
        yield connected


@pytest.fixture
def searchable(upstream: MockUpstream) -> MockUpstream:
    """The mock upstream (the one behind `client`) also serving npm's search and PyPI's project index."""
    upstream.routes.update(search_routes())
    return upstream


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str, dict[str, Any] | None]:
    result = await client.call_tool(tool, arguments)
    assert len(result.content) == 1
    return bool(result.is_error), result.content[0].text, result.structured_content


async def test_tools_list_nine_tools_with_schemas_and_annotations(client: Client) -> None:
    """tools/list shows the six seed operations, search, audit and tree, each read-only, idempotent, open-world, with
    both schemas; each requires registry and what it looks up (audit: nothing, as it takes a manifest or
    packages, with registry inferred from a manifest)."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {op.value for op in Operation} == {
        "package", "versions", "version", "dependencies", "downloads", "maintainer", "search", "audit", "tree"
    }  # fmt: skip
    for name, tool in tools.items():
        spec = OPERATIONS[Operation(name)]
        assert tool.input_schema["properties"]["registry"]["enum"] == [
            "npm",
            "node",
            "nodejs",
            "pypi",
            "python",
            "pip",
        ]
        assert tool.input_schema["required"] == [p.name for p in spec.params if p.required]
        assert tool.annotations is not None
        assert (
            tool.annotations.read_only_hint,
            tool.annotations.idempotent_hint,
            tool.annotations.open_world_hint,
        ) == (
            True,
            True,
            True,
        )
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None and "registry" in tool.output_schema["required"]
        assert len(tool.description or "") > 80
        if name == "audit":
            assert tool.input_schema["required"] == []
            assert list(tool.input_schema["properties"]) == ["registry", "manifest", "packages", "full"]
            assert {"source", "summary", "dependencies"} <= set(tool.output_schema["required"])
            continue
        subject = "query" if name == "search" else "name"
        assert tool.input_schema["required"][:2] == ["registry", subject]
        assert {"registry", subject} <= set(tool.output_schema["properties"])


async def test_tools_search_schema_takes_a_query_and_pages_of_ten(client: Client) -> None:
    """search takes registry and a 1-200 character query (no name), pages of 10 by default, and answers
    results that say how each name matched."""
    tool = next(tool for tool in (await client.list_tools()).tools if tool.name == "search")
    props = tool.input_schema["properties"]
    assert list(props) == ["registry", "query", "page", "page_size"]
    assert tool.input_schema["required"] == ["registry", "query"]
    assert (props["query"]["type"], props["query"]["minLength"], props["query"]["maxLength"]) == (
        "string",
        1,
        200,
    )
    assert props["page_size"]["default"] == 10 and props["page_size"]["minimum"] == 1
    assert "maximum" not in props["page_size"]
    assert props["page"] == {**props["page"], "minimum": 1, "default": 1}
    assert tool.output_schema is not None
    output = tool.output_schema["properties"]
    assert {"registry", "query", "total", "page", "page_size", "has_more", "results"} <= set(output)
    assert "name" not in output
    assert "search" in (tool.description or "").lower() or "find" in (tool.description or "").lower()


async def test_tools_list_carries_public_cache_hints(service: Service) -> None:
    """Under protocol 2026-07-28, tools/list says any cache may keep it for a day: the list never changes."""
    async with Client(build_server(service), mode="2026-07-28") as connected:
        listed = await connected.list_tools()
    assert {"ttl_ms", "cache_scope"} <= listed.model_fields_set
    assert listed.ttl_ms == 24 * 60 * 60 * 1000
    assert listed.cache_scope == "public"


async def test_tools_schema_page_size_not_capped(client: Client) -> None:
    """page_size has a minimum but no maximum, because values above 250 are clamped, not refused."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for paginated in ("versions", "version", "search"):
        props = tools[paginated].input_schema["properties"]
        assert props["page_size"]["minimum"] == 1 and "maximum" not in props["page_size"]
        assert props["page"] == {**props["page"], "minimum": 1, "default": 1}
    assert tools["downloads"].input_schema["properties"]["period"]["enum"] == [
        "last-day",
        "last-week",
        "last-month",
        "last-year",
    ]


async def test_package_text_block_is_compact_structured_is_full(client: Client) -> None:
    """The text block is compact JSON without nulls; structuredContent keeps every field of the schema."""
    is_error, text, structured = await call(client, "package", registry="npm", name="react")
    assert not is_error and structured is not None
    assert "\n" not in text and ": " not in text and "null" not in text
    compact = json.loads(text)
    assert compact["latest_version"] == structured["latest_version"] == "19.3.1"
    assert "deprecated" in structured and structured["deprecated"] is None and "deprecated" not in compact
    assert len(text.encode()) < 1024


@pytest.mark.parametrize(
    ("tool", "arguments", "rows"),
    [
        ("versions", {"registry": "npm", "name": "react"}, "versions"),
        ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}, "runtime"),
        ("maintainer", {"registry": "pypi", "name": "requests"}, "maintainers"),
    ],
)
async def test_structured_rows_leave_out_empty_fields(
    client: Client, tool: str, arguments: dict[str, Any], rows: str
) -> None:
    """structuredContent keeps every top-level field of the result, and its list rows carry no null, false or
    empty field (as the text block), so clients validate and read less."""
    is_error, text, structured = await call(client, tool, **arguments)
    assert not is_error and structured is not None
    model = RESULT_MODELS[Operation(tool)]
    assert set(structured) == set(model.model_fields)
    assert structured[rows]
    for row in structured[rows]:
        assert all(value not in (None, False, [], {}) for value in row.values()), row
    assert json.loads(text)[rows] == structured[rows]
    model.model_validate(structured)


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("package", {"registry": "npm", "name": "react"}, {"latest_version": "19.3.1", "license": "MIT"}),
        ("package", {"registry": "pypi", "name": "Django"}, {"name": "Django", "license": "BSD-3-Clause"}),
        (
            "versions",
            {"registry": "nodejs", "name": "ms", "page_size": 2},
            {"page_size": 2, "has_more": True},
        ),
        ("versions", {"registry": "pip", "name": "botocore"}, {"latest_version": "1.44.8", "page": 1}),
        (
            "version",
            {"registry": "npm", "name": "react", "version": "18.2.0"},
            {"version": "18.2.0", "is_latest": False},
        ),
        (
            "version",
            {"registry": "pypi", "name": "django", "version": "4.2.0"},
            {"version": "4.2", "is_latest": False},
        ),
        ("dependencies", {"registry": "npm", "name": "express", "version": "4.18.2"}, {"version": "4.18.2"}),
        ("dependencies", {"registry": "python", "name": "requests"}, {"version": "2.34.2"}),
        ("downloads", {"registry": "npm", "name": "express"}, {"source": "npm download counts API"}),
        ("downloads", {"registry": "pypi", "name": "requests"}, {"name": "requests"}),
        ("maintainer", {"registry": "pypi", "name": "requests"}, {"source": "registry accounts"}),
        ("maintainer", {"registry": "node", "name": "react"}, {"source": "declared in package metadata"}),
        (
            "search",
            {"registry": "nodejs", "query": " http\tclient "},
            {"query": "http client", "total": 1748, "page_size": 10, "has_more": True},
        ),
        (
            "search",
            {"registry": "python", "query": "Requests", "page_size": 3},
            {"query": "Requests", "total": 4, "page_size": 3, "has_more": True},
        ),
        (
            "audit",
            {"manifest": AUDITED_PACKAGE_JSON},
            {"source": "package.json", "summary": {"outdated": 1, "unchecked": 1, "ok": 2}},
        ),
        (
            "audit",
            {"registry": "Python", "packages": ["requests>=2.31", "Django<4", "zope.interface"]},
            {"source": "list", "summary": {"outdated": 1, "ok": 2}},
        ),
        (
            "audit",
            {"manifest": '[project]\nname = "x"\ndependencies = ["requests>=2.31"]\n'},
            {"registry": "pypi", "source": "pyproject", "summary": {"ok": 1}},
        ),
    ],
)
async def test_every_tool_answers_for_both_registries(
    client: Client, searchable: MockUpstream, tool: str, arguments: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Each of the nine tools answers for npm and PyPI with the registry normalized from its synonym (audit:
    inferred from the manifest when not given)."""
    is_error, text, structured = await call(client, tool, **arguments)
    assert not is_error, text
    assert structured is not None
    assert structured["registry"] in {"npm", "pypi"}
    assert structured == {**structured, **expected}
    assert json.loads(text)["registry"] == structured["registry"]


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        ("package", {"registry": "cargo", "name": "serde"}, "Unknown registry 'cargo': use 'npm' or 'pypi'"),
        ("package", {"name": "react"}, "Unknown registry nothing: use 'npm' or 'pypi'"),
        ("package", {"registry": "npm"}, "The 'name' argument is required."),
        ("package", {"registry": "npm", "name": "../../etc/passwd"}, "is not a valid npm package name"),
        ("package", {"registry": "pypi", "name": "no spaces"}, "is not a valid PyPI project name"),
        (
            "versions",
            {"registry": "npm", "name": "ms", "page": 0},
            "page must be a whole number of 1 or more; got 0.",
        ),
        (
            "versions",
            {"registry": "npm", "name": "ms", "page_size": -3},
            "page_size must be a whole number of 1 or more",
        ),
        ("versions", {"registry": "npm", "name": "ms", "page": "two"}, "page must be a whole number"),
        ("version", {"registry": "npm", "name": "react"}, "The 'version' argument is required."),
        (
            "version",
            {"registry": "npm", "name": "react", "version": "1.0.0/../../x"},
            "is not an npm version or dist-tag",
        ),
        (
            "downloads",
            {"registry": "npm", "name": "react", "period": "yesterday"},
            "Unknown period 'yesterday'",
        ),
        ("package", {"registry": "npm", "name": "reactt"}, "npm package 'reactt' not found"),
        (
            "package",
            {"registry": "pypi", "name": "no-such-project"},
            "pypi package 'no-such-project' not found",
        ),
        (
            "version",
            {"registry": "npm", "name": "react", "version": "99.0.0"},
            "npm package 'react' has no version '99.0.0'; the latest version is 19.3.1",
        ),
        (
            "dependencies",
            {"registry": "pypi", "name": "requests", "version": "9.9"},
            "pypi package 'requests' has no version '9.9'; the latest version is 2.34.2",
        ),
        (
            "package",
            {"registry": "npm", "name": "gone-widget"},
            "npm package 'gone-widget' has no published versions (it was unpublished on 2022-03-03",
        ),
        (
            "dependencies",
            {"registry": "npm", "name": "getcookies"},
            "npm package 'getcookies' has no published versions (unpublished or removed)",
        ),
        ("search", {"registry": "npm"}, "The 'query' argument is required."),
        ("search", {"registry": "npm", "name": "react"}, "The 'query' argument is required."),
        ("search", {"registry": "pypi", "query": " \t "}, "The 'query' argument must have some words"),
        (
            "search",
            {"registry": "pypi", "query": "x" * 201},
            "The query must be at most 200 characters; got 201.",
        ),
        (
            "search",
            {"registry": "npm", "query": "react", "page": 0},
            "page must be a whole number of 1 or more",
        ),
        (
            "search",
            {"registry": "npm", "query": "http client"},
            "offers no search: its search endpoint (/-/v1/search) answered HTTP 404",
        ),
        (
            "search",
            {"registry": "pypi", "query": "requests"},
            "offers no search: its project index (/simple/) answered HTTP 404",
        ),
        (
            "audit",
            {},
            "Give either manifest (the text of a package.json, requirements file or pyproject.toml)",
        ),
        ("audit", {"registry": "npm", "packages": ["react"], "manifest": "react"}, "not both or neither"),
        ("audit", {"packages": ["react"]}, "registry ('npm' or 'pypi') is required with packages."),
        (
            "audit",
            {"registry": "npm", "packages": ["_x"]},
            "packages item 1, '_x', is not an npm requirement",
        ),
        ("audit", {"registry": "npm", "packages": []}, "packages is empty"),
        ("audit", {"manifest": "{"}, "The manifest could not be read: it starts like a package.json"),
        (
            "audit",
            {"registry": "pypi", "manifest": AUDITED_PACKAGE_JSON},
            "The manifest is a package.json, which lists npm packages, but registry is pypi",
        ),
        ("audit", {"manifest": "x" * 200_001}, "manifest must be at most 200,000 characters; got 200,001."),
    ],
)
async def test_errors_are_one_sentence_tool_results(
    client: Client, tool: str, arguments: dict[str, Any], sentence: str
) -> None:
    """Every failure is an isError tool result carrying one plain sentence, never a traceback or JSON-RPC error."""
    is_error, text, structured = await call(client, tool, **arguments)
    assert is_error
    assert sentence in text
    assert "Traceback" not in text and "Error executing tool" not in text and "validation error" not in text
    assert structured is None


@pytest.mark.parametrize(
    ("registry", "name", "sentence"),
    [
        ("npm", "axois", "npm package 'axois' not found. Did you mean 'axios'?"),
        ("pypi", "reqeusts", "pypi package 'reqeusts' not found. Did you mean 'requests' or 'requests3'?"),
        ("pypi", "Djang0", "pypi package 'djang0' not found. Did you mean 'Django'?"),
        ("npm", "nope-nope", "npm package 'nope-nope' not found"),
    ],
)
async def test_not_found_names_close_names_that_exist(
    client: Client, searchable: MockUpstream, registry: str, name: str, sentence: str
) -> None:
    """A package not found ends with close names that exist (npm's search, PyPI's project index), or none."""
    searchable.routes[NPM + "-/v1/search?text=axois&size=20&from=0"] = searchable.routes[
        NPM + "-/v1/search?text=http+client&size=10&from=0"
    ]
    is_error, text, structured = await call(client, "package", registry=registry, name=name)
    assert is_error and structured is None
    assert text == sentence


async def test_search_results_say_how_each_name_matched(client: Client, searchable: MockUpstream) -> None:
    """npm's results come from its own ranking (match `text`); PyPI's from its project index, exact first, the
    first ones with their latest version, summary and release date."""
    is_error, text, npm = await call(client, "search", registry="npm", query="http client")
    assert not is_error and npm is not None, text
    assert [hit["name"] for hit in npm["results"]] == ["axios", "got", "@tiny/http-client"]
    assert npm["results"][0] == {
        "name": "axios",
        "latest_version": "1.7.9",
        "summary": "Promise based HTTP client for the browser and node.js",
        "released": "2024-12-04T07:38:16Z",
        "match": "text",
    }
    # Rows leave out what the registry did not give (no description here).
    assert npm["results"][2] == {
        "name": "@tiny/http-client",
        "latest_version": "0.3.0-beta.2",
        "released": "2025-02-11T09:00:00Z",
        "match": "text",
    }
    is_error, text, pypi = await call(client, "search", registry="pypi", query="requests")
    assert not is_error and pypi is not None, text
    assert [(hit["name"], hit["match"]) for hit in pypi["results"]] == [
        ("requests", "exact"),
        ("requests3", "prefix"),
        ("requests-oauthlib", "prefix"),
        ("requests-toolbelt", "prefix"),
    ]
    assert pypi["results"][0]["latest_version"] == "2.34.2" and pypi["results"][0]["summary"]
    # The others have no recorded document: their names only, and a note that says so.
    assert all(set(hit) == {"name", "match"} for hit in pypi["results"][1:])
    assert any("3 of the first 4 results" in note for note in pypi["notes"]), pypi["notes"]
    assert json.loads(text)["results"][0]["name"] == "requests"


@pytest.mark.parametrize("name", ["null", "true", "false", "123", '["react"]'])
async def test_name_json_lookalike_reaches_the_service_as_sent(
    client: Client, upstream: MockUpstream, name: str
) -> None:
    """A name that reads as JSON (npm has a package 'null') is looked up as the string the client sent."""
    is_error, text, _ = await call(client, "package", registry="npm", name=name)
    assert is_error
    if name.startswith("["):
        assert text.startswith(f"'{name}' is not a valid npm package name"), text
    else:
        assert text == f"npm package '{name}' not found"
        assert upstream.hits[NPM + name] == 1


@pytest.mark.parametrize("version", ["1.10", "2.0", "null", "true"])
async def test_version_json_lookalike_reaches_the_service_as_sent(client: Client, version: str) -> None:
    """A version such as '1.10' is not read as the number 1.1, nor 'null' as no version at all."""
    is_error, text, _ = await call(client, "version", registry="npm", name="react", version=version)
    assert is_error
    assert text.startswith(f"npm package 'react' has no version '{version}'"), text


async def test_page_size_above_limit_is_clamped_with_note(client: Client) -> None:
    """page_size 1000 is clamped to 250 and the answer says so."""
    is_error, _, structured = await call(client, "versions", registry="npm", name="express", page_size=1000)
    assert not is_error and structured is not None
    assert structured["page_size"] == 250
    assert len(structured["versions"]) == 250
    assert "page_size 1000 was clamped to 250" in structured["notes"]


async def test_upstream_failure_is_a_sentence_naming_the_service() -> None:
    """A 503 from PyPI becomes a sentence naming PyPI and the status, after the allowed retries."""
    upstream = MockUpstream(routes={})
    upstream.routes[make_settings().pypi_url + "pypi/requests/json"] = lambda request: httpx.Response(503)
    service = Service(make_settings(), transport=upstream.transport(), cache=NullCache(), backoff=0.0)
    async with Client(build_server(service)) as connected:
        is_error, text, _ = await call(connected, "package", registry="pypi", name="requests")
    await service.aclose()
    assert is_error
    assert text == "PyPI failed: it answered HTTP 503."
    assert upstream.total == 2  # one try and one retry (settings.retries == 1)


async def test_internal_bug_is_a_sentence_not_a_crash(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside the service becomes an isError sentence and the server keeps answering."""
    original = service._call

    async def broken(operation: Any, arguments: dict[str, Any]) -> Any:
        if arguments.get("name") == "boom":
            raise KeyError("boom")
        return await original(operation, arguments)

    monkeypatch.setattr(service, "_call", broken)
    async with Client(build_server(service)) as connected:
        is_error, text, _ = await call(connected, "package", registry="npm", name="boom")
        assert is_error and text.startswith("Internal error while answering 'package'")
        is_error, _, _ = await call(connected, "package", registry="npm", name="ms")
        assert not is_error


async def test_output_schemas_are_flat_and_accept_real_answers(
    client: Client, searchable: MockUpstream
) -> None:
    """outputSchema has no $ref or titles (cheap for clients to read) and accepts every tool's real answer."""
    import jsonschema

    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    arguments = {
        "package": {"registry": "npm", "name": "react"},
        "versions": {"registry": "npm", "name": "express"},
        "version": {"registry": "pypi", "name": "requests", "version": "2.31.0"},
        "dependencies": {"registry": "pypi", "name": "django", "version": "4.2"},
        "downloads": {"registry": "pypi", "name": "requests"},
        "maintainer": {"registry": "npm", "name": "react"},
        "search": {"registry": "pypi", "query": "requests"},
        "audit": {"manifest": AUDITED_PACKAGE_JSON},
        "tree": {"registry": "npm", "name": "express", "version": "4.18.2"},
    }
    assert set(arguments) == set(tools)
    for name, tool in tools.items():
        text = json.dumps(tool.output_schema)
        assert "$ref" not in text and '"title"' not in text and '"type": ["' not in text
        is_error, message, structured = await call(client, name, **arguments[name])
        assert not is_error, message
        jsonschema.validate(structured, tool.output_schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**structured, "registry": "cargo"}, tool.output_schema)
