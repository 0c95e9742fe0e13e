"""Data-subject requests for admins: export everything Fargo holds about a customer, or erase them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant import audit, dsr
from assistant.api.data import CustomerId
from assistant.api.deps import AdminCaller, Store

router = APIRouter(prefix="/v1/admin", tags=["privacy"])


class ErasureResponse(BaseModel):
    erased: str  # the pseudonym that now stands for the customer in the audit log
    deleted: dict[str, int]
    audit_pseudonymised: int
    vectors_deleted: int
    graph_nodes_removed: int


@router.get("/customers/{customer_id}/export")
async def export_customer(customer_id: CustomerId, request: Request, caller: AdminCaller, store: Store) -> dict:
    """Everything Fargo holds about the customer, as one JSON document (a data-subject access request)."""
    request.state.asked_customer = customer_id
    exported = await run_in_threadpool(dsr.export_customer, store, customer_id)
    await run_in_threadpool(audit.record, store, caller, customer_id, "export", True)
    return exported


@router.delete("/customers/{customer_id}", response_model=ErasureResponse)
async def erase_customer(customer_id: CustomerId, request: Request, caller: AdminCaller,
                         store: Store) -> ErasureResponse:
    """Erase the customer from every store, keep audit entries under a pseudonym, and skip them in later
    ingestion runs."""
    state = request.app.state
    request.state.asked_customer = customer_id
    vectors = state.runtime.vectors if state.runtime is not None else None
    report = await run_in_threadpool(dsr.erase, state.settings, store, caller, customer_id, vectors)
    state.live_checked_at = 0.0  # the next request reloads the live data without them
    return ErasureResponse(erased=report.customer, deleted=report.deleted, audit_pseudonymised=report.audit_pseudonymised,
                           vectors_deleted=report.vectors_deleted, graph_nodes_removed=report.graph_nodes_removed)
