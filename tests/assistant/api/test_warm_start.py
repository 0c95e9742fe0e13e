"""Warm start: the engine opens (and warms up) at start-up in the background; /readyz says ready only after."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.auth import create_key
from assistant.settings import Settings
from retrieval.docstore import open_store


def live_data(settings: Settings) -> None:
    """A live pointer, as a completed ingestion run leaves it."""
    with open_store(settings) as store:
        store["meta"].replace_one({"_id": "live"}, {"_id": "live", "run_id": "run-1", "graph_file": "g"}, upsert=True)


def test_readyz_says_warming_up_until_the_engine_is_open_and_a_request_meanwhile_waits_for_that_one(tmp_path):
    settings = Settings(data_dir=tmp_path)
    live_data(settings)
    release, opened = threading.Event(), []

    def open_slowly(_settings):
        release.wait(10)
        runtime = SimpleNamespace(ctx=SimpleNamespace(run_id="run-1"), close=lambda: None,
                                  engine=SimpleNamespace(tools=SimpleNamespace(call=lambda *a, **k: [])))
        opened.append(runtime)
        return runtime

    with TestClient(create_app(settings, open_runtime=open_slowly)) as client:
        key, _ = create_key(client.app.state.store, "developer", "dev")
        warming = client.get("/readyz")
        healthy = client.get("/healthz")
        with ThreadPoolExecutor(1) as pool:
            search = pool.submit(client.get, "/v1/products/search", params={"q": "loan"},
                                 headers={"Authorization": f"Bearer {key}"})
            release.set()
            searched = search.result(timeout=10)
        ready = client.get("/readyz")

    assert warming.status_code == 503 and warming.json()["checks"]["engine"].startswith("warming up")
    assert healthy.status_code == 200
    assert searched.status_code == 200 and len(opened) == 1
    assert ready.status_code == 200 and ready.json()["checks"]["engine"] == "warm"


def test_an_engine_that_fails_to_open_is_reported_by_readyz_and_tried_again_at_the_next_probe(tmp_path):
    settings = Settings(data_dir=tmp_path)
    live_data(settings)
    broken = threading.Event()
    broken.set()

    def open_unless_broken(_settings):
        if broken.is_set():
            raise OSError("chroma directory is missing")
        return SimpleNamespace(ctx=SimpleNamespace(run_id="run-1"), close=lambda: None)

    with TestClient(create_app(settings, open_runtime=open_unless_broken)) as client:
        failed = client.get("/readyz")
        broken.clear()
        ready = client.get("/readyz")

    assert failed.status_code == 503 and "chroma directory is missing" in failed.json()["checks"]["engine"]
    assert ready.status_code == 200 and ready.json()["checks"]["engine"] == "warm"
