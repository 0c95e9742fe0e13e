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
GOAL_PREFIX = "goal:"  # a told goal's trait key: "goal:first_home"


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
Row = Mapping | int  # a training row: a feature document, or a `TraitTable` row


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
    return [Trait(f"{GOAL_PREFIX}{topic}", "goals", f"told us they are {goal_words(topic)}")
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
        return cls.from_columns({category: np.array([share.get(category, 0.0) for share in shares])
                                 for category in categories})

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray]) -> SpendingShares:
        """From each category's share of every customer's card spending (0 where they spend nothing on it)."""
        cutoffs = {category: float(np.quantile(column, HEAVY_SHARE_QUANTILE)) for category, column in columns.items()}
        return cls({category: cutoff for category, cutoff in cutoffs.items() if cutoff > 0})

    def heavy_traits(self, view: Mapping) -> list[Trait]:
        shares = card_spend_shares(view)
        return [Trait(f"heavy:{category}", f"spend_12m.{category}",
                      f"spend more of their budget on {_words(category)} than most customers, as you do")
                for category, cutoff in sorted(self.cutoffs.items()) if shares.get(category, 0.0) >= cutoff]


class TraitTable:
    """What the fits learn from every customer's feature document, read once, a batch at a time, and kept compact.

    Per customer (a row): the traits their document shows, heavy spending shares included (`SpendingShares`, fitted
    on every row's card spending shares once all are read), and the products they hold, as 0/1 sparse matrices over
    the trait keys and `product_ids`: some hundred bytes a customer, where a feature document read whole is tens of
    kilobytes of Python objects. The fits learn from it what they learn from the documents themselves
    (`Lookalikes.from_table`, `NextProducts.from_table`, `GoalPropensity.from_table`).
    """

    def __init__(self, batches: Iterable[Iterable[Mapping]], product_ids: Sequence[str]) -> None:
        self.product_ids = tuple(product_ids)
        products = {product_id: j for j, product_id in enumerate(product_ids)}
        self.trait_index: dict[str, int] = {}
        categories: dict[str, int] = {}
        ids, traits, held, shares = [], _Rows(), _Rows(), _Rows()
        for batch in batches:
            batch_ids = []
            for document in batch:
                batch_ids.append(document.get("customer_id"))
                view = credit_score_inputs(document)
                traits.add({self.trait_index.setdefault(sys.intern(trait.key), len(self.trait_index))
                            for trait in traits_of(view)})
                held.add({products[p] for p in document.get("products_held") or () if p in products})
                spent = card_spend_shares(view)
                shares.add([categories.setdefault(category, len(categories)) for category in spent], spent.values())
            ids.append(np.array(batch_ids, dtype=np.str_))
            traits.end_batch(), held.end_batch(), shares.end_batch()
        self.customer_ids = np.concatenate(ids) if ids else np.array([], dtype=np.str_)
        self.order = np.argsort(self.customer_ids, kind="stable")  # the rows in customer id order
        self._sorted_ids = self.customer_ids[self.order]
        self.held = held.matrix(len(self.product_ids))
        spending = shares.matrix(len(categories), values=True).tocsc()
        self.shares = self._spending_shares(spending, categories)
        self.traits = sparse.hstack([traits.matrix(len(self.trait_index)), self._heavy_traits(spending, categories)],
                                    format="csr")
        self.keys = tuple(sorted(self.trait_index, key=self.trait_index.__getitem__))

    @property
    def people(self) -> int:
        return len(self.customer_ids)

    def _spending_shares(self, spending: sparse.csc_matrix, categories: Mapping[str, int]) -> SpendingShares:
        if self.people < MIN_CUSTOMERS:
            return SpendingShares({})
        return SpendingShares.from_columns({category: spending[:, categories[category]].toarray().ravel()
                                            for category in sorted(categories)})

    def _heavy_traits(self, spending: sparse.csc_matrix, categories: Mapping[str, int]) -> sparse.csr_matrix:
        """Where each row spends more of their card spending than most (`SpendingShares.heavy_traits`): one
        column a category, after the other traits' columns."""
        first, rows, columns = len(self.trait_index), [], []
        for category, cutoff in sorted(self.shares.cutoffs.items()):
            column = spending[:, categories[category]]
            holders = column.indices[column.data >= cutoff]
            if len(holders):
                rows.append(holders)
                columns.append(np.full(len(holders), self.trait_index.setdefault(f"heavy:{category}",
                                                                                 len(self.trait_index)) - first))
        rows, columns = (np.concatenate(rows), np.concatenate(columns)) if rows else ([], [])
        return sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, columns)),
                                 shape=(self.people, len(self.trait_index) - first))

    def row_of(self, customer_id: str) -> int | None:
        """The row of a customer, None without one."""
        at = int(np.searchsorted(self._sorted_ids, customer_id))
        return int(self.order[at]) if at < self.people and self._sorted_ids[at] == customer_id else None

    def trait_matrix(self, rows: Sequence[int], leave_out: str = "") -> tuple[dict[str, int], sparse.csr_matrix]:
        """`_trait_matrix` of these rows' trait keys (but those starting with `leave_out`), read off the table: the
        same columns in the same order (first seen, a row's keys in sorted order) and the same 0/1 float matrix."""
        kept = np.array([not (leave_out and key.startswith(leave_out)) for key in self.keys], dtype=bool)
        chosen = self.traits[np.asarray(rows, dtype=np.int64)][:, np.flatnonzero(kept)].tocsc()
        chosen.sort_indices()
        names = [key for key, keep in zip(self.keys, kept, strict=True) if keep]
        seen = np.flatnonzero(np.diff(chosen.indptr))  # columns some row shows
        first_row = chosen.indices[chosen.indptr[seen]]
        order = sorted(range(len(seen)), key=lambda k: (first_row[k], names[seen[k]]))
        columns = seen[order]
        x = chosen[:, columns].tocsr()
        x = sparse.csr_matrix((np.ones(x.nnz), x.indices, x.indptr), shape=x.shape)
        x.sum_duplicates()
        return {names[column]: position for position, column in enumerate(columns)}, x

    def goals_told(self, rows: Sequence[int]) -> list[set[str]]:
        """Per row, the goals the customer told us (their `goal:` traits)."""
        goals = {column: key.removeprefix(GOAL_PREFIX) for column, key in enumerate(self.keys)
                 if key.startswith(GOAL_PREFIX)}
        return [{goals[column] for column in self.traits.indices[self.traits.indptr[row]:self.traits.indptr[row + 1]]
                 if column in goals} for row in rows]


