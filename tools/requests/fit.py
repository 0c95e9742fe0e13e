"""Honouring a request: hard constraints filter, the stated need comes first, personal signals order within it.

`violations(product, constraints)` says, in words, every constraint a product
breaks. `fit_request` takes the products a tool may offer with their personal
scores and returns what to show: the products that answer the request's need
or named product type and break no constraint, the strongest need first and
personal scores ordering near-equals; a product that merely scores well for the
customer never goes above one that answers what they asked. When every product
that answers the need breaks a constraint, the closest ones are returned with
`unmet` naming what they break, so the answer can say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from retrieval.records import RISK_ORDER
from tools.evidence import field_evidence
from tools.requests.model import MONTHLY_COSTS, Constraints, Request
from tools.requests.slots import names_only_a_kind
from tools.types import Evidence, EvidenceKind

PERSONAL_WEIGHT = 0.15  # how much the customer's own signals move a product among those answering the need
CATEGORY_NEED = 0.25  # the need score of a product of a type the request names ("a card"), below any stated need
# for a relative, a need must be this plain: "ideas for my family" comes close to products for families
STATED_NEED = 0.6
NEED_MARGIN = 0.25  # products this far below the best one offered answer a different need
SPECIFIC_NEED = 0.6  # a request whose best product scores this much asks for a need, not only for a type
MIN_OPTIONS = 3  # options a list offers when that many answer the need at all
OTHER_OPTIONS_MARGIN = 0.3  # ... unless the customer asked for something else than what they were shown
STRONG_NEED = 0.8  # a need this plain is shown even outside the product types the request names
PLAIN_NEED = 0.9  # ... and this plain, it is what the request is for, whatever else it seems to be
ALSO_ANSWERS = {"loan": ("mortgage",)}  # asked for "loans" to buy a house, a mortgage is one ...
_ABOUT_A_HOME = re.compile(r"\b(?:house|home|condo|property|townhouse|equity|place to live)\b", re.IGNORECASE)  # ... not for a car
BUSINESS_SEGMENT = "small_business"
RATE_CATEGORIES = frozenset({"loan", "mortgage", "card"})
RISKY_CATEGORIES = frozenset({"investment", "retirement", "education_savings"})
REQUEST_REASON = "It fits what you asked"
NEAR_REQUEST = "It is close to what you asked"
UNMET_PREFIX = "Closest to what you asked"
_ALSO_PERSONAL = re.compile(r"\bpersonal(?:ly)?\b|\bfor (?:me|myself|us|our family|the family|my family)\b"
                            r"|\b(?:my|our) own (?:use|money)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Fitted:
    product: Mapping
    need: float
    personal: float
    phrase: str
    unmet: tuple[str, ...] = ()

    @property
    def product_id(self) -> str:
        return self.product["_id"]


@dataclass(frozen=True)
class Answer:
    shown: list[Fitted] = field(default_factory=list)
    unmet: bool = False  # nothing answering the need met every constraint: `shown` are the closest


def is_business_product(product: Mapping) -> bool:
    return BUSINESS_SEGMENT in (product.get("target_segments") or ())


def violations(product: Mapping, constraints: Constraints) -> list[str]:
    """What `product` breaks of `constraints`, each in a few words ("a $95 annual fee")."""
    terms, category = product.get("terms") or {}, product.get("category")
    broken = []
    if constraints.max_annual_fee is not None and (terms.get("annual_fee") or 0) > constraints.max_annual_fee:
        broken.append(f"a ${terms['annual_fee']:,.0f} annual fee")
    if constraints.max_monthly_fee is not None:
        # what cover costs a month is paid every month as a fee is: a $1,450 premium never meets "no monthly fee"
        broken += [f"a ${terms[term]:,.0f} monthly {word}" for term, word in MONTHLY_COSTS
                   if (terms.get(term) or 0) > constraints.max_monthly_fee]
    if constraints.rate_type and terms.get("rate_type") != constraints.rate_type:
        broken.append(f"a {terms['rate_type']} rate" if terms.get("rate_type") else "no set rate type")
    broken += _risk_violations(terms, category, constraints.max_risk)
    broken += _term_violations(terms, category, constraints.term_months)
    broken += _amount_violations(terms, category, constraints.amount)
    if constraints.categories and not product_kinds(product) & set(constraints.categories):
        broken.append(f"it is not one of the kinds you asked for ({category})")
    refused = sorted(_refused_as(product) & set(constraints.excluded_categories))
    if refused:
        broken.append(f"it is {refused[0]}, which you ruled out")
    return broken


def _risk_violations(terms: Mapping, category: str | None, max_risk: str | None) -> list[str]:
    if not max_risk:
        return []
    level = terms.get("risk_level")
    if level is None:
        unknown_is_risky = category in RISKY_CATEGORIES and RISK_ORDER.index(max_risk) <= 1
        return ["its risk depends on what it is invested in"] if unknown_is_risky else []
    return [f"{level} risk"] if RISK_ORDER.index(level) > RISK_ORDER.index(max_risk) else []


def _term_violations(terms: Mapping, category: str | None, months: int | None) -> list[str]:
    term = terms.get("term_months")
    if not months or term is None:
        return []
    if category == "loan" and term < months:
        return [f"terms of at most {term} months"]
    if category == "mortgage" and abs(term - months) > max(12, months // 4):  # a mortgage's term is its own
        return [f"a {term // 12}-year term"]
    if category in ("deposit", "retirement") and abs(term - months) > max(3, months // 4):
        return [f"a fixed term of {term} months"]
    return []


def _amount_violations(terms: Mapping, category: str | None, amount: float | None) -> list[str]:
    if amount is None:
        return []
    if category in ("loan", "mortgage") and terms.get("max_amount") and terms["max_amount"] < amount:
        return [f"lends at most ${terms['max_amount']:,.0f}"]
    if category == "deposit" and (terms.get("min_balance") or 0) > amount:
        return [f"needs ${terms['min_balance']:,.0f} to open"]
    return []


def conditions(request: Request | None, plain: float = 0.0) -> bool:
    """Whether `request` says anything that changes a ranking: a need (its closest product scoring `plain` or
    more), a product type, a constraint, or products not to show again."""
    if request is None:
        return False
    stated = bool(request.needs) and request.needs[0].score >= plain
    return stated or bool(request.categories or request.constraints or request.exclude)


def as_ranked(request: Request | None) -> Request | None:
    """`request` as a ranking reads it: asked only for a kind ("which card should I get?"), the need statements its
    words come close to match the sentence's form ("which credit card should I take on my trip overseas"), not a
    need, so the kind is what it asks for and the customer's own signals order its products."""
    if request is None or not request.needs or request.needs_carried or not names_only_a_kind(request.text):
        return request
    return replace(request, needs=())


