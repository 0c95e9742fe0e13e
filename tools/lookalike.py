"""What customers like this one hold, and open next, given the traits a live feature document shows.

A trait is something a feature document plainly shows and a score may read
(`credit_score_inputs`): an age band, an income band, the occupation and risk
appetite, a goal the customer told us about (a non-health disclosure's topic),
a product held, money going to a spending category (rent, fuel, childcare...),
and, given the bank's `SpendingShares`, a category taking a bigger share of
their card spending than it does for most customers. For every trait and
product the bank's live feature documents give how often customers with the
trait hold the product, shrunk toward the bank-wide rate (LIFT_PRIOR customers'
worth). A customer's estimate for a product is the bank-wide rate times the
damped product of the lifts of the traits they show: a naive Bayes estimate,
damped because traits overlap (paying rent and being 26-35 say much the same).
`NextProducts` is the discriminative counterpart for what a customer opens
next: a logistic regression from the same traits to the product of each recent
opening. `GoalPropensity` learns, from the customers who told us a goal, who
else likely has it: one logistic regression per goal from the other traits to
"told us this goal".

Health spending is never a trait, and neither is anything outside the scoring
allow-list, so no protected attribute moves an estimate.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from tools.eligibility import credit_score_inputs, eligibility_income

AGE_BANDS = ((0, 25), (26, 35), (36, 45), (46, 55), (56, 64), (65, 200))
INCOME_BANDS = ((0, 29_999), (30_000, 59_999), (60_000, 99_999), (100_000, 149_999), (150_000, float("inf")))
GOAL_WORDS = {"saving_money": "saving money", "investing": "investing", "retirement": "planning to retire"}
HEALTH_SPEND = frozenset({"medical", "pharmacy"})
# Money that leaves without being spent on a card: transfers, debt service, rent, cash.
NOT_CARD_SPEND = frozenset({
    "rent", "mortgage_payment", "loan_payment", "debt_payment", "student_loan_payment",
    "savings_transfer", "brokerage_transfer", "cash_withdrawal",
})
HEAVY_SHARE_QUANTILE = 0.75  # a share of card spending above this quantile of the bank's is "more than most"
LIFT_PRIOR = 20.0  # customers' worth of the bank-wide rate mixed into every trait's holding rate
DAMPING = 0.4  # power the summed log-lifts are raised by: overlapping traits are not independent evidence
MIN_CUSTOMERS = 50  # fewer live feature documents than this say nothing about customers like anyone
RISING_SLOPE = 25.0  # dollars a month more each month: a rising category (as in the personal tool)
NEXT_PRODUCT_C = 0.1  # inverse L2 strength of the next-product regression
MIN_FAVOUR = 0.05  # log-odds a trait must add to a product over the average product to be named as a reason
MAX_TRAINING_ROWS = 20_000  # openings the next-product regression learns from (a big bank has plenty)
MIN_SPEND = 100.0  # dollars in 12 months before a spending category counts as a trait
GOAL_PROPENSITY_C = 0.3  # inverse L2 strength of the per-goal regressions
MIN_TELLERS = 10  # customers who told us a goal before the bank learns who else may have it


@dataclass(frozen=True)
class Trait:
    """One thing a feature document shows: its key, the field that shows it and words for a reason."""

    key: str
    path: str
    words: str


def traits_of(features: Mapping, shares: SpendingShares | None = None) -> list[Trait]:
    """The traits one (allow-listed) feature document shows; with `shares`, also where it spends more than most."""
    view = credit_score_inputs(features)
    heavy = shares.heavy_traits(view) if shares is not None else []
    return [*_profile_traits(view), *_goal_traits(view), *_spending_traits(view), *heavy, *_holding_traits(view)]


TraitKeys = Callable[[Mapping], frozenset[str]]


def trait_keys(shares: SpendingShares | None = None) -> TraitKeys:
    """The keys of `traits_of(document, shares)`, computed once per feature document (by `_id`) and remembered
    for as long as the returned callable lives, so the fits of one context read each document's traits once."""
    seen: dict[str, frozenset[str]] = {}

    def keys(document: Mapping) -> frozenset[str]:
        found = seen.get(document.get("_id"))
        if found is None:
            found = frozenset(sys.intern(trait.key) for trait in traits_of(document, shares))
            if document.get("_id") is not None:
                seen[document["_id"]] = found
        return found

    return keys


def band_keys(view: Mapping) -> list[str]:
    """The age and income band traits' keys ("age:36", "income:60000"); no age band without an age."""
    keys = []
    if view.get("age") is not None:
        keys.append(f"age:{next(low for low, high in AGE_BANDS if low <= view['age'] <= high)}")
    income = eligibility_income(view)
    keys.append(f"income:{next(low for low, high in INCOME_BANDS if low <= income <= high)}")
    return keys


