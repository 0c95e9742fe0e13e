"""The FastAPI app factory: nothing is built at import time.

The lifespan opens the document store (API keys, audit, feedback) and starts
opening the Runtime (models, indexes, engine) and warming it up in the
background (assistant.api.warm), so /healthz answers at once, /readyz once the
first turn will be as quick as any, and data routes answer 503 "no data yet"
until an ingestion run has completed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from assistant.api import errors
from assistant.api.chat import router as chat_router
from assistant.api.consents import router as consents_router
from assistant.api.data import router as data_router
from assistant.api.decisions import router as decisions_router
from assistant.api.deps import valid_parameters
from assistant.api.experiments import router as experiments_router
from assistant.api.handoffs import router as handoff_router
from assistant.api.http_limits import BodyDeadlineMiddleware
from assistant.api.observability import (
    BodyLimitMiddleware,
    Metrics,
    ObservabilityMiddleware,
    SharedEmbeddingCounts,
)
from assistant.api.openai_compat import router as openai_router
from assistant.api.ops import router as ops_router
from assistant.api.privacy import router as privacy_router
from assistant.api.ratelimit import (
    FailureLimiter,
    RateLimiter,
    SharedFailureLimiter,
    SharedRateLimiter,
    open_redis,
)
from assistant.api.tokens import router as auth_router
from assistant.api.warm import executor as warm_executor
from assistant.api.warm import start as start_warm_up
from assistant.api.widget import router as widget_router
from assistant.auth import token_secret
from assistant.console import router as console_router
from assistant.settings import Settings
from retrieval.docstore import open_store

MAX_BODY_BYTES = 64 * 1024
REQUESTS_PER_MINUTE = 120
LIVE_CHECK_INTERVAL_S = 30.0  # how often a request checks whether a newer ingestion run went live
TURN_THREADS = 16  # threads that take chat turns (the engine is synchronous); anyio's pool stays for the rest


def _open_runtime(settings: Settings):
    from assistant.runtime import Runtime

    runtime = Runtime.open(settings)
    try:
        runtime.warm_up()
    except BaseException:
        runtime.close()
        raise
    return runtime


def install_limits(state, settings: Settings, requests_per_minute: float, burst: int | None) -> None:
    """The rate limit and failed-credential limit, and the embedding counts: in Redis with FARGO_REDIS_URL, so
    they hold across every API process; in this process otherwise."""
    state.embedder_of = lambda: getattr(state.runtime, "embedder", None)
    if settings.redis_url is None:
        state.limiter = RateLimiter(requests_per_minute, burst)
        state.auth_failures = FailureLimiter(settings.auth_failure_limit, settings.auth_failure_window_s)
        state.shared_counts = None
        return
    redis = open_redis(settings.redis_url.get_secret_value())
    state.limiter = SharedRateLimiter(redis, requests_per_minute, burst)
    state.auth_failures = SharedFailureLimiter(redis, settings.auth_failure_limit, settings.auth_failure_window_s)
    state.shared_counts = SharedEmbeddingCounts(redis, state.embedder_of)


def from_environment() -> FastAPI:
    """The app with settings from the environment: the factory a process manager runs, several processes of it
    (`fargo up --workers N`, or `uvicorn --factory assistant.api.app:from_environment --workers N`)."""
    from assistant.settings import load_settings

    return create_app(load_settings())


def create_app(settings: Settings, *, requests_per_minute: float | None = None, burst: int | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, live_check_interval_s: float = LIVE_CHECK_INTERVAL_S,
               open_runtime=_open_runtime, turn_threads: int = TURN_THREADS) -> FastAPI:
    """Build the HTTP app; long-lived clients open in the lifespan and close after it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        store.ensure_indexes()
        app.state.store = store
        app.state.turn_executor = ThreadPoolExecutor(turn_threads, thread_name_prefix="chat-turn")
        app.state.warm_executor = warm_executor()
        start_warm_up(app.state)
        if app.state.shared_counts is not None:
            app.state.shared_counts.start()
        try:
            yield
        finally:
            if app.state.shared_counts is not None:
                app.state.shared_counts.stop()
            app.state.warm_executor.shutdown(wait=True, cancel_futures=True)
            app.state.turn_executor.shutdown(wait=True, cancel_futures=True)
            for runtime in (app.state.runtime, app.state.retired_runtime):
                if runtime is not None:
                    runtime.close()
            store.close()

    app = FastAPI(title="Fargo AI", version="0.1.0", lifespan=lifespan, dependencies=[Depends(valid_parameters)])
    app.state.settings = settings
    app.state.runtime = app.state.retired_runtime = None
    app.state.live_checked_at = 0.0
    app.state.live_check_interval_s = live_check_interval_s
    app.state.runtime_lock = threading.Lock()
    app.state.warm_lock = threading.Lock()
    app.state.warming = None
    app.state.open_runtime = open_runtime
    if requests_per_minute is None:
        requests_per_minute = getattr(settings, "requests_per_minute", REQUESTS_PER_MINUTE)
    install_limits(app.state, settings, requests_per_minute, burst)
    app.state.metrics = Metrics()
    app.state.metrics.watch_embeddings(app.state.embedder_of, app.state.shared_counts)
    app.state.token_secret = functools.cache(lambda: token_secret(settings))
    errors.install(app)
    for router in (ops_router, chat_router, openai_router, data_router, decisions_router, experiments_router,
                   consents_router, privacy_router, handoff_router, auth_router, widget_router, console_router):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.request_body_timeout_s)
    origins = list(getattr(settings, "cors_origins", None) or [])
    if origins:  # the web widget calls from the bank's own pages, another origin
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Accept"])
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    return app