def fit_request(request: Request, products: Sequence[Mapping], personal: Mapping[str, float], k: int,
                answered_elsewhere: float = 0.0) -> Answer:
    """What to show for `request` among `products` (eligible, not held), given each one's personal score.
    `answered_elsewhere` is the need score of a product the answer names apart (one they hold, one not open to
    them): products far below it answer another need, however well they fit what is left.

    The products closest to the stated need come first; when fewer than MIN_OPTIONS of them meet the constraints,
    the next ones answering it less closely follow (a customer asking for options expects a few)."""
    products = [product for product in products if product["_id"] not in request.skipped]
    close = _fitted(request, _relevant(request, products, NEED_MARGIN, answered_elsewhere), personal)
    passing = [item for item in close if not item.unmet]
    if not request.needs and not request.categories:
        passing = [item for item in passing if item.personal > 0]
    if passing and len(passing) < min(k, MIN_OPTIONS):
        shown = {item.product_id for item in passing}
        wider = _fitted(request, _relevant(request, products, OTHER_OPTIONS_MARGIN, answered_elsewhere), personal)
        passing += [item for item in wider if not item.unmet and item.product_id not in shown]
    if passing:
        return Answer(passing[:k])
    closest = sorted(close, key=lambda item: (len(item.unmet), -(item.need + PERSONAL_WEIGHT * item.personal)))
    return Answer(closest[:min(k, 2)], unmet=True)


def _fitted(request: Request, relevant: list, personal: Mapping[str, float]) -> list[Fitted]:
    """The relevant products with their constraint failures, best first: need, then personal scores."""
    top_personal = max((personal.get(product["_id"], 0.0) for product, _, _ in relevant), default=0.0) or 1.0
    fitted = [Fitted(product, need, max(0.0, personal.get(product["_id"], 0.0)) / top_personal, phrase,
                     tuple(violations(product, request.constraints)))
              for product, need, phrase in relevant]
    fitted.sort(key=lambda item: (-(item.need + PERSONAL_WEIGHT * item.personal), item.product_id))
    return fitted


