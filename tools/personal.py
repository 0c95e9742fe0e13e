"""Recommendations for you: the products worth most to one customer, with the figures behind them.

Each eligible product the customer does not hold gets six weighted components:

- value: what the product would be worth to this customer in a year, computed
  from their own numbers and the product's terms (`estimate_annual_value`),
  squashed as tanh(value / VALUE_SCALE) so a fee that outweighs the rewards
  counts against the product;
- goal: how close what the customer told us (their non-health disclosures),
  what their spending shows (categories rising month on month, payments to
  other lenders or a landlord) and their stage of life come to the product's
  text in the "products" vector index or to one of its need statements; what
  they told us counts most;
- likely goal: a goal the customer has not told us but likely has, from
  the customers who did tell us (`tools.lookalike.GoalPropensity`: the chance
  from their other traits), times how plainly those customers' own words about
  it ask for the product (the goal match of up to GOAL_EXAMPLES of their
  texts, averaged); the reason names the customer's traits, never another
  customer's words;
- peers: how much more often than average the holders of one of the customer's
  products also hold this one (item-item co-occurrence over the live graph's
  holdings, built once per ToolContext);
- lookalike: the estimated chance that customers like this one (same age and
  income band, occupation, risk appetite, goals told us, spending categories,
  rising spending, categories taking more of their card spending than for
  most customers, products held) hold the product, from the live feature documents
  (`tools.lookalike`, built once per ToolContext); the reason names the traits
  that raise it most and cites the customer's own fields, never a figure;
- openers: the chance that this customer's next account is the product, from a
  logistic regression over the same traits fitted on what customers opened in
  the last RECENT_DAYS (their accounts' opening dates): what people like this
  one do next (`tools.lookalike.NextProducts`).

The score is their weighted sum; `components` keeps each part and every reason quotes
stored values through `Evidence`. A product is only recommended with at least
one reason, so every card can answer "why?".

Privacy: features are read only through `credit_score_inputs` (no protected
attribute such as gender or marital status can move a score), the profile
summary is not embedded because it names the marital status, and health data
stays out: health disclosures are skipped and medical and pharmacy spend is never
read. Healthcare products (health plans, HSAs) are ranked like any other, from
these non-health signals only; reading health data to rank them is the
healthcare tool's, with consent. The models learnt from customers' traits
(lookalikes, next products, likely goals and their tellers' words) learn only
from customers who allow profiling. A customer who has withdrawn consent to profiling gets nothing
personal: only the products customers opened most in the last RECENT_DAYS that
the eligibility rules let them have, each citing that count and nothing of theirs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from tools.campaign import statement_vectors
from tools.eligibility import OPTED_OUT_OF_PROFILING, check, credit_score_inputs, may_profile
from tools.evidence import ACCOUNT_OPENINGS, field_evidence, money, opened_lately, opened_lately_field
from tools.lookalike import (
    HEALTH_SPEND, NOT_CARD_SPEND, GoalPropensity, Lookalikes, NextProducts, SpendingShares, Trait, goal_words,
    trait_keys, traits_of,
)
from tools.text_vectors import text_vectors
from tools.types import Evidence, EvidenceKind, Recommendation

if TYPE_CHECKING:
    from tools.context import ToolContext

# Tuned on `fargo eval recommend --seed 11` and `--seed 13` (seed 7 is the reported one): what customers like
# this one opened lately and a goal they told us (matched to need statements) predict best, then what they hold;
# a dollar estimate predicts what they open next least, so it mostly orders ties.
WEIGHTS = {"value": 0.3, "goal": 3.0, "likely_goal": 3.0, "peers": 0.5, "lookalike": 1.5, "openers": 3.0}
VALUE_SCALE = 300.0  # dollars a year at which the value component reaches tanh(1) = 0.76
GOAL_FLOOR = 0.25  # MiniLM cosine similarity at or below which a text says nothing about a product
GOAL_FULL = 0.45  # ... and at or above which it plainly asks for it
GOAL_SHARPNESS = 2.0  # how fast a product's goal match fades as it falls behind the source's best match
PROFILE_WEIGHT = 0.5  # stage of life and occupation hint at needs; a disclosure states them
SPENDING_WEIGHT = 0.75  # so does spending, more plainly
RISING_SLOPE = 25.0  # dollars a month more each month: a rising category (as in the profile summary)
MAX_RISING = 2
# Payments that show a debt held elsewhere or a tenancy: category -> (text to match, words for a reason).
OBLIGATIONS = {
    "debt_payment": ("paying off credit card debt", "card payments to other lenders"),
    "student_loan_payment": ("paying off student loans", "student loan payments"),
    "rent": ("paying rent", "rent"),
}
PEER_PRIOR = 10.0  # holders' weight of the bank-wide rate when smoothing co-holding shares
PEER_SCALE = 0.25  # a co-holding excess of 25 points over the bank-wide rate counts fully
RECENT_DAYS = 180  # an account opened this recently is what a customer did next
OPENER_FULL = 0.1  # a 10% chance that the customer's next opening is the product counts fully
LOOKALIKE_FULL = 0.5  # an estimated 50% chance that customers like this one hold a product counts fully
LIKELY_GOAL_FULL = 0.25  # a goal's chance times how plainly its tellers' words ask for the product, counting fully
GOAL_EXAMPLES = 50  # distinct disclosure texts per goal that say which products the goal asks for
MIN_REASON = 0.1  # a component must contribute at least this much to be given as a reason
MAX_PER_CATEGORY = 3  # in an answer across categories
CACHE_KEY = "tools.personal"  # ToolContext.memo keys
GOAL_PRODUCTS_KEY = "tools.personal.goal_products"

SKIPPED_SPEND = NOT_CARD_SPEND | HEALTH_SPEND  # neither earns card rewards nor counts as rising spending; health
# spend is health data, never read here
INTEREST_CATEGORIES = frozenset({"deposit", "retirement"})  # where an APY pays on moved balances
CASH_BACK_POINT_VALUE = 0.01
# The catalogue has no structured "takes over this debt" field; these phrases in a product's
# name or description say which of the customer's debts it can take over.
DEBT_TAKEOVER_PHRASES = {"balance transfer": {"card"}, "consolidat": {"card", "loan"}}
MORTGAGE_REFINANCE_PHRASE = "refinanc"
# Money already put away for the long term; emergency savings are not retirement contributions.
MATCHED_CONTRIBUTIONS = ("brokerage_transfer",)


# --- estimated annual value (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: float
    evidence: list[Evidence]
    reason: str


def estimate_annual_value(
    product: Mapping,
    features: Mapping,
    *,
    accounts: Sequence[Mapping] = (),
    catalogue: Mapping[str, Mapping] | None = None,
) -> tuple[float, list[Evidence], str]:
    """Dollars a year `product` is worth to the customer, the evidence used and a sentence saying so.

    Cards: rewards on the last 12 months' card spend beyond what the customer's
    current cards already earn, minus fees. Deposits and annuities: the extra
    interest on balances now earning a lower APY. Balance transfers,
    consolidation and mortgage refinancing: interest saved on debts held at a
    higher APR. Retirement plans with an employer match: the match on what the
    customer already puts into investments. (0.0, [], "") when
    nothing can be estimated. `accounts` are the customer's account records and
    `catalogue` maps product ids to product records (for what they hold).
    """
    view = credit_score_inputs(features)
    catalogue = catalogue or {}
    estimates = [
        estimate
        for estimator in (_card_rewards, _extra_interest, _interest_saved, _employer_match)
        if (estimate := estimator(product, view, accounts, catalogue)) is not None
    ]
    if not estimates:
        return 0.0, [], ""
    best = max(estimates, key=lambda estimate: estimate.value)
    return best.value, best.evidence, best.reason


def _terms(product: Mapping) -> Mapping:
    return product.get("terms") or {}


def _spend_evidence(features: Mapping, category: str) -> Evidence:
    label = f"{_words(category)} spend, last 12 months"
    return field_evidence(EvidenceKind.transaction_aggregate, "features", features, f"spend_12m.{category}", label)


def _terms_evidence(product: Mapping, path: str, label: str) -> Evidence:
    label = f"{product['name']}: {label}"
    return field_evidence(EvidenceKind.product_terms, "products", product, f"terms.{path}", label)


def _account_evidence(account: Mapping, label: str) -> Evidence:
    return field_evidence(EvidenceKind.profile_field, "accounts", account, "balance", label)


def _words(category: str) -> str:
    return category.replace("_", " ")


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _fee_phrase(fee: float) -> str:
    return f"after its {money(fee)} annual fee" if fee else "with no annual fee"


# cards ---------------------------------------------------------------------------------------------


def _reward_path(terms: Mapping, category: str) -> str:
    return f"rewards.{category}" if category in (terms.get("rewards") or {}) else "base_reward_rate"


def _reward_rate(terms: Mapping, category: str) -> float:
    return (terms.get("rewards") or {}).get(category, terms.get("base_reward_rate") or 0.0)


def _cash_rate(terms: Mapping, category: str) -> float:
    """Dollars back per dollar spent in `category` (see ingest/catalogue.py for the units)."""
    return _reward_rate(terms, category) * (terms.get("point_value") or 0.0) * 100


def _rate_phrase(terms: Mapping, category: str) -> str:
    rate = _reward_rate(terms, category) * 100
    where = "on every purchase" if _reward_path(terms, category) == "base_reward_rate" else "there"
    if terms.get("point_value") == CASH_BACK_POINT_VALUE:
        return f"{rate:g}% cash back {where}"
    return f"{rate:g} points per dollar {where}, each worth {terms['point_value'] * 100:g} cents"


def _card_rewards(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    if product.get("category") != "card" or not (terms.get("rewards") or terms.get("base_reward_rate")):
        return None
    held = [catalogue[p] for p in features.get("products_held", ()) if catalogue.get(p, {}).get("category") == "card"]
    gains, evidence = {}, []
    for category, spent in sorted((features.get("spend_12m") or {}).items()):
        if category in SKIPPED_SPEND or spent <= 0:
            continue
        best_held = max(held, key=lambda card: _cash_rate(_terms(card), category), default=None)
        held_rate = _cash_rate(_terms(best_held), category) if best_held else 0.0
        gain = spent * (_cash_rate(terms, category) - held_rate)
        if gain <= 0:
            continue
        gains[category] = gain
        evidence.append(_spend_evidence(features, category))
        evidence.append(_terms_evidence(product, _reward_path(terms, category), f"{_words(category)} reward rate"))
        if held_rate:
            evidence.append(_terms_evidence(best_held, _reward_path(_terms(best_held), category), "reward rate"))
    if not gains:
        return None
    fee = (terms.get("annual_fee") or 0.0) + 12 * (terms.get("monthly_fee") or 0.0)
    evidence.append(_terms_evidence(product, "point_value", "dollars per point"))
    if terms.get("annual_fee"):
        evidence.append(_terms_evidence(product, "annual_fee", "annual fee"))
    value = round(sum(gains.values()) - fee)
    return Estimate(float(value), _unique(evidence), _card_reason(product, features, gains, held, value, fee))


def _card_reason(product, features, gains, held, value, fee) -> str:
    top = max(gains, key=gains.get)
    spent = features["spend_12m"][top]
    rate = _rate_phrase(_terms(product), top)
    # the value sums every category; the reason names the largest and says the others count too
    others = len(gains) - 1
    also = f" (and more in {others} other {'category' if others == 1 else 'categories'})" if others else ""
    opening = f"You spent {money(spent)} on {_words(top)}{also} in the last 12 months; at {rate}"
    if value <= 0:
        return f"{opening}, this card's extra rewards would not cover its {money(fee)} annual fee."
    versus = f" more than your {held[0]['name']}" if len(held) == 1 else " more than your current cards" if held else ""
    in_all = " in all" if others and not held else ""
    return f"{opening}, this card returns about {money(value)} a year{in_all}{versus}, {_fee_phrase(fee)}."


# deposits and annuities -------------------------------------------------------------------------------


def _open_accounts(accounts: Iterable[Mapping]) -> list[Mapping]:
    return [account for account in accounts if account.get("status", "open") == "open"]


def _extra_interest(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    apy = terms.get("apy") or 0.0
    if product.get("category") not in INTEREST_CATEGORIES or apy <= 0:
        return None
    sources = []  # (extra interest, amount moved, account, its product)
    for account in _open_accounts(accounts):
        held = catalogue.get(account.get("product_id"), {})
        held_terms = _terms(held)
        # What an account needs to stay fee-free (or open) stays where it is.
        movable = (account.get("balance") or 0.0) - (held_terms.get("min_balance") or 0.0)
        if held.get("category") == "deposit" and movable > 0 and (held_terms.get("apy") or 0.0) < apy:
            sources.append((movable * (apy - (held_terms.get("apy") or 0.0)), movable, account, held))
    if not sources or sum(source[1] for source in sources) < (terms.get("min_balance") or 0.0):
        return None
    sources.sort(key=lambda source: -source[0])
    fee = 12 * (terms.get("monthly_fee") or 0.0) if not terms.get("min_balance") else 0.0  # else waived
    value = round(sum(source[0] for source in sources) - fee)
    evidence = [_terms_evidence(product, "apy", "APY")]
    for _, _, account, held in sources:
        evidence.append(_account_evidence(account, f"balance in {held['name']}"))
        for path, label in (("apy", "APY"), ("min_balance", "minimum balance")):
            if _terms(held).get(path):
                evidence.append(_terms_evidence(held, path, label))
    return Estimate(float(value), evidence, _interest_reason(product, sources, value))


def _interest_reason(product, sources, value) -> str:
    _, _, account, held = sources[0]
    held_terms = _terms(held)
    kept = held_terms.get("min_balance")
    balance = f"Your {money(account['balance'])} in {held['name']}"
    if kept:
        balance += f", beyond the {money(kept)} it needs,"
    earns = f"earns {_percent(held_terms['apy'])}" if held_terms.get("apy") else "earns no interest"
    others = " (as do other balances)" if len(sources) > 1 else ""
    apy = _percent(_terms(product)["apy"])
    return (f"{balance} {earns}{others}; at {apy} APY, "
            f"{product['name']} would earn you about {money(value)} a year more.")


# debts ------------------------------------------------------------------------------------------------


def _takes_over(product: Mapping) -> set[str]:
    """The categories of debt this product can take over (see DEBT_TAKEOVER_PHRASES)."""
    text = f"{product.get('name', '')} {product.get('description', '')}".lower()
    categories = set()
    for phrase, debt_categories in DEBT_TAKEOVER_PHRASES.items():
        if phrase in text:
            categories |= debt_categories
    if product.get("category") == "mortgage" and MORTGAGE_REFINANCE_PHRASE in text:
        categories.add("mortgage")
    return categories


def _interest_saved(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    apr, debt_categories = terms.get("apr"), _takes_over(product)
    if apr is None or not debt_categories:
        return None
    room = terms.get("max_amount") or math.inf
    debts = []
    for account in sorted(_open_accounts(accounts), key=lambda account: account.get("balance") or 0):
        held = catalogue.get(account.get("product_id"), {})
        owed, held_apr = -(account.get("balance") or 0.0), _terms(held).get("apr") or 0.0
        if held.get("category") in debt_categories and owed > 0 and held_apr > apr and room > 0:
            debts.append((min(owed, room) * (held_apr - apr), account, held))
            room -= owed
    if not debts:
        return None
    value = round(sum(saving for saving, _, _ in debts))
    evidence = [_terms_evidence(product, "apr", "APR")]
    for _, account, held in debts:
        evidence += [_account_evidence(account, f"balance owed on {held['name']}"), _terms_evidence(held, "apr", "APR")]
    _, account, held = max(debts, key=lambda debt: debt[0])
    reason = (f"You owe {money(-account['balance'])} on your {held['name']} at {_percent(held['terms']['apr'])} APR; "
              f"moving it to {product['name']} at {_percent(apr)} APR would save about {money(value)} a year "
              "in interest.")
    return Estimate(float(value), evidence, reason)


# retirement -------------------------------------------------------------------------------------------


def _employer_match(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    match = terms.get("employer_match") or 0.0
    spend = features.get("spend_12m") or {}
    paid = [category for category in MATCHED_CONTRIBUTIONS if spend.get(category, 0) > 0]
    if product.get("category") != "retirement" or match <= 0 or not paid:
        return None
    contributions = min(sum(spend[category] for category in paid), terms.get("max_amount") or math.inf)
    value = round(contributions * match)
    evidence = [_spend_evidence(features, category) for category in paid]
    evidence.append(_terms_evidence(product, "employer_match", "employer match"))
    amounts = " and ".join(f"{money(spend[category])} in {_words(category)}s" for category in paid)
    reason = (f"You put {amounts} toward the long term in the last 12 months; paid into {product['name']}, "
              f"its {match * 100:g}% employer match would add about {money(value)} a year.")
    return Estimate(float(value), evidence, reason)


def _unique(evidence: Iterable[Evidence]) -> list[Evidence]:
    seen, unique = set(), []
    for item in evidence:
        key = (item.collection, item.record_id, item.field)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


# --- peers: item-item co-holding ----------------------------------------------------------------------


@dataclass(frozen=True)
class CoHolding:
    """For each pair of products, how much more often holders of one hold the other than customers at large."""

    product_ids: tuple[str, ...]
    excess: np.ndarray  # [i, j]: smoothed share of i's holders who hold j, minus j's share among all holders

    @classmethod
    def from_holdings(cls, holdings: Iterable[Iterable[str]], product_ids: Sequence[str]) -> CoHolding:
        """From each customer's held product ids; products outside `product_ids` are ignored."""
        index = {product_id: position for position, product_id in enumerate(product_ids)}
        rows, columns, people = [], [], 0
        for held in holdings:
            positions = {index[product_id] for product_id in held if product_id in index}
            if positions:
                rows += [people] * len(positions)
                columns += positions
                people += 1
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(people, len(product_ids))
        )
        together = (matrix.T @ matrix).toarray()
        holders = np.diag(together).copy()
        base_rate = holders / max(people, 1)
        # A product few people hold says little: its shares are pulled toward the base rate.
        share = (together + PEER_PRIOR * base_rate[None, :]) / (holders[:, None] + PEER_PRIOR)
        excess = share - base_rate[None, :]
        np.fill_diagonal(excess, 0.0)
        return cls(tuple(product_ids), excess)

    @classmethod
    def from_graph(cls, graph, product_ids: Sequence[str]) -> CoHolding:
        """From the customer nodes' `products` (the live run's `products_held`), already in memory."""
        return cls.from_holdings((held for _, held in graph.nodes(data="products") if held), product_ids)

    def scores(self, held: Iterable[str]) -> tuple[dict[str, float], dict[str, str]]:
        """Per product: the strongest excess given any held product, and the held product that gives it."""
        index = {product_id: position for position, product_id in enumerate(self.product_ids)}
        positions = [index[product_id] for product_id in held if product_id in index]
        if not positions:
            return {}, {}
        rows = self.excess[positions]
        strongest, best = rows.max(axis=0), rows.argmax(axis=0)
        return (
            {product_id: float(strongest[j]) for j, product_id in enumerate(self.product_ids)},
            {product_id: self.product_ids[positions[best[j]]] for j, product_id in enumerate(self.product_ids)},
        )


