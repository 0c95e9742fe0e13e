"""Widget tokens for the bank's backend, and the audit log for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant import audit
from assistant.api.chat import CUSTOMER_ID_PATTERN
from assistant.api.deps import AdminCaller, BackendCaller, Store
from assistant.api.errors import NotFound
from assistant.auth import MAX_TOKEN_TTL_S, mint_widget_token

router = APIRouter(prefix="/v1", tags=["auth"])


class WidgetTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    ttl_s: int = Field(900, ge=1, le=MAX_TOKEN_TTL_S)


class WidgetTokenResponse(BaseModel):
    token: str
    customer_id: str
    expires_at: int  # unix time


class AuditEntry(BaseModel):
    who: str
    role: str
    customer_id: str | None
    action: str
    at: str
    allowed: bool


class AuditResponse(BaseModel):
    entries: list[AuditEntry]


@router.post("/widget/tokens", response_model=WidgetTokenResponse, status_code=201)
def widget_token(body: WidgetTokenRequest, request: Request, caller: BackendCaller) -> Any:
    """For the bank's backend: a short-lived token that lets one signed-in customer's browser chat."""
    if request.app.state.store["customers"].find_one({"_id": body.customer_id}, {"_id": 1}) is None:
        raise NotFound(f"no customer with id {body.customer_id!r}")
    token, expires_at = mint_widget_token(request.app.state.token_secret(), body.customer_id, body.ttl_s)
    return WidgetTokenResponse(token=token, customer_id=body.customer_id, expires_at=expires_at)


@router.get("/audit", response_model=AuditResponse)
async def audit_log(caller: AdminCaller, store: Store, customer_id: str | None = None, allowed: bool | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    """Who read which customer's data, and every denied attempt; newest first."""
    rows = await run_in_threadpool(audit.entries, store, customer_id, allowed, limit)
    return AuditResponse(entries=[AuditEntry(**row) for row in rows])
