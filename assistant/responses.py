"""Responses: what happened to each offer shown (decision id + product), from the customer, staff or the bank's data.

A customer's widget reports `shown`, `why_opened` (the "Why?" view),
`accepted` (a click-through to apply) and `dismissed` ("Not for me", with an
optional reason); staff may report any kind for the customer they serve. An
`opened` response is recorded by the worker after each ingestion run, when the
customer's accounts show the product opened on or after the day it was
offered (`record_openings`). The contact policy reads them
(`assistant.contact_policy`); the decision log shows them beside the offer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from assistant import audit
from assistant.callers import Caller, Role
from assistant.decisions import DECISIONS, DecisionLog, channel_of
from retrieval.errors import FargoError

RESPONSES = "responses"
OPENINGS_LOOKBACK_DAYS = 90  # offers this recent are checked against the accounts after each ingestion run


class ResponseKind(StrEnum):
    shown = "shown"
    why_opened = "why_opened"
    accepted = "accepted"
    dismissed = "dismissed"
    opened = "opened"


CUSTOMER_KINDS = frozenset({ResponseKind.shown, ResponseKind.why_opened, ResponseKind.accepted, ResponseKind.dismissed})


class UnknownDecision(FargoError, LookupError):
    status = 404
    kind = "not_found"


class ResponseRefused(FargoError):
    status = 403
    kind = "permission_denied"


class NotOffered(FargoError, ValueError):
    status = 422
    kind = "invalid_request"


def offer_in(decision: dict, product_id: str) -> dict:
    """The decision's offer of `product_id`; NotOffered names what it did offer."""
    for item in decision["offers"]:
        if item["product_id"] == product_id:
            return item
    offered = ", ".join(item["product_id"] for item in decision["offers"]) or "nothing"
    raise NotOffered(f"decision {decision['_id']} did not offer product {product_id!r}; it offered {offered}",
                     field="product_id")


def checked_decision(store, caller: Caller, decision_id: str, kind: ResponseKind) -> dict:
    """The decision a response is about, once the caller may respond to it: a customer only to their own offers
    and not with `opened` (which the bank's records say), staff to any (audited), a developer key to none."""
    if caller.role is Role.developer:
        raise ResponseRefused("a developer key acts for no customer: responses come from the customer or staff")
    decision = DecisionLog(store).get(decision_id)
    if decision is None:
        raise UnknownDecision(f"no decision {decision_id!r}: use the decision_id of a recommendation shown",
                              field="decision_id")
    if caller.role is Role.customer:
        if decision["customer_id"] != caller.customer_id:
            raise ResponseRefused(f"decision {decision_id} was made for another customer")
        if kind not in CUSTOMER_KINDS:
            raise ResponseRefused(f"a customer reports {', '.join(sorted(CUSTOMER_KINDS))}; "
                                  f"{kind} comes from the bank's records")
    else:
        audit.record(store, caller, decision["customer_id"], "response", allowed=True)
    return decision


def record(store, caller: Caller, decision_id: str, product_id: str, kind: ResponseKind, reason: str | None = None,
           now: datetime | None = None) -> dict:
    """Store one response after checking who may give it and that the decision offered the product."""
    decision = checked_decision(store, caller, decision_id, kind)
    offer_in(decision, product_id)
    document = {"decision_id": decision_id, "product_id": product_id, "customer_id": decision["customer_id"],
                "kind": str(kind), "reason": reason, "channel": str(channel_of(caller)), "who": caller.owner,
                "at": (now or datetime.now(UTC)).isoformat()}
    result = store[RESPONSES].insert_one(dict(document))
    return document | {"response_id": str(result.inserted_id)}


def for_customer(store, customer_id: str, since: str | None = None, kinds=None) -> list[dict]:
    query: dict = {"customer_id": customer_id}
    if since is not None:
        query["at"] = {"$gte": since}
    if kinds is not None:
        query["kind"] = {"$in": [str(kind) for kind in kinds]}
    return list(store[RESPONSES].find(query, {"_id": 0}, sort=[("at", 1)]))


def history(store, customer_id: str, limit: int) -> list[dict]:
    """The customer's decisions, newest first, each offer with what the customer did about it (oldest first)."""
    decisions = DecisionLog(store).for_customer(customer_id, limit)
    found: dict[tuple[str, str], list[dict]] = {}
    ids = [decision["_id"] for decision in decisions]
    for response in store[RESPONSES].find({"decision_id": {"$in": ids}}, {"_id": 0}, sort=[("at", 1)]):
        found.setdefault((response["decision_id"], response["product_id"]), []).append(
            {key: response[key] for key in ("kind", "reason", "channel", "at")})
    for decision in decisions:
        decision["decision_id"] = decision.pop("_id")
        for item in decision["offers"]:
            item["responses"] = found.get((decision["decision_id"], item["product_id"]), [])
    return decisions


def record_openings(store, now: datetime | None = None) -> int:
    """After an ingestion run: an `opened` response for each recent offer whose product the customer's accounts show
    opened on or after the day it was offered (once per decision and product)."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(days=OPENINGS_LOOKBACK_DAYS)).isoformat()
    recorded = 0
    for decision in store[DECISIONS].find({"at": {"$gte": since}}, {"customer_id": 1, "offers": 1, "at": 1}):
        offered = {item["product_id"] for item in decision["offers"]}
        known = {doc["product_id"] for doc in store[RESPONSES].find(
            {"decision_id": decision["_id"], "kind": str(ResponseKind.opened)}, {"product_id": 1})}
        for account in store["accounts"].find({"customer_id": decision["customer_id"]},
                                              {"product_id": 1, "opened_at": 1}):
            product = account["product_id"]
            if product in offered and product not in known and _day(account["opened_at"]) >= decision["at"][:10]:
                store[RESPONSES].insert_one({
                    "decision_id": decision["_id"], "product_id": product, "customer_id": decision["customer_id"],
                    "kind": str(ResponseKind.opened), "reason": None, "channel": "accounts", "who": "ingestion",
                    "at": now.isoformat()})
                known.add(product)
                recorded += 1
    return recorded


def _day(value) -> str:
    return value.isoformat()[:10] if isinstance(value, date) else str(value)[:10]
