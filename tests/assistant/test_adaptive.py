"""Adaptive ranking: what it learns from offers and responses, how that moves an answer, and the simulation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from assistant.adaptive import (
    ACCEPTANCE_WEIGHTS,
    AcceptanceModel,
    CachedAcceptance,
    Counts,
    customer_context,
    customer_history,
    learn,
    offer_features,
    segment_of,
)
from assistant.adaptive_eval import Customer, cumulative, simulate
from assistant.contact_policy import HeldBack
from assistant.decisions import DECISIONS, DecisionLog
from assistant.engine import Plan
from assistant.experiment import Split
from assistant.offers import Adaptive, Offers
from assistant.responses import RESPONSES
from tools.types import Recommendation

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TRAVELLER = {"spend:travel": 0.8, "stage:established": 1.0}
SHOPPER = {"spend:groceries": 0.8, "stage:established": 1.0}


KINDS = {"P1": "deposit", "P2": "card"}  # the model learns what each kind of product suits


def rec(product_id: str, score: float) -> Recommendation:
    return Recommendation(product_id, product_id, KINDS.get(product_id, "card"), score)


def at(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def decision(decision_id: str, products: list[str], minutes_ago: float, customer: str = "C1",
             context: dict | None = TRAVELLER) -> dict:
    offers = [{"product_id": product, "category": KINDS.get(product, "card"), "score": 0.5,
               "components": {"score_before_adaptive": 0.5, "tool_rank": rank, "offered_before": 0}}
              for rank, product in enumerate(products)]
    return {"_id": decision_id, "customer_id": customer, "at": at(minutes_ago), "arm": "adaptive",
            "segment": "age:36|income:60000", "context": context, "offers": offers}


def response(decision_id: str, product: str, kind: str, minutes_ago: float, customer: str = "C1") -> dict:
    return {"decision_id": decision_id, "product_id": product, "customer_id": customer, "kind": kind,
            "at": at(minutes_ago)}


def order(model: AcceptanceModel, context: dict, products=("P1", "P2")) -> list[str]:
    return [r.product_id for r in model.rerank([rec(p, 0.5) for p in products], context, None)]


def chance(model: AcceptanceModel, product: str, context: dict = TRAVELLER) -> float:
    return float(model.chances([offer_features(product, KINDS.get(product, "card"), {}, 0.5, 0, 0, context)])[0])


def travellers_take_p2_and_shoppers_p1(model: AcceptanceModel, offers: int = 200) -> None:
    rng = np.random.default_rng(0)
    rows, taken = [], []
    for context, liked in ((TRAVELLER, "P2"), (SHOPPER, "P1")):
        for product in ("P1", "P2"):
            rows += [offer_features(product, KINDS[product], {}, 0.5, 0, 0, context)] * offers
            taken += list(rng.random(offers) < (0.4 if product == liked else 0.02))
    model.fold(rows, taken)


def test_a_segment_names_the_age_and_income_bands_of_the_feature_document():
    assert segment_of({"age": 40, "declared_income": 72_000}) == "age:36|income:60000"
    assert segment_of({"income_estimate": 20_000}) == "income:0"
    assert segment_of(None) == "unknown"


def test_the_customer_context_is_life_stage_family_spending_shares_and_trends_and_goals():
    context = customer_context({"life_stage": "retired", "marital_status": "married", "dependants": 0,
                                "spend_12m": {"travel": 900.0, "groceries": 100.0}, "spend_trend": {"travel": 20.0},
                                "goals": ["retirement"], "age": 66})

    assert context == {"stage:retired": 1.0, "marital:married": 1.0, "spend:travel": 0.9487,
                       "spend:groceries": 0.3162, "trend:travel": 0.7616, "goal:retirement": 1.0}
    assert customer_context(None) == {}


def test_what_the_customer_took_up_lately_is_part_of_their_context_and_what_they_only_saw_is_not():
    history = {"P2": Counts(offered=2, accepted=1), "P5": Counts(offered=3)}

    assert customer_context({"life_stage": "retired"}, history) == {"stage:retired": 1.0, "took:P2": 1.0}
    assert customer_context(None, history) == {"took:P2": 1.0}


def test_customers_who_took_one_product_are_offered_what_others_took_after_it():
    model = AcceptanceModel()
    rng = np.random.default_rng(0)
    rows, taken = [], []
    for context in (TRAVELLER, TRAVELLER | {"took:P7": 1.0}):
        for product in ("P1", "P2"):
            rows += [offer_features(product, KINDS[product], {}, 0.5, 0, 0, context)] * 300
            liked = product == "P1" if "took:P7" in context else product == "P2"
            taken += list(rng.random(300) < (0.4 if liked else 0.02))
    model.fold(rows, taken)

    assert order(model, TRAVELLER) == ["P2", "P1"]
    assert order(model, customer_context({"spend_12m": {"travel": 1.0}, "life_stage": "established"},
                                         {"P7": Counts(offered=1, accepted=1)})) == ["P1", "P2"]


def test_before_anything_is_learnt_the_tools_order_stands():
    model = AcceptanceModel()

    ranked = model.rerank([rec("P1", 0.5), rec("P2", 0.6), rec("P3", 0.7)], TRAVELLER, None)

    assert [r.product_id for r in ranked] == ["P1", "P2", "P3"]
    assert 0.01 < ranked[0].components["acceptance_drawn"] < 0.1


def test_it_learns_which_product_each_kind_of_customer_takes_up():
    model = AcceptanceModel()
    assert order(model, TRAVELLER) == order(model, SHOPPER) == ["P1", "P2"]

    travellers_take_p2_and_shoppers_p1(model)

    assert order(model, TRAVELLER) == ["P2", "P1"] and order(model, SHOPPER) == ["P1", "P2"]
    assert chance(model, "P2", TRAVELLER) > 0.2 and chance(model, "P2", SHOPPER) < 0.1


def test_a_draw_explores_most_where_little_has_been_learnt():
    model = AcceptanceModel()
    travellers_take_p2_and_shoppers_p1(model)
    rng = np.random.default_rng(1)
    seen = [offer_features("P2", "card", {}, 0.5, 0, 0, TRAVELLER)]
    new = [offer_features("P9", "loan", {}, 0.5, 0, 0, {"spend:pets": 0.8})]

    def spread(rows):  # of the drawn log-odds
        drawn = np.array([model.chances(rows, rng)[0] for _ in range(200)])
        return np.std(np.log(drawn / (1 - drawn)))

    spread_seen, spread_new = spread(seen), spread(new)

    assert spread_new > 2 * spread_seen


def test_offers_the_customer_saw_before_without_taking_them_give_way_once_that_is_learnt():
    model = AcceptanceModel()
    rng = np.random.default_rng(0)
    fresh = [offer_features(f"P{n % 5}", "card", {}, 0.5, 1, 0, TRAVELLER) for n in range(300)]
    again = [offer_features(f"P{n % 5}", "card", {}, 0.5, 0, 2, TRAVELLER) for n in range(300)]
    model.fold(fresh + again, list(rng.random(300) < 0.2) + list(rng.random(300) < 0.01))

    ranked = model.rerank([rec("P1", 0.5), rec("P2", 0.5)], TRAVELLER, None, history={"P1": Counts(offered=2)})

    assert [r.product_id for r in ranked] == ["P2", "P1"] and ranked[1].components["offered_before"] == 2


def test_learning_counts_each_offer_once_and_a_take_up_once_per_offer_then_starts_where_it_stopped(store):
    static_arm = decision("D3", ["P3"], 10, context=None)  # not learnt
    stated_need = decision("D4", ["P4"], 10)  # on the adaptive arm, in the tool's order of fit: not learnt
    stated_need["offers"][0]["components"] = {}
    store[DECISIONS].insert_many([decision("D1", ["P1", "P2"], 30), decision("D2", ["P1"], 20), static_arm,
                                  stated_need])
    store[RESPONSES].insert_many([
        response("D1", "P1", "accepted", 25), response("D1", "P1", "opened", 15),  # one offer taken up once
        response("D1", "P2", "dismissed", 25), response("D2", "P1", "why_opened", 19),
    ])

    first = learn(store, now=NOW)
    again = learn(store, now=NOW)

    assert (first.offers, first.taken_up) == (3, 1) and (again.offers, again.taken_up) == (0, 0)
    assert store[ACCEPTANCE_WEIGHTS].find_one({"_id": "product:P3"}) is None
    assert store[ACCEPTANCE_WEIGHTS].find_one({"_id": "product:P4"}) is None
    model = AcceptanceModel.read(store)
    assert chance(model, "P1") > chance(model, "P2")


def test_a_take_up_in_a_later_pass_raises_the_offers_chance_and_an_opening_after_it_does_not_again(store):
    store[DECISIONS].insert_one(decision("D1", ["P1"], 60))
    learn(store, now=NOW - timedelta(minutes=50))
    before = chance(AcceptanceModel.read(store), "P1")
    store[RESPONSES].insert_one(response("D1", "P1", "accepted", 40))
    learn(store, now=NOW - timedelta(minutes=35))
    after_accepted = AcceptanceModel.read(store)
    store[RESPONSES].insert_one(response("D1", "P1", "opened", 30))

    third = learn(store, now=NOW)

    assert chance(after_accepted, "P1") > before
    assert third.taken_up == 0 and chance(AcceptanceModel.read(store), "P1") == chance(after_accepted, "P1")


def test_what_the_worker_learnt_survives_a_restart(store):
    rows = [decision(f"T{n}", ["P1", "P2"], 30, customer=f"T{n}") for n in range(60)]
    rows += [decision(f"S{n}", ["P1", "P2"], 30, customer=f"S{n}", context=SHOPPER) for n in range(60)]
    store[DECISIONS].insert_many(rows)
    store[RESPONSES].insert_many([response(f"T{n}", "P2", "accepted", 20, f"T{n}") for n in range(0, 60, 2)]
                                 + [response(f"S{n}", "P1", "accepted", 20, f"S{n}") for n in range(0, 60, 2)])
    learn(store, now=NOW)

    reloaded = CachedAcceptance(store).model()  # as a service started afresh reads it

    assert order(reloaded, TRAVELLER) == ["P2", "P1"] and order(reloaded, SHOPPER) == ["P1", "P2"]


def test_the_customers_history_counts_their_offers_and_take_ups_and_no_one_elses(store):
    store[DECISIONS].insert_many([decision("D1", ["P1", "P2"], 30), decision("D2", ["P1"], 20),
                                  decision("D9", ["P1"], 20, customer="C2")])
    store[RESPONSES].insert_one(response("D2", "P1", "accepted", 10))

    history = customer_history(store, "C1", now=NOW)

    assert history == {"P1": Counts(offered=2, accepted=1), "P2": Counts(offered=1, accepted=0)}


def test_the_serving_path_reads_the_weights_at_most_once_a_cache_period(store):
    clock = [0.0]
    cached = CachedAcceptance(store, seconds=60, clock=lambda: clock[0])
    assert chance(cached.model(), "P1") < 0.1
    store[ACCEPTANCE_WEIGHTS].insert_one({"_id": "product:P1", "mean": 5.0, "precision": 1000.0})

    clock[0] = 30
    before = chance(cached.model(), "P1")
    clock[0] = 61
    after = chance(cached.model(), "P1")

    assert before < 0.1
    assert after > 0.5


# --- in an answer --------------------------------------------------------------------------------


class FakeTools:
    """Ranks P1 > P2 > ... > P6 and returns the first k."""

    def call(self, name, ctx, subject, k=3, **extra):
        return [rec(f"P{index}", 1.0 - index / 20) for index in range(1, 7)][:k]

    def default(self, name, parameter):
        return 3

    def versions(self, name):
        return {"tool_version": "test", "ranker_version": "test"}


class FakePolicy:
    def __init__(self, held=()):
        self.held = held

    def held_back(self, subject):
        return {pid: HeldBack(pid, "dismissed", "dismissed lately") for pid in self.held}


class Ctx:
    run_id = "R1"

    def __init__(self, store):
        self.store = store
        self.products: dict = {}

    def customer(self, customer_id):
        return {"first_name": "Ann"}

    def features(self, customer_id):
        return {"age": 40, "declared_income": 72_000, "life_stage": "established", "spend_12m": {"travel": 900.0}}


def adaptive_offers(store, share: float, held=(), log: DecisionLog | None = None) -> Offers:
    return Offers(FakeTools(), Ctx(store), FakePolicy(held), log,
                  adaptive=Adaptive(Split(share, "test"), CachedAcceptance(store), np.random.default_rng(0)))


def taken_up_by_travellers(store, product: str) -> None:
    store[ACCEPTANCE_WEIGHTS].insert_one({"_id": "card|spend:travel", "mean": 0.0, "precision": 1000.0})
    store[ACCEPTANCE_WEIGHTS].insert_one({"_id": f"product:{product}", "mean": 5.0, "precision": 1000.0})


def test_a_customer_on_the_adaptive_arm_gets_what_customers_like_them_take_up_from_beyond_the_first_page(store):
    taken_up_by_travellers(store, "P6")

    shown, _ = adaptive_offers(store, share=1.0).ranked("recommend_personal", "C1", {"k": 3})
    static, _ = adaptive_offers(store, share=0.0).ranked("recommend_personal", "C1", {"k": 3})

    assert shown[0].product_id == "P6" and "adaptive" in shown[0].components
    assert [r.product_id for r in static] == ["P1", "P2", "P3"]


def test_adaptive_ranking_never_brings_back_a_product_the_contact_policy_holds(store):
    taken_up_by_travellers(store, "P6")

    shown, held = adaptive_offers(store, share=1.0, held=["P6"]).ranked("recommend_personal", "C1", {"k": 3})

    assert "P6" not in [r.product_id for r in shown] and [item["product_id"] for item in held] == []


def test_an_answer_to_a_stated_need_keeps_the_tools_order_of_fit_on_the_adaptive_arm_too(store):
    taken_up_by_travellers(store, "P3")

    shown, _ = adaptive_offers(store, share=1.0).ranked("recommend_personal", "C1", {"k": 3}, request=object())

    assert [r.product_id for r in shown] == ["P1", "P2", "P3"]


def test_an_adaptive_decision_keeps_what_it_was_ranked_with_and_the_worker_learns_from_it(store):
    offers = adaptive_offers(store, share=1.0, log=DecisionLog(store))
    shown, _ = offers.ranked("recommend_personal", "C1", {"k": 3})
    plan = Plan("recommendations", recommendations=[r.to_dict() for r in shown],
                tool_calls=[{"name": "recommend_personal", "arguments": {"k": 3}}])

    decision_id = offers.decide(plan, "C1", "widget", "S1", "what suits me?", "recommendations")
    now = datetime.now(UTC)
    store[RESPONSES].insert_one(response(decision_id, shown[0].product_id, "accepted", 0) | {"at": now.isoformat()})
    learnt = learn(store, now=now + timedelta(minutes=1))

    record = store[DECISIONS].find_one({"_id": decision_id})
    assert record["context"] == {"stage:established": 1.0, "spend:travel": 1.0}
    ranks = [offer["components"]["tool_rank"] for offer in record["offers"]]
    assert [int(offer["product_id"][1:]) - 1 for offer in record["offers"]] == ranks  # P1 first in the tool's order
    assert all(offer["components"]["offered_before"] == 0 for offer in record["offers"])
    assert (learnt.offers, learnt.taken_up) == (3, 1)
    taken = shown[0].product_id
    assert chance(AcceptanceModel.read(store), taken, record["context"]) > chance(AcceptanceModel(), taken, record["context"])


def test_the_decision_record_keeps_the_context_the_offers_were_ranked_with(store):
    offers = adaptive_offers(store, share=1.0, log=DecisionLog(store))
    shown, _ = offers.ranked("recommend_personal", "C1", {"k": 3})
    store[DECISIONS].insert_one(decision("D0", ["P5"], 5, context=None))  # a take-up lands while the answer is made
    store[RESPONSES].insert_one(response("D0", "P5", "accepted", 1) | {"at": datetime.now(UTC).isoformat()})
    plan = Plan("recommendations", recommendations=[r.to_dict() for r in shown],
                tool_calls=[{"name": "recommend_personal", "arguments": {"k": 3}}])

    ranked_with = store[DECISIONS].find_one({"_id": offers.decide(plan, "C1", "widget", "S1", "hi", "recommendations")})
    plain = store[DECISIONS].find_one({"_id": offers.decide(plan, "C1", "widget", "S1", "hi", "recommendations")})

    assert ranked_with["context"] == {"stage:established": 1.0, "spend:travel": 1.0}
    assert plain["context"] == ranked_with["context"] | {"took:P5": 1.0}  # not ranked in between: read afresh


# --- the simulation ------------------------------------------------------------------------------


def test_in_the_simulation_adaptive_ranking_finds_needs_the_static_order_keeps_below_the_fold():
    customers = [Customer(f"C{n}", TRAVELLER if n % 2 else SHOPPER, [rec(f"P{i}", 1.0 - i / 20) for i in range(1, 11)],
                          frozenset({"P8"} if n % 2 else {"P5"})) for n in range(100)]

    arms, log = simulate(customers, rounds=6, k=2, seed=3)

    static, adaptive, oracle = (cumulative(arms[name])[-1] for name in ("static", "adaptive", "oracle"))
    assert adaptive > 1.3 * static and oracle >= adaptive
    assert len(log) == 100 * 6


def test_in_the_simulation_policies_that_show_the_same_offers_see_the_same_take_ups():
    customers = [Customer(f"C{n}", TRAVELLER, [rec(f"P{i}", 1.0 - i / 20) for i in range(1, 6)],
                          frozenset({"P1", "P2"})) for n in range(200)]

    arms, _ = simulate(customers, rounds=3, k=2, seed=5)

    assert arms["static"].accepted == arms["oracle"].accepted and sum(arms["static"].accepted) > 0


def test_the_worker_learns_from_the_latest_offers_every_ten_minutes(store, store_settings):
    from assistant.worker import make_huey

    queue = make_huey(store_settings)
    queue.immediate = True
    store[DECISIONS].insert_one(decision("D1", ["P1"], 0) | {"at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()})

    due = [task for task in queue.read_periodic(datetime(2026, 12, 1, 3, 20)) if task.name == "learn_acceptance"]
    queue.execute(due[0])

    assert "learn_acceptance" not in {task.name for task in queue.read_periodic(datetime(2026, 12, 1, 3, 25))}
    assert store[ACCEPTANCE_WEIGHTS].find_one({"_id": "product:P1"})["precision"] > 4
