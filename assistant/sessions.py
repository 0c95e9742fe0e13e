"""Conversation sessions in the document store: history and the state follow-ups need.

A session belongs to one subject customer and to the caller who opened it;
`owner` is checked by the engine (and the API) before any read or write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_TURNS_KEPT = 200


class SessionNotFound(LookupError):
    pass


@dataclass
class Session:
    session_id: str
    owner: str  # "customer:<id>" or "key:<key id>"
    customer_id: str | None
    turns: list[dict] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    created_at: str = ""

    def document(self) -> dict:
        return {
            "_id": self.session_id,
            "owner": self.owner,
            "customer_id": self.customer_id,
            "turns": self.turns[-MAX_TURNS_KEPT:],
            "state": self.state,
            "created_at": self.created_at,
            "updated_at": _now(),
        }


class SessionStore:
    def __init__(self, store):
        self.collection = store["sessions"]

    def new(self, owner: str, customer_id: str | None) -> Session:
        return Session(uuid.uuid4().hex, owner, customer_id, created_at=_now())

    def get(self, session_id: str) -> Session:
        doc = self.collection.find_one({"_id": session_id})
        if doc is None:
            raise SessionNotFound(f"no session {session_id!r}")
        return Session(doc["_id"], doc["owner"], doc.get("customer_id"), doc["turns"], doc["state"], doc["created_at"])

    def save(self, session: Session) -> None:
        # one whole-document write keeps history and follow-up state consistent with each other
        self.collection.replace_one({"_id": session.session_id}, session.document(), upsert=True)


def _now() -> str:
    return datetime.now(UTC).isoformat()
