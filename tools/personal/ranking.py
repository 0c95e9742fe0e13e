"""Ranking: each eligible product's weighted components, the reasons shown for it, and the answer's order.

`recommend_personal` is the tool; see the package's docstring for the components.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tools.eligibility import (
    check,
    credit_score_inputs,
    eligibility_income,
    may_profile,
)
from tools.evidence import (
    ACCOUNT_OPENINGS,
    field_evidence,
    opened_lately_field,
    unique_evidence,
)
from tools.lookalike import Trait, goal_words, traits_of
from tools.personal.coholding import coholding
from tools.personal.goals import (
    GoalSource,
    goal_closeness,
    goal_similarities,
    goal_sources,
    likely_goals,
)
from tools.personal.models import RECENT_DAYS, live_models
from tools.personal.value import (
    category_words,
    estimate_annual_value,
    stated_sum_interest,
)
from tools.requests.fit import (
    PERSONAL_WEIGHT,
    PLAIN_NEED,
    SPECIFIC_NEED,
    as_ranked,
    conditions,
    far_from_need,
    fit_request,
    is_business_product,
    is_cover,
    product_kinds,
    quotes_a_statement,
    request_reason,
    unmet_reason,
    violations,
)
from tools.requests.ages import quoted_for_their_age
from tools.requests.model import Request
from tools.spec import tool
from tools.types import Evidence, EvidenceKind, Recommendation

if TYPE_CHECKING:
    from tools.context import ToolContext

# What customers like this one opened lately and a goal they told us (matched to need statements) predict what a
# customer opens next best, then what they hold; a dollar estimate predicts it least, so it mostly orders ties.
WEIGHTS = {"value": 0.3, "goal": 3.0, "likely_goal": 3.0, "peers": 0.5, "lookalike": 1.5, "openers": 3.0}
VALUE_SCALE = 300.0  # dollars a year at which the value component reaches tanh(1) = 0.76
PEER_SCALE = 0.25  # a co-holding excess of 25 points over the bank-wide rate counts fully
OPENER_FULL = 0.1  # a 10% chance that the customer's next opening is the product counts fully
LOOKALIKE_FULL = 0.5  # an estimated 50% chance that customers like this one hold a product counts fully
LIKELY_GOAL_FULL = 0.25  # a goal's chance times how plainly its tellers' words ask for the product, counting fully
MIN_REASON = 0.1  # a component must contribute at least this much to be given as a reason
MAX_PER_CATEGORY = 3  # in an answer across categories
MAX_PERSONAL_REASONS = 2  # after the reason a product answers the request
# rules a customer can hear as the reason a product is not open to them, with the feature each reads; age and
# business rules are not said this way (age is a protected basis in credit decisions)
SAYABLE_RULES = {"risk_appetite": "risk_appetite", "min_income": "declared_income", "requires_verified_kyc": "kyc_verified"}
NOT_OPEN_PREFIX = "Not open to you yet"
HELD_MARGIN = 0.1  # a held product answers the request better than anything new by this much: say they have it
TOLD_US = "You told us"  # how a reason quoting the customer's own disclosure starts (tools.personal.goals)
BUSINESS_OCCUPATIONS = frozenset({"Small Business Owner", "Self-Employed", "Freelancer"})


@dataclass(frozen=True)
class Signals:
    """What one request knows about the customer, read once and shared by every candidate."""

    features: Mapping
    accounts: list[Mapping]
    sources: list[GoalSource]
    closeness: np.ndarray  # sources x candidates
    peer_excess: dict[str, float]
    peer_source: dict[str, str]
    lookalike_chance: dict[str, float]
    lookalike_traits: dict[str, list[Trait]]
    opener_chance: dict[str, float]
    opener_traits: dict[str, list[Trait]]
    likely_goal: dict[str, tuple[float, str]]  # product -> (goal chance x how plainly it asks for it, the goal)
    likely_goal_traits: dict[str, list[Trait]]  # goal -> the traits that raise its chance most


@tool
def recommend_personal(ctx: ToolContext, customer_id: str, k: int = 5, category: str | None = None,
                       request: Request | None = None) -> list[Recommendation]:
    """Recommend products for the customer from their own spending, goals and what similar customers hold.

    Use for 'what card suits me', 'how can I save more'. Ranks the products the customer is eligible for and
    does not hold by the yearly value each would bring them (from their transactions and balances), how well it
    matches the goals they told us (and goals customers like them often tell us), what holders of the same
    products also hold, and what customers like them hold and opened lately; each result has reasons with the
    customer's own figures. Without a category, at most three products of one category are returned. It reads no
    health data: for health plans, HSAs or providers matched to health needs use recommend_healthcare. For a
    customer who opted out of profiling the results are not personalised (what customers opened most lately,
    among products they qualify for) and their reasons say so: never present them as tailored. Empty when there
    is no current profile for the customer or nothing fits.

    Args:
        customer_id: The customer the recommendations are for: always the current customer.
        category: Only this product category: deposit, card, loan, mortgage, investment, retirement, education_savings, insurance or healthcare.
    """
    features = ctx.features(customer_id)
    if k < 1 or features is None:
        return []
    view = credit_score_inputs(features)
    candidates = _candidates(ctx, view, category, business=request is not None and request.business)
    if not candidates:  # what they asked for may still be theirs already, or kept from them by a rule
        return _with_held(ctx, request, view, [], k) if request is not None else []
    customer = ctx.customer(customer_id) or {"_id": customer_id}
    if not may_profile(customer):
        if conditions(request):
            popular = {rec.product_id: rec for rec in _opened_most_lately(ctx, candidates, len(candidates), len(candidates))}
            return _answer(ctx, request, view, candidates, popular, k)
        return _opened_most_lately(ctx, candidates, k, MAX_PER_CATEGORY if category is None else k)
    signals = _signals(ctx, customer, view, candidates)
    ranked = [
        scored
        for column, product in enumerate(candidates)
        if (scored := _scored(ctx, product, signals, signals.closeness[:, column])) is not None
    ]
    if conditions(request):
        return _answer(ctx, request, view, candidates, {scored.product_id: scored for scored in ranked}, k)
    # The value part saturates, so among equal scores the larger dollar figure goes first.
    ranked.sort(key=lambda rec: (-rec.score, -(rec.estimated_annual_value or 0.0), rec.product_id))
    return [scored.recommendation() for scored in _diversified(ranked, k, MAX_PER_CATEGORY if category is None else k)]


def _opened_most_lately(ctx: ToolContext, candidates: Sequence[Mapping], k: int, per_category: int) -> list[Recommendation]:
    """Not personalised: the eligible products customers opened most in the last RECENT_DAYS, most first.

    For a customer who opted out of profiling. Only the eligibility rules read their data (every
    recommendation must pass them); no reason or evidence names it.
    """
    counts = live_models(ctx).opened_lately
    total = sum(counts.values())
    ranked = sorted((_popular(product, counts[product["_id"]], total) for product in candidates
                     if counts.get(product["_id"])), key=lambda rec: (-rec.score, rec.product_id))
    return _diversified(ranked, k, per_category)


def _popular(product: Mapping, opened: int, total: int) -> Recommendation:
    months = RECENT_DAYS // 30
    noun = "account" if opened == 1 else "accounts"
    reason = (f"You asked us not to personalise your recommendations, so this is simply one of the products our "
              f"customers opened most in the last {months} months: {opened:,} new {noun}.")
    evidence = Evidence(EvidenceKind.graph_statistic, ACCOUNT_OPENINGS, product["_id"], opened_lately_field(RECENT_DAYS),
                        opened, f"{product['name']}: accounts opened in the last {months} months")
    share = opened / total if total else 0.0
    return Recommendation(product_id=product["_id"], name=product["name"], category=product["category"],
                          score=round(share, 4), reasons=[reason], evidence=[evidence],
                          components={"opened_lately": round(share, 4)})


def _candidates(ctx: ToolContext, features: Mapping, category: str | None, business: bool = False) -> list[dict]:
    """Eligible products; business products only for a customer with a business signal or a business request."""
    business = business or has_business(features, ctx.products)
    return [
        product
        for _, product in sorted(ctx.products.items())
        if (category is None or product.get("category") == category)
        and (business or not is_business_product(product))
        and not check(product, features)
    ]


def _answer(ctx: ToolContext, request: Request, features: Mapping, candidates: Sequence[Mapping], scored: Mapping,
            k: int) -> list[Recommendation]:
    """The candidates answering `request`, after what it asks for most plainly when they hold that or a rule keeps it
    from them. Asked only for a kind, its products go in the customer's own order (see `as_ranked`); when none is
    open to them, the answer still names the one the words came closest to and what keeps it from them."""
    ranked = as_ranked(quoted_for_their_age(request, ctx.products, features.get("age")))
    shown = _for_request(ranked, candidates, scored, k, _answered_elsewhere(ctx, ranked, features, candidates))
    return _with_held(ctx, ranked if shown else request, features, shown, k)


def _with_held(ctx: ToolContext, request: Request, features: Mapping, shown: list[Recommendation],
               k: int) -> list[Recommendation]:
    """When what the request asks for most plainly is a product the customer already holds, or one a rule keeps
    from them (their risk appetite, income or identity check), say so first: the answer still names it."""
    held = set(features.get("products_held") or ())
    best_shown = max((rec.components.get("request", 0.0) for rec in shown), default=0.0)
    offered = {rec.product_id for rec in shown}
    # past the plainly stated need, a product answering another need is not what they asked for, open or not;
    # once the plain need's product was shown ("anything else?"), what is left is judged on its own
    answered = bool(request.needs) and request.needs[0].product_id in request.skipped
    other_needs = set() if answered else set(far_from_need(request, ctx.products))
    for need in request.needs:
        if need.score < best_shown + HELD_MARGIN:
            return shown
        product = ctx.products.get(need.product_id)
        if (product is None or need.product_id in request.skipped or need.product_id in offered
                or need.product_id in other_needs
                or violations(product, request.constraints) or (shown and _of_another_kind(product, request))):
            continue
        if need.product_id in held:
            return [_already_held(product, need, features), *shown][:k]
        failures = _kept_from_them(product, features)
        if failures:
            instead = _open_instead(ctx, product, features, request)
            return [_not_open(product, need, failures, features, instead, others=bool(shown)), *shown][:k]
    return shown


def _of_another_kind(product: Mapping, request: Request) -> bool:
    """Asked for a kind ("I want to start investing"), a product of another kind they hold or cannot have does not
    lead an answer that has some of that kind ("you already have Everyday Checking", for a new job's paycheck)."""
    return bool(request.categories) and not product_kinds(product) & set(request.categories)


def _answered_elsewhere(ctx: ToolContext, request: Request, features: Mapping, candidates: Sequence[Mapping]) -> float:
    """The need score of what the request asks for most plainly when that is a product a rule keeps from them, or
    one they hold (`_with_held` names it first); 0 when the plainest need is one they can be offered. Asked for a
    type ("make my savings earn more", "a card for groceries and gas"), others of it stay options beside the one
    they hold: accounts and cards of a type stand in for each other. Cover does not: each insures one thing, so
    asked plainly for the cover they hold ("I need car insurance"), other cover answers other needs (pet cover)."""
    held = set(features.get("products_held") or ())
    offerable = {product["_id"] for product in candidates}
    for need in request.needs:
        product = ctx.products.get(need.product_id)
        if product is None or need.product_id in request.skipped or violations(product, request.constraints):
            continue
        if need.product_id in offerable:
            return 0.0
        if _kept_from_them(product, features) or _plainly_closed(request, product, need.score, features) or (
                need.product_id in held and (
                not request.categories or (need.score >= SPECIFIC_NEED and is_cover(product)))):
            return need.score
    return 0.0


def _plainly_closed(request: Request, product: Mapping, need: float, features: Mapping) -> bool:
    """Whether the request, naming no type, states plainly the need of a product a rule keeps from them ("how do I
    stop paying overdraft fees?" at 48, when the account for it is a student's): what else scrapes past the need
    floor answers other needs. Named a type ("a card for groceries"), others of it stand in."""
    return need >= PLAIN_NEED and not request.categories and bool(check(product, features))


def _kept_from_them(product: Mapping, features: Mapping) -> list:
    """The rules keeping a product from the customer that an answer may name (none for a business product)."""
    if is_business_product(product):
        return []
    return [failure for failure in check(product, features) if failure.rule in SAYABLE_RULES]


def _already_held(product: Mapping, need, features: Mapping) -> Recommendation:
    quoted = quotes_a_statement(need.phrase, product)
    reason = f'You already have {product["name"]} with us' + (f', and it is for "{need.phrase}".' if quoted else ".")
    evidence = [field_evidence(EvidenceKind.profile_field, "features", features, "products_held", "products you hold")]
    return Recommendation(product_id=product["_id"], name=product["name"], category=product["category"],
                          score=round(need.score, 4), reasons=[reason], evidence=evidence,
                          components={"request": round(need.score, 4), "held": 1.0})


def _not_open(product: Mapping, need, failures: list, features: Mapping, instead: Mapping | None,
              others: bool) -> Recommendation:
    """The product made for the request that a rule keeps from the customer: the rule, their own value (the one the
    rule compared), and the nearest product of the same type open to them."""
    said = "; ".join(failure.reason for failure in failures)
    if instead:
        offer = f"{instead['name']} is open to you instead"
    else:
        offer = "The others here are open to you" if others else "None of its kind is open to you now"
    made_for = f'is the one for "{need.phrase}"' if quotes_a_statement(need.phrase, product) else "fits what you asked"
    reason = f'{NOT_OPEN_PREFIX}: {product["name"]} {made_for}, but it {said}. {offer}; a banker can go over it with you.'
    fields = [_rule_field(failure.rule, features) for failure in failures]
    evidence = [field_evidence(EvidenceKind.profile_field, "features", features, name, f"your {name.replace('_', ' ')}")
                for name in fields if name in features]
    for terms in [product, instead] if instead else [product]:
        evidence.append(field_evidence(EvidenceKind.product_terms, "products", terms, "eligibility",
                                       f"who {terms['name']} is for"))
    return Recommendation(product_id=product["_id"], name=product["name"], category=product["category"],
                          score=0.0, reasons=[reason], evidence=evidence,
                          components={"request": round(need.score, 4), "not_open": 1.0})


def _rule_field(rule: str, features: Mapping) -> str:
    """The feature a rule compared: for income, the larger of declared income and the payroll estimate."""
    if rule == "min_income" and eligibility_income(features) > (features.get("declared_income") or 0.0):
        return "income_estimate"
    return SAYABLE_RULES[rule]


def _open_instead(ctx: ToolContext, product: Mapping, features: Mapping, request: Request) -> Mapping | None:
    """The product of the same type no rule keeps from the customer: one sharing a word of its name first ("Term Life
    Insurance" for "Whole Life Insurance"), then the one the request asks for most; None when every one is closed."""
    asked = {need.product_id: need.score for need in request.needs}
    named = set(product["name"].lower().split())
    open_to_them = [other for product_id, other in sorted(ctx.products.items())
                    if product_id != product["_id"] and other.get("category") == product.get("category")
                    and not is_business_product(other) and not check(other, features)]
    return max(open_to_them, default=None,
               key=lambda other: (bool(named & set(other["name"].lower().split())), asked.get(other["_id"], 0.0)))


def _connected(rec: Recommendation) -> list[str]:
    """The personal reasons to keep after the request's: the product's yearly value from the customer's own figures
    and goals they told us first, then at most one other, MAX_PERSONAL_REASONS in all."""
    valued = rec.reasons[:1] if rec.estimated_annual_value else []
    told = [reason for reason in rec.reasons if reason.startswith(TOLD_US) and reason not in valued]
    others = [reason for reason in rec.reasons if reason not in valued and reason not in told][:1]
    return [*valued, *told, *others][:MAX_PERSONAL_REASONS]


def has_business(features: Mapping, products: Mapping[str, Mapping]) -> bool:
    """The customer runs a business: their occupation says so, or they hold a business product."""
    held = features.get("products_held") or ()
    return (features.get("occupation") or "") in BUSINESS_OCCUPATIONS or any(
        is_business_product(products.get(product_id) or {}) for product_id in held)


def _for_request(request: Request, candidates: Sequence[Mapping], scored: Mapping, k: int,
                 answered_elsewhere: float = 0.0) -> list[Recommendation]:
    """The candidates that answer the request, each led by the reason it answers it (see tools.requests.fit)."""
    answer = fit_request(request, candidates, {pid: item.score for pid, item in scored.items()}, k, answered_elsewhere)
    shown = []
    for item in answer.shown:
        reason, evidence = request_reason(request, item.product, item.phrase)
        personal = scored.get(item.product_id)
        if personal is None:
            rec = Recommendation(product_id=item.product_id, name=item.product["name"],
                                 category=item.product["category"], score=0.0)
        else:
            rec = personal if isinstance(personal, Recommendation) else personal.recommendation()
        lead = [unmet_reason(item)] if answer.unmet else []
        kept = _connected(rec)
        stated = stated_sum_interest(item.product, request.constraints.amount) if request.constraints.amount else None
        if stated is not None:  # the sum they told us of, in place of the balances we hold
            kept = [stated.reason, *kept[1 if rec.estimated_annual_value else 0:]]
            rec.estimated_annual_value = stated.value
            evidence = [*evidence, *stated.evidence]
        # the yearly value is the figure shown beside the name, so its explanation stays first (after a shortfall)
        valued = kept[:1] if rec.estimated_annual_value else []
        rec.reasons = [*lead, *valued, reason, *kept[len(valued):]]
        rec.evidence = unique_evidence([*evidence, *rec.evidence])
        rec.components = {**rec.components, "request": round(item.need, 4)}
        rec.score = round(item.need + PERSONAL_WEIGHT * item.personal, 4)
        shown.append(rec)
    return shown


def _signals(ctx: ToolContext, customer: Mapping, features: Mapping, candidates: Sequence[Mapping]) -> Signals:
    disclosures = ctx.store["disclosures"].find({"customer_id": customer["_id"]})
    sources = goal_sources(features, disclosures)
    similarities = goal_similarities(ctx, sources, [product["_id"] for product in candidates])
    peer_excess, peer_source = coholding(ctx).scores(features.get("products_held", ()))
    models = live_models(ctx)
    traits = traits_of(features, models.spending)
    lookalike_chance, lookalike_traits = models.lookalikes.estimates(traits)
    opener_chance, opener_traits = models.openers.estimates(traits)
    likely_goal, likely_goal_traits = likely_goals(ctx, traits, [product["_id"] for product in candidates])
    return Signals(
        features=features,
        accounts=ctx.store["accounts"].find({"customer_id": customer["_id"]}),
        sources=sources,
        closeness=goal_closeness(similarities, sources),
        peer_excess=peer_excess,
        peer_source=peer_source,
        lookalike_chance=lookalike_chance,
        lookalike_traits=lookalike_traits,
        opener_chance=opener_chance,
        opener_traits=opener_traits,
        likely_goal=likely_goal,
        likely_goal_traits=likely_goal_traits,
    )


@dataclass(frozen=True)
class _Scored:
    """A candidate's score and what would explain it; the reasons and evidence are only built for those shown."""

    product: Mapping
    score: float
    components: dict[str, float]
    value: float
    parts: list  # (contribution, a callable giving (reason, evidence)); the value's part first when there is one

    @property
    def product_id(self) -> str:
        return self.product["_id"]

    @property
    def category(self) -> str:
        return self.product["category"]

    @property
    def estimated_annual_value(self) -> float | None:
        return self.value if self.value > 0 else None  # a figure is shown only with its reason

    def recommendation(self) -> Recommendation:
        explained = [(contribution, *explain()) for contribution, explain in self.parts]
        return Recommendation(
            product_id=self.product_id,
            name=self.product["name"],
            category=self.category,
            score=self.score,
            reasons=[reason for _, reason, _ in explained],
            evidence=unique_evidence(item for _, _, evidence in explained for item in evidence),
            components={name: round(part, 4) for name, part in self.components.items()},
            estimated_annual_value=self.estimated_annual_value,
        )


def _scored(ctx: ToolContext, product: Mapping, signals: Signals, closeness: np.ndarray) -> _Scored | None:
    value, value_evidence, value_reason = estimate_annual_value(
        product, signals.features, accounts=signals.accounts, catalogue=ctx.products
    )
    product_id = product["_id"]
    likely, likely_goal = signals.likely_goal.get(product_id, (0.0, ""))
    components = {
        "value": WEIGHTS["value"] * math.tanh(value / VALUE_SCALE) if value_reason else 0.0,
        "goal": WEIGHTS["goal"] * float(closeness.max(initial=0.0)),
        "peers": WEIGHTS["peers"] * min(1.0, max(0.0, signals.peer_excess.get(product_id, 0.0)) / PEER_SCALE),
        "lookalike": WEIGHTS["lookalike"] * min(1.0, signals.lookalike_chance.get(product_id, 0.0) / LOOKALIKE_FULL),
        "openers": WEIGHTS["openers"] * min(1.0, signals.opener_chance.get(product_id, 0.0) / OPENER_FULL),
        "likely_goal": WEIGHTS["likely_goal"] * min(1.0, likely / LIKELY_GOAL_FULL),
    }
    others = []  # (contribution, explain)
    if components["goal"] > 0:
        source = signals.sources[int(closeness.argmax())]
        others.append((components["goal"], lambda: (source.reason, list(source.evidence))))
    if components["peers"] > 0:
        others.append((components["peers"], lambda: _peer_reason(ctx, signals, product)))
    trait_parts = (
        ("lookalike", signals.lookalike_traits.get(product_id), "It is common among customers who {}."),
        ("openers", signals.opener_traits.get(product_id), "It is often opened lately by customers who {}."),
        ("likely_goal", signals.likely_goal_traits.get(likely_goal),
         f"It suits {goal_words(likely_goal)}, which customers often tell us about when they {{}}."),
    )
    for name, traits, sentence in trait_parts:
        if components[name] > 0 and traits:
            others.append((components[name], lambda traits=traits, sentence=sentence:
                           _lookalike_reason(traits, signals, sentence)))
    value_part = [(components["value"], lambda: (value_reason, value_evidence))] if value > 0 else []
    strong = [part for part in value_part + others if part[0] >= MIN_REASON]
    score = sum(components.values())
    if not strong or score <= 0:  # nothing to say for it, or it would cost the customer more than it brings
        return None
    # a positive yearly value from the customer's own figures is always said, first: it is the figure shown beside
    # the product's name, so its explanation leads; the other reasons follow by contribution
    shown = value_part + sorted((part for part in others if part[0] >= MIN_REASON), key=lambda part: -part[0])
    return _Scored(product, round(score, 4), components, value, shown)


def _peer_reason(ctx: ToolContext, signals: Signals, product: Mapping) -> tuple[str, list[Evidence]]:
    held_name = ctx.products[signals.peer_source[product["_id"]]]["name"]
    evidence = field_evidence(
        EvidenceKind.profile_field, "features", signals.features, "products_held", "products you hold"
    )
    return f"Customers who hold {held_name}, as you do, often have it too.", [evidence]


def _lookalike_reason(traits: Sequence[Trait], signals: Signals, sentence: str) -> tuple[str, list[Evidence]]:
    """`sentence` with the traits that raise the estimate most, and the customer's own fields showing them."""
    who = " and ".join(trait.words for trait in traits)
    evidence = [field_evidence(_trait_kind(trait), "features", signals.features, trait.path, _trait_label(trait))
                for trait in traits]
    return sentence.format(who), evidence


def _trait_kind(trait: Trait) -> EvidenceKind:
    spending = trait.path.startswith(("spend_12m.", "spend_trend."))
    return EvidenceKind.transaction_aggregate if spending else EvidenceKind.profile_field


def _trait_label(trait: Trait) -> str:
    if trait.path.startswith("spend_12m."):
        return f"{category_words(trait.path.removeprefix('spend_12m.'))} spend, last 12 months"
    if trait.path.startswith("spend_trend."):
        return f"monthly change in {category_words(trait.path.removeprefix('spend_trend.'))} spend"
    labels = {"products_held": "products you hold", "declared_income": "declared income",
              "income_estimate": "income estimated from your pay"}
    return labels.get(trait.path, category_words(trait.path))


def _diversified(ranked: Sequence, k: int, per_category: int) -> list:
    """The top k, with at most `per_category` from any one category, so one need does not crowd out the rest."""
    chosen, taken = [], {}
    for recommendation in ranked:
        if taken.get(recommendation.category, 0) < per_category:
            chosen.append(recommendation)
            taken[recommendation.category] = taken.get(recommendation.category, 0) + 1
        if len(chosen) == k:
            break
    return chosen
