"""The hand-off queue: conversations customers asked to continue with a person; pick up, reply, close."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from assistant import audit, handoffs
from assistant.api.deps import get_runtime
from assistant.console.guard import PostedForm, SignedIn
from assistant.console.sessions import ConsoleUser
from assistant.console.web import ConsoleRoute, redirect, render
from assistant.engine import InputError

router = APIRouter(route_class=ConsoleRoute)
KIND_LABELS = {"fraud": "Possible fraud", "dispute": "Dispute", "complaint": "Complaint", "servicing": "Account",
               "unserved": "Assistant could not help", "asked": "Asked for a person"}


@router.get("/handoffs")
def queue_page(request: Request, user: SignedIn) -> Response:
    return _queue(request, user)


@router.post("/handoffs/{session_id}/pick-up")
def pick_up(session_id: str, request: Request, user: SignedIn, form: PostedForm) -> Response:
    store = request.app.state.store
    try:
        handoff = handoffs.pick_up(store, session_id, user.caller, user.name)
    except handoffs.HandoffConflict as taken:
        return _queue(request, user, error=str(taken), status=409)
    audit.record(store, user.caller, handoff["customer_id"], "console: hand-off picked up", allowed=True)
    return redirect(f"/console/handoffs/{session_id}")


@router.get("/handoffs/{session_id}")
def conversation_page(session_id: str, request: Request, user: SignedIn) -> Response:
    return _conversation(request, user, session_id)


@router.post("/handoffs/{session_id}/reply")
def reply(session_id: str, request: Request, user: SignedIn, form: PostedForm) -> Response:
    store, text = request.app.state.store, form.get("reply", "")
    try:
        handoffs.reply(store, get_runtime(request).engine.sessions, session_id, user.caller, text)
    except (InputError, handoffs.HandoffConflict) as refused:
        return _conversation(request, user, session_id, error=str(refused), draft=text, status=422)
    audit.record(store, user.caller, handoffs.get(store, session_id)["customer_id"], "console: hand-off reply",
                 allowed=True)
    return redirect(f"/console/handoffs/{session_id}#reply")


@router.post("/handoffs/{session_id}/close")
def close(session_id: str, request: Request, user: SignedIn, form: PostedForm) -> Response:
    store = request.app.state.store
    try:
        handoff = handoffs.close(store, session_id, user.caller)
    except handoffs.HandoffConflict as taken:
        return _conversation(request, user, session_id, error=str(taken), status=409)
    audit.record(store, user.caller, handoff["customer_id"], "console: hand-off closed", allowed=True)
    return redirect("/console/handoffs")


def _queue(request: Request, user: ConsoleUser, error: str | None = None, status: int = 200) -> Response:
    rows = handoffs.queue(request.app.state.store)
    names = _customer_names(request.app.state.store, [row["customer_id"] for row in rows])
    return render(request, "handoffs.html", status, handoffs=rows, names=names, me=user.caller.owner, error=error,
                  kinds=KIND_LABELS)


def _conversation(request: Request, user: ConsoleUser, session_id: str, error: str | None = None, draft: str = "",
                  status: int = 200) -> Response:
    store = request.app.state.store
    handoff = handoffs.get(store, session_id)
    if handoff is None:
        raise handoffs.HandoffNotFound(f"There is no hand-off for conversation {session_id}.")
    session = get_runtime(request).engine.sessions.get(session_id)
    audit.record(store, user.caller, handoff["customer_id"], "console: hand-off conversation", allowed=True)
    name = _customer_names(store, [handoff["customer_id"]]).get(handoff["customer_id"])
    return render(request, "handoff.html", status, handoff=handoff, turns=session.turns,
                  customer_name=name or handoff["customer_id"] or "a customer",
                  mine=handoff["status"] == handoffs.ACTIVE and handoff["agent"] == user.caller.owner,
                  error=error, draft=draft)


def _customer_names(store, customer_ids: list[str | None]) -> dict[str, str]:
    wanted = sorted({cid for cid in customer_ids if cid})
    docs = store["customers"].find({"_id": {"$in": wanted}}, {"first_name": 1, "last_name": 1}) if wanted else []
    return {doc["_id"]: f"{doc.get('first_name', '')} {doc.get('last_name', '')}".strip() for doc in docs}
