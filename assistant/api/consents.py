"""A customer's consents, for the customer and the bank's systems: read them, change them (audited)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StrictBool, create_model, model_validator
from starlette.concurrency import run_in_threadpool

from assistant import consents
from assistant.api.data import CustomerId, check_may_read
from assistant.api.deps import CurrentCaller, Store
from assistant.callers import STAFF_ROLES, Role
from assistant.engine import PermissionDenied
from retrieval.privacy import CONSENT_NAMES

router = APIRouter(prefix="/v1", tags=["consents"])


class ConsentsResponse(BaseModel):
    customer_id: str
    consent: dict[str, bool]


class _AtLeastOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _names_one(self):
        if not self.model_fields_set:
            raise ValueError(f"name at least one consent: {', '.join(CONSENT_NAMES)}")
        return self


# One optional true/false per consent the customer record holds; any other name is refused.
ConsentChanges = create_model("ConsentChanges", __base__=_AtLeastOne,
                              **{name: (StrictBool, None) for name in CONSENT_NAMES})


@router.get("/customers/{customer_id}/consents", response_model=ConsentsResponse)
async def read_consents(customer_id: CustomerId, request: Request, caller: CurrentCaller, store: Store):
    """The customer's consents (marketing, profiling, health data, sharing with family): theirs, or staff's."""
    request.state.asked_customer = customer_id
    check_may_read(store, caller, customer_id, "consents")
    return ConsentsResponse(customer_id=customer_id,
                            consent=await run_in_threadpool(consents.consents_of, store, customer_id))


@router.put("/customers/{customer_id}/consents", response_model=ConsentsResponse)
async def change_consents(customer_id: CustomerId, body: ConsentChanges, request: Request, caller: CurrentCaller,
                          store: Store):  # type: ignore[valid-type]
    """Change consents named in the body (`{"marketing": false}`), each change audited and honoured by the next
    answer and the next ingestion run. A customer may withdraw their own; staff may also record one given."""
    request.state.asked_customer = customer_id
    if not (caller.role in STAFF_ROLES or (caller.role is Role.customer and caller.customer_id == customer_id)):
        raise PermissionDenied("you may not change this customer's consents")
    changes = body.model_dump(exclude_unset=True)
    changed = await run_in_threadpool(consents.change_consents, store, caller, customer_id, changes)
    return ConsentsResponse(customer_id=customer_id, consent=changed)