class _ContextCache:
    """What this tool keeps per ToolContext: the co-holding table and what it learns from the live customers."""

    def __init__(self, ctx) -> None:
        self.coholding = CoHolding.from_graph(ctx.graph, sorted(ctx.products))
        # The models that learn from one customer's traits learn only from customers who allow profiling.
        self.opted_out = _opted_out(ctx)
        live_features = [document for document in ctx.store["features"].find({"run_id": ctx.run_id})
                         if document.get("customer_id") not in self.opted_out]
        self.spending = SpendingShares.from_features(live_features)
        keys = trait_keys(self.spending)  # each document's traits, read once for the three fits
        self.lookalikes = Lookalikes.from_features(live_features, sorted(ctx.products), keys=keys)
        recent = _recent_openings(ctx)
        profiled_openings = {customer: opened for customer, opened in recent.items() if customer not in self.opted_out}
        self.openers = NextProducts.fit(live_features, sorted(ctx.products), profiled_openings, keys=keys)
        self.opened_lately = Counter(product_id for opened in recent.values() for product_id in opened)
        self.goal_propensity = GoalPropensity.fit(live_features, keys=keys)


def goal_products(ctx: ToolContext) -> dict[str, np.ndarray]:
    """Per goal the propensity model knows: how plainly its tellers' words ask for each product (sorted ids).

    The mean goal closeness of up to GOAL_EXAMPLES distinct texts the bank's customers wrote about it,
    computed on first use (it needs the embedder) and kept for the context.
    """
    return ctx.memo(GOAL_PRODUCTS_KEY, lambda: _goal_product_table(ctx))


