"""HTTP plumbing shared by both services: OpenAI-style error bodies and an OpenAPI that says so.

Validation errors (wrong types, missing fields, values out of range) are 422, malformed JSON is 400,
both with the body `{"error": {"message", "type", "code", "param"}}` that OpenAI clients understand,
and the OpenAPI document describes that body instead of FastAPI's default; a body that was not sent as
JSON says so. A WebSocket handshake to a path with no WebSocket is answered 404 with that body, naming
the ones there are. WebSocket close frames carry a reason as well as a code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from vibevoice_platform import __version__
from vibevoice_platform.logs import RequestContextMiddleware


class ErrorDetail(BaseModel):
    """OpenAI's error object."""

    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """Every error the APIs return: `{"error": {...}}`."""

    error: ErrorDetail


def error_response(
    status: int,
    message: str,
    *,
    error_type: str,
    code: str | None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response with OpenAI's body shape."""
    body = ErrorResponse(error=ErrorDetail(message=message, type=error_type, code=code, param=param))
    return JSONResponse(body.model_dump(), status_code=status, headers=dict(headers or {}))


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the ErrorResponse body."""
    descriptions = {
        400: "Malformed request or an unknown voice or model",
        422: "The request does not match the schema",
        429: "Overloaded: every slot and queue place is taken (see Retry-After)",
        503: "Not ready: loading, failed or draining",
    }
    return {s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")} for s in statuses}


def _param(loc: tuple[int | str, ...]) -> str | None:
    fields = [str(part) for part in loc if part != "body"]
    return ".".join(fields) or None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    if first["type"] == "json_invalid":
        return error_response(
            400, f"Malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}",
            error_type="invalid_request_error", code="json_invalid",
        )  # fmt: skip
    message = "; ".join(f"{_param(tuple(e['loc'])) or 'body'}: {e['msg']}" for e in errors)
    content_type = request.headers.get("content-type", "")
    if _param(tuple(first["loc"])) is None and not content_type.startswith("application/json"):
        sent = f"Content-Type: {content_type}" if content_type else "no Content-Type"
        message += f" (send the body as JSON with Content-Type: application/json; this request has {sent})"
    return error_response(
        422,
        message,
        error_type="invalid_request_error",
        code=first["type"],
        param=_param(tuple(first["loc"])),
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(
        exc.status_code,
        str(exc.detail),
        error_type="invalid_request_error" if exc.status_code < 500 else "server_error",
        code=str(exc.status_code),
        headers=exc.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make validation and routing errors answer in OpenAI's shape, and document them so."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    not_found = app.router.default

    async def no_such_route(scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette refuses an unknown WebSocket path with a bare close, which a client sees as 403
        (as if refused for its key): answer 404 naming the paths there are."""
        if scope["type"] != "websocket":
            await not_found(scope, receive, send)
            return
        paths = ", ".join(route.path for route in app.routes if isinstance(route, WebSocketRoute))
        response = error_response(
            404,
            f"no WebSocket at {scope['path']}; this service's: {paths}",
            error_type="invalid_request_error",
            code="not_found",
        )
        await WebSocket(scope, receive, send).send_denial_response(response)

    app.router.default = no_such_route

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _document_validation_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_validation_errors(schema: dict[str, Any]) -> None:
    """Point FastAPI's generated 422 responses at the ErrorResponse body we really send."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            response = operation.get("responses", {}).get("422")
            if response is not None:
                response["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                }
                if "requestBody" in operation:
                    operation["responses"].setdefault(
                        "400",
                        {
                            "description": "Malformed JSON",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                            },
                        },
                    )


# What ends a WebSocket session's tasks: the client gone (or the socket closed under them), or, in a
# task still sending, Starlette refusing a send once another task has closed the session.
SESSION_OVER = (WebSocketDisconnect, WebSocketDisconnected)
MAX_CLOSE_REASON = 123  # bytes: a close frame's payload is at most 125, two of them the code


async def close_websocket(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with a code and a reason a client can show (cut to fit a close frame, on a character)."""
    encoded = reason.encode()[:MAX_CLOSE_REASON]
    await websocket.close(code, reason=encoded.decode(errors="ignore"))


def service_app(
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    service: object,
) -> FastAPI:
    """A service's app before its routes: its service object in `app.state.service`, request ids and
    JSON logs (RequestContextMiddleware), errors in OpenAI's shape."""
    app = FastAPI(title=title, version=__version__, description=description, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    return app
