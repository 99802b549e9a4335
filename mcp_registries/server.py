"""The MCP wiring: the only module that imports `mcp`. Six tools from one table, one error wrapper."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from . import __version__
from .errors import RegistryError
from .models import RESULT_MODELS, compact_json, flat_schema
from .models import structured as structured_data
from .operations import OPERATIONS, OperationSpec
from .service import Service

log = logging.getLogger(__name__)

ANNOTATIONS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
#: Protocol 2026-07-28 cache hints. The SDK sends ttl 0 and scope "private" unless told otherwise; the tool
#: list is the same for every caller and never changes while the server runs.
CACHE_HINTS: dict[CacheableMethod, CacheHint] = {
    "tools/list": CacheHint(ttl_ms=24 * 60 * 60 * 1000, scope="public")
}
INSTRUCTIONS = (
    "Answers questions about npm (Node.js) and PyPI (Python) packages from the registries themselves: "
    "latest version, version lists, one version's metadata, dependencies, download counts, maintainers. "
    "Every tool takes registry ('npm' or 'pypi') and the exact package name; when unsure of a name, use "
    "search first (a name not found comes back with close names that exist). Answers are compact JSON; "
    "absent data is left out, and `notes` explain caveats."
)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


async def answer(service: Service, spec: OperationSpec, arguments: dict[str, Any]) -> CallToolResult:
    """One tool call: the answer as structured content plus compact JSON text, or one error sentence."""
    try:
        result = await service.call(spec.operation, arguments)
        structured = structured_data(result)
        return CallToolResult(
            content=[TextContent(type="text", text=compact_json(structured))],
            structured_content=structured,
        )
    except RegistryError as exc:  # bugs too: the service turns them into an InternalError sentence
        return error_result(exc.message)


class _ArgumentsAsSent(FuncMetadata):
    """The SDK's argument handling without its JSON pre-parse of strings.

    `FuncMetadata.pre_parse_json` json-decodes a string argument whose annotation is not exactly `str`
    (for clients that send lists as JSON text): the name `null` would arrive as None and `["a"]` as a list.
    Our parameters are `Any` so that `operations.parse_arguments` sees every value as the client sent it.
    """

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        return data


def _tool(service: Service, spec: OperationSpec) -> Tool:
    async def call(**arguments: Any) -> CallToolResult:
        return await answer(service, spec, {k: v for k, v in arguments.items() if v is not None})

    # Every argument reaches `operations.parse_arguments` untouched, so that a bad value gets our
    # sentence rather than a validation dump; the advertised schema is the seed's table.
    returns = Annotated[CallToolResult, RESULT_MODELS[spec.operation]]
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Any)
            for p in spec.params
        ],
        return_annotation=returns,
    )
    call.__annotations__ = {p.name: Any for p in spec.params} | {"return": returns}
    tool = Tool.from_function(
        call,
        name=spec.operation.value,
        title=spec.title,
        description=spec.description,
        annotations=ANNOTATIONS,
    )
    # Clients validate each result against outputSchema: a flat schema keeps that cheap (see flat_schema).
    metadata = _ArgumentsAsSent(
        arg_model=tool.fn_metadata.arg_model,
        output_schema=flat_schema(RESULT_MODELS[spec.operation]),
        output_model=tool.fn_metadata.output_model,
        wrap_output=tool.fn_metadata.wrap_output,
    )
    return tool.model_copy(update={"parameters": spec.input_schema(), "fn_metadata": metadata})


def http_routes(
    server: MCPServer, *, stateless: bool
) -> tuple[list[BaseRoute], Callable[[], AbstractAsyncContextManager[None]]]:
    """`/mcp` (streamable HTTP) and `/sse` + `/messages/` (SSE) routes, and the context that runs their sessions.

    Host and Origin checks are not left to the SDK: `web.Guard` applies them to every endpoint alike.
    """
    unchecked = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    streamable = server.streamable_http_app(stateless_http=stateless, transport_security=unchecked)
    sse = server.sse_app(transport_security=unchecked)
    sse_routes = [
        Route(route.path, _SseStream(route.endpoint), methods=["GET"])
        if isinstance(route, Route) and route.path == "/sse"
        else route
        for route in sse.routes
    ]
    return [*streamable.routes, *sse_routes], server.session_manager.run


class _SseStream:
    """The SDK's `/sse` endpoint as a plain ASGI app that always completes the response it started.

    The SDK's endpoint returns an empty response after the event stream has already answered, and when the
    server ends the stream (on shutdown) the stream stops without its final chunk: uvicorn then logs a
    traceback or "returned without completing response" for every open SSE connection.
    """

    def __init__(self, endpoint: Callable[[Request], Any]) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = finished = False

        async def once(message: Message) -> None:
            nonlocal started, finished
            if finished:
                return
            if message["type"] == "http.response.start":
                if started:
                    return
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        await self.endpoint(Request(scope, receive, once))
        if started and not finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def build_server(service: Service) -> MCPServer:
    return MCPServer(
        name="mcp-registries",
        title="Package registries (npm, PyPI)",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=[_tool(service, spec) for spec in OPERATIONS.values()],
        log_level=service.settings.log_level.upper(),  # type: ignore[arg-type]
        cache_hints=CACHE_HINTS,
    )
