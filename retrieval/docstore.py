"""Fargo's document store: which database opens, its collections' indexes, and Fargo's own lookups.

Embedded default: NeoSQLite, a pymongo-like API over `<data_dir>/fargo.db`.
With `FARGO_MONGODB_URI` set: pymongo against MongoDB, database
`FARGO_DATABASE_NAME`. Both are used through `retrieval.mongo_compat`'s
`DocumentStore`, which behaves the same on either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from retrieval.errors import (
    DuplicateKeyError,
    StoreError,
    StoreUnavailable,
    UnsupportedQuery,
)
from retrieval.mongo_compat import (
    BulkWriteResult,
    Collection,
    DeleteResult,
    DocumentStore,
    IndexKeys,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
    apply_projection,
    is_real_mongodb,
    iso_datetime,
    normalise_filter,
    open_mongodb,
    open_neosqlite,
    storable,
)

__all__ = [
    "INDEXES",
    "SOCIAL_PLATFORMS",
    "BulkWriteResult",
    "Collection",
    "DeleteResult",
    "DocumentStore",
    "DuplicateKeyError",
    "InsertManyResult",
    "InsertOneResult",
    "StoreError",
    "StoreUnavailable",
    "UnsupportedQuery",
    "UpdateResult",
    "apply_projection",
    "feature_runs",
    "handle_filter",
    "is_real_mongodb",
    "iso_datetime",
    "live_feature_batches",
    "live_feature_documents",
    "live_pointer",
    "normalise_filter",
    "open_store",
    "storable",
]

EMBEDDED_FILE_NAME = "fargo.db"

# Platforms whose handle fields are indexed; a handle on any other platform is
# still found by `handle_filter`, by a scan.
SOCIAL_PLATFORMS = ("twitter", "instagram", "facebook", "linkedin", "tiktok")

# Every field the code looks documents up by. Only scalar fields: on NeoSQLite an
# index on a list-valued field hides documents whose list contains the value.
INDEXES: dict[str, list[tuple[IndexKeys, dict[str, Any]]]] = {
    "customers": [
        ("customer_id", {"unique": True}),
        ("last_name", {}),
        ("city", {}),
        *((f"social_handles.{platform}", {}) for platform in SOCIAL_PLATFORMS),
    ],
    "kyc_documents": [("customer_id", {})],
    "disclosures": [("customer_id", {})],
    "accounts": [("customer_id", {}), ("product_id", {})],
    "relationships": [("customer_id", {}), ("relative_id", {})],
    "transactions": [("customer_id", {})],
    "products": [("category", {})],
    "healthcare_services": [("kind", {}), ("city", {})],
    "campaign_events": [("customer_id", {}), ("campaign_id", {}), ("author_handle", {})],
    "features": [("customer_id", {}), ("run_id", {})],
    "graph_people": [("graph", {})],
    "job_runs": [("started_at", {})],
    "leads": [("customer_id", {})],
    "handoffs": [("status", {})],
    "audit": [("customer_id", {}), ("at", {})],
    "sessions": [("customer_id", {})],
    "decisions": [("customer_id", {}), ("at", {})],
    "responses": [("customer_id", {}), ("decision_id", {})],
    "console_sessions": [("expires_at", {})],
}


def handle_filter(platform: str, handle: str) -> dict[str, str]:
    """The customers filter for the owner of `handle` on `platform` (as stored in `social_handles`)."""
    return {f"social_handles.{platform}": handle}


class StoreSettings(Protocol):
    """What opening the store reads of Fargo's settings."""

    mongodb_uri: SecretStr | None
    database_name: str
    data_dir: Path


def open_store(settings: StoreSettings) -> DocumentStore:
    """Open the store `settings` name and check that it answers; raises StoreUnavailable if not."""
    if settings.mongodb_uri is not None:
        return open_mongodb(settings.mongodb_uri.get_secret_value(), settings.database_name, INDEXES)
    return open_neosqlite(Path(settings.data_dir) / EMBEDDED_FILE_NAME, settings.database_name, INDEXES)


LIVE_POINTER = "live"


def live_pointer(store: DocumentStore) -> dict | None:
    """The pointer the last good ingestion run published: its run id and `graph_file`, the name of its graph in the
    document store (`retrieval.neighbourhoods`)."""
    return store["meta"].find_one({"_id": LIVE_POINTER})


def feature_runs(store: DocumentStore, run_id: str) -> tuple[str, ...]:
    """The runs whose feature documents are run `run_id`'s features, newest first.

    A nightly run writes documents only for the customers that changed since the last full run; that full run's
    documents (`features_base` in the run's `job_runs` record) hold everyone else's.
    """
    run = store["job_runs"].find_one({"_id": run_id}, {"features_base": 1}) or {}
    return tuple(each for each in (run_id, run.get("features_base")) if each)


def live_feature_documents(store: DocumentStore, runs: Sequence[str | None], customer_ids: Sequence[str] | None,
                           projection: dict | None = None) -> dict[str, dict]:
    """customer id -> feature document, from the first of `runs` (newest first) that has one.

    Every customer's with `customer_ids` None. A projection must keep `customer_id` and `run_id`.
    """
    runs = [run for run in runs if run]
    found: dict[str, dict] = {}
    for run in runs:
        if customer_ids is None:
            query = {"run_id": run}
        else:
            query = {"_id": {"$in": [f"{run}:{cid}" for cid in customer_ids if cid not in found]}}
        for document in store["features"].find(query, projection):
            found.setdefault(document["customer_id"], document)
    return found


def live_feature_batches(store: DocumentStore, runs: Sequence[str | None], projection: dict | None = None,
                         batch_size: int = 1000) -> Iterator[list[dict]]:
    """Every customer's live feature document (as `live_feature_documents` finds them), a batch at a time: for
    reading the whole bank without holding it. A projection must keep `customer_id`."""
    runs = [run for run in runs if run]
    newer: set[str] = set()  # customers with a document in a newer run: a nightly run's changed customers
    for position, run in enumerate(runs):
        for batch in store["features"].find_batches({"run_id": run}, projection, batch_size):
            documents = [document for document in batch if document["customer_id"] not in newer]
            if position < len(runs) - 1:
                newer.update(document["customer_id"] for document in documents)
            if documents:
                yield documents
