"""The conversation an OpenAI client sends, made Fargo's session again, so follow-ups work from any client.

OpenAI clients keep no session: every call carries the whole history. When no
session is named, Fargo replays the earlier user messages (the last
`MAX_REPLAYED`) through the engine in a new session, without LLM phrasing,
which rebuilds the state follow-ups read: the request, the tool and the list
of products shown. The list is then put in the order the client's last
assistant message shows its products, so "the second one" is the second one
the person saw.
"""

from __future__ import annotations

import re

from assistant.callers import Caller
from assistant.engine import Engine, InputError
from assistant.sessions import SessionNotFound

MAX_REPLAYED = 8  # earlier user messages replayed; a list shown further back is rarely what "the first one" means
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def rebuild_session(engine: Engine, caller: Caller, earlier: list[str], shown_text: str | None,
                    customer_id: str | None) -> str | None:
    """A new session holding the replayed conversation (None when there is nothing earlier to replay)."""
    session_id = None
    for question in earlier[-MAX_REPLAYED:]:
        try:
            session_id = engine.turn(caller, question, session_id, customer_id, phrase=False).session_id
        except InputError:  # a message Fargo would have refused (empty, too long) left no state then either
            continue
    if session_id is not None and shown_text:
        follow_shown_order(engine, session_id, shown_text)
    return session_id


def follow_shown_order(engine: Engine, session_id: str, shown_text: str) -> None:
    """Reorder the session's last list to the order its products appear in `shown_text`, keeping only those shown;
    a text that names none of them (phrased without the names) leaves the list as it is."""
    session = engine.sessions.get(session_id)
    listed = session.state.get("recommendations") or []
    order = named_in_order(shown_text, {rec["product_id"]: rec["name"] for rec in listed})
    if order and order != [rec["product_id"] for rec in listed]:
        by_id = {rec["product_id"]: rec for rec in listed}
        session.state["recommendations"] = [by_id[product_id] for product_id in order]
        engine.sessions.save(session)


def named_in_order(text: str, names: dict[str, str]) -> list[str]:
    """The ids whose names `text` mentions, in the order it first mentions them; a name inside a longer one
    ("Travel Card" in "Travel Card Plus") counts only where it stands alone."""
    lowered, found = text.lower(), {}
    for product_id, name in sorted(names.items(), key=lambda item: -len(item[1])):
        for match in re.finditer(re.escape(name.lower()), lowered):
            found.setdefault(product_id, match.start())
            lowered = lowered[:match.start()] + "\0" * len(name) + lowered[match.end():]
    return sorted(found, key=found.get)


def named_session(engine: Engine, user: str | None) -> str | None:
    """OpenAI's `user` field names a Fargo session when it is the id of one; otherwise it is just a user's label."""
    if user is None or not SESSION_ID.match(user):
        return None
    try:
        engine.sessions.get(user)
    except SessionNotFound:
        return None
    return user
