"""Conversation sessions in the document store: history and the state follow-ups need.

A session belongs to one subject customer and to the caller who opened it;
`owner` is checked by the engine (and the API) before any read or write.

The recommendations a turn showed are stored once: a follow-up that shows them
again ("why?") and the follow-up state, which hold the very same list, are
stored as the number of the turn that holds it (`SAME_AS_TURN`), and read back
as that list. A session document is whole-written on every turn, so this keeps
the write (and the read) from encoding the same recommendations two or three times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from retrieval.errors import FargoError

MAX_TURNS_KEPT = 200
SAME_AS_TURN = "recommendations_as_in_turn"  # stored instead of "recommendations": the kept turn holding the same list


class SessionNotFound(FargoError, LookupError):
    status = 404
    kind = "not_found"


@dataclass
class Session:
    session_id: str
    owner: str  # "customer:<id>" or "key:<key id>"
    customer_id: str | None
    turns: list[dict] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    created_at: str = ""
    rating: dict | None = None  # the customer's satisfaction after a hand-off: {score, at, handoff_closed_at}

    @property
    def opened_by_customer(self) -> bool:
        """A customer's own conversation (their widget's): everything in it is shown to them."""
        return self.owner.startswith("customer:")

    def document(self) -> dict:
        turns, state = _shared_stored_once(self.turns[-MAX_TURNS_KEPT:], self.state)
        return {
            "_id": self.session_id,
            "owner": self.owner,
            "customer_id": self.customer_id,
            "turns": turns,
            "state": state,
            "created_at": self.created_at,
            "updated_at": _now(),
            "rating": self.rating,
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
        turns, state = _shared_read_back(doc["turns"], doc["state"])
        return Session(doc["_id"], doc["owner"], doc.get("customer_id"), turns, state, doc["created_at"],
                       doc.get("rating"))

    def save(self, session: Session) -> None:
        # one whole-document write keeps history and follow-up state consistent with each other
        self.collection.replace_one({"_id": session.session_id}, session.document(), upsert=True)

    def set_rating(self, session: Session, rating: dict) -> None:
        """Only the rating is written: a turn saved meanwhile (an agent's reply) is not overwritten."""
        self.collection.update_one({"_id": session.session_id}, {"$set": {"rating": rating}})
        session.rating = rating


def _shared_stored_once(turns: list[dict], state: dict) -> tuple[list[dict], dict]:
    """The turns and state to store: a recommendations list that is the very object (not merely equal to) an
    earlier kept turn's becomes a SAME_AS_TURN reference to that turn; the session itself is left as it is."""
    holder: dict[int, int] = {}  # id(list) -> the first kept turn holding it
    stored = []
    for number, turn in enumerate(turns):
        shown = turn.get("recommendations")
        if shown and id(shown) in holder:
            turn = _renamed(turn, "recommendations", SAME_AS_TURN, holder[id(shown)])
        elif shown:
            holder[id(shown)] = number
        stored.append(turn)
    shown = state.get("recommendations")
    if shown and id(shown) in holder:
        state = _renamed(state, "recommendations", SAME_AS_TURN, holder[id(shown)])
    return stored, state


def _shared_read_back(turns: list[dict], state: dict) -> tuple[list[dict], dict]:
    """The inverse of `_shared_stored_once`: each reference is the referred turn's list again (the same object)."""
    turns = [_renamed(turn, SAME_AS_TURN, "recommendations", turns[turn[SAME_AS_TURN]]["recommendations"])
             if SAME_AS_TURN in turn else turn for turn in turns]
    if SAME_AS_TURN in state:
        state = _renamed(state, SAME_AS_TURN, "recommendations", turns[state[SAME_AS_TURN]]["recommendations"])
    return turns, state


def _renamed(entry: dict, old: str, new: str, value) -> dict:
    """`entry` with the key `old` replaced, in its place, by `new` holding `value`."""
    return {new if key == old else key: value if key == old else item for key, item in entry.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat()