def _profile_traits(view: Mapping) -> list[Trait]:
    *age, income_key = band_keys(view)
    traits = [Trait(key, "age", "are about your age") for key in age]
    declared = (view.get("declared_income") or 0.0) >= (view.get("income_estimate") or 0.0)
    income_field = "declared_income" if declared else "income_estimate"
    traits.append(Trait(income_key, income_field, "earn about what you do"))
    described = (("occupation", "work in the same occupation"), ("risk_appetite", "share your appetite for risk"))
    for field, words in described:
        if view.get(field):
            traits.append(Trait(f"{field}:{view[field]}", field, words))
    return traits


def _goal_traits(view: Mapping) -> list[Trait]:
    """The goals a customer told us about (disclosure topics), never a health one."""
    return [Trait(f"goal:{topic}", "goals", f"told us they are {goal_words(topic)}")
            for topic in sorted(view.get("goals") or ()) if "health" not in topic]


def goal_words(topic: str) -> str:
    """A goal's topic as words after "they are": "planning for travel", "saving money"."""
    return GOAL_WORDS.get(topic, "planning for " + _words(topic))


def _spending_traits(view: Mapping) -> list[Trait]:
    spend, trend = view.get("spend_12m") or {}, view.get("spend_trend") or {}
    traits = [
        Trait(f"spend:{category}", f"spend_12m.{category}", f"spend on {_words(category)}, as you do")
        for category, spent in sorted(spend.items())
        if category not in HEALTH_SPEND and spent >= MIN_SPEND
    ]
    traits += [
        Trait(f"rising:{category}", f"spend_trend.{category}",
              f"spend more on {_words(category)} each month, as you do")
        for category, slope in sorted(trend.items())
        if category not in HEALTH_SPEND and slope >= RISING_SLOPE and spend.get(category, 0) > 0
    ]
    return traits


def card_spend_shares(view: Mapping) -> dict[str, float]:
    """Each category's share of the customer's card spending in the last 12 months (no health, rent or transfers)."""
    spend = {category: spent for category, spent in (view.get("spend_12m") or {}).items()
             if category not in HEALTH_SPEND and category not in NOT_CARD_SPEND and spent > 0}
    total = sum(spend.values())
    return {category: spent / total for category, spent in spend.items()} if total else {}


@dataclass(frozen=True)
class SpendingShares:
    """Per spending category, the share of card spending at or above which a customer spends more there than most.

    A share, not dollars: a big spender spends more on everything, while a need
    (a trip, a baby on the way) tilts the mix. Fitted once on the live feature
    documents; a category that most customers never spend on has no cutoff
    (spending on it at all is already the `spend:` trait).
    """

    cutoffs: Mapping[str, float]

    @classmethod
    def from_features(cls, documents: Iterable[Mapping]) -> SpendingShares:
        shares = [card_spend_shares(credit_score_inputs(document)) for document in documents]
        if len(shares) < MIN_CUSTOMERS:
            return cls({})
        categories = sorted({category for share in shares for category in share})
        cutoffs = {category: float(np.quantile([share.get(category, 0.0) for share in shares], HEAVY_SHARE_QUANTILE))
                   for category in categories}
        return cls({category: cutoff for category, cutoff in cutoffs.items() if cutoff > 0})

    def heavy_traits(self, view: Mapping) -> list[Trait]:
        shares = card_spend_shares(view)
        return [Trait(f"heavy:{category}", f"spend_12m.{category}",
                      f"spend more of their budget on {_words(category)} than most customers, as you do")
                for category, cutoff in sorted(self.cutoffs.items()) if shares.get(category, 0.0) >= cutoff]


def _holding_traits(view: Mapping) -> list[Trait]:
    return [Trait(f"holds:{product_id}", "products_held", "hold the same products")
            for product_id in sorted(view.get("products_held") or ())]


def _words(category: str) -> str:
    return category.replace("_", " ")


