"""The one place domain errors become HTTP answers: a status, a type and a clear message, never a trace.

Bodies follow OpenAI's error shape, {"error": {"type", "message", "field"?}},
so OpenAI clients show the message too.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import audit
from assistant.auth import AuthError, KeyNotFound, TokenSecretMissing
from assistant.api.deps import Forbidden, RateLimited
from assistant.engine import InputError, PermissionDenied, SessionCustomerConflict
from assistant.handoffs import HandoffConflict, HandoffNotFound
from assistant.sessions import SessionNotFound
from retrieval.errors import StoreError
from tools.context import NoLiveData

log = logging.getLogger("fargo.api")


class NotFound(LookupError):
    pass


def error_response(status: int, kind: str, message: str, field: str | None = None, headers=None) -> JSONResponse:
    body = {"type": kind, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_of(loc) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1])


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request"}
    field = _field_of(first["loc"])
    message = "; ".join(f"{_field_of(p['loc'])}: {p['msg']}" for p in problems[:5])
    return error_response(422, "invalid_request", message, field)


async def _input(request: Request, exc: InputError) -> JSONResponse:
    field = getattr(exc, "field", None) or ("customer_id" if "customer" in str(exc) else "message")
    return error_response(422, "invalid_request", str(exc), field)


async def _permission(request: Request, exc: PermissionDenied) -> JSONResponse:
    caller = getattr(request.state, "caller", None)
    if caller is not None:
        audit.record(request.app.state.store, caller, getattr(request.state, "asked_customer", None),
                     f"{request.method} {request.url.path}", allowed=False)
    return error_response(403, "permission_denied", str(exc))


async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
    return error_response(403, "permission_denied", str(exc))


async def _auth(request: Request, exc: AuthError) -> JSONResponse:
    return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})


async def _rate(request: Request, exc: RateLimited) -> JSONResponse:
    return error_response(429, "rate_limited", str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after_s))})


async def _not_found(request: Request, exc: LookupError) -> JSONResponse:
    # str() of a LookupError's KeyError-style message adds quotes around it: take the message itself
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return error_response(404, "not_found", message)


async def _conflict(request: Request, exc: HandoffConflict | SessionCustomerConflict) -> JSONResponse:
    return error_response(409, "conflict", str(exc))


async def _no_data(request: Request, exc: NoLiveData) -> JSONResponse:
    return error_response(503, "no_data", "no data yet: run fargo ingest", headers={"Retry-After": "60"})


async def _store(request: Request, exc: StoreError) -> JSONResponse:
    log.error("store error on %s: %s", request.url.path, exc)
    return error_response(503, "store_unavailable", f"the document store failed: {exc}", headers={"Retry-After": "5"})


async def _secret(request: Request, exc: TokenSecretMissing) -> JSONResponse:
    return error_response(503, "not_configured", str(exc))


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(exc.status_code, "http_error", str(exc.detail), headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "something went wrong on our side; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InputError, _input)
    app.add_exception_handler(PermissionDenied, _permission)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(AuthError, _auth)
    app.add_exception_handler(RateLimited, _rate)
    app.add_exception_handler(SessionNotFound, _not_found)
    app.add_exception_handler(KeyNotFound, _not_found)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(HandoffNotFound, _not_found)
    app.add_exception_handler(HandoffConflict, _conflict)
    app.add_exception_handler(SessionCustomerConflict, _conflict)
    app.add_exception_handler(NoLiveData, _no_data)
    app.add_exception_handler(StoreError, _store)
    app.add_exception_handler(TokenSecretMissing, _secret)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