def _relevant(request: Request, products: Sequence[Mapping], margin: float,
              answered_elsewhere: float = 0.0) -> list[tuple[Mapping, float, str]]:
    """The products answering the request's need or named type, with their need score and matched phrase; a need
    the answer meets elsewhere (a product they hold) counts as the best one when it is."""
    named = set(request.categories) | set(request.constraints.categories)
    if _ABOUT_A_HOME.search(request.text) or not request.text:
        named |= {wider for category in named for wider in ALSO_ANSWERS.get(category, ())}
    # about their business, a customer is offered business products, and others only when they plainly ask for
    # one, and for a kind a business product answers ("cash back on the food truck's fuel") only when they say
    # it is for themselves
    business_only = request.business and any(is_business_product(product) for product in products)
    business_kinds = set() if _ALSO_PERSONAL.search(request.text) else {
        product.get("category") for product in products
        if is_business_product(product) and request.need_score(product["_id"]) > 0}
    chosen = []
    for product in products:
        need, phrase = request.need_score(product["_id"]), request.need_phrase(product["_id"])
        if business_only and not is_business_product(product) and (
                need < STRONG_NEED or product.get("category") in business_kinds):
            continue
        if named:
            if product_kinds(product) & named:
                need = max(need, CATEGORY_NEED)
            elif need < STRONG_NEED:
                continue
        if need > 0:
            chosen.append((product, need, phrase))
    if not chosen:  # no need or type stated: every product may answer, the constraints still hold
        return [] if request.needs or named else [(product, 0.0, "") for product in products]
    best = max(max((need for _, need, _ in chosen), default=0.0), answered_elsewhere)
    margin = OTHER_OPTIONS_MARGIN if request.exclude else margin
    # asked for a type only ("what credit cards would you recommend?"), any product of it answers; asked for a
    # need ("a card for restaurants"), only those close to the best
    browsing = best < SPECIFIC_NEED
    return [item for item in chosen
            if (browsing and product_kinds(item[0]) & named) or item[1] >= best - margin]


def far_from_need(request: Request, products: Mapping[str, Mapping]) -> list[str]:
    """The products answering another need than the one `request` plainly states (none when it states none); of
    a type the request names ("which credit card is best for travel?"), every product stays an option."""
    if not request.needs or request.needs[0].score < SPECIFIC_NEED:
        return []
    floor = request.needs[0].score - NEED_MARGIN
    return [product_id for product_id, product in products.items()
            if request.need_score(product_id) < floor and not product_kinds(product) & set(request.categories)]


def is_cover(product: Mapping) -> bool:
    """Whether the product is cover paid for by a premium (insurance, and health plans too)."""
    return bool((product.get("terms") or {}).get("premium_monthly"))


def product_kinds(product: Mapping) -> set[str]:
    """The types of product `product` is, as a customer names them: its category, and insurance when it is
    cover (a health plan is insurance too)."""
    kinds = {product.get("category")}
    if is_cover(product):
        kinds.add("insurance")
    return kinds


def _refused_as(product: Mapping) -> set[str]:
    """The types a customer ruling one out means: "not a savings account" rules out any account earning interest
    (a health savings account too), though one asking for a savings account means a bank account."""
    kinds = product_kinds(product)
    if (product.get("terms") or {}).get("apy"):
        kinds.add("deposit")
    return kinds


def request_reason(request: Request, product: Mapping, phrase: str) -> tuple[str, list[Evidence]]:
    """Why the product answers the request, quoting the catalogue's own words for what it is for."""
    # a product shown as the closest to constraints it breaks leads with what it falls short on, and meets none here
    said = [] if violations(product, request.constraints) else request.constraints.words(product.get("terms") or {})
    meets = f", and it meets what you set: {', '.join(said)}" if said else ""
    # asked only for a kind ("which card should I get?"), a need statement matched on the sentence's form is not
    # what they asked for: the kind is
    of_the_kind_only = names_only_a_kind(request.text) and product_kinds(product) & set(request.categories)
    if quotes_a_statement(phrase, product) and not of_the_kind_only:
        reason = f'{REQUEST_REASON}: it is for "{phrase}"{meets}.'
        statements = product.get("need_statements") or []
        path = f"need_statements.{statements.index(phrase)}" if phrase in statements else "description"
    else:
        named = sorted(product_kinds(product) & set(request.categories))
        kind = _category_plural(next(iter(named), product.get("category", "")))
        # the kind was asked for; else the product only came close to the words, as no need statement did
        reason = f"{REQUEST_REASON}: it is one of our {kind}{meets}." if named else \
            f"{NEAR_REQUEST}: it is one of our {kind}{meets}."
        path = "category"
    evidence = [field_evidence(EvidenceKind.product_terms, "products", product, path, f"what {product['name']} is for")]
    return reason, evidence


def quotes_a_statement(phrase: str, product: Mapping) -> bool:
    """Whether a need's phrase is words to quote: the product's name stands where no statement came close."""
    return bool(phrase) and phrase != product["name"]


def unmet_reason(item: Fitted) -> str:
    return f"{UNMET_PREFIX}, but it has {' and '.join(item.unmet)}."


def _category_plural(category: str) -> str:
    return {"deposit": "bank accounts", "card": "cards", "loan": "loans", "mortgage": "mortgages",
            "investment": "investments", "retirement": "retirement accounts",
            "education_savings": "education savings plans", "insurance": "insurance policies",
            "healthcare": "health products"}.get(category, "products")