def _goal_product_table(ctx: ToolContext) -> dict[str, np.ndarray]:
    cache = _cache(ctx)
    examples: dict[str, set[str]] = {goal: set() for goal in cache.goal_propensity.goals}
    for disclosure in ctx.store["disclosures"].find({"topic": {"$in": list(examples)}}):
        if disclosure.get("kind") != "health" and disclosure.get("customer_id") not in cache.opted_out:
            examples[disclosure["topic"]].add(disclosure["text"])
    product_ids, table = sorted(ctx.products), {}
    for goal, texts in examples.items():
        sources = [GoalSource(text, "", ()) for text in sorted(texts)[:GOAL_EXAMPLES]]
        if sources:
            table[goal] = goal_closeness(goal_similarities(ctx, sources, product_ids), sources).mean(axis=0)
    return table


def _opted_out(ctx) -> frozenset[str]:
    """The customers who withdrew consent to profiling."""
    return frozenset(customer["_id"] for customer in ctx.store["customers"].find(OPTED_OUT_OF_PROFILING, {"_id": 1}))


def _recent_openings(ctx) -> dict[str, list[str]]:
    """Per customer, the products whose accounts they opened in the RECENT_DAYS before the data's date."""
    opened: dict[str, list[str]] = {}
    for account in ctx.store["accounts"].find({}):
        if opened_lately(account, ctx.as_of, RECENT_DAYS):
            opened.setdefault(account["customer_id"], []).append(account["product_id"])
    return opened


