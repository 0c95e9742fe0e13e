"""The audit log: every staff access to a customer's data and every denied attempt."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.callers import Caller

AUDIT = "audit"


def who(caller: Caller) -> str:
    return caller.owner


def record(store, caller: Caller, customer_id: str | None, action: str, allowed: bool) -> None:
    store[AUDIT].insert_one({
        "who": who(caller), "role": caller.role, "customer_id": customer_id, "action": action,
        "at": datetime.now(UTC).isoformat(), "allowed": allowed,
    })


def record_if_staff(store, caller: Caller, customer_ids, action: str) -> None:
    """Staff reading customers' data is logged; a customer reading their own is not."""
    if caller.is_staff:
        for customer_id in dict.fromkeys(cid for cid in customer_ids if cid):
            record(store, caller, customer_id, action, allowed=True)


def entries(store, customer_id: str | None = None, allowed: bool | None = None, limit: int = 100) -> list[dict]:
    """Newest first."""
    query: dict = {}
    if customer_id is not None:
        query["customer_id"] = customer_id
    if allowed is not None:
        query["allowed"] = allowed
    docs = store[AUDIT].find(query, sort=[("at", -1)], limit=limit)
    return [{key: value for key, value in doc.items() if key != "_id"} for doc in docs]
