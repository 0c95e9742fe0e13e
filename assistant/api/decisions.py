"""Responses to the offers shown (POST /v1/responses) and a customer's decision history for staff.

Responses have their own endpoint rather than extending POST /v1/feedback:
feedback rates an answer in a session (thumbs up or down, a comment), while a
response follows one offer (decision id + product) through its life, from
shown to opened, and the contact policy acts on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from assistant import audit, responses
from assistant.api.data import CustomerId
from assistant.api.deps import CurrentCaller, LiveRuntime, StaffCaller, Store
from assistant.api.errors import NotFound
from assistant.responses import ResponseKind, history
from retrieval.text import Text

router = APIRouter(prefix="/v1", tags=["decisions"])


class ResponseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                             description="The decision_id of the recommendation shown.")
    product_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: ResponseKind
    reason: Text | None = Field(None, max_length=500, description="Why the customer dismissed it (optional).")

    @model_validator(mode="after")
    def _reason_only_when_dismissed(self) -> ResponseRequest:
        if self.reason is not None and self.kind is not ResponseKind.dismissed:
            raise ValueError("reason is given only with kind 'dismissed'")
        return self


class ResponseRecorded(BaseModel):
    response_id: str
    decision_id: str
    product_id: str
    kind: ResponseKind
    at: str


class DecisionsResponse(BaseModel):
    customer_id: str
    decisions: list[dict[str, Any]]


@router.post("/responses", response_model=ResponseRecorded, status_code=201)
async def respond(body: ResponseRequest, request: Request, caller: CurrentCaller, store: Store):
    """What happened to one recommendation shown: shown, why_opened, accepted, dismissed (with an optional reason),
    or, from staff, opened. A customer responds only to offers made to them."""
    saved = await run_in_threadpool(responses.record, store, caller, body.decision_id, body.product_id, body.kind,
                                    body.reason)
    request.state.asked_customer = saved["customer_id"]
    return ResponseRecorded(**saved)


@router.get("/customers/{customer_id}/decisions", response_model=DecisionsResponse)
async def decisions(customer_id: CustomerId, request: Request, caller: StaffCaller, store: Store, runtime: LiveRuntime,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """What was offered to the customer, when, why, what was held back, and what the customer did (staff, audited)."""
    request.state.asked_customer = customer_id
    if runtime.ctx.customer(customer_id) is None:
        raise NotFound(f"no customer with id {customer_id!r}")
    audit.record(store, caller, customer_id, "decisions", allowed=True)
    found = await run_in_threadpool(history, store, customer_id, limit)
    return DecisionsResponse(customer_id=customer_id, decisions=found)
