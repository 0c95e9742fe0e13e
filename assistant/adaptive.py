"""Adaptive ranking: how often customers like this one took up an offer, learnt from their responses.

For each product, and for each product within a segment (the customer's age band and income band, the traits
the lookalike model names), the store keeps how many times it was offered and how many of those offers were
taken up: an `accepted` or `opened` response, counted once per offer. The worker folds the decisions and
responses written since its last pass into those counts (`learn`, every LEARN_EVERY_MINUTES); the serving path
reads them at most once every CACHE_SECONDS (`CachedAcceptance`), so a turn never waits on learning.

Ranking is Thompson sampling: each candidate's chance of acceptance in the customer's segment is drawn from a
Beta posterior whose prior is the product's bank-wide rate, worth PRIOR_STRENGTH offers (a segment that has seen
little borrows from the rest; a product never offered starts from PRIOR_RATE). The customer's own history then
moves it: with the draw as the prior mean, worth CUSTOMER_PRIOR_STRENGTH offers, the chance for this customer is
(CUSTOMER_PRIOR_STRENGTH x draw + their take-ups) / (CUSTOMER_PRIOR_STRENGTH + their offers of it), so an offer
they have seen again and again without taking it gives way to the next one (`customer_history`, read from the
decision log at each turn, so it is never stale). The offline score is multiplied by
(chance / PRIOR_RATE) ** WEIGHT. A draw rather than the mean is the exploration: a product few have seen still
gets its chance, in proportion to how unsure the counts are.

Why not mabwiser: the state of a Beta-Bernoulli bandit is two counts per arm. Kept as documents they are shared
by every API replica, survive restarts and are written by the worker alone; mabwiser keeps the same counts in an
in-process object that would have to be pickled, locked and reloaded by each replica.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from tools.lookalike import band_keys

ACCEPTANCE = "acceptance"  # {_id: "product|segment", product_id, segment, offered, accepted}
ACCEPTANCE_CHECKPOINT = "acceptance_checkpoint"
ALL = "*"  # the segment of a product's bank-wide counts
TAKEN_UP = ("accepted", "opened")
PRIOR_RATE = 0.05  # a product nobody has been offered yet
PRIOR_STRENGTH = 100.0  # offers' worth of the bank-wide rate in a segment's prior
CUSTOMER_PRIOR_STRENGTH = 1.0  # offers' worth of the segment's draw against the customer's own history
HISTORY_DAYS = 90
HISTORY_DECISIONS = 200
WEIGHT = 0.3
POOL = 20  # the tool's top products an adaptive answer is chosen from
CACHE_SECONDS = 60.0
LEARN_EVERY_MINUTES = 10
SETTLE = timedelta(seconds=5)  # records stamped this recently may still be on their way into the store


def segment_of(features: Mapping | None) -> str:
    """"age:36|income:60000" from a feature document, "unknown" without one."""
    return "|".join(band_keys(features)) if features else "unknown"


@dataclass
class Counts:
    offered: float = 0.0
    accepted: float = 0.0


@dataclass
class AcceptanceModel:
    """Offers and take-ups per (product, segment), and per product over all segments."""

    counts: dict[tuple[str, str], Counts] = field(default_factory=lambda: defaultdict(Counts))

    @classmethod
    def read(cls, store) -> AcceptanceModel:
        model = cls()
        for doc in store[ACCEPTANCE].find({}):
            model.counts[(doc["product_id"], doc["segment"])] = Counts(doc["offered"], doc["accepted"])
        return model

    def observe(self, product_id: str, segment: str, accepted: bool) -> None:
        """One offer and whether it was taken up (the simulation's learning; the worker's is `learn`)."""
        for key in ((product_id, segment), (product_id, ALL)):
            self.counts[key].offered += 1
            self.counts[key].accepted += accepted

    def posterior(self, product_id: str, segment: str) -> tuple[float, float]:
        """Beta(alpha, beta) of the product's acceptance in the segment."""
        overall = self.counts.get((product_id, ALL), Counts())
        rate = (overall.accepted + PRIOR_RATE * PRIOR_STRENGTH) / (overall.offered + PRIOR_STRENGTH)
        here = self.counts.get((product_id, segment), Counts())
        return (rate * PRIOR_STRENGTH + here.accepted,
                (1 - rate) * PRIOR_STRENGTH + here.offered - here.accepted)

    def mean(self, product_id: str, segment: str) -> float:
        alpha, beta = self.posterior(product_id, segment)
        return alpha / (alpha + beta)

    def draw(self, product_ids: Sequence[str], segment: str, rng: np.random.Generator) -> np.ndarray:
        alphas, betas = zip(*(self.posterior(product_id, segment) for product_id in product_ids), strict=True)
        return rng.beta(alphas, betas)

    def rerank(self, recs: list, segment: str, rng: np.random.Generator,
               history: Mapping[str, Counts] | None = None) -> list:
        """`recs` (Recommendations) ordered by score x (chance / PRIOR_RATE) ** WEIGHT, the chance drawn for the
        segment and moved by the customer's `history` (product -> their offers and take-ups); each keeps its score
        before, the chance and the factor in its components."""
        if not recs:
            return recs
        drawn = self.draw([rec.product_id for rec in recs], segment, rng)
        history = history or {}
        for rec, draw in zip(recs, drawn, strict=True):
            theirs = history.get(rec.product_id, Counts())
            chance = (CUSTOMER_PRIOR_STRENGTH * draw + theirs.accepted) / (CUSTOMER_PRIOR_STRENGTH + theirs.offered)
            factor = float((draw / PRIOR_RATE) ** WEIGHT * chance / draw)
            rec.components = {**rec.components, "score_before_adaptive": rec.score,
                              "acceptance_drawn": round(float(chance), 4), "adaptive": round(factor, 4)}
            rec.score = round(rec.score * factor, 4)
        return sorted(recs, key=lambda rec: -rec.score)


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
    """Fold the offers and take-ups recorded since the last pass into the counts; what this pass added."""
    from assistant.decisions import DECISIONS
    from assistant.responses import RESPONSES

    checkpoint = store[ACCEPTANCE_CHECKPOINT].find_one({"_id": "learnt"}) or {}
    since = checkpoint.get("through", "")
    through = ((now or datetime.now(UTC)) - SETTLE).isoformat()
    window = {"$gt": since, "$lte": through}
    increments: dict[tuple[str, str], Counts] = defaultdict(Counts)
    offers = 0
    for decision in store[DECISIONS].find({"at": window}, {"segment": 1, "offers": 1}):
        for offer in decision["offers"] if decision.get("segment") else ():
            _add(increments, offer["product_id"], decision["segment"], offered=1)
            offers += 1
    taken = _first_take_ups(store[RESPONSES], store[RESPONSES].find({"at": window, "kind": {"$in": list(TAKEN_UP)}}))
    segments = {doc["_id"]: doc.get("segment") for doc in store[DECISIONS].find(
        {"_id": {"$in": sorted({decision_id for decision_id, _ in taken})}}, {"segment": 1})}
    taken_up = 0
    for decision_id, product_id in taken:
        if segments.get(decision_id):
            _add(increments, product_id, segments[decision_id], accepted=1)
            taken_up += 1
    for (product_id, segment), counts in increments.items():
        store[ACCEPTANCE].update_one(
            {"_id": f"{product_id}|{segment}"},
            {"$inc": {"offered": counts.offered, "accepted": counts.accepted},
             "$set": {"product_id": product_id, "segment": segment}}, upsert=True)
    store[ACCEPTANCE_CHECKPOINT].update_one({"_id": "learnt"}, {"$set": {"through": through}}, upsert=True)
    return Learnt(offers, taken_up, through)


def _add(increments: dict, product_id: str, segment: str, offered: int = 0, accepted: int = 0) -> None:
    for key in ((product_id, segment), (product_id, ALL)):
        increments[key].offered += offered
        increments[key].accepted += accepted


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
