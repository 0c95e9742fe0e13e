"""Everything the customer page shows, read from the live data and the tools (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass

from assistant import responses
from assistant.sessions import SessionNotFound
from retrieval.formats import money
from retrieval.leads import find_leads

RECOMMENDATION_TOOLS = (("personal", "recommend_personal", "For the customer"),
                        ("family", "recommend_family", "For their family"),
                        ("healthcare", "recommend_healthcare", "Healthcare"))
RECOMMENDATIONS_PER_KIND = 3
MAX_LEADS = 5
MAX_DECISIONS = 20
RESPONSE_WORDS = {"shown": "saw it", "why_opened": "opened \u201cWhy?\u201d", "accepted": "clicked through to apply",
                  "dismissed": "said \u201cnot for me\u201d", "opened": "opened the account"}
CONSENTS = ("marketing", "profiling", "health_data", "share_with_family")


@dataclass(frozen=True)
class Relative:
    relative_id: str
    name: str
    relation: str
    age_band: str
    is_customer: bool
    consent_to_share: bool
    customer_id: str | None  # when the relative banks here too


def full_name(customer: dict) -> str:
    return f"{customer.get('first_name', '')} {customer.get('last_name', '')}".strip() or customer["_id"]


def profile(customer: dict, features: dict | None, products: dict[str, dict]) -> dict:
    """Key profile fields and the features' summary (None when the last run has no features for them)."""
    features = features or {}
    held = [products.get(pid, {}).get("name", pid) for pid in features.get("products_held", [])]
    facts = [
        ("Customer id", customer["_id"]), ("Age", features.get("age")), ("Life stage", features.get("life_stage")),
        ("City", customer.get("city")), ("Occupation", customer.get("occupation")),
        ("Marital status", customer.get("marital_status")), ("Dependants", customer.get("dependants")),
        ("Declared income", money(customer.get("annual_income"))),
        ("Income from payroll", money(features.get("income_estimate"))),
        ("Deposits", money(features.get("deposit_balance"))), ("Risk appetite", customer.get("risk_appetite")),
        ("KYC", "verified" if features.get("kyc_verified") else "not verified"),
        ("Customer since", customer.get("customer_since")),
    ]
    consent = customer.get("consent") or {}
    return {
        "name": full_name(customer), "summary": features.get("profile_summary"), "held": held,
        "facts": [(label, value) for label, value in facts if value not in (None, "")],
        "consents": [(name, name.replace("_", " "), bool(consent.get(name))) for name in CONSENTS],
        "goals": features.get("goals", []),
    }


def spending(customer: dict, features: dict | None) -> dict | None:
    """The chart and its table: spend per category per month over the features' 12 months."""
    if not features or not features.get("spend_by_month"):
        return None
    from assistant.console import (
        charts,  # matplotlib takes half a second to import: only a customer page pays it
    )

    months, series = features["months"], charts.top_spending(features["spend_by_month"])
    label = (f"Spending by category per month, {charts.month_label(months[0])} to {charts.month_label(months[-1])},"
             f" for {full_name(customer)}")
    rows = [(category, values, sum(values)) for category, values in series.items()]
    return {"svg": charts.spending_chart(months, series, label), "label": label,
            "months": [charts.month_label(month) for month in months], "rows": rows}


def relatives(runtime, customer_id: str) -> list[Relative]:
    ctx = runtime.ctx
    found = []
    for view in runtime.engine.tools.relatives(ctx, customer_id):
        name = view.name or (full_name(ctx.customer(view.relative_id) or {"_id": view.relative_id}))
        found.append(Relative(view.relative_id, name, view.relation, view.age_band or "age unknown", view.is_customer,
                              view.consent_to_share, view.relative_id if view.is_customer else None))
    return found


