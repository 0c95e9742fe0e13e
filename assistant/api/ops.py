"""Liveness, readiness and metrics: for the orchestrator and Prometheus, no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assistant.api.observability import PROMETHEUS_CONTENT_TYPE
from assistant.api.warm import engine_readiness
from retrieval.docstore import live_pointer
from retrieval.errors import StoreError
from retrieval.vectors import VectorStoreError

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


def readiness(store) -> tuple[bool, dict[str, str]]:
    try:
        store.ping()
        pointer = live_pointer(store)
    except StoreError as exc:
        return False, {"store": f"unavailable: {exc}", "data": "unknown"}
    if pointer is None:
        return False, {"store": "ok", "data": "no data yet: run fargo ingest"}
    return True, {"store": "ok", "data": f"live run {pointer['run_id']}"}


def vector_readiness(runtime, url: str) -> tuple[bool, str]:
    try:
        runtime.vectors.ping()
    except VectorStoreError as exc:
        return False, f"unavailable: Chroma at {url}: {exc}"
    return True, "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the store answers, an ingestion run has published live data, the engine is open and warm (its
    models loaded, its indexes built: assistant.api.warm) and a Chroma server, if one is configured, answers; 503
    otherwise. Every probe asks the stores again, so it follows them going away and coming back."""
    state = request.app.state
    ready, checks = await run_in_threadpool(readiness, state.store)
    if ready:
        ready, checks["engine"] = await engine_readiness(state)
    if ready and state.settings.chroma_url:  # an embedded store cannot go away; a server can
        ready, checks["vectors"] = await run_in_threadpool(vector_readiness, state.runtime, state.settings.chroma_url)
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)
