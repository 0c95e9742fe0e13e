"""The ingestion job: every stage lands, a dead run leaves the last good version serving."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import orjson
import pytest
from tiny_encoder import TinyEncoder

from assistant.settings import Settings, parse_cron
from assistant.worker import make_huey, run_ingest_now
from ingest.jobs import IngestError, IngestJob, list_runs
from ingest.synth import synthesize
from retrieval.docstore import (
    feature_runs,
    live_feature_documents,
    live_pointer,
    open_store,
)
from retrieval.embeddings import get_embedder
from retrieval.neighbourhoods import StoredGraph, load_stats
from retrieval.vectors import VectorIndexes

CUSTOMERS = 80


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Settings:
    """A small synthetic bank, ingested once for the module."""
    root = tmp_path_factory.mktemp("bank")
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    synthesize(settings.source_dir, customers=CUSTOMERS, seed=11)
    run_ingest_now(settings, mode="full")
    return settings


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_travel_cards_come_first_for_a_travel_rewards_query(bank: Settings):
    with open_store(bank) as store, VectorIndexes.open(bank, get_embedder()) as vectors:
        hits = vectors.query("products", text="card with travel rewards", k=3)
        first = store["products"].find_one({"_id": hits[0].id})

    assert first["category"] == "card"
    assert "travel" in first["name"].lower()


def test_the_graph_holds_every_relationship_in_the_source_files(bank: Settings):
    source = read_jsonl(bank.source_dir / "relationships.jsonl")
    with open_store(bank) as store:
        name = live_pointer(store)["graph_file"]
        graph, stats = StoredGraph(store, name), load_stats(store, name)
        edges = {relationship["relationship_id"]: graph.relationship(relationship["relationship_id"])
                 for relationship in source}

    for relationship in source:
        edge = edges[relationship["relationship_id"]]
        assert edge["relation"] == relationship["relation"]
        assert edge["consent_to_share"] == relationship["consent_to_share"]
    assert stats.contexts()
    assert sum(stats.customer_context_sizes.values()) >= len({record["customer_id"] for record in source}) > 0


def test_every_customer_has_live_features(bank: Settings):
    with open_store(bank) as store:
        run_id = live_pointer(store)["run_id"]
        with_features = {doc["customer_id"] for doc in store["features"].find({"run_id": run_id}, {"customer_id": 1})}
        customers = {doc["_id"] for doc in store["customers"].find({}, {"_id": 1})}

    assert len(customers) == CUSTOMERS
    assert with_features == customers


def test_runs_are_recorded_with_counts_per_stage(bank: Settings):
    with open_store(bank) as store:
        latest = list_runs(store, 1)[0]

    assert latest["status"] == "succeeded"
    assert set(latest["stages"]) == {"load", "features", "indexes", "graph"}
    assert latest["stages"]["features"]["count"] == CUSTOMERS
    assert latest["ended_at"] >= latest["started_at"]


def test_incremental_run_recomputes_only_changed_customers(bank: Settings):
    customers_file = bank.source_dir / "customers.jsonl"
    original = customers_file.read_bytes()
    rows = read_jsonl(customers_file)
    rows[0]["city"] = "Anchorage"
    customers_file.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    try:
        run = run_ingest_now(bank, mode="incremental")
    finally:
        customers_file.write_bytes(original)

    assert run.mode == "incremental"
    assert run.stages["features"].count == 1
    assert run.stages["indexes"].count == 0  # catalogue unchanged: live indexes kept
    with open_store(bank) as store:
        assert live_pointer(store)["run_id"] == run.run_id
        changed = store["features"].find_one({"_id": f"{run.run_id}:{rows[0]['customer_id']}"})
        assert changed["city"] == "Anchorage"
        assert store["features"].count_documents({"run_id": run.run_id}) == 1  # the rest: the full run's
        assert len(live_feature_documents(store, feature_runs(store, run.run_id), None)) == CUSTOMERS


def raise_in_index_stage(stage: str, done: int) -> None:
    if stage == "indexes":
        raise RuntimeError("disk full (injected)")


def kill_in_index_stage(stage: str, done: int) -> None:
    if stage == "indexes":
        os.kill(os.getpid(), signal.SIGKILL)


def ingest_with_fault(settings: Settings, fault) -> None:
    run_ingest_now(settings, mode="full", fault=fault)


def serving_answer(settings: Settings) -> tuple[str, str]:
    """What the service would read: the live run id and the top product for a travel query."""
    with open_store(settings) as store, VectorIndexes.open(settings, get_embedder()) as vectors:
        run_id = live_pointer(store)["run_id"]
        assert len(live_feature_documents(store, feature_runs(store, run_id), None)) == CUSTOMERS
        assert load_stats(store, live_pointer(store)["graph_file"]).customers == CUSTOMERS
        return run_id, vectors.query("products", text="card with travel rewards", k=1)[0].id


def test_a_failing_run_leaves_the_previous_version_serving(bank: Settings):
    before = serving_answer(bank)

    with pytest.raises(IngestError, match="disk full"):
        run_ingest_now(bank, mode="full", fault=raise_in_index_stage)

    assert serving_answer(bank) == before
    with open_store(bank) as store:
        assert list_runs(store, 1)[0]["status"] == "failed"


def test_a_run_killed_mid_index_leaves_the_previous_version_and_the_next_run_cleans_up(bank: Settings):
    before = serving_answer(bank)
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=ingest_with_fault, args=(bank, kill_in_index_stage))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL

    assert serving_answer(bank) == before
    with open_store(bank) as store:
        killed = list_runs(store, 1)[0]
        assert killed["status"] == "running"  # it never got to say anything else
        assert store["features"].count_documents({"run_id": killed["_id"]}) > 0  # its leftovers

    run = run_ingest_now(bank, mode="full")

    assert run.status == "succeeded"
    with open_store(bank) as store:
        assert store["job_runs"].find_one({"_id": killed["_id"]})["status"] == "abandoned"
        assert store["features"].count_documents({"run_id": killed["_id"]}) == 0
        assert live_pointer(store)["run_id"] == run.run_id
    assert serving_answer(bank)[0] == run.run_id


def test_the_ingest_task_runs_through_the_queue(bank: Settings):
    queue = make_huey(bank)
    queue.immediate = True

    run_id = queue.fargo_ingest("incremental")

    with open_store(bank) as store:
        assert live_pointer(store)["run_id"] == run_id()


def test_cron_expressions_are_checked():
    assert parse_cron("0 2 * * *").hour == "2"
    with pytest.raises(ValueError, match="5 fields"):
        parse_cron("0 2 * *")
    with pytest.raises(ValueError):
        parse_cron("0 25 * * *")


def test_an_unknown_mode_is_refused(bank: Settings):
    with open_store(bank) as store:
        with pytest.raises(ValueError, match="full' or 'incremental"):
            IngestJob(store, None, bank.data_dir / "graph").run(mode="sometimes")


def test_a_changed_encoder_rebuilds_every_index_at_the_next_incremental_run(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", source_dir=tmp_path / "source")
    synthesize(settings.source_dir, customers=12, seed=3)
    first, second = TinyEncoder("tiny-a"), TinyEncoder("tiny-b", dimension=32)

    def ingest(encoder, mode):
        with open_store(settings) as store, VectorIndexes.open(settings, encoder) as vectors:
            run = IngestJob(store, vectors, settings.data_dir / "graph").run(mode=mode, source_dir=settings.source_dir)
            return run, vectors.other_encoder_indexes(), vectors.query("products", text="travel card", k=1)

    ingest(first, "full")
    unchanged, _, _ = ingest(first, "incremental")
    assert unchanged.stages["indexes"].count == 0  # same encoder, same catalogue: the live indexes stay
    embedded_before = second.embedded
    rebuilt, stale_after, hits = ingest(second, "incremental")
    assert rebuilt.stages["indexes"].count > 0 and second.embedded > embedded_before + 1
    assert stale_after == {} and len(hits) == 1
    with VectorIndexes.open(settings, first) as vectors:
        assert set(vectors.other_encoder_indexes().values()) == {"tiny-b"}
