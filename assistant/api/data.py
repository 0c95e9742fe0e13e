"""Recommendations, product search, session history and feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant import audit, handoffs
from assistant.api.chat import CUSTOMER_ID_PATTERN
from assistant.api.deps import CurrentCaller, LiveRuntime, Store
from assistant.api.errors import NotFound
from assistant.callers import STAFF_ROLES, Caller, Role
from assistant.decisions import channel_of
from assistant.disclosure import shown_to_customer
from assistant.engine import PermissionDenied, Plan, check_session_access
from assistant.sessions import Session
from retrieval.records import ProductCategory
from retrieval.text import Readable, Text

router = APIRouter(prefix="/v1", tags=["data"])
CustomerId = Annotated[str, Path(pattern=CUSTOMER_ID_PATTERN)]


class Kind(StrEnum):
    personal = "personal"
    family = "family"
    healthcare = "healthcare"


TOOL_OF_KIND = {Kind.personal: "recommend_personal", Kind.family: "recommend_family",
                Kind.healthcare: "recommend_healthcare"}


class RecommendationsResponse(BaseModel):
    customer_id: str
    kind: Kind
    recommendations: list[dict[str, Any]]


class SearchResponse(BaseModel):
    query: str
    hits: list[dict[str, Any]]


class Turn(BaseModel):
    role: str
    text: Readable
    at: float | None = None
    intent: str | None = None
    recommendations: list[dict[str, Any]] = []
    agent: Readable | None = None  # on an "agent" turn: the name the agent signs with
    handoff: bool = False


class SessionResponse(BaseModel):
    session_id: str
    customer_id: str | None
    created_at: str
    turns: list[Turn]
    handoff_status: str | None = None  # waiting | active | closed, when the conversation was handed to a person
    rating: int | None = None  # the customer's 1-5 score for the hand-off that closed last, once given


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    rating: Literal["up", "down"]
    product_id: Text | None = Field(None, max_length=64)
    comment: Text | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    feedback_id: str


def check_may_read(store, caller: Caller, customer_id: str | None, action: str) -> None:
    """A customer reads only their own data; staff read anyone's, audited; developers read none."""
    if caller.role is Role.customer and caller.customer_id == customer_id:
        return
    if caller.role in STAFF_ROLES:
        audit.record(store, caller, customer_id, action, allowed=True)
        return
    raise PermissionDenied("you may not read this customer's data")


def check_may_read_session(store, caller: Caller, session: Session) -> None:
    """Whoever may continue a session may read it (`engine.check_session_access`); staff reading a session they did
    not open is audited."""
    check_session_access(caller, session)
    if caller.role in STAFF_ROLES and session.owner != caller.owner:
        audit.record(store, caller, session.customer_id, "session", allowed=True)


@router.get("/customers/{customer_id}/recommendations", response_model=RecommendationsResponse)
async def recommendations(customer_id: CustomerId, request: Request, caller: CurrentCaller, runtime: LiveRuntime,
                          kind: Kind = Kind.personal, k: Annotated[int, Query(ge=1, le=20)] = 5):
    """Ranked products for one customer, each with reasons and the stored evidence behind them (for the customer,
    a relative's id only when that relative shares with them), each with its decision_id; what the contact policy
    holds back is left out."""
    request.state.asked_customer = customer_id
    check_may_read(request.app.state.store, caller, customer_id, f"recommendations:{kind}")
    if runtime.ctx.customer(customer_id) is None:
        raise NotFound(f"no customer with id {customer_id!r}")
    shown = await run_in_threadpool(recommendations_shown, runtime, caller, customer_id, kind, k)
    return RecommendationsResponse(customer_id=customer_id, kind=kind, recommendations=shown)


def recommendations_shown(runtime, caller: Caller, customer_id: str, kind: Kind, k: int) -> list[dict]:
    """The tool's ranking under the contact policy and levers, written to the decision log as the chat's are."""
    tools, offers, tool = runtime.engine.tools, runtime.engine.offers, TOOL_OF_KIND[kind]
    recs, held = offers.ranked(tool, customer_id, {"k": k})
    shown = [rec.to_dict() for rec in recs]
    if caller.role is Role.customer:
        shown_to_customer(shown, tools, runtime.ctx, customer_id)
    plan = Plan(f"recommendations:{kind}", recommendations=shown, held_back=held,
                tool_calls=[{"name": tool, "arguments": {"customer_id": customer_id, "k": k}}])
    offers.decide(plan, customer_id, channel_of(caller), None, f"GET recommendations?kind={kind}&k={k}",
                  f"recommendations:{kind}")
    return shown


@router.get("/products/search", response_model=SearchResponse)
async def search(caller: CurrentCaller, runtime: LiveRuntime, q: Annotated[str, Query(min_length=1, max_length=500)],
                 category: ProductCategory | None = None, k: Annotated[int, Query(ge=1, le=20)] = 5):
    """Products and FAQ answers for a question; for a signed-in customer, whether they are eligible."""
    customer_id = caller.customer_id if caller.role is Role.customer else None
    hits = await run_in_threadpool(runtime.engine.tools.call, "search_products", runtime.ctx, q,
                                   customer_id=customer_id, category=category, k=k)
    return SearchResponse(query=q, hits=[runtime.engine.tools.hit_dict(hit) for hit in hits])


@router.get("/sessions/{session_id}", response_model=SessionResponse)
async def session_history(session_id: Annotated[str, Path(max_length=64)], request: Request, caller: CurrentCaller,
                          runtime: LiveRuntime):
    """A conversation's turns: for the caller who opened it, if it is about no one else, or for staff (audited)."""
    session = await run_in_threadpool(runtime.engine.sessions.get, session_id)
    request.state.asked_customer = session.customer_id
    check_may_read_session(request.app.state.store, caller, session)
    handoff = await run_in_threadpool(handoffs.get, request.app.state.store, session_id)
    return SessionResponse(session_id=session.session_id, customer_id=session.customer_id,
                           created_at=session.created_at, turns=[Turn(**turn) for turn in session.turns],
                           handoff_status=handoff["status"] if handoff else None,
                           rating=handoffs.score_for_last_close(session, handoff))


@router.post("/feedback", response_model=FeedbackResponse, status_code=201)
async def feedback(body: FeedbackRequest, request: Request, caller: CurrentCaller, store: Store, runtime: LiveRuntime):
    """A thumbs up or down on an answer (or on one product in it), kept for tuning."""
    session = await run_in_threadpool(runtime.engine.sessions.get, body.session_id)
    request.state.asked_customer = session.customer_id
    check_session_access(caller, session)
    document = body.model_dump() | {"who": caller.owner, "customer_id": session.customer_id,
                                    "at": datetime.now(UTC).isoformat()}
    result = await run_in_threadpool(store["feedback"].insert_one, document)
    return FeedbackResponse(feedback_id=str(result.inserted_id))