class _Rows:
    """A sparse matrix read a row at a time: Python lists for the batch being read, numpy arrays for the rest."""

    def __init__(self) -> None:
        self.lengths, self.columns, self.values = [], [], []
        self._lengths, self._columns, self._values = [], [], []

    def add(self, columns: Iterable[int], values: Iterable[float] = ()) -> None:
        before = len(self.columns)
        self.columns.extend(columns)
        self.values.extend(values)
        self.lengths.append(len(self.columns) - before)

    def end_batch(self) -> None:
        self._lengths.append(np.array(self.lengths, dtype=np.int64))
        self._columns.append(np.array(self.columns, dtype=np.int32))
        self._values.append(np.array(self.values, dtype=np.float64))
        self.lengths, self.columns, self.values = [], [], []

    def matrix(self, width: int, values: bool = False) -> sparse.csr_matrix:
        """The rows as a CSR matrix: 1 in each cell (int32: counts stay exact), or the values added with them."""
        lengths = np.concatenate([np.zeros(1, dtype=np.int64), *self._lengths])
        columns = np.concatenate([np.zeros(0, dtype=np.int32), *self._columns])
        data = np.concatenate([np.zeros(0), *self._values]) if values else np.ones(len(columns), dtype=np.int32)
        self._lengths, self._columns, self._values = [], [], []
        return sparse.csr_matrix((data, columns, np.cumsum(lengths)), shape=(len(lengths) - 1, width))


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
        return cls._from_indicators(product_ids, trait_index, has_trait,
                                    _indicator(held_cells, (people, len(product_ids))))

    @classmethod
    def from_table(cls, table: TraitTable) -> Lookalikes:
        """From a `TraitTable`: what each customer holds, given the traits (heavy ones included) they show."""
        if table.people < MIN_CUSTOMERS:
            return cls(table.product_ids, {}, np.zeros(len(table.product_ids)), np.zeros((0, len(table.product_ids))))
        return cls._from_indicators(table.product_ids, table.trait_index, table.traits, table.held)

    @classmethod
    def _from_indicators(cls, product_ids: Sequence[str], trait_index: Mapping[str, int], has_trait: sparse.csr_matrix,
                         holds: sparse.csr_matrix) -> Lookalikes:
        people = has_trait.shape[0]
        together = (has_trait.T @ holds).toarray().astype(np.float64)  # counts, exact in int32 or float64
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
        ordered = sorted(documents, key=lambda d: str(d.get("customer_id")))
        return cls._from_rows(product_ids, ((d.get("customer_id"), d) for d in ordered), openings, max_rows,
                              lambda rows: _trait_matrix([keys(document) for document in rows]))

    @classmethod
    def from_table(cls, table: TraitTable, openings: Mapping[str, Iterable[str]],
                   max_rows: int = MAX_TRAINING_ROWS) -> NextProducts:
        """From a `TraitTable`'s customers who opened something (`openings`), in customer id order, as `fit`."""
        openers = ((customer_id, row) for customer_id in sorted(openings)
                   if (row := table.row_of(customer_id)) is not None)
        return cls._from_rows(table.product_ids, openers, openings, max_rows, table.trait_matrix)

    @classmethod
    def _from_rows(cls, product_ids: Sequence[str], customers: Iterable[tuple[str, Row]],
                   openings: Mapping[str, Iterable[str]], max_rows: int,
                   matrix: Callable[[list[Row]], tuple[dict[str, int], sparse.csr_matrix]]) -> NextProducts:
        """From (customer id, their row) in customer id order: a training row per product each opened lately, the
        rows' trait matrix made by `matrix`."""
        products = {product_id: j for j, product_id in enumerate(product_ids)}
        rows, labels = [], []
        for customer_id, row in customers:
            opened = [p for p in dict.fromkeys(openings.get(customer_id) or ()) if p in products]
            if not opened:
                continue
            rows.extend([row] * len(opened))
            labels.extend(products[product_id] for product_id in opened)
            if len(labels) >= max_rows:
                break
        if len(labels) < MIN_CUSTOMERS or len(set(labels)) < 2:
            return cls(tuple(product_ids), {}, np.zeros((len(product_ids), 0)), np.full(len(product_ids), -np.inf))
        return cls._fitted(tuple(product_ids), *matrix(rows), np.asarray(labels))

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
        keys = keys or trait_keys(shares)
        return cls._from_rows(told, lambda: _trait_matrix([{key for key in keys(document) if not key.startswith(
            GOAL_PREFIX)} for document in documents]))

    @classmethod
    def from_table(cls, table: TraitTable, max_rows: int = MAX_TRAINING_ROWS) -> GoalPropensity:
        """From a `TraitTable`'s first `max_rows` customers in customer id order, as `fit`: the goals they told
        us are their `goal:` traits."""
        first = table.order[:max_rows]
        return cls._from_rows(table.goals_told(first), lambda: table.trait_matrix(first, leave_out=GOAL_PREFIX))

    @classmethod
    def _from_rows(cls, told: Sequence[set[str]],
                   matrix: Callable[[], tuple[dict[str, int], sparse.csr_matrix]]) -> GoalPropensity:
        """From the goals each customer told us and (made when needed) their other traits' matrix, in one order."""
        counts = {topic: sum(topic in topics for topics in told) for topic in set().union(*told)}
        goals = tuple(sorted(topic for topic, count in counts.items() if count >= MIN_TELLERS))
        if len(told) < MIN_CUSTOMERS or not goals:
            return cls((), {}, np.zeros((0, 0)), np.zeros(0))
        return cls._fitted(goals, *matrix(), told)

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
        told = {trait.key.removeprefix(GOAL_PREFIX) for trait in traits if trait.key.startswith(GOAL_PREFIX)}
        known = _known(traits, self.trait_index)
        weights = self.coef[:, [self.trait_index[trait.key] for trait in known]]
        chance = 1.0 / (1.0 + np.exp(-(self.intercept + weights.sum(axis=1))))
        order = np.argsort(-weights, axis=1, kind="stable")
        return (
            {goal: float(chance[g]) for g, goal in enumerate(self.goals) if goal not in told},
            {goal: [known[i] for i in order[g, :2] if weights[g, i] >= MIN_FAVOUR]
             for g, goal in enumerate(self.goals) if goal not in told},
        )
