"""Finding a customer, the customer page, and the chat panel that asks Fargo about them."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from assistant import audit, consents
from assistant.api.chat import CUSTOMER_ID_PATTERN
from assistant.api.deps import get_runtime
from assistant.console import customer_view
from assistant.console.guard import PostedForm, SignedIn
from assistant.console.search import SearchInputError, find_customers
from assistant.console.web import ConsoleRoute, PageError, redirect, render
from assistant.decisions import Channel
from assistant.engine import InputError, SessionCustomerConflict

router = APIRouter(route_class=ConsoleRoute)


@router.get("/customers")
def search_page(request: Request, user: SignedIn, q: str = "") -> Response:
    try:
        found = find_customers(request.app.state.store, q)
    except SearchInputError as bad:
        return render(request, "search.html", 422, q=q, results=[], error=str(bad))
    if len(found) == 1 and found[0]["_id"].casefold() == q.strip().casefold():
        return redirect(f"/console/customers/{found[0]['_id']}")
    return render(request, "search.html", q=q, results=found, error=None)


@router.get("/customers/{customer_id}")
def customer_page(customer_id: str, request: Request, user: SignedIn, session: str = "") -> Response:
    runtime = get_runtime(request)
    customer = _known_customer(runtime, customer_id)
    audit.record(request.app.state.store, user.caller, customer_id, "console: customer page", allowed=True)
    return _customer_response(request, runtime, customer, session)


@router.post("/customers/{customer_id}/chat")
def chat(customer_id: str, request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Ask Fargo on the customer's behalf; the answer joins the conversation shown in the chat panel."""
    runtime = get_runtime(request)
    customer = _known_customer(runtime, customer_id)
    session_id = form.get("session_id") or None
    try:
        result = runtime.engine.turn(user.caller, form.get("message", ""), session_id, customer_id,
                                     channel=Channel.console)
    except (InputError, SessionCustomerConflict) as bad:
        status = 409 if isinstance(bad, SessionCustomerConflict) else 422
        return _customer_response(request, runtime, customer, session_id or "", chat_error=str(bad),
                                  message=form.get("message", ""), status=status)
    audit.record(request.app.state.store, user.caller, customer_id, "console: chat", allowed=True)
    return redirect(f"/console/customers/{customer_id}?session={result.session_id}#chat")


@router.post("/customers/{customer_id}/consents")
def change_consents(customer_id: str, request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Set the customer's consents as the agent recorded them; each change is audited under the agent's key."""
    runtime = get_runtime(request)
    customer = _known_customer(runtime, customer_id)
    try:
        changes = customer_view.consent_changes(form)
    except ValueError as bad:
        return _customer_response(request, runtime, customer, "", consent_error=str(bad), status=422)
    consents.change_consents(request.app.state.store, user.caller, customer_id, changes)
    return redirect(f"/console/customers/{customer_id}#consents")


def _known_customer(runtime, customer_id: str) -> dict:
    customer = runtime.ctx.customer(customer_id) if re.fullmatch(CUSTOMER_ID_PATTERN, customer_id) else None
    if customer is None:
        raise PageError(404, "Customer not found", f"There is no customer with id {customer_id}.")
    return customer


def _customer_response(request: Request, runtime, customer: dict, session_id: str, chat_error: str | None = None,
                       message: str = "", status: int = 200, consent_error: str | None = None) -> Response:
    customer_id = customer["_id"]
    features = runtime.ctx.features(customer_id)
    people = customer_view.relatives(runtime, customer_id)
    session_id, turns = customer_view.conversation(runtime, session_id, customer_id)
    return render(
        request, "customer.html", status,
        customer=customer, profile=customer_view.profile(customer, features, runtime.ctx.products),
        spending=customer_view.spending(customer, features), relatives=people,
        family=customer_view.family(customer, people),
        sections=customer_view.recommendations(runtime, customer_id, people),
        leads=customer_view.campaign_leads(runtime, request.app.state.store, customer_id),
        decisions=customer_view.decisions(request.app.state.store, customer_id),
        session_id=session_id, turns=turns, chat_error=chat_error, message=message, consent_error=consent_error,
    )
