"""The FastAPI app factory: nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from assistant.settings import Settings
from retrieval.docstore import open_store


def create_app(settings: Settings) -> FastAPI:
    """Build the HTTP app; long-lived clients open in the lifespan and close after it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        store.ensure_indexes()
        app.state.store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="Fargo AI", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process is up and serving."""
        return {"status": "ok"}

    return app
