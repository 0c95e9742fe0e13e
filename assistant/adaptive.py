"""Adaptive ranking: the chance a customer takes up an offer, learnt from how customers like them responded.

The model is a logistic regression over what serving knows when it ranks (`offer_features`): the offline tool's
score, its parts and its order; how often this customer was offered the product lately (`customer_history`); the
product; and the product and its kind, each crossed with the customer's context (`customer_context`: life stage,
family, the share and trend of each spending category, their stated goals, what they took up lately). Its weights
are Gaussian (a mean and a precision each, independent), updated by Laplace's approximation after each batch of
offers (Chapelle and Li, "An Empirical Evaluation of Thompson Sampling", 2011, algorithm 3): the new mean minimises
the batch's log loss plus the old Gaussian as a penalty, the precision grows by each offer's p (1 - p) x^2. Ranking
is Thompson sampling: the weights are drawn from that posterior once per answer (their spread narrowed by
EXPLORATION, as a full-width draw over many context weights costs more take-ups than it teaches in the simulation),
so a context few have seen still gets its chance, in proportion to how unsure the model is. Before any learning the
mean is the prior, centred on the tool's order (`PRIOR`), so a new model ranks as the static one, with some
exploration.

An offer is learnt when the worker first sees its decision (taken up or not, as its responses so far say); a
take-up that comes in a later pass adds what that offer's log loss loses by being taken up rather than not, a
term linear in the weights, which leaves the precision as it was, as the Hessian of the logistic loss does not
depend on the label. The weights live in the ACCEPTANCE_WEIGHTS collection, written by the worker alone
(`learn`, every LEARN_EVERY_MINUTES); the serving path reads them at most once every CACHE_SECONDS
(`CachedAcceptance`), so a turn never waits on learning. Each adaptive decision keeps the customer context it
was ranked with, and each offer the tool's order and how often it had been offered before, so the worker learns
from exactly what serving saw.

Why not mabwiser, river or vowpalwabbit: mabwiser's LinTS and LinUCB keep one model per product, which the few
offers a product gets in a segment cannot fit; river's and vowpalwabbit's logistic models are in-process objects
without a posterior to draw from (vowpalwabbit's contextual bandit explores by epsilon-greedy or bagging instead),
which would have to be pickled, locked and reloaded by each replica. The state here is two numbers per feature,
kept as documents that every API replica shares and that survive restarts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from tools.lookalike import band_keys

ACCEPTANCE_WEIGHTS = "acceptance_weights"  # {_id: feature name, mean, precision}
ACCEPTANCE_CHECKPOINT = "acceptance_checkpoint"
CHECKPOINT = "weights"
TAKEN_UP = ("accepted", "opened")
PRIOR_RATE = 0.05  # the chance of an offer before anything is learnt, at the top of the tool's order
PRIOR = {"bias": (math.log(PRIOR_RATE / (1 - PRIOR_RATE)), 25.0), "tool_rank": (-3.0, 25.0),
         "tool_score": (0.0, 25.0)}  # (mean, precision)
PRIOR_PRECISION = 4.0  # of every other weight, centred on 0
EXPLORATION = 0.25  # how far a draw strays from the mean, in posterior standard deviations
HISTORY_DAYS = 90
HISTORY_DECISIONS = 200
POOL = 20  # the tool's top products an adaptive answer is chosen from
CACHE_SECONDS = 60.0
LEARN_EVERY_MINUTES = 10
SETTLE = timedelta(seconds=5)  # records stamped this recently may still be on their way into the store
OWN_PARTS = frozenset({"score_before_adaptive", "acceptance_drawn", "adaptive", "offered_before", "tool_rank",
                       "score_before_lever", "lever"})  # components adaptive ranking and the levers add
TREND_SCALE = 20.0  # a spending trend this steep counts about as much as a category that is all of the spending


def segment_of(features: Mapping | None) -> str:
    """"age:36|income:60000" from a feature document, "unknown" without one."""
    return "|".join(band_keys(features)) if features else "unknown"


def customer_context(features: Mapping | None, history: Mapping[str, Counts] | None = None) -> dict[str, float]:
    """What adaptive ranking knows of a customer: life stage, family, each spending category's share (square root)
    and trend over the last twelve months, their stated goals, and what they took up lately (`taken_context`)."""
    if not features:
        return taken_context(history or {})
    spend = features.get("spend_12m") or {}
    total = sum(value for value in spend.values() if value > 0)
    context = {f"{name}:{features[key]}": 1.0 for name, key in (("stage", "life_stage"), ("marital", "marital_status"))
               if features.get(key)}
    context["dependants"] = min(features.get("dependants") or 0, 3) / 3
    context |= {f"spend:{name}": math.sqrt(value / total) for name, value in spend.items() if value > 0 and total}
    context |= {f"trend:{name}": math.tanh(value / TREND_SCALE)
                for name, value in (features.get("spend_trend") or {}).items() if value}
    context |= {f"goal:{goal}": 1.0 for goal in features.get("goals") or ()}
    return {name: round(value, 4) for name, value in context.items() if value} | taken_context(history or {})


def taken_context(history: Mapping[str, Counts]) -> dict[str, float]:
    """The products the customer took up in the last HISTORY_DAYS ("took:P012"): one product taken up says which
    others they may want, as customers who took it up went on to take them."""
    return {f"took:{product_id}": 1.0 for product_id, counts in sorted(history.items()) if counts.accepted}


def offer_features(product_id: str, category: str | None, parts: Mapping[str, float], score: float,
                   tool_rank: int, offered_before: int, context: Mapping[str, float]) -> dict[str, float]:
    """The model's inputs for one offer: the tool's score, parts and order, how often the customer saw it lately,
    the product, and the product's kind and the product itself with each item of the customer's context (the kind
    learns from every product of it, the product what sets it apart, such as which card travellers take up)."""
    features = {"bias": 1.0, "tool_score": math.log(max(score, 1e-4)), "tool_rank": tool_rank / POOL,
                f"product:{product_id}": 1.0}
    features |= {f"part:{name}": float(value) for name, value in parts.items() if name not in OWN_PARTS and value}
    if offered_before:
        features[f"seen:{min(offered_before, 3)}"] = 1.0
    features |= {f"{category}|{name}": value for name, value in context.items()}
    features |= {f"product:{product_id}|{name}": value for name, value in context.items()}
    return features


@dataclass
class Counts:
    offered: float = 0.0
    accepted: float = 0.0


@dataclass
class AcceptanceModel:
    """Each feature's weight as a Gaussian: its mean and precision; a feature never learnt has its prior."""

    mean: dict[str, float] = field(default_factory=dict)
    precision: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, store) -> AcceptanceModel:
        model = cls()
        for doc in store[ACCEPTANCE_WEIGHTS].find({}):
            model.mean[doc["_id"]], model.precision[doc["_id"]] = doc["mean"], doc["precision"]
        return model

    def write(self, store, names: Iterable[str]) -> None:
        for name in names:
            store[ACCEPTANCE_WEIGHTS].update_one(
                {"_id": name}, {"$set": {"mean": self.mean[name], "precision": self.precision[name]}}, upsert=True)

    def posterior(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        priors = [PRIOR.get(name, (0.0, PRIOR_PRECISION)) for name in names]
        return (np.array([self.mean.get(name, prior[0]) for name, prior in zip(names, priors, strict=True)]),
                np.array([self.precision.get(name, prior[1]) for name, prior in zip(names, priors, strict=True)]))

    def chances(self, rows: Sequence[Mapping[str, float]], rng: np.random.Generator | None = None) -> np.ndarray:
        """The chance each row's offer is taken up: with weights drawn from the posterior (Thompson sampling), or
        at their means without `rng`."""
        names, matrix = _matrix(rows)
        mean, precision = self.posterior(names)
        weights = mean if rng is None else mean + EXPLORATION * rng.standard_normal(len(names)) / np.sqrt(precision)
        return _sigmoid(matrix @ weights)

    def rerank(self, recs: list, context: Mapping[str, float], rng: np.random.Generator | None,
               history: Mapping[str, Counts] | None = None) -> list:
        """`recs` (Recommendations, in the tool's order) ordered by their drawn chance of being taken up by this
        customer (at the weights' means without `rng`); each keeps its score before, its place in the tool's order, how often it was offered to the
        customer lately, the chance and the factor on its score in its components."""
        if not recs:
            return recs
        history = history or {}
        seen = [int(history.get(rec.product_id, Counts()).offered) for rec in recs]
        rows = [offer_features(rec.product_id, rec.category, rec.components, rec.score, rank, before, context)
                for rank, (rec, before) in enumerate(zip(recs, seen, strict=True))]
        for rank, (rec, before, chance) in enumerate(zip(recs, seen, self.chances(rows, rng), strict=True)):
            rec.components = {**rec.components, "score_before_adaptive": rec.score, "tool_rank": rank,
                              "offered_before": before, "acceptance_drawn": round(float(chance), 6),
                              "adaptive": round(float(chance) / rec.score, 4) if rec.score else 0.0}
            rec.score = round(float(chance), 6)
        return sorted(recs, key=lambda rec: -rec.score)

    def fold(self, rows: Sequence[Mapping[str, float]], taken: Sequence[bool],
             later: Sequence[Mapping[str, float]] = ()) -> list[str]:
        """Learn from offers (`rows`, and whether each was taken up) and from take-ups of offers learnt before
        (`later`); the names of the weights that moved."""
        names, matrix = _matrix([*rows, *later])
        if not names:
            return []
        offers, late = matrix[:len(rows)], np.asarray(matrix[len(rows):].sum(axis=0)).ravel()
        labels = np.asarray(taken, dtype=float)
        mean, precision = self.posterior(names)

        def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
            logits = offers @ weights
            value = (0.5 * precision @ (weights - mean) ** 2 + np.sum(np.logaddexp(0, logits) - labels * logits)
                     - late @ weights)
            return value, precision * (weights - mean) + offers.T @ (_sigmoid(logits) - labels) - late

        weights = minimize(loss, mean, jac=True, method="L-BFGS-B").x
        chance = _sigmoid(offers @ weights)
        precision = precision + offers.multiply(offers).T @ (chance * (1 - chance))
        for name, new_mean, new_precision in zip(names, weights, precision, strict=True):
            self.mean[name], self.precision[name] = float(new_mean), float(new_precision)
        return names


def customer_history(store, customer_id: str, now: datetime | None = None) -> dict[str, Counts]:
    """Product -> how often it was offered to the customer in the last HISTORY_DAYS and how often taken up."""
    from assistant.decisions import DecisionLog
    from assistant.responses import RESPONSES

    since = ((now or datetime.now(UTC)) - timedelta(days=HISTORY_DAYS)).isoformat()
    decisions = DecisionLog(store).for_customer(customer_id, HISTORY_DECISIONS, since)
    history: dict[str, Counts] = defaultdict(Counts)
    for decision in decisions:
        for offer in decision["offers"]:
            history[offer["product_id"]].offered += 1
    taken = {(doc["decision_id"], doc["product_id"]) for doc in store[RESPONSES].find(
        {"customer_id": customer_id, "at": {"$gte": since}, "kind": {"$in": list(TAKEN_UP)}},
        {"decision_id": 1, "product_id": 1})}
    offered = {(decision["_id"], offer["product_id"]) for decision in decisions for offer in decision["offers"]}
    for _, product_id in taken & offered:
        history[product_id].accepted += 1
    return dict(history)
class CachedAcceptance:
    """The model as the store held it at most CACHE_SECONDS ago; read again in the caller's thread when stale."""

    def __init__(self, store, seconds: float = CACHE_SECONDS, clock=time.monotonic):
        self.store, self.seconds, self.clock = store, seconds, clock
        self._model: AcceptanceModel | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def model(self) -> AcceptanceModel:
        with self._lock:
            if self._model is None or self.clock() - self._read_at >= self.seconds:
                self._model, self._read_at = AcceptanceModel.read(self.store), self.clock()
            return self._model


@dataclass(frozen=True)
class Learnt:
    offers: int
    taken_up: int
    through: str


def learn(store, now: datetime | None = None) -> Learnt:
    """Fold the offers and take-ups recorded since the last pass into the weights; what this pass added."""
    from assistant.decisions import DECISIONS
    from assistant.responses import RESPONSES

    checkpoint = store[ACCEPTANCE_CHECKPOINT].find_one({"_id": CHECKPOINT}) or {}
    since = checkpoint.get("through", "")
    through = ((now or datetime.now(UTC)) - SETTLE).isoformat()
    window = {"$gt": since, "$lte": through}
    decisions = [decision for decision in store[DECISIONS].find({"at": window}, {"context": 1, "offers": 1})
                 if decision.get("context") is not None]  # the adaptive arm's, ranked with a context
    taken = set(_first_take_ups(store[RESPONSES],
                                store[RESPONSES].find({"at": window, "kind": {"$in": list(TAKEN_UP)}})))
    offers = [(decision, offer) for decision in decisions for offer in decision["offers"] if _ranked(offer)]
    new = {decision["_id"] for decision in decisions}
    earlier = [decision for decision in store[DECISIONS].find(
        {"_id": {"$in": sorted({decision_id for decision_id, _ in taken} - new)}}, {"context": 1, "offers": 1})
        if decision.get("context") is not None]
    later = [offer_row(offer, decision["context"]) for decision in earlier for offer in decision["offers"]
             if (decision["_id"], offer["product_id"]) in taken and _ranked(offer)]
    model = AcceptanceModel.read(store)
    labels = [(decision["_id"], offer["product_id"]) in taken for decision, offer in offers]
    model.write(store, model.fold([offer_row(offer, decision["context"]) for decision, offer in offers], labels, later))
    store[ACCEPTANCE_CHECKPOINT].update_one({"_id": CHECKPOINT}, {"$set": {"through": through}}, upsert=True)
    return Learnt(len(offers), sum(labels) + len(later), through)


def _ranked(offer: Mapping) -> bool:
    """Whether adaptive ranking chose the offer (not, on the adaptive arm, an answer to a stated need or another
    tool's)."""
    return "tool_rank" in (offer.get("components") or {})


def offer_row(offer: Mapping, context: Mapping[str, float]) -> dict[str, float]:
    """The features of an offer as serving ranked it, from the components it kept (a decision record's offer or a
    re-ranked Recommendation's dict) and the customer context."""
    parts = offer.get("components") or {}
    return offer_features(offer["product_id"], offer.get("category"), parts,
                          parts.get("score_before_adaptive", offer.get("score") or 0.0), parts.get("tool_rank", 0),
                          parts.get("offered_before", 0), context)


def _first_take_ups(responses, found: Iterable[dict]) -> list[tuple[str, str]]:
    """(decision, product) of each response that is the offer's first take-up: an `opened` after an `accepted` of
    the same offer (or a second click) does not count twice."""
    firsts: dict[tuple[str, str], None] = {}  # ordered and a set at once
    for response in sorted(found, key=lambda doc: doc["at"]):
        key = (response["decision_id"], response["product_id"])
        if key in firsts:
            continue
        earlier = responses.find_one({"decision_id": key[0], "product_id": key[1], "kind": {"$in": list(TAKEN_UP)},
                                      "at": {"$lt": response["at"]}})
        if earlier is None:
            firsts[key] = None
    return list(firsts)


def _matrix(rows: Sequence[Mapping[str, float]]) -> tuple[list[str], sparse.csr_matrix]:
    index: dict[str, int] = {}
    cols, values, pointers = [], [], [0]
    for row in rows:
        for name, value in row.items():
            cols.append(index.setdefault(name, len(index)))
            values.append(value)
        pointers.append(len(cols))
    return list(index), sparse.csr_matrix((values, cols, pointers), shape=(len(rows), len(index)))


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * logits))
