"""Fargo's document store: which database opens, its collections' indexes, and Fargo's own lookups.

Embedded default: NeoSQLite, a pymongo-like API over `<data_dir>/fargo.db`.
With `FARGO_MONGODB_URI` set: pymongo against MongoDB, database
`FARGO_DATABASE_NAME`. Both are used through `retrieval.mongo_compat`'s
`DocumentStore`, which behaves the same on either.
"""

from __future__ import annotations

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
    "handle_filter",
    "is_real_mongodb",
    "iso_datetime",
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
    "features": [("customer_id", {})],
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
    """The pointer the last good ingestion run published: its run id and graph file."""
    return store["meta"].find_one({"_id": LIVE_POINTER})
