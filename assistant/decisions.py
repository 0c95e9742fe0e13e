"""The decision log: what each answer offered a customer, why, from which data and which code.

Every answer that shows recommendations from a tool writes one decision record
(`decision_record`): the customer, the channel, the request as typed with
personal data redacted (as the logs are), the tool and its ranker's version, the
ingestion run the data came from, each offer's score, reasons and evidence ids,
the products a contact rule held back (`assistant.contact_policy`), any
business levers applied, the ranking experiment and the arm the customer is on,
their segment and, on the adaptive arm, the customer context it ranked with
(`assistant.experiment`, `assistant.adaptive`: what the worker learns acceptance
from). Each recommendation shown carries the record's id
(`decision_id`), so a response (`assistant.responses`) names the offer: decision
id + product. Records are kept FARGO_DECISION_RETENTION_DAYS (25 months by
default, the record-keeping period of US Regulation B), then purged by the
worker (`assistant.retention`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from assistant.callers import Caller, Role
from assistant.redaction import redact

DECISIONS = "decisions"
MAX_LISTED = 200


class Channel(StrEnum):
    """Where an answer was shown; a caller's default channel follows from how it signs in."""

    widget = "widget"  # a customer's widget token
    agent_api = "agent_api"  # an agent's or admin's API key
    console = "console"  # an agent in the console
    api = "api"  # a developer's backend key


def channel_of(caller: Caller) -> Channel:
    if caller.role is Role.customer:
        return Channel.widget
    return Channel.agent_api if caller.is_staff else Channel.api


def new_decision_id() -> str:
    return uuid.uuid4().hex


def evidence_ids(rec: dict) -> list[str]:
    """Each evidence item as "collection/record_id#field": what an audit reads back from the store."""
    return [f"{item['collection']}/{item['record_id']}#{item['field']}" for item in rec.get("evidence") or ()]


def offer(rec: dict) -> dict:
    return {"product_id": rec["product_id"], "name": rec.get("name"), "category": rec.get("category"),
            "score": rec.get("score"), "components": rec.get("components") or {}, "reasons": list(rec.get("reasons") or ()),
            "evidence_ids": evidence_ids(rec), "for_person": rec.get("for_person")}


def decision_record(decision_id: str, *, customer_id: str, channel: str, session_id: str | None, request: str,
                    known_names: list[str], intent: str, tool_call: dict, versions: dict, run_id: str | None,
                    recommendations: list[dict], held_back: list[dict] = (), levers: list[dict] = (),
                    proactive: bool = False, arm: str = "static", experiment: str | None = None,
                    segment: str | None = None, context: dict | None = None, now: datetime | None = None) -> dict:
    """The stored record of one answer's offers (`recommendations` as the answer shows them); `context`: what
    adaptive ranking knew of the customer when it ranked them (`assistant.adaptive.customer_context`)."""
    arguments = {key: value for key, value in tool_call.get("arguments", {}).items() if key != "customer_id"}
    return {
        "_id": decision_id, "customer_id": customer_id, "channel": channel, "session_id": session_id,
        "at": (now or datetime.now(UTC)).isoformat(), "request": redact(request, known_names).text,
        "intent": intent, "tool": tool_call["name"], "arguments": arguments, **versions, "run_id": run_id,
        "proactive": proactive, "offers": [offer(rec) for rec in recommendations], "held_back": list(held_back),
        "levers": list(levers), "arm": str(arm), "experiment": experiment,
        "segment": segment, "context": context,
    }


class DecisionLog:
    def __init__(self, store):
        self.collection = store[DECISIONS]

    def write(self, record: dict) -> None:
        self.collection.insert_one(record)

    def get(self, decision_id: str) -> dict | None:
        return self.collection.find_one({"_id": decision_id})

    def for_customer(self, customer_id: str, limit: int = MAX_LISTED, since: str | None = None) -> list[dict]:
        """Newest first."""
        query: dict = {"customer_id": customer_id}
        if since is not None:
            query["at"] = {"$gte": since}
        return list(self.collection.find(query, sort=[("at", -1)], limit=limit))
