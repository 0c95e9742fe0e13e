"""Replicas: API processes sharing one Redis hold one rate limit and one failed-credential limit between them, and
/metrics in any of them sums every process. Real servers on loopback (redis-server, uvicorn processes)."""

from __future__ import annotations

import logging
from pathlib import Path

import chromadb
import httpx
import pytest
from fastapi.testclient import TestClient
from loopback_servers import (
    api_processes,
    chroma_server,
    fargo_environment,
    needs_chroma,
    needs_redis,
    redis_server,
)
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from typer.testing import CliRunner

from assistant.api.app import create_app
from assistant.api.observability import SharedEmbeddingCounts
from assistant.api.ratelimit import SharedFailureLimiter, SharedRateLimiter, open_redis
from assistant.auth import create_key
from assistant.cli import app
from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.synth import synthesize
from retrieval.docstore import open_store

PER_MINUTE = 6  # and a burst of as many
FAILURES = 2


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def request_counts(metrics_text: str) -> dict[tuple[str, str], float]:
    """fargo_http_requests_total by (route, status)."""
    return {(sample.labels["route"], sample.labels["status"]): sample.value
            for family in text_string_to_metric_families(metrics_text) if family.name == "fargo_http_requests"
            for sample in family.samples if sample.name == "fargo_http_requests_total"}


@needs_redis
def test_two_api_processes_sharing_redis_hold_one_rate_limit_and_sum_their_metrics(tmp_path: Path):
    data_dir = tmp_path / "data"
    with open_store(Settings(data_dir=data_dir)) as store:
        key = create_key(store, "agent", "replica test")[0]
    (tmp_path / "prometheus").mkdir()
    with redis_server() as redis_url:
        env = fargo_environment(FARGO_DATA_DIR=str(data_dir), FARGO_REDIS_URL=redis_url,
                                FARGO_REQUESTS_PER_MINUTE=str(PER_MINUTE), FARGO_AUTH_FAILURE_LIMIT=str(FAILURES),
                                PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
        with api_processes(2, env) as (first, second):
            # another loopback address stands for another client: its failures are its own
            other_client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
            bad_keys = [other_client.get(f"{url}/v1/handoffs", headers=bearer("fgo_not-a-key"))
                        for url in (first, second)]
            after_failures = other_client.get(f"{first}/v1/handoffs", headers=bearer(key))

            answers = [httpx.get(f"{(first, second)[turn % 2]}/v1/handoffs", headers=bearer(key))
                       for turn in range(PER_MINUTE + 2)]
            metrics = httpx.get(f"{second}/metrics").text
        stored_keys = [name.decode() for name in Redis.from_url(redis_url).keys("fargo:*")]

    assert [answer.status_code for answer in bad_keys] == [401, 401]
    assert after_failures.status_code == 429 and "too many failed credentials" in after_failures.text
    # one bucket for the key across both processes: each process alone would have let 6 through
    assert [answer.status_code for answer in answers] == [200] * PER_MINUTE + [429, 429]
    assert float(answers[-1].headers["Retry-After"]) > 0
    counts = request_counts(metrics)
    assert counts[("/v1/handoffs", "200")] == PER_MINUTE
    assert counts[("/v1/handoffs", "429")] == 3  # 2 over the rate limit, 1 after the failures
    assert counts[("/v1/handoffs", "401")] == 2
    assert counts[("/healthz", "200")] >= 2  # each process answered the start-up probe
    # callers and addresses go to Redis as digests only
    assert stored_keys and not any("127.0.0" in name or key[:12] in name for name in stored_keys)


class Counting:
    def __init__(self):
        self.single_texts = {"cache": 0, "model": 0}


@needs_redis
def test_embedding_counts_of_every_process_add_up_in_redis():
    with redis_server() as redis_url:
        embedders = [Counting(), Counting()]
        processes = [SharedEmbeddingCounts(open_redis(redis_url), lambda e=e: e) for e in embedders]
        embedders[0].single_texts.update(cache=3, model=1)
        embedders[1].single_texts.update(cache=2, model=5)
        processes[1].flush()
        assert processes[0].totals() == {"cache": 5, "model": 6}
        embedders[0].single_texts["cache"] += 1  # counted again later: only the new count is added
        assert processes[1].totals() == {"cache": 5, "model": 6}  # the other process has not flushed it yet
        assert processes[0].totals() == {"cache": 6, "model": 6}


def test_limits_fall_back_to_this_process_while_redis_is_unreachable(unused_port: int, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("fargo"), "propagate", True)  # JSON logging turns it off in a server
    redis = open_redis(f"redis://127.0.0.1:{unused_port}/0")
    limiter, failures = SharedRateLimiter(redis, per_minute=60, burst=2), SharedFailureLimiter(redis, limit=1)

    assert [limiter.acquire("caller") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("caller") == pytest.approx(1.0, abs=0.1)
    failures.failed("10.0.0.1")
    assert failures.wait("10.0.0.1") > 0 and failures.wait("10.0.0.2") == 0
    assert SharedEmbeddingCounts(redis, Counting).totals() is None
    warnings = [record.getMessage() for record in caplog.records if record.name == "fargo.ratelimit"]
    assert len(warnings) == 2  # one line per limiter for the outage, not one per request
    assert all(line.startswith("rate limits counted per process: Redis (FARGO_REDIS_URL) failed") for line in warnings)


@pytest.mark.parametrize("settings, missing", [
    ({}, "FARGO_REDIS_URL and FARGO_CHROMA_URL"),
    ({"FARGO_CHROMA_URL": "http://127.0.0.1:9"}, "FARGO_REDIS_URL"),
    ({"FARGO_REDIS_URL": "redis://127.0.0.1:9/0"}, "FARGO_CHROMA_URL"),
])
def test_fargo_up_refuses_several_workers_without_shared_limits_and_vectors(tmp_path: Path, monkeypatch,
                                                                            settings: dict, missing: str):
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    for name in ("FARGO_MONGODB_URI", "FARGO_REDIS_URL", "FARGO_CHROMA_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(app, ["up", "--workers", "2"])

    assert result.exit_code == 2
    assert f"--workers 2 needs {missing}" in " ".join(result.output.split())
    assert not (tmp_path / "data" / "demo-bank").exists()  # refused before any work


@needs_chroma
def test_an_ingestion_into_a_chroma_server_answers_a_chat_turn_from_it(tmp_path: Path):
    with chroma_server(tmp_path / "chroma-server") as chroma_url:
        settings = Settings(data_dir=tmp_path / "data", source_dir=tmp_path / "source", chroma_url=chroma_url)
        synthesize(settings.source_dir, customers=40, seed=5)
        run_ingest_now(settings, mode="full")
        with TestClient(create_app(settings)) as client:
            store = client.app.state.store
            key = create_key(store, "agent", "chroma test")[0]
            customer = store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=1)[0]["_id"]
            turn = client.post("/v1/chat", json={"message": "which credit card would suit me?",
                                                 "customer_id": customer}, headers=bearer(key))
            readiness = client.get("/readyz").json()
        chroma = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
        indexed_products = {product for collection in chroma.list_collections()
                            if collection.name.startswith("products__") for product in collection.get(include=[])["ids"]}

    assert turn.status_code == 200, turn.text
    recommended = [offer["product_id"] for offer in turn.json()["recommendations"]]
    assert recommended and set(recommended) <= indexed_products  # the catalogue as the ingestion indexed it there
    assert readiness["checks"]["vectors"] == "ok"
    assert not (settings.data_dir / "chroma").exists()  # nothing went to an embedded store
