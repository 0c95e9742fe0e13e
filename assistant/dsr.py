"""Data-subject requests: export everything Fargo holds about a customer, or erase them from every store.

Erasure removes the customer's records from the document store (their own
collections, the relationships either side of them, their campaign posts,
sessions, feedback, leads, hand-offs, offers made and responses to them, features of every run), their posts from
every version of the Chroma index that holds them, and them and the relatives
only they told us about from the live relationship graph. Audit entries stay
(the bank must show who saw what) with the customer's id replaced by a keyed
hash. The customer goes on the erasure list (`retrieval.privacy`) so the next
ingestion run skips them. The service reloads its in-memory data within its
live check (`assistant.api.deps`); the live pointer records when it was revised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assistant import audit
from assistant.auth import demo_secret
from assistant.callers import Caller
from assistant.consents import CustomerNotFound
from retrieval.docstore import LIVE_POINTER, live_pointer
from retrieval.neighbourhoods import erase_from_graphs
from retrieval.privacy import (
    CONSENT_CHANGES,
    ErasureList,
    PseudonymKeyMissing,
    pseudonym,
)
from tools.campaign import handle_spellings

PSEUDONYM_KEY_FILE = "pseudonym_key"
CAMPAIGN_INDEX = "campaign_posts"
# Collections whose documents are about one customer, by their `customer_id` field.
BY_CUSTOMER_ID = ("kyc_documents", "disclosures", "accounts", "transactions", "features", "sessions", "feedback",
                  "leads", "handoffs", "decisions", "responses")


def pseudonym_key(settings) -> bytes | None:
    """FARGO_PSEUDONYM_KEY, or in demo mode a key kept in the data dir; None when neither is there."""
    configured = getattr(settings, "pseudonym_key", None)
    if configured is not None:
        return configured.get_secret_value().encode()
    if settings.demo_mode:
        return demo_secret(Path(settings.data_dir) / PSEUDONYM_KEY_FILE)
    return None


def erased_label(key: bytes, customer_id: str) -> str:
    """What stands for an erased customer in the audit log: stable, so their entries still group together."""
    return f"erased:{pseudonym(key, customer_id)[:32]}"


# -- export ------------------------------------------------------------------------------------------------------------
def export_customer(store, customer_id: str) -> dict:
    """Everything the document store holds about the customer, by collection, as plain JSON-able data."""
    customer = store["customers"].find_one({"_id": customer_id})
    if customer is None:
        raise CustomerNotFound(f"no customer with id {customer_id!r}")
    held = {"customer": customer}
    for collection in BY_CUSTOMER_ID:
        held[collection] = store[collection].find({"customer_id": customer_id})
    held["relationships"] = _relationships(store, customer_id)
    held["campaign_events"] = _campaign_events(store, customer)
    held["consent_changes"] = store[CONSENT_CHANGES].find({"_id": customer_id})
    held["audit"] = store[audit.AUDIT].find({"customer_id": customer_id}, sort=[("at", 1)])
    exported = {"customer_id": customer_id, "exported_at": datetime.now(UTC).isoformat(), "data": held}
    return json.loads(json.dumps(exported, default=str))


def _relationships(store, customer_id: str) -> list[dict]:
    return [*store["relationships"].find({"customer_id": customer_id}),
            *store["relationships"].find({"relative_id": customer_id})]


def _handles(customer: dict) -> list[tuple[str, str]]:
    return sorted((customer.get("social_handles") or {}).items())


def _campaign_events(store, customer: dict) -> list[dict]:
    """Their posts: by the id a trusted source gave, the author the campaign worker resolved, or their handles."""
    found = {doc["_id"]: doc for side in ("customer_id", "resolved_customer_id")
             for doc in store["campaign_events"].find({side: customer["_id"]})}
    for platform, handle in _handles(customer):
        spellings = handle_spellings(handle)
        for doc in store["campaign_events"].find({"platform": platform, "author_handle": {"$in": spellings}}):
            found[doc["_id"]] = doc
    return list(found.values())


# -- erasure -----------------------------------------------------------------------------------------------------------
@dataclass
class ErasureReport:
    customer: str  # the pseudonym now standing for them
    deleted: dict[str, int] = field(default_factory=dict)  # collection -> documents deleted
    audit_pseudonymised: int = 0
    vectors_deleted: int = 0
    graph_nodes_removed: int = 0


def erase(settings, store, caller: Caller, customer_id: str, vectors=None) -> ErasureReport:
    """`erase_customer` with what the settings name: the pseudonym key, the vector indexes (opened here unless
    given)."""
    from retrieval.vectors import VectorIndexes

    key = pseudonym_key(settings)
    if key is None:
        raise PseudonymKeyMissing("set FARGO_PSEUDONYM_KEY (at least 32 random characters) to erase customers")
    if vectors is not None:
        return erase_customer(store, vectors, key, caller, customer_id)
    with VectorIndexes.open(settings, None) as opened:
        return erase_customer(store, opened, key, caller, customer_id)


def erase_customer(store, vectors, key: bytes, caller: Caller, customer_id: str) -> ErasureReport:
    """Erase the customer from every store and put them on the erasure list; raises CustomerNotFound."""
    customer = store["customers"].find_one({"_id": customer_id})
    if customer is None:
        raise CustomerNotFound(f"no customer with id {customer_id!r}")
    erasures = ErasureList(store, key)
    report = ErasureReport(erased_label(key, customer_id))
    erasures.add(customer_id, _handles(customer))
    events = _campaign_events(store, customer)
    report.deleted = _delete_documents(store, customer_id, [event["_id"] for event in events])
    report.vectors_deleted = len(events) if vectors.forget(CAMPAIGN_INDEX, [e["_id"] for e in events]) else 0
    report.graph_nodes_removed = _prune_graph(store, customer_id)
    report.audit_pseudonymised = _pseudonymise_audit(store, customer_id, report.customer)
    _scrub_job_errors(store, customer_id, report.customer)
    audit.record(store, caller, report.customer, "erase", allowed=True)
    return report


def _delete_documents(store, customer_id: str, event_ids: list[str]) -> dict[str, int]:
    deleted = {"customers": store["customers"].delete_many({"_id": customer_id}).deleted_count,
               CONSENT_CHANGES: store[CONSENT_CHANGES].delete_many({"_id": customer_id}).deleted_count}
    for collection in BY_CUSTOMER_ID:
        deleted[collection] = store[collection].delete_many({"customer_id": customer_id}).deleted_count
    deleted["relationships"] = sum(store["relationships"].delete_many({side: customer_id}).deleted_count
                                   for side in ("customer_id", "relative_id"))
    deleted["campaign_events"] = store["campaign_events"].delete_many({"_id": {"$in": event_ids}}).deleted_count
    return deleted


def _prune_graph(store, customer_id: str) -> int:
    """Remove the customer, and the relatives only they told us about, from every stored graph (the live one, and
    any kept or still being built); returns how many people left the live graph."""
    live = (live_pointer(store) or {}).get("graph_file")
    removed = erase_from_graphs(store, customer_id)
    if removed.get(live):
        store["meta"].update_one({"_id": LIVE_POINTER}, {"$set": {"revised_at": datetime.now(UTC).isoformat()}})
    return removed.get(live, 0)


def _pseudonymise_audit(store, customer_id: str, label: str) -> int:
    """Entries about the customer, or made with their own token, keep everything but who they were about."""
    changed = 0
    for entry in store[audit.AUDIT].find({"$or": [{"customer_id": customer_id}, {"who": f"customer:{customer_id}"}]}):
        update = {"customer_id": label if entry.get("customer_id") == customer_id else entry.get("customer_id"),
                  "who": _replace_id(entry["who"], customer_id, label),
                  "action": _replace_id(str(entry.get("action", "")), customer_id, label)}
        store[audit.AUDIT].update_one({"_id": entry["_id"]}, {"$set": update})
        changed += 1
    return changed


def _scrub_job_errors(store, customer_id: str, label: str) -> None:
    """Ingestion runs' rejection messages quote record ids; the customer's become their pseudonym."""
    for run in store["job_runs"].find({}, {"errors": 1}):
        errors = run.get("errors") or []
        scrubbed = [_replace_id(error, customer_id, label) for error in errors]
        if scrubbed != errors:
            store["job_runs"].update_one({"_id": run["_id"]}, {"$set": {"errors": scrubbed}})


def _replace_id(text: str, customer_id: str, label: str) -> str:
    return re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(customer_id)}(?![A-Za-z0-9_-])", label, text)
