"""Hand-offs over the API: a customer asks for a person; staff see the queue; the customer rates a closed one.

The agent console picks hand-offs up, replies and closes them (assistant/console);
the widget sees the agent's replies as "agent" turns in GET /v1/sessions/{id}.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant import audit, handoffs
from assistant.api.deps import CurrentCaller, Forbidden, LiveRuntime, StaffCaller, Store
from assistant.callers import Caller, Role
from retrieval.text import Readable, Text

router = APIRouter(prefix="/v1", tags=["handoffs"])
DEFAULT_REASON = "asked for a person"


class HandoffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                   description="The conversation to hand over; a new one when omitted.")
    reason: Text = Field(DEFAULT_REASON, min_length=1, max_length=500)


class HandoffResponse(BaseModel):
    session_id: str
    status: str
    answer: str


class QueuedHandoff(BaseModel):
    session_id: str
    customer_id: str | None
    status: str
    reason: Readable
    kind: str = Field("asked", description="Why: fraud, dispute, complaint, servicing, unserved or asked.")
    priority: str = Field("normal", description="urgent (possible fraud), high (dispute, complaint) or normal.")
    requested_at: str
    agent_name: Readable | None = None


class HandoffQueue(BaseModel):
    handoffs: list[QueuedHandoff]


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(strict=True, ge=1, le=5, description="How satisfied the customer is: 1 (not) to 5 (very).")


class RatingResponse(BaseModel):
    session_id: str
    score: int
    at: str


def _hand_over(store, runtime, caller: Caller, session_id: str | None, reason: str) -> tuple[dict, str]:
    if caller.role is Role.developer:
        raise Forbidden("hand-offs are for a customer's conversation: use the customer's widget token")
    session = runtime.engine.session_for(caller, session_id)
    handoff = handoffs.ask_for_person(store, runtime.engine.sessions, session, reason)
    if caller.is_staff:
        audit.record_if_staff(store, caller, [session.customer_id], "handoff")
    return handoff, session.turns[-1]["text"]


def _rate(store, runtime, caller: Caller, session_id: str, score: int) -> dict:
    if caller.role is not Role.customer:
        raise Forbidden("only the customer in the conversation rates it: use the customer's widget token")
    session = runtime.engine.session_for(caller, session_id)
    return handoffs.rate(store, runtime.engine.sessions, session, score)


@router.post("/handoffs", response_model=HandoffResponse, status_code=201)
async def ask_for_a_person(body: HandoffRequest, request: Request, caller: CurrentCaller, store: Store,
                           runtime: LiveRuntime) -> Any:
    """Hand the conversation to the contact centre's queue; an agent's replies appear in the session."""
    handoff, answer = await run_in_threadpool(_hand_over, store, runtime, caller, body.session_id, body.reason)
    return HandoffResponse(session_id=handoff["_id"], status=handoff["status"], answer=answer)


@router.get("/handoffs", response_model=HandoffQueue)
async def handoff_queue(caller: StaffCaller, store: Store) -> Any:
    """Open hand-offs, urgent first, then disputes and complaints; within each, the longest-waiting first."""
    rows = await run_in_threadpool(handoffs.queue, store)
    return HandoffQueue(handoffs=[QueuedHandoff(session_id=row["_id"], **row) for row in rows])


@router.post("/sessions/{session_id}/rating", response_model=RatingResponse)
async def rate_the_handoff(session_id: Annotated[str, Path(max_length=64)], body: RatingRequest, request: Request,
                           caller: CurrentCaller, store: Store, runtime: LiveRuntime) -> Any:
    """The customer's one-question satisfaction rating (1-5) after their hand-off closed, kept with the session;
    409 while the hand-off is open or if there was none."""
    request.state.asked_customer = caller.customer_id
    rating = await run_in_threadpool(_rate, store, runtime, caller, session_id, body.score)
    return RatingResponse(session_id=session_id, score=rating["score"], at=rating["at"])
