"""Eligibility and suitability rules, and the fields any scoring may read.

`check` applies a product's `eligibility` terms (ages, income, verified
identity documents, risk appetite) and the "already held" rule to one
customer's live features; an empty list means eligible. Every recommending
tool filters its candidates through it, and `why_not` answers "why can't I
have X?" with the same rules in words.

Income rule: a product's `min_income` is compared with the higher of the
declared income (CIP record) and the income estimated from payroll credits.
This is a pre-screen, not a credit decision: the estimate misses pay that
lands at another bank and the declared figure can be years old, so taking the
lower would hide products from people who qualify; the lender verifies income
before any approval.

Protected attributes (gender, marital status, nationality, religion, health
and the like) never enter a credit, pricing or ranking score: scores read
features only through `credit_score_inputs`, an explicit allow-list.

Consent: `may_profile` says whether a customer record allows profiling;
`OPTED_OUT_OF_PROFILING` finds, as a store query, the customers it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from retrieval.formats import money
from tools.types import Ineligible

if TYPE_CHECKING:
    from retrieval.docstore import DocumentStore
    from tools.context import ToolContext

PROTECTED_ATTRIBUTES = frozenset({
    "gender", "sex", "marital_status", "nationality", "citizenship", "ethnicity", "race", "religion",
    "health", "disability", "sexual_orientation", "pregnancy",
})

# The only feature fields a credit, pricing or ranking score may read.
SCORING_FIELDS = (
    "customer_id", "as_of", "age", "life_stage", "occupation", "declared_income", "income_estimate",
    "deposit_balance", "months_observed", "spend_12m", "spend_trend", "products_held", "goals", "kyc_verified",
    "risk_appetite",
)

# The customers who withdrew consent to profiling (those `may_profile` refuses), as a store query.
OPTED_OUT_OF_PROFILING = {"consent.profiling": False}

KYC_MISSING = "missing"
KYC_PRECEDENCE = ("verified", "pending", "expired", "rejected")


def credit_score_inputs(features: Mapping) -> dict:
    """The allow-listed view of a feature document that every score is computed from.

    The document's `_id` is kept (it is where evidence points), never a protected attribute.
    """
    view = {name: features[name] for name in SCORING_FIELDS if name in features}
    if "_id" in features:
        view["_id"] = features["_id"]
    return view


def eligibility_income(features: Mapping) -> float:
    """The income a `min_income` rule is compared with (see the module docstring)."""
    return max(features.get("declared_income") or 0.0, features.get("income_estimate") or 0.0)


def check(product: Mapping, features: Mapping, *, kyc_status: str | None = None) -> list[Ineligible]:
    """Every rule `product` fails for the customer behind `features`; empty means eligible.

    `kyc_status` (verified, pending, expired, rejected, missing) only sharpens the KYC
    reason; eligibility itself follows the features' `kyc_verified`.
    """
    product_id = product.get("product_id") or product.get("service_id") or str(product.get("_id"))
    rules = product.get("eligibility") or {}
    failures = [
        *_age_rules(rules, features),
        *_income_rule(rules, features),
        *_kyc_rule(rules, features, kyc_status),
        *_risk_rule(rules, features),
    ]
    if product_id in (features.get("products_held") or ()):
        failures.append(("already_held", f"you already hold {product.get('name', product_id)}"))
    return [Ineligible(product_id, rule, reason) for rule, reason in failures]


def _age_rules(rules: Mapping, features: Mapping) -> list[tuple[str, str]]:
    age = features.get("age")
    if age is None:
        return []
    failures = []
    if age < rules.get("min_age", 0):
        failures.append(("min_age", f"available from age {rules['min_age']}; you are {age}"))
    if age > rules.get("max_age", 120):
        failures.append(("max_age", f"available only up to age {rules['max_age']}; you are {age}"))
    return failures


def _income_rule(rules: Mapping, features: Mapping) -> list[tuple[str, str]]:
    minimum = rules.get("min_income") or 0
    income = eligibility_income(features)
    if income >= minimum:
        return []
    return [("min_income", f"needs an income of at least {money(minimum)} a year; yours is {money(income)}")]


def _kyc_rule(rules: Mapping, features: Mapping, kyc_status: str | None) -> list[tuple[str, str]]:
    if not rules.get("requires_verified_kyc", True) or features.get("kyc_verified"):
        return []
    if kyc_status == KYC_MISSING:
        return [("requires_verified_kyc", "requires verified identity documents (KYC); we have none on file")]
    status = kyc_status if kyc_status and kyc_status != "verified" else "not verified"
    return [("requires_verified_kyc", f"requires verified identity documents (KYC); yours are {status}")]


def _risk_rule(rules: Mapping, features: Mapping) -> list[tuple[str, str]]:
    allowed = list(rules.get("risk_appetite") or ())
    appetite = features.get("risk_appetite")
    if not allowed or appetite in allowed:
        return []
    return [("risk_appetite", f"suits a {' or '.join(allowed)} risk appetite; yours is {appetite}")]


def kyc_status(store: DocumentStore, customer_id: str) -> str:
    """The customer's KYC standing: the most hopeful status among their documents, or "missing".

    Verified beats pending (a document is being checked), which beats expired
    (one needs renewing), which beats rejected.
    """
    statuses = {doc.get("status") for doc in store["kyc_documents"].find({"customer_id": customer_id})}
    return next((status for status in KYC_PRECEDENCE if status in statuses), KYC_MISSING)


def why_not(ctx: ToolContext, customer_id: str, product_id: str) -> list[Ineligible]:
    """Why the customer cannot be recommended `product_id`, one item per failed rule; empty means eligible."""
    product = ctx.products.get(product_id)
    if product is None:
        return [Ineligible(product_id, "unknown_product", f"there is no product {product_id} in our catalogue")]
    features = ctx.features(customer_id)
    if features is None:
        return [Ineligible(product_id, "no_profile", "we have no current profile for you yet, so we cannot check")]
    status = None
    if not features.get("kyc_verified") and (product.get("eligibility") or {}).get("requires_verified_kyc", True):
        status = kyc_status(ctx.store, customer_id)
    return check(product, features, kyc_status=status)


def may_profile(customer: Mapping) -> bool:
    """The customer has not withdrawn consent to profiling (a record that says nothing about it allows it)."""
    return (customer.get("consent") or {}).get("profiling", True) is not False
