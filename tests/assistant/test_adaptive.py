"""Adaptive ranking: what it learns from offers and responses, how that moves an answer, and the simulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from assistant.adaptive import (
    ACCEPTANCE,
    AcceptanceModel,
    CachedAcceptance,
    Counts,
    customer_history,
    learn,
    segment_of,
)
from assistant.adaptive_eval import Customer, cumulative, simulate
from assistant.contact_policy import HeldBack
from assistant.decisions import DECISIONS
from assistant.experiment import Split
from assistant.offers import Adaptive, Offers
from assistant.responses import RESPONSES
from tools.types import Recommendation

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def rec(product_id: str, score: float) -> Recommendation:
    return Recommendation(product_id, product_id, "card", score)


def at(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def decision(decision_id: str, products: list[str], minutes_ago: float, customer: str = "C1",
             segment: str | None = "age:36|income:60000") -> dict:
    return {"_id": decision_id, "customer_id": customer, "at": at(minutes_ago), "arm": "adaptive", "segment": segment,
            "offers": [{"product_id": product} for product in products]}


def response(decision_id: str, product: str, kind: str, minutes_ago: float, customer: str = "C1") -> dict:
    return {"decision_id": decision_id, "product_id": product, "customer_id": customer, "kind": kind,
            "at": at(minutes_ago)}


def test_a_segment_names_the_age_and_income_bands_of_the_feature_document():
    assert segment_of({"age": 40, "declared_income": 72_000}) == "age:36|income:60000"
    assert segment_of({"income_estimate": 20_000}) == "income:0"
    assert segment_of(None) == "unknown"


def test_a_product_this_segment_takes_up_overtakes_a_higher_scored_one_it_never_takes():
    model = AcceptanceModel()
    for taken in [True] * 30 + [False] * 70:
        model.observe("P2", "young", taken)
    for _ in range(100):
        model.observe("P1", "young", False)

    ranked = model.rerank([rec("P1", 1.0), rec("P2", 0.6)], "young", np.random.default_rng(0))

    assert [r.product_id for r in ranked] == ["P2", "P1"]
    assert ranked[0].components["score_before_adaptive"] == 0.6 and ranked[0].components["adaptive"] > 1


def test_a_segment_that_has_seen_little_borrows_the_products_rate_from_the_others():
    model = AcceptanceModel()
    for taken in [True] * 40 + [False] * 60:
        model.observe("P1", "old", taken)

    assert model.mean("P1", "young") > 0.2
    assert model.mean("P2", "young") < 0.1


def test_an_offer_the_customer_keeps_seeing_without_taking_gives_way_to_the_next():
    model, rng = AcceptanceModel(), np.random.default_rng(0)
    recs = [rec("P1", 1.0), rec("P2", 0.8)]

    fresh = model.rerank([rec("P1", 1.0), rec("P2", 0.8)], "s", rng)
    tired = model.rerank(recs, "s", rng, history={"P1": Counts(offered=3)})

    assert fresh[0].product_id == "P1" and tired[0].product_id == "P2"


def test_learning_counts_each_offer_once_and_a_take_up_once_per_offer_then_starts_where_it_stopped(store):
    store[DECISIONS].insert_many([decision("D1", ["P1", "P2"], 30), decision("D2", ["P1"], 20),
                                  decision("D3", ["P3"], 10, segment=None)])  # written before segments: skipped
    store[RESPONSES].insert_many([
        response("D1", "P1", "accepted", 25), response("D1", "P1", "opened", 15),  # one offer taken up once
        response("D1", "P2", "dismissed", 25), response("D2", "P1", "why_opened", 19),
    ])

    first = learn(store, now=NOW)
    again = learn(store, now=NOW)

    counts = {doc["_id"]: (doc["offered"], doc["accepted"]) for doc in store[ACCEPTANCE].find({})}
    assert counts == {"P1|age:36|income:60000": (2, 1), "P1|*": (2, 1), "P2|age:36|income:60000": (1, 0),
                      "P2|*": (1, 0)}
    assert (first.offers, first.taken_up) == (3, 1) and (again.offers, again.taken_up) == (0, 0)
    model = AcceptanceModel.read(store)
    assert model.mean("P1", "age:36|income:60000") > model.mean("P2", "age:36|income:60000")


def test_an_opening_after_an_acceptance_learnt_in_an_earlier_pass_does_not_count_again(store):
    store[DECISIONS].insert_one(decision("D1", ["P1"], 60))
    store[RESPONSES].insert_one(response("D1", "P1", "accepted", 50))
    learn(store, now=NOW - timedelta(minutes=40))
    store[RESPONSES].insert_one(response("D1", "P1", "opened", 30))

    learn(store, now=NOW)

    assert store[ACCEPTANCE].find_one({"_id": "P1|*"})["accepted"] == 1


def test_the_customers_history_counts_their_offers_and_take_ups_and_no_one_elses(store):
    store[DECISIONS].insert_many([decision("D1", ["P1", "P2"], 30), decision("D2", ["P1"], 20),
                                  decision("D9", ["P1"], 20, customer="C2")])
    store[RESPONSES].insert_one(response("D2", "P1", "accepted", 10))

    history = customer_history(store, "C1", now=NOW)

    assert history == {"P1": Counts(offered=2, accepted=1), "P2": Counts(offered=1, accepted=0)}


def test_the_serving_path_reads_the_counts_at_most_once_a_cache_period(store):
    clock = [0.0]
    cached = CachedAcceptance(store, seconds=60, clock=lambda: clock[0])
    assert cached.model().mean("P1", "s") < 0.1
    store[ACCEPTANCE].insert_many([{"_id": "P1|*", "product_id": "P1", "segment": "*", "offered": 1000,
                                    "accepted": 900}])

    clock[0] = 30
    before = cached.model().mean("P1", "s")
    clock[0] = 61
    after = cached.model().mean("P1", "s")

    assert before < 0.1
    assert after > 0.5


# --- in an answer --------------------------------------------------------------------------------


class FakeTools:
    """Ranks P1 > P2 > ... > P6 and returns the first k."""

    def call(self, name, ctx, subject, k=3, **extra):
        return [rec(f"P{index}", 1.0 - index / 20) for index in range(1, 7)][:k]

    def default(self, name, parameter):
        return 3


class FakePolicy:
    def __init__(self, held=()):
        self.held = held

    def held_back(self, subject):
        return {pid: HeldBack(pid, "dismissed", "dismissed lately") for pid in self.held}


class Ctx:
    def __init__(self, store):
        self.store = store
        self.products: dict = {}

    def features(self, customer_id):
        return {"age": 40, "declared_income": 72_000}


def adaptive_offers(store, share: float, held=()) -> Offers:
    return Offers(FakeTools(), Ctx(store), FakePolicy(held), None,
                  adaptive=Adaptive(Split(share, "test"), CachedAcceptance(store), np.random.default_rng(0)))


def taken_up_by_the_segment(store, product: str) -> None:
    store[ACCEPTANCE].insert_many([
        {"_id": f"{product}|*", "product_id": product, "segment": "*", "offered": 500, "accepted": 250},
        {"_id": f"{product}|age:36|income:60000", "product_id": product, "segment": "age:36|income:60000",
         "offered": 500, "accepted": 250}])


def test_a_customer_on_the_adaptive_arm_gets_what_their_segment_takes_up_from_beyond_the_first_page(store):
    taken_up_by_the_segment(store, "P6")

    shown, _ = adaptive_offers(store, share=1.0).ranked("recommend_personal", "C1", {"k": 3})
    static, _ = adaptive_offers(store, share=0.0).ranked("recommend_personal", "C1", {"k": 3})

    assert shown[0].product_id == "P6" and "adaptive" in shown[0].components
    assert [r.product_id for r in static] == ["P1", "P2", "P3"]


def test_adaptive_ranking_never_brings_back_a_product_the_contact_policy_holds(store):
    taken_up_by_the_segment(store, "P6")

    shown, held = adaptive_offers(store, share=1.0, held=["P6"]).ranked("recommend_personal", "C1", {"k": 3})

    assert "P6" not in [r.product_id for r in shown] and [item["product_id"] for item in held] == []


def test_an_answer_to_a_stated_need_keeps_the_tools_order_of_fit_on_the_adaptive_arm_too(store):
    taken_up_by_the_segment(store, "P3")

    shown, _ = adaptive_offers(store, share=1.0).ranked("recommend_personal", "C1", {"k": 3}, request=object())

    assert [r.product_id for r in shown] == ["P1", "P2", "P3"]


# --- the simulation ------------------------------------------------------------------------------


def test_in_the_simulation_adaptive_ranking_finds_needs_the_static_order_keeps_below_the_fold():
    customers = [Customer(f"C{n}", "s", [rec(f"P{i}", 1.0 - i / 20) for i in range(1, 11)],
                          frozenset({"P5", "P8"})) for n in range(150)]

    arms, log = simulate(customers, rounds=8, k=2, seed=3)

    static, adaptive, oracle = (cumulative(arms[name])[-1] for name in ("static", "adaptive", "oracle"))
    assert adaptive > 1.3 * static and oracle >= adaptive
    assert len(log) == 150 * 8


def test_the_worker_learns_from_the_latest_offers_every_ten_minutes(store, store_settings):
    from assistant.worker import make_huey

    queue = make_huey(store_settings)
    queue.immediate = True
    store[DECISIONS].insert_one(decision("D1", ["P1"], 0) | {"at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()})

    due = [task for task in queue.read_periodic(datetime(2026, 12, 1, 3, 20)) if task.name == "learn_acceptance"]
    queue.execute(due[0])

    assert "learn_acceptance" not in {task.name for task in queue.read_periodic(datetime(2026, 12, 1, 3, 25))}
    assert store[ACCEPTANCE].find_one({"_id": "P1|*"})["offered"] == 1
