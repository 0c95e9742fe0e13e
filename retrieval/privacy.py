"""What ingestion must honour of a customer's privacy choices made through Fargo: consent changes and erasures.

Both live in the document store, so every process (API, worker, CLI) and every
ingestion run sees them:

- `consent_changes`: per customer, the consents changed through Fargo (the API,
  the console, the conversation). When a source file and Fargo disagree, the
  withdrawal wins: a consent is on only if both say so. A withdrawal made here
  therefore survives the next ingestion run of an older source file.
- `erasures`: the customers erased, as keyed hashes of their id and of their
  social handles only (`pseudonym`), never the plain id. Ingestion skips every
  record about them and counts it as skipped.

The hash key is a secret kept outside the store (FARGO_PSEUDONYM_KEY, or in
demo mode a file in the data dir), so the list cannot be reversed by hashing
every plausible customer id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from retrieval.errors import FargoError
from retrieval.records import Consent

CONSENT_NAMES = tuple(Consent.model_fields)
CONSENT_CHANGES = "consent_changes"
ERASURES = "erasures"


class PseudonymKeyMissing(FargoError, RuntimeError):
    """Erasing, or ingesting beside an erasure list, needs the key the list was hashed with."""

    status = 503
    kind = "not_configured"


def pseudonym(key: bytes, value: str) -> str:
    """A stable keyed hash of an identifier: the same id gives the same pseudonym under the same key."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


# -- consent -----------------------------------------------------------------------------------------------------------
def recorded_consents(store) -> dict[str, dict[str, bool]]:
    """customer id -> the consents changed through Fargo (only the names changed)."""
    return {doc["_id"]: dict(doc.get("consent") or {}) for doc in store[CONSENT_CHANGES].find({})}


def record_consent_change(store, customer_id: str, changes: Mapping[str, bool]) -> None:
    """Keep Fargo's record of the consents just changed, so ingestion does not undo them."""
    updates = {f"consent.{name}": bool(value) for name, value in changes.items()}
    store[CONSENT_CHANGES].update_one({"_id": customer_id}, {"$set": updates | {"changed_at": _now()}}, upsert=True)


def effective_consent(from_source: Mapping[str, bool], recorded: Mapping[str, bool]) -> dict[str, bool]:
    """The consent to store: a name Fargo recorded is on only if the source file and Fargo both say so."""
    merged = dict(from_source)
    for name, value in recorded.items():
        merged[name] = bool(from_source.get(name, False)) and bool(value)
    return merged


# -- erasure -----------------------------------------------------------------------------------------------------------
def handle_key(platform: str, handle: str) -> str:
    """One spelling per handle: "@Ann.Travels" and "ann.travels" on a platform are the same author."""
    return f"{platform.strip().lower()}:{handle.strip().lstrip('@').lower()}"


class ErasureList:
    """The erased customers, as pseudonyms; ingestion asks it about every record it reads."""

    def __init__(self, store, key: bytes | None) -> None:
        self.store = store
        self.key = key
        documents = list(store[ERASURES].find({}))  # a raw pymongo or neosqlite cursor is truthy even when empty
        if documents and key is None:
            raise PseudonymKeyMissing(
                "customers have been erased: set FARGO_PSEUDONYM_KEY to the key they were erased with")
        self._customers = {doc["_id"] for doc in documents}
        self._handles = {handle for doc in documents for handle in doc.get("handles", [])}
        self._seen: dict[str, bool] = {}

    def __len__(self) -> int:
        return len(self._customers)

    def _key(self) -> bytes:
        if self.key is None:
            raise PseudonymKeyMissing("set FARGO_PSEUDONYM_KEY (at least 32 random characters) to erase customers")
        return self.key

    def add(self, customer_id: str, handles: Iterable[tuple[str, str]] = ()) -> str:
        """Put a customer (and their social handles) on the list; returns their pseudonym."""
        key = self._key()
        hashed = pseudonym(key, customer_id)
        hashed_handles = sorted({pseudonym(key, handle_key(*pair)) for pair in handles})
        self.store[ERASURES].update_one({"_id": hashed}, {"$set": {"handles": hashed_handles, "erased_at": _now()}},
                                        upsert=True)
        self._customers.add(hashed)
        self._handles.update(hashed_handles)
        self._seen.pop(customer_id, None)
        return hashed

    def holds(self, customer_id: str | None) -> bool:
        if not customer_id or not self._customers:
            return False
        if customer_id not in self._seen:
            self._seen[customer_id] = pseudonym(self._key(), customer_id) in self._customers
        return self._seen[customer_id]

    def holds_handle(self, platform: str | None, handle: str | None) -> bool:
        if not (platform and handle and self._handles):
            return False
        return pseudonym(self._key(), handle_key(platform, handle)) in self._handles

    def covers(self, record: Mapping) -> bool:
        """Whether a source record is about an erased customer: as the customer, the relative or the author."""
        return (self.holds(record.get("customer_id")) or self.holds(record.get("relative_id"))
                or self.holds_handle(record.get("platform"), record.get("author_handle")))