def family(customer: dict, people: list[Relative]) -> dict | None:
    if not people:
        return None
    from assistant.console import charts

    label = (f"Family graph of {full_name(customer)}: {len(people)} relative{'s' if len(people) != 1 else ''}, "
             "a solid line where the relative consents to share, dashed where not")
    centre = charts.Person("customer", f"{full_name(customer)}\n{customer['_id']}", True)
    around = [charts.Person(f"relative-{index}", f"{person.name}\n{person.relation} · {person.age_band}",
                            person.is_customer, person.relation, person.consent_to_share)
              for index, person in enumerate(people)]
    return {"svg": charts.family_graph(centre, around, label), "label": label}


def recommendations(runtime, customer_id: str, people: list[Relative]) -> list[dict]:
    """Personal, family and healthcare recommendations, each with its reasons and evidence."""
    names = {person.relative_id: person.name for person in people}
    sections = []
    for kind, tool, title in RECOMMENDATION_TOOLS:
        recs = runtime.engine.tools.call(tool, runtime.ctx, customer_id, k=RECOMMENDATIONS_PER_KIND)
        shown = [rec.to_dict() | {"for_name": names.get(rec.for_person)} for rec in recs]
        sections.append({"kind": kind, "title": title, "recommendations": shown})
    return sections


def campaign_leads(runtime, store, customer_id: str) -> list[dict]:
    """Leads the campaign worker stored, then the campaign insight tool's for products not among them."""
    stored = [{"product": lead.get("product_name", lead["product_id"]), "campaign": lead.get("campaign_name", ""),
               "score": lead.get("score", 0.0), "reason": lead.get("reason", ""),
               "opening_line": lead.get("opening_line", ""), "marketing_consent": lead.get("marketing_consent", False),
               "product_id": lead["product_id"]}
              for lead in find_leads(store, customer_id=customer_id, limit=MAX_LEADS)]
    known = {lead["product_id"] for lead in stored}
    for insight in runtime.engine.tools.call("campaign_insights", runtime.ctx, customer_id, k=MAX_LEADS):
        if insight.product_id not in known:
            campaign = runtime.ctx.store["campaigns"].find_one({"_id": insight.campaign_id}, {"name": 1}) or {}
            stored.append({"product": insight.name, "campaign": campaign.get("name", insight.campaign_id),
                           "score": insight.score, "reason": " ".join(insight.reasons),
                           "opening_line": insight.opening_line, "marketing_consent": insight.marketing_consent,
                           "product_id": insight.product_id})
    return stored[:MAX_LEADS]


def decisions(store, customer_id: str) -> list[dict]:
    """What was offered, when, on which channel and why, what was held back, and what the customer did."""
    found = responses.history(store, customer_id, MAX_DECISIONS)
    for decision in found:
        for item in decision["offers"]:
            item["did"] = [_did(response) for response in item["responses"]]
    return found


def _did(response: dict) -> str:
    words = RESPONSE_WORDS.get(response["kind"], response["kind"])
    reason = f" ({response['reason']})" if response.get("reason") else ""
    return f"{words}{reason}, {response['at'][:16].replace('T', ' ')}"


def conversation(runtime, session_id: str | None, customer_id: str) -> tuple[str | None, list[dict]]:
    """The chat panel's session (only one about this customer) and its turns."""
    if not session_id:
        return None, []
    try:
        session = runtime.engine.sessions.get(session_id)
    except SessionNotFound:
        return None, []
    if session.customer_id != customer_id:
        return None, []
    return session.session_id, session.turns


def consent_changes(form: dict[str, str]) -> dict[str, bool]:
    """The consents a console form sets (`marketing=yes`, `profiling=no`); ValueError naming a bad or missing one."""
    choices = {"yes": True, "no": False}
    changes = {}
    for name in CONSENTS:
        if name in form:
            if form[name] not in choices:
                raise ValueError(f"{name.replace('_', ' ')}: choose yes or no, not {form[name][:40]!r}")
            changes[name] = choices[form[name]]
    if not changes:
        raise ValueError(f"choose yes or no for at least one consent: {', '.join(CONSENTS)}")
    return changes