@dataclass(frozen=True)
class Lookalikes:
    """Per trait and product: the smoothed holding rate's lift over the bank-wide rate, as logs."""

    product_ids: tuple[str, ...]
    trait_index: Mapping[str, int]
    base_rate: np.ndarray  # products
    log_lift: np.ndarray  # traits x products

    @classmethod
    def from_features(cls, documents: Iterable[Mapping], product_ids: Sequence[str],
                      outcomes: Mapping[str, Iterable[str]] | None = None,
                      shares: SpendingShares | None = None, keys: TraitKeys | None = None) -> Lookalikes:
        """From live feature documents; the outcome is what each holds, or `outcomes[customer_id]` when given.
        With `shares`, the traits include where each spends more than most (as `traits_of`); `keys` (from
        `trait_keys(shares)`) shares the traits read with other fits."""
        documents = list(documents)
        people = len(documents)
        if people < MIN_CUSTOMERS:
            return cls(tuple(product_ids), {}, np.zeros(len(product_ids)), np.zeros((0, len(product_ids))))
        keys = keys or trait_keys(shares)
        trait_index, has_trait = _trait_matrix([keys(document) for document in documents])
        products = {product_id: j for j, product_id in enumerate(product_ids)}
        held_cells = ([], [])
        for person, document in enumerate(documents):
            outcome = document.get("products_held") if outcomes is None else outcomes.get(document.get("customer_id"))
            held = {products[p] for p in outcome or () if p in products}
            held_cells[0].extend([person] * len(held))
            held_cells[1].extend(held)
        holds = _indicator(held_cells, (people, len(product_ids)))
        together = (has_trait.T @ holds).toarray()
        with_trait = np.asarray(has_trait.sum(axis=0)).ravel()
        base_rate = np.asarray(holds.sum(axis=0)).ravel() / people
        rate = (together + LIFT_PRIOR * base_rate[None, :]) / (with_trait[:, None] + LIFT_PRIOR)
        log_lift = np.log(np.maximum(rate, 1e-9) / np.maximum(base_rate, 1e-9)[None, :])
        return cls(tuple(product_ids), trait_index, base_rate, log_lift)

    def estimates(self, traits: Sequence[Trait]) -> tuple[dict[str, float], dict[str, list[Trait]]]:
        """Per product: the estimated chance a customer with `traits` holds it, and the traits that raise it most."""
        known = [trait for trait in traits if trait.key in self.trait_index]
        if not known or not self.trait_index:
            return {}, {}
        lifts = self.log_lift[[self.trait_index[trait.key] for trait in known]]
        chance = np.minimum(1.0, self.base_rate * np.exp(DAMPING * lifts.sum(axis=0)))
        order = np.argsort(-lifts, axis=0, kind="stable")
        raising = {
            product_id: [known[i] for i in order[:2, j] if lifts[i, j] > 0]
            for j, product_id in enumerate(self.product_ids)
        }
        return {product_id: float(chance[j]) for j, product_id in enumerate(self.product_ids)}, raising


