"""A bank deployed on its servers together, all real and on loopback: the MongoDB wire-protocol stand-in (nx-27017)
for documents, a Chroma server (`chroma run`) for vectors and Redis for the worker's queue. A full ingestion runs as
a queued job on a worker consuming from Redis, a chat turn is answered from what it wrote, and a campaign post sent
to the campaign server becomes a lead through the campaign drain on the same worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import chromadb
import orjson
import pytest
from fastapi.testclient import TestClient
from huey.consumer import Consumer
from loopback_servers import chroma_server, needs_chroma, needs_redis, redis_server
from pymongo import MongoClient

from assistant.api.app import create_app
from assistant.auth import create_key
from assistant.campaign.server import create_campaign_app, sign
from assistant.settings import Settings
from assistant.worker import make_huey
from ingest.synth import synthesize

SOURCE, SECRET = "meta-webhook", "secret-of-the-servers-test"
TRAVEL_POST = "Counting down to Lisbon! Need a card with no foreign fees on flights"
JOB_TIMEOUT_S = 120


@contextmanager
def worker_on_redis(settings: Settings) -> Iterator:
    """`fargo worker`'s queue and tasks (huey on FARGO_REDIS_URL), consumed by threads of this process."""
    huey = make_huey(settings)
    consumer = Consumer(huey, workers=1, worker_type="thread", periodic=False)
    consumer._set_signal_handlers = lambda: None  # leave pytest's signal handlers alone
    consumer.start()
    try:
        yield huey
    finally:
        consumer.stop(graceful=True)


def signed_post(client: TestClient, events: list[dict]):
    body = orjson.dumps({"events": events})
    return client.post("/v1/campaign/events", content=body, headers={
        "X-Fargo-Source": SOURCE, "X-Fargo-Signature": sign(SECRET, body), "Content-Type": "application/json"})


def campaign_event(number: int, handle: str) -> dict:
    return {"event_id": f"SRV{number:03d}", "campaign_id": "CMP01", "platform": "instagram", "author_handle": handle,
            "customer_id": None, "type": "comment", "text": TRAVEL_POST, "timestamp": "2026-11-20T10:00:00"}


@pytest.fixture
def database(mongo_server: str) -> Iterator[str]:
    name = f"servers_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(mongo_server, serverSelectionTimeoutMS=2000) as client:
        client.drop_database(name)


@needs_redis
@needs_chroma
def test_a_bank_on_mongodb_chroma_and_redis_ingests_answers_and_turns_a_campaign_post_into_a_lead(
        tmp_path: Path, mongo_server: str, database: str):
    synthesize(tmp_path / "source", customers=40, seed=5)
    with redis_server() as redis_url, chroma_server(tmp_path / "chroma-server") as chroma_url:
        settings = Settings(data_dir=tmp_path / "data", source_dir=tmp_path / "source", mongodb_uri=mongo_server,
                            database_name=database, chroma_url=chroma_url, redis_url=redis_url,
                            campaign_secrets={SOURCE: SECRET})
        with worker_on_redis(settings) as worker:
            run_id = worker.fargo_ingest(mode="full").get(blocking=True, timeout=JOB_TIMEOUT_S)

            with TestClient(create_app(settings)) as api:
                store = api.app.state.store
                key = create_key(store, "agent", "servers test")[0]
                posters = list(store["customers"].find({"social_handles.instagram": {"$exists": True},
                                                         "consent.profiling": True}, limit=8))
                turn = api.post("/v1/chat", json={"message": "which credit card would suit me?",
                                                  "customer_id": posters[0]["_id"]},
                                headers={"Authorization": f"Bearer {key}"})
                readiness = api.get("/readyz").json()

            with TestClient(create_campaign_app(settings)) as campaigns:
                posts = [campaign_event(number, poster["social_handles"]["instagram"].upper())  # any spelling
                         for number, poster in enumerate(posters)] + [campaign_event(99, "someone.not.a.customer")]
                posted = signed_post(campaigns, posts)
                drained = worker.fargo_campaign_drain().get(blocking=True, timeout=JOB_TIMEOUT_S)
                leads = campaigns.get("/v1/campaign/leads", params={"campaign_id": "CMP01"},
                                      headers={"Authorization": f"Bearer {key}"})

        chroma = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
        indexed_products = {product for collection in chroma.list_collections()
                            if collection.name.startswith("products__") for product in collection.get(include=[])["ids"]}
    with MongoClient(mongo_server) as mongo:
        runs = list(mongo[database]["job_runs"].find({"_id": run_id}))
        customers_in_mongo = mongo[database]["customers"].count_documents({})

    assert runs and runs[0]["status"] == "succeeded"
    assert customers_in_mongo == 40
    assert turn.status_code == 200, turn.text
    recommended = [offer["product_id"] for offer in turn.json()["recommendations"]]
    assert recommended and set(recommended) <= indexed_products  # ranked from the vectors in the Chroma server
    assert readiness["status"] == "ready" and readiness["checks"]["vectors"] == "ok"
    assert not (settings.data_dir / "chroma").exists()  # nothing went to an embedded vector store

    assert posted.status_code == 202 and posted.json()["accepted"] == len(posts)
    assert drained == len(posts)
    assert leads.status_code == 200, leads.text
    # each lead is a poster's (the stranger's post is an anonymous insight), for the campaign's products, quoting it;
    # a poster gets none when the bank may not offer them either product (held, income, risk)
    assert leads.json()["leads"]
    for lead in leads.json()["leads"]:
        assert lead["customer_id"] in {poster["_id"] for poster in posters}
        assert lead["product_id"] in {"P010", "P047"} and TRAVEL_POST in lead["reason"]
