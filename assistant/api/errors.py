"""The one place domain errors become HTTP answers: a status, a type and a clear message, never a trace.

Bodies follow OpenAI's error shape, {"error": {"type", "message", "field"?}},
so OpenAI clients show the message too.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import audit
from assistant.engine import PermissionDenied
from retrieval.errors import FargoError

log = logging.getLogger("fargo.api")


class NotFound(FargoError, LookupError):
    status = 404
    kind = "not_found"


def error_response(status: int, kind: str, message: str, field: str | None = None, headers=None) -> JSONResponse:
    body = {"type": kind, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_of(loc) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1])


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request"}
    field = _field_of(first["loc"])
    message = "; ".join(f"{_field_of(p['loc'])}: {p['msg']}" for p in problems[:5])
    return error_response(422, "invalid_request", message, field)


async def fargo_error(request: Request, exc: FargoError) -> JSONResponse:
    """Every Fargo error kind answers with its own status, type, field and headers."""
    if isinstance(exc, PermissionDenied):
        _audit_denial(request)
    if exc.status == 500:
        return await unexpected_error(request, exc)
    if exc.status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
    return error_response(exc.status, exc.kind, exc.public_message, exc.field, exc.http_headers() or None)


def _audit_denial(request: Request) -> None:
    caller = getattr(request.state, "caller", None)
    if caller is not None:
        audit.record(request.app.state.store, caller, getattr(request.state, "asked_customer", None),
                     f"{request.method} {request.url.path}", allowed=False)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(exc.status_code, "http_error", str(exc.detail), headers=getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "something went wrong on our side; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(FargoError, fargo_error)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, unexpected_error)
