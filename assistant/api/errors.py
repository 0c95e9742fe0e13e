"""The one place domain errors become HTTP answers: a status, a type and a clear message, never a trace.

Bodies follow OpenAI's error shape, {"error": {"type", "message", "field"?}},
so OpenAI clients show the message too; the OpenAI-compatible routes answer in
exactly OpenAI's shape and statuses (assistant.api.openai_errors).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import audit
from assistant.api import openai_errors
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


def _answer(request: Request, status: int, kind: str, message: str, field: str | None = None,
            headers=None) -> JSONResponse:
    """The error in Fargo's shape, or in OpenAI's on the OpenAI-compatible routes (where a bad request is 400)."""
    if openai_errors.is_openai_route(request):
        return openai_errors.openai_error(400 if status == 422 else status, message, param=field, code=kind,
                                          headers=headers)
    return error_response(status, kind, message, field, headers)


def _field_of(loc) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1])


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if openai_errors.is_openai_route(request):
        return openai_errors.invalid_request(problems, _field_of)
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
    return _answer(request, exc.status, exc.kind, exc.public_message, exc.field, exc.http_headers() or None)


def _audit_denial(request: Request) -> None:
    caller = getattr(request.state, "caller", None)
    if caller is not None:
        audit.record(request.app.state.store, caller, getattr(request.state, "asked_customer", None),
                     f"{request.method} {request.url.path}", allowed=False)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _answer(request, exc.status_code, "http_error", str(exc.detail), headers=getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _answer(request, 500, "internal_error", "something went wrong on our side; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(FargoError, fargo_error)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, unexpected_error)