def _cache(ctx: ToolContext) -> _ContextCache:
    """The context's cache, built on first use and kept for the life of the context."""
    return ctx.memo(CACHE_KEY, lambda: _ContextCache(ctx))


def coholding(ctx) -> CoHolding:
    """The context's co-holding table (built once per context, from the live graph)."""
    return _cache(ctx).coholding


# --- goal match ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalSource:
    """Something about the customer to match products against: a disclosure, a spending pattern, their stage of life."""

    text: str
    reason: str
    evidence: tuple[Evidence, ...]
    weight: float = 1.0  # what the customer told us counts fully; what we infer counts less


def goal_sources(features: Mapping, disclosures: Iterable[Mapping]) -> list[GoalSource]:
    """The texts product descriptions are compared with; never a health disclosure or health spend."""
    return [*_disclosure_sources(disclosures), *_spending_sources(features), *_profile_sources(features)]


def _disclosure_sources(disclosures: Iterable[Mapping]) -> list[GoalSource]:
    return [
        GoalSource(
            disclosure["text"],
            f'You told us: "{disclosure["text"]}"',
            (field_evidence(EvidenceKind.disclosure, "disclosures", disclosure, "text",
                            f"your {_words(disclosure['topic'])} goal"),),
        )
        for disclosure in sorted(disclosures, key=lambda disclosure: disclosure["_id"])
        if disclosure.get("kind") != "health"
    ]


