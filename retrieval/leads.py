"""Outreach leads in the document store: one lead per customer, product and campaign.

A lead's `_id` is "<customer_id>:<product_id>:<campaign_id>". It keeps every
signal (one campaign event that pointed at the product) with the event's id,
so merging the same event twice changes nothing: a batch the worker processes
again after a crash leaves the leads exactly as one pass would. The score
combines the signals order-independently (a noisy-or), so repeated signals
raise it and the order they arrive in does not matter.

Writes are compare-and-swap on a `version` field, so two workers merging into
the same lead at once cannot lose each other's signals.

Post text is untrusted: it is stored and quoted as plain text (never
interpreted, never put in the opening line), cut to a bounded length.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne

from retrieval.errors import DuplicateKeyError

LEADS = "leads"
QUOTE_CHARS = 280
MAX_KEPT_SIGNALS = 50
CAS_ATTEMPTS = 20

# How much one event says about interest, by kind: what someone writes says more than a like.
TYPE_WEIGHTS = {"message": 1.0, "post": 1.0, "comment": 0.9, "mention": 0.8, "share": 0.5, "like": 0.3}


@dataclass(frozen=True)
class LeadSignal:
    """One campaign event pointing a known customer at a product."""

    event_id: str
    customer_id: str
    product_id: str
    campaign_id: str
    platform: str
    type: str
    text: str
    timestamp: str  # ISO UTC, as stored
    need: str  # the need the text matched (a product need statement), "" for none
    similarity: float  # how well the text matched `need`, 0..1

    @property
    def lead_id(self) -> str:
        return lead_id(self.customer_id, self.product_id, self.campaign_id)

    @property
    def weight(self) -> float:
        return max(0.0, min(1.0, self.similarity)) * TYPE_WEIGHTS.get(self.type, 0.5)


@dataclass(frozen=True)
class LeadFacts:
    """What a lead's text needs besides its signals; looked up by the worker."""

    customer_first_name: str
    marketing_consent: bool
    product_name: str
    campaign_name: str


def lead_id(customer_id: str, product_id: str, campaign_id: str) -> str:
    return f"{customer_id}:{product_id}:{campaign_id}"


def combined_score(signals: Iterable[LeadSignal]) -> float:
    """Noisy-or of the signals' weights: each signal independently suggests interest."""
    missing = 1.0
    for signal in signals:
        missing *= 1.0 - signal.weight
    return round(1.0 - missing, 4)


def as_plain_text(text: str, limit: int = QUOTE_CHARS) -> str:
    """Untrusted text made safe to quote: control characters dropped, whitespace folded, length bounded."""
    visible = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    folded = " ".join(visible.split())
    return folded if len(folded) <= limit else folded[: limit - 1].rstrip() + "…"


def strongest(signals: list[LeadSignal]) -> LeadSignal:
    """The signal to quote: the highest weight, then the most recent, then by event id (deterministic)."""
    return max(signals, key=lambda s: (bool(s.text), s.weight, s.timestamp, s.event_id))


def render_reason(signals: list[LeadSignal], facts: LeadFacts) -> str:
    best = strongest(signals)
    day = best.timestamp[:10]
    if best.text:
        said = f'Wrote on {best.platform} on {day}: "{as_plain_text(best.text)}"'
    else:
        said = f"Reacted ({best.type}) on {best.platform} on {day}"
    matched = f', which matches "{best.need}"' if best.need else ""
    others = len(signals) - 1
    more = f" ({others} more signal{'s' if others != 1 else ''} in this campaign)" if others else ""
    return f"{said}{matched}, during the {facts.campaign_name} campaign; suggests {facts.product_name}{more}."


def render_opening_line(facts: LeadFacts) -> str:
    """What the agent could say first; built from catalogue and profile fields only, never from post text."""
    name = as_plain_text(facts.customer_first_name, 40) or "there"
    return (
        f"Hi {name}, thanks for joining the conversation around our {facts.campaign_name} campaign. "
        f"I think our {facts.product_name} could help; may I tell you a bit about it?"
    )


SIGNAL_FIELDS = tuple(LeadSignal.__dataclass_fields__)


def _signal_from(document: Mapping[str, Any]) -> LeadSignal:
    return LeadSignal(*(document[name] for name in SIGNAL_FIELDS))


def _signal_document(signal: LeadSignal) -> dict[str, Any]:
    return {name: getattr(signal, name) for name in SIGNAL_FIELDS}  # asdict's deep copy costs 10x more


def merge_lead(existing: Mapping[str, Any] | None, incoming: list[LeadSignal], facts: LeadFacts,
               now: datetime) -> dict[str, Any] | None:
    """The lead document after adding `incoming`; None when every incoming event is already counted."""
    known = set(existing["event_ids"]) if existing else set()
    fresh = {signal.event_id: signal for signal in incoming if signal.event_id not in known}
    if not fresh:
        return None
    kept = [_signal_from(item) for item in existing["signals"]] if existing else []
    signals = sorted(kept + list(fresh.values()), key=lambda s: (-s.weight, s.timestamp, s.event_id))
    first = signals[0]
    all_ids = sorted(known | fresh.keys())
    return {
        "_id": first.lead_id,
        "customer_id": first.customer_id,
        "product_id": first.product_id,
        "campaign_id": first.campaign_id,
        "product_name": facts.product_name,
        "campaign_name": facts.campaign_name,
        "score": combined_score(signals),  # over every kept signal; dropped ones are the weakest
        "needs": sorted({signal.need for signal in signals if signal.need}),
        "reason": render_reason(signals, facts),
        "opening_line": render_opening_line(facts),
        "marketing_consent": facts.marketing_consent,
        "signal_count": len(all_ids),
        "signals": [_signal_document(signal) for signal in signals[:MAX_KEPT_SIGNALS]],
        "event_ids": all_ids,
        "first_signal_at": min(signal.timestamp for signal in signals),
        "last_signal_at": max(signal.timestamp for signal in signals),
        "updated_at": now.astimezone(UTC),
        "version": (existing["version"] + 1) if existing else 1,
    }


