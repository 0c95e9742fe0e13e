"""The hand-off queue: conversations a customer asked to continue with a person.

One document per session in `handoffs`: waiting (in the agents' queue) ->
active (an agent picked it up) -> closed. The conversation itself stays in the
session: an agent's reply is a turn with role "agent", so the widget sees it
in the session history, and it survives a reload like every other turn.
While a hand-off is active, the customer's messages go to the agent, not to
the assistant. Once it is closed the customer may rate the help they got (1-5):
the rating is kept in the session document.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from assistant.callers import Caller
from assistant.engine import InputError
from assistant.escalation import PRIORITY_RANK, priority_of
from assistant.sessions import Session, SessionStore
from retrieval.errors import FargoError

HANDOFFS = "handoffs"
WAITING, ACTIVE, CLOSED = "waiting", "active", "closed"
OPEN_STATES = (WAITING, ACTIVE)
MAX_REPLY_CHARS = 2000
QUEUED_NOTE = "I've asked a colleague to join. Please stay here: a person will answer in this chat."
RELAYED_NOTE = "Your message is with {agent}; they will answer here."
RATING_SCALE = range(1, 6)


class HandoffNotFound(FargoError, LookupError):
    status = 404
    kind = "not_found"


class HandoffConflict(FargoError):
    """The hand-off is not in a state that allows this (taken by someone else, or closed)."""

    status = 409
    kind = "conflict"


def get(store, session_id: str) -> dict | None:
    return store[HANDOFFS].find_one({"_id": session_id})


def open_handoff(store, session_id: str) -> dict | None:
    """The session's hand-off if one is waiting or active."""
    handoff = get(store, session_id)
    return handoff if handoff is not None and handoff["status"] in OPEN_STATES else None


def request_handoff(store, session: Session, reason: str, kind: str = "asked") -> dict:
    """Put the session in the agents' queue (again, if an earlier hand-off was closed); idempotent while open.

    `kind` says why (`assistant.escalation.handoff_kind`: fraud, dispute, complaint, servicing, unserved, asked) and
    sets the priority: fraud is urgent, disputes and complaints high."""
    existing = open_handoff(store, session.session_id)
    if existing is not None:
        return existing
    priority = priority_of(kind)
    document = {
        "_id": session.session_id, "customer_id": session.customer_id, "owner": session.owner,
        "status": WAITING, "reason": reason[:500], "kind": kind, "priority": priority, "rank": PRIORITY_RANK[priority],
        "requested_at": _now(), "agent": None, "agent_name": None, "picked_at": None, "closed_at": None,
    }
    store[HANDOFFS].replace_one({"_id": session.session_id}, document, upsert=True)
    return document


def queue(store, statuses: tuple[str, ...] = OPEN_STATES, limit: int = 200) -> list[dict]:
    """Open hand-offs, urgent first, then by priority; within one, the customer who has waited longest first."""
    return store[HANDOFFS].find({"status": {"$in": list(statuses)}}, sort=[("rank", 1), ("requested_at", 1)],
                                limit=limit)


def pick_up(store, session_id: str, agent: Caller, agent_name: str) -> dict:
    """A waiting hand-off becomes this agent's; two agents picking at once: one wins, the other gets a conflict."""
    handoff = _existing(store, session_id)
    if handoff["status"] == ACTIVE and handoff["agent"] == agent.owner:
        return handoff
    taken = store[HANDOFFS].update_one(
        {"_id": session_id, "status": WAITING},
        {"$set": {"status": ACTIVE, "agent": agent.owner, "agent_name": agent_name, "picked_at": _now()}},
    )
    if taken.modified_count == 0:
        raise HandoffConflict(f"hand-off {session_id} is {_existing(store, session_id)['status']} "
                              f"and can no longer be picked up")
    return _existing(store, session_id)


def reply(store, sessions: SessionStore, session_id: str, agent: Caller, text: str) -> dict:
    """The agent's message, appended to the conversation as an "agent" turn."""
    text = (text or "").strip()
    if not text:
        raise InputError("reply is empty: write a message for the customer")
    if len(text) > MAX_REPLY_CHARS:
        raise InputError(f"reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    handoff = _existing(store, session_id)
    if handoff["status"] != ACTIVE or handoff["agent"] != agent.owner:
        raise HandoffConflict("pick up the hand-off before replying")
    session = sessions.get(session_id)
    turn = {"role": "agent", "text": text, "at": time.time(), "agent": handoff["agent_name"]}
    session.turns.append(turn)
    sessions.save(session)
    return turn


def close(store, session_id: str, agent: Caller) -> dict:
    handoff = _existing(store, session_id)
    if handoff["status"] == ACTIVE and handoff["agent"] != agent.owner:
        raise HandoffConflict("another agent has this hand-off")
    store[HANDOFFS].update_one({"_id": session_id}, {"$set": {"status": CLOSED, "closed_at": _now()}})
    return _existing(store, session_id)


def relay_note(handoff: dict) -> str:
    """What the customer is told when their message goes to a person instead of the assistant."""
    if handoff["status"] == ACTIVE:
        return RELAYED_NOTE.format(agent=handoff.get("agent_name") or "our colleague")
    return QUEUED_NOTE


def _existing(store, session_id: str) -> dict:
    handoff = get(store, session_id)
    if handoff is None:
        raise HandoffNotFound(f"no hand-off for session {session_id!r}")
    return handoff


def _now() -> str:
    return datetime.now(UTC).isoformat()


def relay(sessions: SessionStore, session: Session, handoff: dict, message: str) -> str:
    """The customer's message in a handed-off session goes to the person: recorded, and a note returned."""
    note = relay_note(handoff)
    now = time.time()
    session.turns.append({"role": "user", "text": message, "at": now})
    session.turns.append({"role": "assistant", "text": note, "at": now, "intent": "handoff:relayed",
                          "recommendations": [], "handoff": True})
    sessions.save(session)
    return note


def ask_for_person(store, sessions: SessionStore, session: Session, reason: str) -> dict:
    """The widget's "Talk to a person": queue the session and tell the customer so in the conversation."""
    handoff = request_handoff(store, session, reason)
    session.turns.append({"role": "assistant", "text": relay_note(handoff), "at": time.time(),
                          "intent": "talk_to_human", "recommendations": [], "handoff": True})
    session.state["handoff"] = True
    sessions.save(session)
    return handoff


def rate(store, sessions: SessionStore, session: Session, score: int) -> dict:
    """The customer's satisfaction with the hand-off that closed last; rating it again replaces the score."""
    if score not in RATING_SCALE:
        raise InputError(f"score {score} is outside 1-5", field="score")
    handoff = get(store, session.session_id)
    if handoff is None or handoff["status"] != CLOSED:
        state = "was never handed to a person" if handoff is None else f"is still {handoff['status']}"
        raise HandoffConflict(f"the conversation {state}: rate it after the hand-off closes")
    rating = {"score": score, "at": _now(), "handoff_closed_at": handoff["closed_at"]}
    sessions.set_rating(session, rating)
    return rating


def score_for_last_close(session: Session, handoff: dict | None) -> int | None:
    """The score given to the hand-off that closed last; None if that one is not rated (an earlier one may be)."""
    rating = session.rating
    if rating is None or handoff is None or handoff["status"] != CLOSED:
        return None
    return rating["score"] if rating["handoff_closed_at"] == handoff["closed_at"] else None