def _spending_sources(features: Mapping) -> list[GoalSource]:
    """Spending that hints at a need: categories rising month on month, and payments to other lenders or a landlord."""
    spend, trend = features.get("spend_12m") or {}, features.get("spend_trend") or {}
    rising = sorted(
        (category for category, slope in trend.items()
         if slope >= RISING_SLOPE and category not in SKIPPED_SPEND and spend.get(category, 0) > 0),
        key=lambda category: -trend[category],
    )[:MAX_RISING]
    sources = [
        GoalSource(
            f"rising spending on {_words(category)}",
            f"Your spending on {_words(category)} is rising: {money(spend[category])} in the last 12 months.",
            (field_evidence(EvidenceKind.transaction_aggregate, "features", features, f"spend_trend.{category}",
                            f"monthly change in {_words(category)} spend"),
             _spend_evidence(features, category)),
            SPENDING_WEIGHT,
        )
        for category in rising
    ]
    sources += [
        GoalSource(
            text,
            f"You paid {money(spend[category])} in {words} in the last 12 months.",
            (_spend_evidence(features, category),),
            SPENDING_WEIGHT,
        )
        for category, (text, words) in OBLIGATIONS.items()
        if spend.get(category, 0) > 0
    ]
    return sources


def _profile_sources(features: Mapping) -> list[GoalSource]:
    if not features.get("life_stage"):
        return []
    stage, occupation = features["life_stage"], features.get("occupation") or ""
    evidence = [field_evidence(EvidenceKind.profile_field, "features", features, "life_stage", "stage of life")]
    if occupation:
        evidence.append(field_evidence(EvidenceKind.profile_field, "features", features, "occupation", "occupation"))
    return [GoalSource(
        f"{stage} {occupation}".strip(),
        f"It suits where you are in life ({stage}{', ' + occupation.lower() if occupation else ''}).",
        tuple(evidence),
        PROFILE_WEIGHT,
    )]