def _indicator(cells: tuple[list[int], list[int]], shape: tuple[int, int]) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix((np.ones(len(cells[0]), dtype=np.float64), cells), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a trait repeated in one document counts once
    return matrix


def _trait_matrix(rows: Sequence[Iterable[str]]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The trait index (key -> column, in order of first sight) and the 0/1 matrix of these rows of trait keys."""
    trait_index: dict[str, int] = {}
    cells = ([], [])
    for row, keys in enumerate(rows):
        for key in sorted(keys):
            cells[0].append(row)
            cells[1].append(trait_index.setdefault(key, len(trait_index)))
    return trait_index, _indicator(cells, (len(rows), len(trait_index)))


def _known(traits: Sequence[Trait], trait_index: Mapping[str, int]) -> list[Trait]:
    """The traits a fitted model has a column for, each key once."""
    return list({trait.key: trait for trait in traits if trait.key in trait_index}.values())


@dataclass(frozen=True)
class NextProducts:
    """What customers like this one opened lately: a multinomial logistic regression from traits to the product.

    Fitted on the live feature documents of customers who opened an account in
    the recent window (one row per opening). Unlike the naive-Bayes holding
    rates it weighs traits against each other, so overlapping traits are not
    counted twice and a telling one (a disclosed goal) can outweigh many weak ones.
    """

    product_ids: tuple[str, ...]
    trait_index: Mapping[str, int]
    coef: np.ndarray  # products x traits; a product nobody opened lately has a row of zeros and no chance
    intercept: np.ndarray  # products; -inf for a product nobody opened lately

    @property
    def opened(self) -> np.ndarray:
        """Per product: whether anyone opened it in the window (the regression knows it)."""
        return np.isfinite(self.intercept)

    @classmethod
    def fit(cls, documents: Iterable[Mapping], product_ids: Sequence[str],
            openings: Mapping[str, Iterable[str]], max_rows: int = MAX_TRAINING_ROWS,
            shares: SpendingShares | None = None, keys: TraitKeys | None = None) -> NextProducts:
        keys = keys or trait_keys(shares)
        products = {product_id: j for j, product_id in enumerate(product_ids)}
        rows, labels = [], []
        for document in sorted(documents, key=lambda d: str(d.get("customer_id"))):
            opened = [p for p in dict.fromkeys(openings.get(document.get("customer_id")) or ()) if p in products]
            if not opened:
                continue
            rows.extend([keys(document)] * len(opened))
            labels.extend(products[product_id] for product_id in opened)
            if len(labels) >= max_rows:
                break
        if len(labels) < MIN_CUSTOMERS or len(set(labels)) < 2:
            return cls(tuple(product_ids), {}, np.zeros((len(product_ids), 0)), np.full(len(product_ids), -np.inf))
        return cls._fitted(tuple(product_ids), *_trait_matrix(rows), np.asarray(labels))

    @classmethod
    def _fitted(cls, product_ids, trait_index, x, y) -> NextProducts:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=NEXT_PRODUCT_C, max_iter=2000).fit(x, y)
        coef = np.zeros((len(product_ids), x.shape[1]))
        intercept = np.full(len(product_ids), -np.inf)
        if len(model.classes_) == 2:  # one logit, for the second class: as a softmax, the first's is 0
            coef[model.classes_] = np.vstack([np.zeros_like(model.coef_), model.coef_])
            intercept[model.classes_] = [0.0, model.intercept_[0]]
        else:
            coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
        return cls(product_ids, trait_index, coef, intercept)

    def estimates(self, traits: Sequence[Trait]) -> tuple[dict[str, float], dict[str, list[Trait]]]:
        """Per product: the chance the next opening of a customer with `traits` is it, and the traits that raise it most."""
        opened = self.opened
        if not opened.any():
            return {}, {}
        known = _known(traits, self.trait_index)
        weights = self.coef[:, [self.trait_index[trait.key] for trait in known]]
        logits = self.intercept + weights.sum(axis=1)
        chance = np.exp(logits - logits[opened].max())
        chance /= chance.sum()
        # a trait raises a product's chance as far as it favours the product over the others it could be
        favour = weights - weights[opened].mean(axis=0, keepdims=True)
        order = np.argsort(-favour, axis=1, kind="stable")
        raising = {
            product_id: [known[i] for i in order[j, :2] if favour[j, i] >= MIN_FAVOUR]
            for j, product_id in enumerate(self.product_ids) if opened[j]
        }
        return {product_id: float(chance[j]) for j, product_id in enumerate(self.product_ids)}, raising


@dataclass(frozen=True)
class GoalPropensity:
    """The chance that a customer has each goal others told us about, from their other traits.

    Goals (disclosure topics, never a health one) are told by few of the
    customers who have them, and those customers look alike: a regression per
    goal, fitted on every live feature document with "told us this goal" as the
    label and the document's traits other than its goals as the input, says
    who else likely has it. Customers without the goal among the negatives
    only make the estimate cautious.
    """

    goals: tuple[str, ...]
    trait_index: Mapping[str, int]
    coef: np.ndarray  # goals x traits
    intercept: np.ndarray  # goals

    @classmethod
    def fit(cls, documents: Iterable[Mapping], shares: SpendingShares | None = None,
            max_rows: int = MAX_TRAINING_ROWS, keys: TraitKeys | None = None) -> GoalPropensity:
        documents = sorted(documents, key=lambda d: str(d.get("customer_id")))[:max_rows]
        told = [{topic for topic in document.get("goals") or () if "health" not in topic} for document in documents]
        counts = {topic: sum(topic in topics for topics in told) for topic in set().union(*told)}
        goals = tuple(sorted(topic for topic, count in counts.items() if count >= MIN_TELLERS))
        if len(documents) < MIN_CUSTOMERS or not goals:
            return cls((), {}, np.zeros((0, 0)), np.zeros(0))
        keys = keys or trait_keys(shares)
        rows = [{key for key in keys(document) if not key.startswith("goal:")} for document in documents]
        return cls._fitted(goals, *_trait_matrix(rows), told)

    @classmethod
    def _fitted(cls, goals, trait_index, x, told) -> GoalPropensity:
        from sklearn.linear_model import LogisticRegression

        coef, intercept = np.zeros((len(goals), x.shape[1])), np.zeros(len(goals))
        for g, goal in enumerate(goals):
            model = LogisticRegression(C=GOAL_PROPENSITY_C, max_iter=2000)
            model.fit(x, np.array([goal in topics for topics in told]))
            coef[g], intercept[g] = model.coef_[0], model.intercept_[0]
        return cls(goals, trait_index, coef, intercept)

    def estimates(self, traits: Sequence[Trait]) -> tuple[dict[str, float], dict[str, list[Trait]]]:
        """Per goal the customer has not told us: its chance, and the traits that raise it most (up to two)."""
        if not self.goals:
            return {}, {}
        told = {trait.key.removeprefix("goal:") for trait in traits if trait.key.startswith("goal:")}
        known = _known(traits, self.trait_index)
        weights = self.coef[:, [self.trait_index[trait.key] for trait in known]]
        chance = 1.0 / (1.0 + np.exp(-(self.intercept + weights.sum(axis=1))))
        order = np.argsort(-weights, axis=1, kind="stable")
        return (
            {goal: float(chance[g]) for g, goal in enumerate(self.goals) if goal not in told},
            {goal: [known[i] for i in order[g, :2] if weights[g, i] >= MIN_FAVOUR]
             for g, goal in enumerate(self.goals) if goal not in told},
        )
