"""A customer's consents: read them, change them (audited), and make the change hold at once and after ingestion.

The flags live on the customer record (`consent.marketing`, `consent.profiling`,
`consent.health_data`, `consent.share_with_family`); the tools read them from
there on every call, so the next answer honours a change. Fargo also keeps its
own record of the change (`retrieval.privacy`) so the next ingestion run of an
older source file does not switch a withdrawn consent back on.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant import audit
from assistant.callers import Caller, Role
from retrieval.errors import FargoError
from retrieval.leads import LEADS
from retrieval.privacy import CONSENT_NAMES, record_consent_change
from retrieval.records import Consent

CUSTOMERS = "customers"


class CustomerNotFound(FargoError, LookupError):
    status = 404
    kind = "not_found"


class ConsentRefused(FargoError):
    """The caller may not make this change."""

    status = 403
    kind = "permission_denied"


def consents_of(store, customer_id: str) -> dict[str, bool]:
    """Every consent of the customer, with the model's defaults for any the record does not state."""
    customer = store[CUSTOMERS].find_one({"_id": customer_id}, {"consent": 1})
    if customer is None:
        raise CustomerNotFound(f"no customer with id {customer_id!r}")
    stated = customer.get("consent") or {}
    defaults = Consent().model_dump()
    return {name: bool(stated.get(name, defaults[name])) for name in CONSENT_NAMES}


def change_consents(store, caller: Caller, customer_id: str, changes: Mapping[str, bool]) -> dict[str, bool]:
    """Apply `changes` (consent name -> on/off), audit each one, and return every consent as it now is.

    A customer may withdraw their own consents; giving one is for the bank's staff (who record how it was given).
    """
    unknown = sorted(set(changes) - set(CONSENT_NAMES))
    if unknown:
        raise ValueError(f"unknown consent {unknown[0]!r}: use {', '.join(CONSENT_NAMES)}")
    granted = sorted(name for name, value in changes.items() if value)
    if caller.role is Role.customer and granted:
        raise ConsentRefused(f"a customer may only withdraw consent here; ask the bank to record {granted[0]!r}",
                             field=granted[0])
    before = consents_of(store, customer_id)
    changed = {name: bool(value) for name, value in changes.items() if before[name] != bool(value)}
    if changed:
        store[CUSTOMERS].update_one({"_id": customer_id},
                                    {"$set": {f"consent.{name}": value for name, value in changed.items()}})
        record_consent_change(store, customer_id, changed)
        _withdraw_leads(store, customer_id, changed)
    for name, value in changed.items():
        audit.record(store, caller, customer_id, f"consent:{name}:{'given' if value else 'withdrawn'}", allowed=True)
    return before | changed


def _withdraw_leads(store, customer_id: str, changed: Mapping[str, bool]) -> None:
    """Outreach leads follow the change: no profiling, no leads (they were inferred from the customer's posts);
    no marketing, leads stay for when the customer gets in touch, marked not to be contacted."""
    if changed.get("profiling") is False:
        store[LEADS].delete_many({"customer_id": customer_id})
    elif changed.get("marketing") is False:
        store[LEADS].update_many({"customer_id": customer_id}, {"$set": {"marketing_consent": False}})
