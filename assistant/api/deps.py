"""Small FastAPI dependencies handing routes the long-lived parts and the caller."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from assistant.api.ratelimit import client_address
from assistant.auth import TOKEN_PREFIX, AuthError, Forbidden, RateLimited, authenticate
from assistant.callers import Caller, Role
from assistant.runtime import Runtime
from retrieval.docstore import DocumentStore, live_pointer
from retrieval.text import ERROR_TYPE, text_problem
from tools.context import NoLiveData

TOO_MANY_FAILURES = "too many failed credentials from this address"


async def get_store(request: Request):
    return request.app.state.store


def get_runtime(request: Request):
    return current_runtime(request.app.state)


def current_runtime(state):
    """The Runtime, opened at start-up (assistant.api.warm) or on first use: until an ingestion run completes this
    raises NoLiveData. A caller arriving while it opens waits for it (the runtime lock).

    When a newer ingestion run has gone live (the nightly job), the next request
    opens a Runtime on it: the old run's features are deleted once a new one is live.
    """
    if state.runtime is None and live_pointer(state.store) is None:
        raise NoLiveData("no ingestion run has completed yet")  # checked first: opening the models is slow
    if state.runtime is None or _newer_run_is_live(state):
        with state.runtime_lock:
            if state.runtime is None or _newer_run_is_live(state, checked_now=True):
                revision = (live_pointer(state.store) or {}).get("revised_at")  # read first: a later revision reloads
                _swap_runtime(state, state.open_runtime(state.settings))
                state.runtime_revision = revision
    return state.runtime


async def live_runtime(request: Request):
    """`get_runtime` as an async dependency: the open Runtime straight from the event loop, no worker thread.

    Only opening one, or the periodic look at the live pointer (a store read), goes to the threadpool.
    """
    state = request.app.state
    if state.runtime is not None and not _live_check_due(state):
        return state.runtime
    return await run_in_threadpool(get_runtime, request)


def _live_check_due(state) -> bool:
    return time.monotonic() - state.live_checked_at >= state.live_check_interval_s


def _newer_run_is_live(state, checked_now: bool = False) -> bool:
    now = time.monotonic()
    if not checked_now and not _live_check_due(state):
        return False
    state.live_checked_at = now
    pointer = live_pointer(state.store)
    if pointer is None:
        return False
    # a revision of the live data (a customer erased from it) reloads it as a new run does
    return (pointer["run_id"] != state.runtime.ctx.run_id
            or pointer.get("revised_at") != getattr(state, "runtime_revision", None))


def _swap_runtime(state, runtime) -> None:
    # requests still running on the previous runtime finish on it; it is closed at the next swap or at shutdown
    if state.retired_runtime is not None:
        state.retired_runtime.close()
    state.retired_runtime, state.runtime = state.runtime, runtime


bearer_scheme = HTTPBearer(auto_error=False, description="An API key, or a widget token for one customer.")


async def current_caller(request: Request,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Caller:
    """The authenticated caller, after its rate limit.

    A widget token is checked in the event loop (an HMAC, no I/O); an API key is
    looked up in the store, so that runs in a worker thread. A client address that
    sent too many bad credentials lately gets 429 before any credential is checked.
    """
    state = request.app.state
    address = client_address(request.client.host if request.client else None)
    wait = state.auth_failures.wait(address)
    if wait > 0:
        raise RateLimited(wait, TOO_MANY_FAILURES)
    authorization = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    try:
        if credentials is not None and credentials.credentials.startswith(TOKEN_PREFIX):
            caller = authenticate(state.store, state.token_secret, authorization)
        else:
            caller = await run_in_threadpool(authenticate, state.store, state.token_secret, authorization)
    except AuthError:
        if "authorization" in request.headers:  # a credential that failed, not a request that sent none
            state.auth_failures.failed(address)
        raise
    wait = state.limiter.acquire(caller.owner)
    if wait > 0:
        raise RateLimited(wait)
    request.state.caller = caller
    return caller


def require_roles(*roles: Role):
    async def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if caller.role not in roles:
            raise Forbidden(f"this needs a key with role {' or '.join(roles)}")
        return caller

    return check


async def valid_parameters(request: Request) -> None:
    """422 naming the first path or query parameter whose value is not text fit to store (see retrieval.text)."""
    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in items:
            problem = text_problem(value) if isinstance(value, str) else None
            if problem is not None:
                raise RequestValidationError([{"type": ERROR_TYPE, "loc": (location, name), "msg": problem}])


Store = Annotated[DocumentStore, Depends(get_store)]
LiveRuntime = Annotated[Runtime, Depends(live_runtime)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
StaffCaller = Annotated[Caller, Depends(require_roles(Role.agent, Role.supervisor, Role.admin))]
AdminCaller = Annotated[Caller, Depends(require_roles(Role.admin))]
BackendCaller = Annotated[Caller, Depends(require_roles(Role.developer, Role.admin))]
