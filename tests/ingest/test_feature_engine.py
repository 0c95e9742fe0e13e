"""The feature engines give the same feature documents as the record-by-record python path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import count
from pathlib import Path

import pytest

from assistant.settings import Settings
import ingest.feature_engine as feature_engine
from ingest.feature_engine import FeatureEngineError, engine_features, export_records
from ingest.jobs import IngestJob
from ingest.loader import LoadSummary, load_directory
from ingest.synth import synthesize
from retrieval.docstore import DocumentStore, open_store

CUSTOMERS = 40
RUNS = count()

# Customers the synthetic bank does not make: nothing held or spent, income only, a history older than its records.
EDGE_CUSTOMER = {
    "date_of_birth": "1990-02-03", "city": "Reno", "annual_income": 0.0, "marital_status": "single",
    "dependants": 0, "occupation": "", "risk_appetite": "low",
}
EDGE_RECORDS = {
    "customers": [
        {"_id": "E1", "customer_id": "E1", **EDGE_CUSTOMER, "customer_since": None},
        {"_id": "E2", "customer_id": "E2", **EDGE_CUSTOMER, "customer_since": "2026-05-17"},
        {"_id": "E3", "customer_id": "E3", **EDGE_CUSTOMER, "customer_since": "2001-01-01"},
    ],
    "accounts": [
        {"_id": "EA1", "customer_id": "E2", "product_id": "P001", "opened_at": "2026-06-02", "balance": None,
         "status": "open"},
        {"_id": "EA2", "customer_id": "E2", "product_id": "P002", "opened_at": "2026-06-02", "balance": 50.0,
         "status": "closed"},
    ],
    "transactions": [
        {"_id": "E2:2026-07", "customer_id": "E2", "month": "2026-07", "transactions": [
            {"date": "2026-07-01", "amount": 3000.0, "category": "salary", "channel": "transfer"},
            {"date": "2026-07-03", "amount": 0.0, "category": "refund", "channel": "online"},
        ]},
        {"_id": "E3:2026-08", "customer_id": "E3", "month": "2026-08", "transactions": [
            {"date": "2026-08-09", "amount": -12.5, "category": "dining", "channel": "card_present"},
        ]},
    ],
    "disclosures": [{"_id": "ED1", "customer_id": "E3", "kind": "health", "topic": "asthma"}],
}


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Iterator[tuple[DocumentStore, Path, LoadSummary]]:
    """A small synthetic bank loaded into the embedded store, with the edge customers added."""
    root = tmp_path_factory.mktemp("bank")
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    synthesize(settings.source_dir, customers=CUSTOMERS, seed=5)
    with (settings.source_dir / "transactions.csv").open("a") as csv:
        csv.write("T9999999999,C0000001,A00000001,2026-09-01,lots,Nowhere,dining,5812,online\n")
    with open_store(settings) as store:
        store.ensure_indexes()
        summary = load_directory(store, settings.source_dir)
        for name, docs in EDGE_RECORDS.items():
            store[name].insert_many(docs)
        yield store, root, summary


def features(store: DocumentStore, root: Path, engine: str, **options) -> dict[str, dict]:
    run_id = f"run-{engine}-{next(RUNS)}"
    IngestJob(store, None, root / "graph", feature_engine=engine, **options).build_features(run_id)
    return {doc["customer_id"]: without_keys(doc) for doc in store["features"].find({"run_id": run_id})}


def without_keys(doc: dict) -> dict:
    return {key: value for key, value in doc.items() if key not in ("_id", "run_id")}


def test_duckdb_gives_the_python_paths_feature_documents(bank):
    store, root, _ = bank
    by_python = features(store, root, "python")
    by_duckdb = features(store, root, "duckdb")
    assert len(by_python) == CUSTOMERS + len(EDGE_RECORDS["customers"])
    assert by_duckdb == by_python
    assert by_duckdb["E2"]["income_estimate"] == 36_000.0 and by_duckdb["E2"]["products_held"] == ["P001"]
    assert any(doc["spend_trend"] for doc in by_duckdb.values())  # the bank exercises trends, not only zeros


def test_records_exported_in_many_parquet_parts_give_the_same_features_as_in_one(bank, tmp_path, monkeypatch):
    store, _, _ = bank
    as_of = date(2026, 9, 30)
    export_records(store, tmp_path / "one")
    monkeypatch.setattr(feature_engine, "PARQUET_PART_BYTES", 8_000)
    export_records(store, tmp_path / "many")
    parts = sorted(path.name for path in (tmp_path / "many" / "transactions").iterdir())
    assert len(parts) > 5 and all(name.endswith(".parquet") for name in parts)  # no JSON lines left behind
    assert [path.name for path in (tmp_path / "one" / "kyc_documents").iterdir()] == ["part-00000.parquet"]
    assert list(engine_features("duckdb", tmp_path / "many", as_of, {})) == \
        list(engine_features("duckdb", tmp_path / "one", as_of, {}))


def test_a_bad_source_row_is_reported_and_the_engine_runs_without_it(bank):
    store, root, summary = bank
    rejected = [str(rejection) for rejection in summary.rejections]
    assert any(line.startswith("transactions.csv:") and "amount" in line for line in rejected)
    assert len(features(store, root, "duckdb")) == CUSTOMERS + len(EDGE_RECORDS["customers"])
    assert not (root / "work").exists() or not any((root / "work").iterdir())  # exports removed after the stage


def test_an_unknown_engine_is_refused_naming_the_choices(bank, tmp_path):
    store, root, _ = bank
    with pytest.raises(ValueError, match="duckdb, spark, python"):
        IngestJob(store, None, root / "graph", feature_engine="pandas")
    with pytest.raises(FeatureEngineError, match="unknown feature engine"):
        next(engine_features("pandas", tmp_path, date(2026, 9, 30), {}))


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_gives_the_same_feature_documents_as_duckdb(bank):
    pytest.importorskip("pyspark")
    from ingest.feature_engine import spark_session

    store, root, _ = bank
    try:
        by_spark = features(store, root, "spark", spark_master="local[2]")
    finally:
        spark_session().stop()
    assert by_spark == features(store, root, "duckdb")


def test_a_local_spark_splits_a_large_bank_into_partitions_its_driver_can_hold():
    from ingest.feature_engine import local_partitions

    assert local_partitions(2_000) == local_partitions(100_000) == 4  # as measured at 100,000 customers
    assert local_partitions(1_000_000) == 40  # 4 partitions ran a 4 GB driver out of heap at a million


def test_an_operator_sets_the_local_spark_heap_with_sparks_own_variable(monkeypatch):
    from ingest.feature_engine import LOCAL_DRIVER_MEMORY, driver_memory

    monkeypatch.delenv("SPARK_DRIVER_MEMORY", raising=False)
    assert driver_memory() == LOCAL_DRIVER_MEMORY == "4g"
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", "12g")  # a million customers ran 4 GB out of heap
    assert driver_memory() == "12g"
