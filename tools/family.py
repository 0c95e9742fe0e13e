"""For the people you love: products for a customer's spouse, children and parents, from the relationship graph.

An adult relative who is a customer holds products themselves. The graph gives
them a context, their relation and life-stage band seen from the customer
("child aged 18-25"). Products are ranked by their graph TF-IDF in that context
(`retrieval.graph.GraphStats`): how common the product is among everyone in the
bank in that relation and band, weighted by how distinctive it is of that
context. Reasons quote the counts behind the figure ("69% of customers' spouses
aged 36-50 (237 of 345) hold Everyday Checking, 1.5x the bank-wide rate") and
the evidence points at them.

A child under 18, or a relative who is not a customer, holds nothing at the
bank: what is opened for them (a 529 plan, a custodial account, life cover)
is held by the customer on their behalf. For them products are ranked in the
customer context ("customers with a child aged 6-12": the customers who have
such a relative) and offered to the customer, in the customer's name: checked
against the customer's own eligibility, skipping what the customer already
holds, and only products of a kind opened for that relation (`ON_BEHALF`)
("28% of customers with a child aged 6-12 (58 of 208) hold 529 College Savings
Plan, 4x the bank-wide rate").

Privacy: a relative's private data (balances, transactions, disclosures,
products held) is read only when that relative consented to share with the
customer (`consent_to_share` on the relationship). Without consent the tool
knows only the relation and the age band: eligibility is checked on the age
limits alone (income and identity are checked when they apply), and they may
already hold what is suggested. Statistics over fewer than MIN_HOLDERS holders
are never used, so no figure can reveal what one person (the relative
included, who counts in their own context) holds.

Each recommendation names whom it is for: the relative's id (`for_person`),
their relation and age band. The id is for staff; the assistant shows it to
the customer only for a relative who consents to share with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from retrieval.graph import (
    ADULT_AGE,
    RELATIONS,
    ContextStat,
    RelativeView,
    life_stage_band,
    relatives_of,
)
from tools.eligibility import check, credit_score_inputs, may_profile
from tools.evidence import GRAPH, GRAPH_STATS, field_evidence
from tools.requests.ages import for_age
from tools.requests.fit import (
    STATED_NEED,
    STRONG_NEED,
    conditions,
    fit_request,
    is_business_product,
    request_reason,
    unmet_reason,
)
from tools.requests.model import Request, StatedRelative
from tools.requests.parse import is_other_kin
from tools.spec import tool
from tools.types import Evidence, EvidenceKind, Recommendation

if TYPE_CHECKING:
    from tools.context import ToolContext

DEFAULT_RELATIONS = ("spouse", "child", "parent")
RELATION_ALIASES = {
    "spouses": "spouse", "children": "child", "kids": "child", "parents": "parent", "siblings": "sibling",
}
PLURALS = {"spouse": "spouses", "child": "children", "parent": "parents", "sibling": "siblings"}
MIN_HOLDERS = 5  # fewer holders would let a statistic reveal what one person holds
MIN_LIFT = 1.1  # a product hardly more common in the context than bank-wide says nothing about it
# A customer context mostly reflects the customers' own life stage (parents of young children own homes and
# cars), so only a product markedly more common among them than bank-wide says it is opened for the relative.
MIN_ON_BEHALF_LIFT = 1.5
AGE_RULES = frozenset({"min_age", "max_age"})
MINOR_PRODUCT_AGE = 14  # a product with a minimum age at least this is meant for teens themselves (16+ car cover)
# opened once per relative (a 529 plan each); a family health plan or a policy covers them all at once
PER_PERSON_CATEGORIES = frozenset({"education_savings", "deposit", "card", "loan", "investment", "retirement"})
STAT_FIELDS = ("tf", "holders", "context_size", "lift")
FOR_MINORS = frozenset({"education_savings"})  # saved for a child's schooling while they are young
_FOR_A_BIRTH = re.compile(r"\b(?:maternity|prenatal|pregnancy)\b", re.IGNORECASE)
NEWBORN_AGE = 5  # a child on record this young may be the baby a plan for a birth covers ("our newborn's in the NICU")


@dataclass(frozen=True)
class OnBehalf:
    """The products a customer opens in their own name for one kind of relative: these categories, aimed at
    (`target_segments`) any of these segments. The segment keeps out the customer's own products of the same
    category, such as homeowners or travel insurance."""

    categories: frozenset[str]
    segments: frozenset[str]

    def allows(self, product: Mapping) -> bool:
        segments = set(product.get("target_segments") or ())
        return product.get("category") in self.categories and bool(self.segments & segments)


_LIFE_COVER = re.compile(r"\blife (?:insurance|cover(?:age)?|policy|assurance)\b", re.IGNORECASE)
ON_BEHALF: Mapping[str, OnBehalf] = {  # a relation missing here has nothing opened on their behalf (siblings)
    "child": OnBehalf(frozenset({"education_savings", "deposit", "insurance", "healthcare"}),
                      frozenset({"families", "new_parents"})),
    "spouse": OnBehalf(frozenset({"insurance", "healthcare"}), frozenset({"families", "new_parents"})),
    "parent": OnBehalf(frozenset({"insurance", "healthcare"}), frozenset({"caregivers"})),
}


@dataclass(frozen=True)
class RelativeProfile:
    """What the tool may use about one relative: always the graph view, features only with their consent."""

    view: RelativeView
    features: Mapping | None = None  # the allow-listed feature view; None without consent or profile

    @property
    def held(self) -> frozenset[str]:
        """What they are known to hold: nothing is known without their consent."""
        held = set(self.view.products or ())
        if self.features:
            held |= set(self.features.get("products_held") or ())
        return frozenset(held)


@tool
def recommend_family(
    ctx: ToolContext, customer_id: str, relations: Sequence[str] | None = None, k: int = 3,
    request: Request | None = None,
) -> list[Recommendation]:
    """Recommend products for the customer's spouse, children or parents, each marked with who it is for.

    An adult relative who banks here gets products for themselves, ranked by how common and distinctive they are
    among people in the same relation and life stage across the bank, skipping any they are too young or too old
    for and (when they shared their accounts with the customer) any they already hold. A child under 18 or a
    relative who does not bank here gets products the customer would open for them in the customer's own name
    (a 529 plan for a child), ranked by how common they are among customers with such a relative, for which the
    customer qualifies and which the customer does not hold yet. A relative's private data is used only with
    their consent. Results come relative by relative, best first within each; empty when the customer has no
    such relatives, has opted out of profiling, or nothing fits. An unknown relation is a ValueError.

    Args:
        customer_id: The customer the recommendations are for: always the current customer.
        relations: Whom to recommend for: any of spouse, child, parent, sibling (plurals accepted). Empty means
            spouse, children and parents.
    """
    stated = {relative.relation: relative for relative in (request.relatives if request else ())}
    wanted = _relations(relations if relations is not None or not stated else list(stated))
    if k < 1 or not may_profile(ctx.customer(customer_id) or {}):
        return []
    views = relatives_of(ctx.graph, customer_id, wanted, as_of=ctx.as_of)
    views.sort(key=lambda view: wanted.index(view.relation))  # stable: graph order within a relation
    views = _as_stated(views, stated, wanted)
    asked = conditions(request, STATED_NEED)
    pool = len(ctx.products) if asked else k + len(views) * k  # room to skip what others were given
    per_relative = []
    for view in views:
        recs = (recommend_for_relative(ctx, view, pool) if view.age is None or view.age >= ADULT_AGE
                else recommend_on_behalf(ctx, customer_id, view, pool))  # a minor's are opened by the parent
        if asked:
            recs = _for_request(ctx, customer_id, request, view, recs, pool)
        per_relative.append([rec for rec in recs if suits_them(ctx.products.get(rec.product_id) or {}, view,
                                                               _asked_for(request, stated, view, rec.product_id))])
    chosen = _once_each(per_relative, stated, k)
    for rec in chosen:
        rec.protects = is_life_cover(ctx.products.get(rec.product_id) or {})
        said = stated.get(rec.relation or "")
        if rec.for_person is None and said is not None and is_other_kin(said.word):
            rec.word = said.word.lower()  # "for your grandson", not "for your child": a child of theirs is older
    return chosen


def suits_them(product: Mapping, view: RelativeView, asked: float = 0.0) -> bool:
    """Whether the product is one for a relative of their relation and age: a college fund is saved for a minor,
    unless the request plainly asks for one (`asked`, its need score: "how do we save for our kids' education"),
    and a plan for a birth covers the parent giving birth and the newborn, never an older child."""
    if product.get("category") in FOR_MINORS:
        return view.age is None or view.age < ADULT_AGE or asked >= STRONG_NEED
    if _FOR_A_BIRTH.search(product.get("name", "")):
        return view.relation != "child" or view.age is None or view.age <= NEWBORN_AGE
    return True


def _asked_for(request: Request | None, stated: Mapping[str, StatedRelative], view: RelativeView,
               product_id: str) -> float:
    """How plainly the request asks for the product for this relative: not at all when it says their age (the age
    said decides), else its need score (the relative on record may not be the one meant: "our kid, until he's an
    adult", of a customer whose child on record is 30)."""
    said = stated.get(view.relation)
    if request is None or (said is not None and said.age is not None):
        return 0.0
    return request.need_score(product_id)


def is_life_cover(product: Mapping) -> bool:
    """Cover on the customer's own life, bought for a relative's sake: never a policy on the relative."""
    text = f"{product.get('name', '')} {product.get('description', '')}"
    return product.get("category") == "insurance" and bool(_LIFE_COVER.search(text))


def _as_stated(views: list[RelativeView], stated: Mapping[str, StatedRelative], wanted: Sequence[str]) -> list[RelativeView]:
    """The relatives to answer for: those on file, except that a relative the request describes with an age is
    the one on file in that age band (one person, "my mum is 72", is the one nearest that age, taken at the age
    said), or, when none is or they are other kin read as a child ("my grandson"), the relative as described (not
    on file)."""
    chosen = []
    for relation in wanted:
        on_file = [view for view in views if view.relation == relation]
        said = stated.get(relation)
        if said is None or said.age is None:
            chosen.extend(on_file)
            continue
        band = life_stage_band(said.age, relation)
        if is_other_kin(said.word):  # a grandchild is none of the customer's own children on file
            chosen.append(_described(said, band))
            continue
        matching = [view for view in on_file if view.age_band == band]
        if said.count == 1 and len(matching) > 1:
            matching = [min(matching, key=lambda view: abs(view.age - said.age))]
        if said.count == 1:  # what they are asked about is the age said: "my 22-year-old" may refinance at 21
            matching = [replace(view, age=said.age) for view in matching]
        chosen.extend(matching or [_described(said, band)])
    return chosen


def _described(relative: StatedRelative, band: str) -> RelativeView:
    return RelativeView(relative_id="", relation=relative.relation, is_customer=False, age=relative.age,
                        age_band=band, consent_to_share=False, relationship_id="")


def _for_request(ctx: ToolContext, customer_id: str, request: Request, view: RelativeView,
                 recs: list[Recommendation], k: int) -> list[Recommendation]:
    """The relative's products that answer the request, need first, each led by the reason it does."""
    request = for_age(request, ctx.products, view.age)
    if not conditions(request):  # nothing carried over from an earlier turn fits them: what suits them
        return [rec for rec in recs if rec.product_id not in request.skipped]
    by_product = {rec.product_id: rec for rec in recs}
    candidates = [ctx.products[product_id] for product_id in by_product]
    candidates += [product for hit in request.needs
                   if hit.product_id not in by_product and (product := ctx.products.get(hit.product_id))
                   and _fits_relative(ctx, customer_id, product, view, request.business)]
    answer = fit_request(request, candidates, {pid: rec.score for pid, rec in by_product.items()}, k)
    if not answer.shown:  # nothing for them answers it: what suits them, on its own reasons, bar what it rules out
        return [rec for rec in recs if rec.product_id not in request.skipped]
    shown = []
    for item in answer.shown:
        reason, evidence = request_reason(request, item.product, item.phrase)
        rec = by_product.get(item.product_id) or _described_recommendation(item.product, view)
        rec.reasons = [*([unmet_reason(item)] if answer.unmet else []), reason, *rec.reasons]
        rec.evidence = [*evidence, *rec.evidence]
        rec.components = {**rec.components, "request": round(item.need, 4)}
        shown.append(rec)
    return shown


def _fits_relative(ctx: ToolContext, customer_id: str, product: Mapping, view: RelativeView,
                   business: bool = False) -> bool:
    """Whether the product can be opened for this relative: by their age, or for a minor by the customer on their
    behalf (a kind ON_BEHALF allows, which the customer qualifies for). Business products only when the request
    is about a business ("my wife wants to open a bakery")."""
    if view.age is None:
        return False
    if is_business_product(product) and not (business and view.age >= ADULT_AGE):
        return False
    if holds_it_themselves(product, view):  # an adult, or a teen old enough (a 17-year-old's student checking)
        return True
    kind, features = ON_BEHALF.get(view.relation), ctx.features(customer_id)
    return (kind is not None and kind.allows(product) and features is not None
            and not check(product, credit_score_inputs(features)))


def holds_it_themselves(product: Mapping, view: RelativeView) -> bool:
    """The relative is old enough for the product in their own name (most products start at 18)."""
    return view.age is not None and not age_failures(product, view.age) and (
        view.age >= ADULT_AGE or (product.get("eligibility") or {}).get("min_age", 0) >= MINOR_PRODUCT_AGE)


def _described_recommendation(product: Mapping, view: RelativeView) -> Recommendation:
    who = f"your {view.relation} (aged {view.age_band})"
    opened = "" if holds_it_themselves(product, view) else " opened in your name"
    return Recommendation(
        product_id=product["_id"], name=product["name"], category=product["category"], score=0.0,
        reasons=[f"For {who}{opened}: checked against its age limits."],
        evidence=[field_evidence(EvidenceKind.product_terms, "products", product, "eligibility", "age limits")],
        for_person=view.relative_id or None, relation=view.relation, age_band=view.age_band,
    )


def _once_each(per_relative: list[list[Recommendation]], stated: Mapping[str, StatedRelative],
               k: int) -> list[Recommendation]:
    """Up to k products per relative, each product once in the answer: one that suits several relatives of one
    relation is one card for all of them ("one for each of your two children"); a relative of another relation
    gets their next best instead."""
    kept: dict[str, Recommendation] = {}
    sharing: dict[str, int] = {}
    for recs in per_relative:
        given = 0
        for rec in recs:
            if given == k:
                break
            first = kept.get(rec.product_id)
            if first is None:
                kept[rec.product_id], sharing[rec.product_id] = rec, 1
                given += 1
            elif first.relation == rec.relation:
                sharing[rec.product_id] += 1
                given += 1
    for product_id, rec in kept.items():
        said = stated.get(rec.relation or "")
        many = sharing[product_id] if said is None else max(sharing[product_id], said.count) if said.count > 1 else 1
        if many > 1 and rec.relation:
            each = "One for each of" if rec.category in PER_PERSON_CATEGORIES else "It covers"
            rec.reasons = [f"{each} your {_number(many)} {PLURALS[rec.relation]}.", *rec.reasons]
    return list(kept.values())


def _number(count: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(count, str(count))


def _relations(relations: Sequence[str] | None) -> list[str]:
    if relations is None:
        return list(DEFAULT_RELATIONS)
    names = [RELATION_ALIASES.get(name.strip().lower(), name.strip().lower()) for name in relations]
    unknown = [name for name in names if name not in RELATIONS]
    if unknown:
        raise ValueError(f"unknown relation(s) {', '.join(unknown)}; expected any of {', '.join(RELATIONS)}")
    return list(dict.fromkeys(names))


def relative_profile(ctx: ToolContext, view: RelativeView) -> RelativeProfile:
    """The relative as the tool may see them: their features are read only with their consent."""
    if not (view.consent_to_share and view.is_customer):
        return RelativeProfile(view)
    features = ctx.features(view.relative_id)
    return RelativeProfile(view, credit_score_inputs(features) if features else None)


def recommend_for_relative(ctx: ToolContext, view: RelativeView, k: int) -> list[Recommendation]:
    """The k products most distinctive of the relative's context that they can have and are not known to hold."""
    if view.context is None:  # no birth date: no life-stage band, no context
        return []
    profile = relative_profile(ctx, view)
    chosen = []
    for stat in ctx.graph_stats.top_products(view.context, k=len(ctx.graph_stats.bank_holders), exclude=profile.held):
        product = ctx.products.get(stat.product_id)
        if product is None or stat.holders < MIN_HOLDERS or stat.lift < MIN_LIFT or not _eligible(product, profile):
            continue
        chosen.append(_recommendation(product, stat, profile))
        if len(chosen) == k:
            break
    return chosen


def recommend_on_behalf(ctx: ToolContext, customer_id: str, view: RelativeView, k: int) -> list[Recommendation]:
    """The k products most distinctive of customers with such a relative that the customer would open for them.

    Only products `ON_BEHALF` allows for the relation, for which the customer
    (not the relative) qualifies and which the customer does not hold yet.
    Nothing when the relative's age is unknown or the customer has no live features.
    """
    kind, features = ON_BEHALF.get(view.relation), ctx.features(customer_id)
    if view.customer_context is None or kind is None or features is None:
        return []
    requester = credit_score_inputs(features)
    held = requester.get("products_held") or ()
    chosen = []
    for stat in ctx.graph_stats.top_products(view.customer_context, k=len(ctx.graph_stats.bank_holders), exclude=held):
        product = ctx.products.get(stat.product_id)
        if (product is None or not kind.allows(product) or stat.holders < MIN_HOLDERS
                or stat.lift < MIN_ON_BEHALF_LIFT or check(product, requester)):
            continue
        chosen.append(_on_behalf_recommendation(product, stat, view, requester))
        if len(chosen) == k:
            break
    return chosen


def _eligible(product: Mapping, profile: RelativeProfile) -> bool:
    if profile.features is not None:
        return not check(product, profile.features)
    return not age_failures(product, profile.view.age)


def age_failures(product: Mapping, age: int) -> list:
    """The product's age limits the relative fails; income, KYC and risk are unknown without their data."""
    return [failure for failure in check(product, {"age": age}) if failure.rule in AGE_RULES]


def _recommendation(product: Mapping, stat: ContextStat, profile: RelativeProfile) -> Recommendation:
    view = profile.view
    return Recommendation(
        product_id=stat.product_id,
        name=product["name"],
        category=product["category"],
        score=round(stat.tfidf, 4),
        reasons=[statistic_reason(product["name"], stat, view), _eligibility_reason(profile)],
        evidence=[*_edge_evidence(view), *_statistic_evidence(stat), *_consented_evidence(profile)],
        components={"tfidf": round(stat.tfidf, 4), "tf": round(stat.tf, 4), "idf": round(stat.idf, 4),
                    "lift": round(stat.lift, 4)},
        for_person=view.relative_id or None,
        relation=view.relation,
        age_band=view.age_band,
    )


def _on_behalf_recommendation(product: Mapping, stat: ContextStat, view: RelativeView,
                              requester: Mapping) -> Recommendation:
    return Recommendation(
        product_id=stat.product_id,
        name=product["name"],
        category=product["category"],
        score=round(stat.tfidf, 4),
        reasons=[statistic_reason(product["name"], stat, view),
                 f"For your {view.relation} (aged {view.age_band}), opened in your name: you qualify and do not "
                 "hold it yet."],
        evidence=[*_relation_evidence(view), *_statistic_evidence(stat), *_requester_evidence(requester)],
        components={"tfidf": round(stat.tfidf, 4), "tf": round(stat.tf, 4), "idf": round(stat.idf, 4),
                    "lift": round(stat.lift, 4)},
        for_person=view.relative_id or None,
        relation=view.relation,
        age_band=view.age_band,
    )


def statistic_reason(name: str, stat: ContextStat, view: RelativeView) -> str:
    people = (stat.context if stat.context == view.customer_context
              else f"customers' {PLURALS[view.relation]} aged {view.age_band}")
    return (f"{_percent(stat.tf)} of {people} ({stat.holders} of {stat.context_size}) hold {name}, "
            f"{_times(stat.lift)} the bank-wide rate.")


def _eligibility_reason(profile: RelativeProfile) -> str:
    view = profile.view
    if profile.features is not None:
        return f"Your {view.relation} shares their accounts with you: they qualify and do not hold it yet."
    reason = (f"Checked against the age limits only (your {view.relation} is aged {view.age_band}); "
              "income and identity are checked when they apply.")
    if view.is_customer and not view.consent_to_share:
        reason += " They have not shared their accounts with you, so they may already hold it."
    return reason


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%" if fraction >= 0.1 else f"{fraction * 100:.1f}%"


def _times(lift: float) -> str:
    return f"{lift:.0f}x" if lift >= 10 or round(lift, 1) == round(lift) else f"{lift:.1f}x"


def _relation_evidence(view: RelativeView) -> list[Evidence]:
    if not view.relationship_id:  # a relative the customer described who is not on file
        return []
    return [Evidence(EvidenceKind.graph_edge, GRAPH, view.relationship_id, "relation", view.relation, "relation to you")]


def _edge_evidence(view: RelativeView) -> list[Evidence]:
    if not view.relationship_id:
        return []
    return [
        *_relation_evidence(view),
        Evidence(EvidenceKind.graph_edge, GRAPH, view.relationship_id, "consent_to_share", view.consent_to_share,
                 "shares their accounts with you"),
    ]


def _statistic_evidence(stat: ContextStat) -> list[Evidence]:
    labels = {"tf": "share of the context holding it", "holders": "people in the context holding it",
              "context_size": "people in the context", "lift": "times the bank-wide rate"}
    return [
        Evidence(EvidenceKind.graph_statistic, GRAPH_STATS, stat.context, f"{stat.product_id}.{name}",
                 getattr(stat, name), f"{stat.context}: {labels[name]}")
        for name in STAT_FIELDS
    ]


def _consented_evidence(profile: RelativeProfile) -> Iterable[Evidence]:
    if profile.features is None or "_id" not in profile.features:
        return []
    return [field_evidence(EvidenceKind.profile_field, "features", profile.features, "products_held",
                           f"products your {profile.view.relation} holds (shared with you)")]


def _requester_evidence(requester: Mapping) -> list[Evidence]:
    if "_id" not in requester:
        return []
    return [field_evidence(EvidenceKind.profile_field, "features", requester, "products_held", "products you hold")]