def group_by_lead(signals: Iterable[LeadSignal]) -> dict[str, list[LeadSignal]]:
    grouped: dict[str, list[LeadSignal]] = {}
    for signal in signals:
        grouped.setdefault(signal.lead_id, []).append(signal)
    return grouped


def save_signals(store, signals: Iterable[LeadSignal], facts: Mapping[str, LeadFacts],
                 now: datetime | None = None) -> int:
    """Merge signals into their leads (`facts` by lead id); returns how many leads changed.

    One bulk write when no other writer interferes; otherwise lead by lead, compare-and-swap.
    """
    now = now or datetime.now(UTC)
    grouped = group_by_lead(signals)
    if not grouped:
        return 0
    collection = store[LEADS]
    existing = {doc["_id"]: doc for doc in collection.find({"_id": {"$in": list(grouped)}})}
    requests, replaced = [], 0
    for key, incoming in grouped.items():
        merged = merge_lead(existing.get(key), incoming, facts[key], now)
        if merged is None:
            continue
        if key in existing:
            requests.append(ReplaceOne({"_id": key, "version": existing[key]["version"]}, merged))
            replaced += 1
        else:
            requests.append(InsertOne(merged))
    if not requests:
        return 0
    try:
        result = collection.bulk_write(requests, ordered=False)
        if result.matched_count == replaced:
            return len(requests)
    except DuplicateKeyError:
        pass
    # Another writer got to some of these leads first; merging again is idempotent.
    return sum(_save_one(collection, key, incoming, facts[key], now) for key, incoming in grouped.items())


def _save_one(collection, key: str, incoming: list[LeadSignal], facts: LeadFacts, now: datetime) -> int:
    for _ in range(CAS_ATTEMPTS):
        existing = collection.find_one({"_id": key})
        merged = merge_lead(existing, incoming, facts, now)
        if merged is None:
            return 0
        if existing is None:
            try:
                collection.insert_one(merged)
                return 1
            except DuplicateKeyError:
                continue
        if collection.replace_one({"_id": key, "version": existing["version"]}, merged).matched_count:
            return 1
    raise RuntimeError(f"lead {key}: gave up after {CAS_ATTEMPTS} concurrent updates")


# --- reading --------------------------------------------------------------------------------------


def find_leads(store, *, campaign_id: str | None = None, product_id: str | None = None,
               customer_id: str | None = None, min_score: float = 0.0, limit: int = 50) -> list[dict[str, Any]]:
    """Leads, best first."""
    query: dict[str, Any] = {"score": {"$gte": min_score}}
    for name, value in (("campaign_id", campaign_id), ("product_id", product_id), ("customer_id", customer_id)):
        if value is not None:
            query[name] = value
    return store[LEADS].find(query, projection={"signals": 0, "event_ids": 0},
                             sort=[("score", -1), ("_id", 1)], limit=limit)


def leads_by_product(store, campaign_id: str) -> list[dict[str, Any]]:
    """Per product of a campaign: how many leads and their average score, most leads first."""
    rows = store[LEADS].aggregate([
        {"$match": {"campaign_id": campaign_id}},
        {"$group": {"_id": "$product_id", "leads": {"$sum": 1}, "average_score": {"$avg": "$score"},
                    "product_name": {"$first": "$product_name"}}},
    ])
    result = [{"product_id": row["_id"], "product_name": row["product_name"], "leads": int(row["leads"]),
               "average_score": round(float(row["average_score"]), 4)} for row in rows]
    return sorted(result, key=lambda row: (-row["leads"], row["product_id"]))


# --- campaign insights, from the processed events in `campaign_events` -------------------------------


def need_counts(store, campaign_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Signals per need in a campaign: (from known customers, from anonymous authors)."""
    counts = []
    for author in ({"$ne": None}, None):
        rows = store["campaign_events"].aggregate([
            {"$match": {"campaign_id": campaign_id, "processed_at": {"$exists": True},
                        "resolved_customer_id": author, "needs": {"$exists": True}}},
            {"$unwind": "$needs"},
            {"$group": {"_id": "$needs", "count": {"$sum": 1}}},
        ])
        counts.append({row["_id"]: int(row["count"]) for row in rows})
    return counts[0], counts[1]


def anonymous_event_count(store, campaign_id: str) -> int:
    """Processed events of a campaign whose author is not a known (profiled) customer."""
    # All processed minus known ones: counting `resolved_customer_id: None` directly miscounts on
    # NeoSQLite wire servers (count_documents disagrees with find there).
    events = store["campaign_events"]
    processed = {"campaign_id": campaign_id, "processed_at": {"$exists": True}}
    return events.count_documents(processed) - events.count_documents(
        processed | {"resolved_customer_id": {"$exists": True}})


def event_volume_by_day(store, campaign_id: str) -> dict[str, int]:
    """Events of a campaign per UTC day, live and ingested alike."""
    volume: dict[str, int] = {}
    for document in store["campaign_events"].find({"campaign_id": campaign_id}, projection={"timestamp": 1}):
        day = str(document.get("timestamp", ""))[:10]
        volume[day] = volume.get(day, 0) + 1
    return volume
