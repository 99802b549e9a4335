"""The seed's HTTP API over the same service: `POST /packages/v1/<operation>` and its OpenAPI document.

A request body is the tool's arguments as a JSON object; a 200 answer is the tool's structured
content. Failures carry the tool's sentence: `{"error": {"code": ..., "message": ...}}`.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import __version__
from .errors import (
    InternalError,
    InvalidArgument,
    NotFound,
    RateLimited,
    RegistryError,
    SearchUnavailable,
    UpstreamError,
    UpstreamTimeout,
)
from .models import RESULT_MODELS, Operation, structured
from .operations import OPERATIONS
from .service import Service

log = logging.getLogger(__name__)

PREFIX = "/packages/v1/"
#: A request body: a tool's arguments, an audit's manifest among them (at most 200,000 characters).
MAX_BODY_BYTES = 1024 * 1024


#: Each error's HTTP status, the first matching class wins (RateLimited before UpstreamError).
_STATUSES: tuple[tuple[type[RegistryError], int], ...] = (
    (InternalError, 500),
    (InvalidArgument, 400),
    (NotFound, 404),
    (SearchUnavailable, 501),
    (UpstreamTimeout, 504),
    (RateLimited, 503),
    (UpstreamError, 502),
)


def status_of(exc: RegistryError) -> int:
    return next((status for kind, status in _STATUSES if isinstance(exc, kind)), 500)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def _read_arguments(request: Request) -> dict[str, Any] | JSONResponse:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return error_response(
            413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES} bytes."
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return error_response(
                413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES} bytes."
            )
    if not body.strip():
        return {}
    try:
        arguments = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return error_response(
            400, "invalid_json", "The request body is not valid JSON; send the arguments as a JSON object."
        )
    if not isinstance(arguments, dict):
        return error_response(
            400, "invalid_json", "The request body must be a JSON object of the tool's arguments."
        )
    return arguments


def routes(service: Service) -> list[Route]:
    async def operation(request: Request) -> Response:
        name = request.path_params["operation"]
        if name not in {op.value for op in Operation}:
            accepted = ", ".join(op.value for op in Operation)
            return error_response(
                404, "unknown_operation", f"There is no operation {name[:40]!r}; use one of {accepted}."
            )
        arguments = await _read_arguments(request)
        if isinstance(arguments, JSONResponse):
            return arguments
        try:
            result = await service.call(name, arguments)
        except RegistryError as exc:
            headers = None
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                headers = {"Retry-After": str(math.ceil(exc.retry_after))}
            return error_response(status_of(exc), exc.code, exc.message, headers)
        return JSONResponse(structured(result))

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(secured=service.settings.auth_token is not None))

    return [
        Route(PREFIX + "{operation}", operation, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_document(*, secured: bool = False) -> dict[str, Any]:
    """OpenAPI 3.1 for the REST API, from the same parameter table and result models as the tools.

    `secured`: the server wants a bearer token (MCP_REGISTRIES_AUTH_TOKEN), so the document says so.
    """
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    errors = _error_responses(secured)
    for op, spec in OPERATIONS.items():
        model = RESULT_MODELS[op]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        paths[PREFIX + op.value] = {
            "post": {
                "operationId": op.value,
                "summary": spec.summary,
                "description": spec.description,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": spec.input_schema()}},
                },
                "responses": {
                    "200": {
                        "description": spec.title,
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
                        },
                    },
                    **errors,
                },
            }
        }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "mcp-registries Package Registries API",
            "version": __version__,
            "description": "npm and PyPI package facts: the same answers the MCP tools give.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if secured:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


def _error_responses(secured: bool) -> dict[str, Any]:
    """Every error status an operation answers, in the one error shape."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait, when the registry said.",
            "schema": {"type": "integer"},
        }
    }
    responses: dict[str, Any] = {
        "400": {"description": "Bad argument or malformed JSON.", "content": error},
        "404": {"description": "Package or version not found.", "content": error},
        "413": {"description": "Request body too large.", "content": error},
        "502": {"description": "The upstream registry failed.", "content": error},
        "500": {"description": "An internal error; the server logged the details.", "content": error},
        "501": {"description": "The registry (or its mirror) offers no search.", "content": error},
        "503": {
            "description": "The upstream registry is rate limiting.",
            "headers": retry_after,
            "content": error,
        },
        "504": {"description": "The upstream registry timed out.", "content": error},
    }
    if secured:
        responses["401"] = {"description": "Missing or wrong bearer token.", "content": error}
    return responses