def goal_similarities(ctx, sources: Sequence[GoalSource], product_ids: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each source (rows) to each product (columns), from one embedding batch."""
    similarities = np.zeros((len(sources), len(product_ids)), dtype=np.float32)
    if not sources or not product_ids or ctx.vectors is None or ctx.embedder is None:
        return similarities
    column = {product_id: j for j, product_id in enumerate(product_ids)}
    vectors = text_vectors(ctx).embed(ctx.embedder, [source.text for source in sources])
    indexed, matrix = ctx.index_vectors("products")
    scores = vectors @ matrix.T  # exactly what a vector query over the whole index would score
    for k, product_id in enumerate(indexed):
        if product_id in column:
            similarities[:, column[product_id]] = scores[:, k]
    return np.maximum(similarities, _need_statement_similarities(ctx, vectors, product_ids))


def _need_statement_similarities(ctx, vectors: np.ndarray, product_ids: Sequence[str]) -> np.ndarray:
    """Per source (rows) and product (columns): the closest of the product's need statements, 0 without any.

    A disclosure is one short sentence; the product's indexed text is its name, description and needs run
    together, which dilutes it ("I'm leaving my job to start a consulting business" is 0.45 from "I'm
    starting a business and need to separate my finances" but below GOAL_FLOOR from the whole text).
    """
    closest = np.zeros((len(vectors), len(product_ids)), dtype=np.float32)
    owners = [(column, statement) for column, product_id in enumerate(product_ids)
              for statement in ctx.products.get(product_id, {}).get("need_statements") or ()]
    if owners:
        scores = vectors @ statement_vectors(ctx.embedder, [statement for _, statement in owners]).T
        for k, (column, _) in enumerate(owners):
            closest[:, column] = np.maximum(closest[:, column], scores[:, k])
    return closest


def goal_closeness(similarities: np.ndarray, sources: Sequence[GoalSource]) -> np.ndarray:
    """How plainly each source (rows) asks for each product (columns), in [0, source weight].

    Similarity is rescaled to [0, 1] between GOAL_FLOOR and GOAL_FULL, then
    discounted by how far the product falls behind the source's best match: a
    sentence usually states one need, and products merely near it (a mortgage
    for "pay off my student loans sooner") should not tie with the one it names.
    """
    if not len(sources) or not similarities.size:
        return similarities
    weights = np.array([source.weight for source in sources], dtype=np.float32)[:, None]
    absolute = np.clip((similarities - GOAL_FLOOR) / (GOAL_FULL - GOAL_FLOOR), 0.0, 1.0)
    above_floor = similarities - GOAL_FLOOR
    best = np.maximum(above_floor.max(axis=1, keepdims=True), 1e-6)
    relative = np.clip(above_floor / best, 0.0, 1.0) ** GOAL_SHARPNESS
    return absolute * relative * weights


# --- ranking ------------------------------------------------------------------------------------------


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


def recommend_personal(ctx, customer_id: str, k: int = 5, category: str | None = None) -> list[Recommendation]:
    """Products for this customer, best first, each with the customer's own figures as reasons.

    Ranks every product the customer is eligible for and does not hold by the
    yearly value it would bring them (from their transactions and balances),
    how well it matches the goals they told us (and goals customers like them
    often tell us), what customers holding the same products also hold, and what
    customers like them hold and opened lately. `category` limits the answer to one product
    category (deposit, card, loan, mortgage, investment, retirement,
    education_savings, insurance, healthcare); without it at most MAX_PER_CATEGORY
    products of one category are returned. Returns an empty list when there
    is no current profile for the customer or nothing fits. A customer who opted
    out of profiling gets the eligible products customers opened most lately,
    not personalised. Healthcare products are ranked from these same signals, never from health data.
    """
    features = ctx.features(customer_id)
    if k < 1 or features is None:
        return []
    view = credit_score_inputs(features)
    candidates = _candidates(ctx, view, category)
    if not candidates:
        return []
    customer = ctx.customer(customer_id) or {"_id": customer_id}
    if not may_profile(customer):
        return _opened_most_lately(ctx, candidates, k, MAX_PER_CATEGORY if category is None else k)
    signals = _signals(ctx, customer, view, candidates)
    ranked = [
        scored
        for column, product in enumerate(candidates)
        if (scored := _scored(ctx, product, signals, signals.closeness[:, column])) is not None
    ]
    # The value part saturates, so among equal scores the larger dollar figure goes first.
    ranked.sort(key=lambda rec: (-rec.score, -(rec.estimated_annual_value or 0.0), rec.product_id))
    return [scored.recommendation() for scored in _diversified(ranked, k, MAX_PER_CATEGORY if category is None else k)]


def _opened_most_lately(ctx, candidates: Sequence[Mapping], k: int, per_category: int) -> list[Recommendation]:
    """Not personalised: the eligible products customers opened most in the last RECENT_DAYS, most first.

    For a customer who opted out of profiling. Only the eligibility rules read their data (every
    recommendation must pass them); no reason or evidence names it.
    """
    counts = _cache(ctx).opened_lately
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


def _candidates(ctx, features: Mapping, category: str | None) -> list[dict]:
    return [
        product
        for _, product in sorted(ctx.products.items())
        if (category is None or product.get("category") == category)
        and not check(product, features)
    ]


def _signals(ctx, customer: Mapping, features: Mapping, candidates: Sequence[Mapping]) -> Signals:
    disclosures = ctx.store["disclosures"].find({"customer_id": customer["_id"]})
    sources = goal_sources(features, disclosures)
    similarities = goal_similarities(ctx, sources, [product["_id"] for product in candidates])
    peer_excess, peer_source = coholding(ctx).scores(features.get("products_held", ()))
    traits = traits_of(features, _cache(ctx).spending)
    lookalike_chance, lookalike_traits = _cache(ctx).lookalikes.estimates(traits)
    opener_chance, opener_traits = _cache(ctx).openers.estimates(traits)
    likely_goal, likely_goal_traits = _likely_goals(ctx, traits, [product["_id"] for product in candidates])
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


def _likely_goals(ctx, traits: Sequence[Trait], product_ids: Sequence[str]):
    """Per product, the goal the customer has not told us but likely has that asks for it most (chance x closeness)."""
    cache = _cache(ctx)
    chances, raising = cache.goal_propensity.estimates(traits)
    if not chances or ctx.vectors is None or ctx.embedder is None:
        return {}, {}
    table = goal_products(ctx)
    goals = [goal for goal in sorted(chances) if goal in table]
    if not goals or not product_ids:
        return {}, {}
    columns = {product_id: j for j, product_id in enumerate(sorted(ctx.products))}
    asks = np.stack([chances[goal] * table[goal] for goal in goals])[:, [columns[p] for p in product_ids]]
    strongest = asks.argmax(axis=0)  # the first goal (by name) among equals
    best = {product_id: (float(asks[strongest[j], j]), goals[strongest[j]])
            for j, product_id in enumerate(product_ids) if asks[strongest[j], j] > 0}
    return best, raising


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
            evidence=_unique(item for _, _, evidence in explained for item in evidence),
            components={name: round(part, 4) for name, part in self.components.items()},
            estimated_annual_value=self.estimated_annual_value,
        )


def _scored(ctx, product: Mapping, signals: Signals, closeness: np.ndarray) -> _Scored | None:
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


def _peer_reason(ctx, signals: Signals, product: Mapping) -> tuple[str, list[Evidence]]:
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
        return f"{_words(trait.path.removeprefix('spend_12m.'))} spend, last 12 months"
    if trait.path.startswith("spend_trend."):
        return f"monthly change in {_words(trait.path.removeprefix('spend_trend.'))} spend"
    labels = {"products_held": "products you hold", "declared_income": "declared income",
              "income_estimate": "income estimated from your pay"}
    return labels.get(trait.path, _words(trait.path))


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
