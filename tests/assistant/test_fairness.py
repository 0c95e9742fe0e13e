"""`fargo eval fairness`: offer rates per group on hand-built data, the four-fifths flag, its drivers, and proof
that a customer's gender and marital status never move what the recommender offers them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from random import Random

import pytest
import typer
from typer.testing import CliRunner

from assistant import fairness
from assistant.cli import app
from assistant.fairness import (
    Subject,
    age_band,
    assess,
    format_report,
    protected_groups,
    selection_rates,
    subjects,
)
from assistant.settings import Settings
from retrieval.docstore import open_store
from retrieval.graph import build_graph, graph_tfidf
from retrieval.records import Product
from tools.context import ToolContext
from tools.personal import recommend_personal

AS_OF = date(2026, 9, 30)
RUN_ID = "run-1"


def _people(spec) -> list[Subject]:
    """spec: (count, groups, offered products, blocked {product: rules}, traits), repeated count times."""
    people = []
    for count, groups, offered, blocked, traits in spec:
        for _ in range(count):
            people.append(Subject(f"C{len(people)}", groups, frozenset(offered), blocked, frozenset(traits)))
    return people


def _groups(gender="female", band="35-44", marital="married"):
    return {"gender": gender, "age_band": band, "marital_status": marital}


PRODUCTS = {"P1": {"name": "Card", "eligibility": {"min_income": 30000}},
            "P2": {"name": "Student Checking", "eligibility": {"min_age": 17, "max_age": 25}}}


def _row(report, attribute, product_id):
    return next(row for row in report["attributes"][attribute]["rows"] if row["product_id"] == product_id)


# ----- rates and the flag -----


def test_selection_rate_is_the_share_of_each_group_offered_the_product():
    people = _people([(2, _groups("female"), {"P1"}, {}, ()), (2, _groups("female"), (), {}, ()),
                      (6, _groups("male"), {"P1"}, {}, ())])
    assert selection_rates(people, "P1", "gender") == {"female": 0.5, "male": 1.0}


@pytest.mark.parametrize(("offered_women", "flagged"), [(80, False), (79, True)])
def test_a_ratio_below_four_fifths_of_the_top_group_is_flagged_and_four_fifths_is_not(offered_women, flagged):
    people = _people([(offered_women, _groups("female"), {"P1"}, {}, ()),
                      (100 - offered_women, _groups("female"), (), {}, ()),
                      (100, _groups("male"), {"P1"}, {}, ())])
    row = _row(assess(people, PRODUCTS, ["gender"], min_group=10), "gender", "P1")
    assert row["top"] == "male" and row["ratio"] == offered_women / 100
    assert [flag["group"] for flag in row["flags"]] == (["female"] if flagged else [])
    assert row["not_significant"] == []


def test_a_ratio_under_four_fifths_that_chance_explains_is_listed_apart_not_flagged():
    people = _people([(7, _groups("female"), {"P1"}, {}, ()), (3, _groups("female"), (), {}, ()),
                      (10, _groups("male"), {"P1"}, {}, ())])
    report = assess(people, PRODUCTS, ["gender"], min_group=10, min_offers=5)
    row = _row(report, "gender", "P1")
    assert row["flags"] == [] and report["flags"] == 0
    # Fisher's exact test on 7/10 vs 10/10; a single comparison's q is its p
    assert row["not_significant"] == [{"group": "female", "ratio": 0.7, "p": 0.1053, "q": 0.1053}]


def test_small_groups_and_rare_products_are_shown_but_never_flagged():
    people = _people([(9, _groups("non_binary"), (), {}, ()), (10, _groups("female"), (), {}, ()),
                      (4, _groups("male"), {"P1"}, {}, ()), (6, _groups("male"), (), {}, ())])
    report = assess(people, PRODUCTS, ["gender"], min_group=10, min_offers=5)
    row = _row(report, "gender", "P1")
    assert row["rates"]["non_binary"] == 0.0 and row["top"] == "male"
    assert row["too_rare"] and row["flags"] == [] and report["flags"] == 0


# ----- the drivers -----


def test_an_age_limited_product_is_reported_as_age_restricted_by_design_not_unexplained():
    people = _people([(10, _groups(band="18-24"), {"P2"}, {}, ()), (10, _groups(band="18-24"), (), {}, ()),
                      (20, _groups(band="62+"), (), {"P2": ("max_age",)}, ()),
                      (2, _groups(band="25-34"), {"P2"}, {}, ()), (18, _groups(band="25-34"), (), {"P2": ("max_age",)}, ())])
    report = assess(people, PRODUCTS, ["age_band"], min_group=10)
    over, older = _row(report, "age_band", "P2")["flags"]
    assert older["group"] == "62+" and older["kind"] == "age_restricted"
    assert older["driver"] == "age-restricted by design: max_age 25 fails 100% vs 0%"
    # a band partly inside the limit: the limit alone puts it under four-fifths (10% eligible vs 100%)
    assert over["group"] == "25-34" and over["kind"] == "age_restricted" and over["eligible"] == [0.1, 1.0]
    assert report["kinds"] == {"age_restricted": 2, "eligibility": 0, "ranking": 0, "eligibility and ranking": 0}


def test_an_income_rule_failed_more_often_by_one_gender_is_named_as_the_eligibility_driver():
    people = _people([(30, _groups("male"), {"P1"}, {}, ()),
                      (12, _groups("female"), {"P1"}, {}, ()), (18, _groups("female"), (), {"P1": ("min_income",)}, ())])
    [flag] = _row(assess(people, PRODUCTS, ["gender"], min_group=10), "gender", "P1")["flags"]
    assert flag["kind"] == "eligibility" and flag["eligible"] == [0.4, 1.0]
    assert flag["rules"] == [{"rule": "min_income", "limit": 30000, "fails": [0.6, 0.0]}]
    assert flag["driver"] == "eligibility: min_income 30000 fails 60% vs 0%"


def test_a_gap_among_eligible_customers_is_traced_to_the_ranking_trait_behind_it():
    rich, poor = ("income:100000",), ("income:30000",)
    people = _people([(24, _groups("male"), {"P1"}, {}, rich), (6, _groups("male"), (), {}, poor),
                      (6, _groups("female"), {"P1"}, {}, rich), (24, _groups("female"), (), {}, poor)])
    [flag] = _row(assess(people, PRODUCTS, ["gender"], min_group=10), "gender", "P1")["flags"]
    assert flag["kind"] == "ranking" and flag["ratio"] == 0.25
    assert flag["traits"][0] == {"trait": "income:100000", "share": [0.2, 0.8], "offered_with": 1.0,
                                 "offered_without": 0.0}
    assert flag["driver"] == ("ranking: income 100,000-149,999 20% vs 80% (offered 100% with, 0% without); "
                              "income 30,000-59,999 80% vs 20% (offered 0% with, 100% without)")
    assert "female 0.25 (q=0.000) ranking: income 100,000" in format_report(assess(people, PRODUCTS, ["gender"], 10))


def test_groups_come_from_the_cip_record_with_age_bands_at_their_edges():
    customer = {"gender": "female", "marital_status": "widowed", "date_of_birth": "1964-10-01"}
    assert protected_groups(customer, AS_OF) == {"gender": "female", "marital_status": "widowed",
                                                 "age_band": "55-61"}  # 62 the day after
    assert protected_groups({}, AS_OF) == {"gender": "unknown", "marital_status": "unknown", "age_band": "unknown"}
    assert [age_band(age) for age in (17, 18, 24, 25, 61, 62)] == ["under 18", "18-24", "18-24", "25-34", "55-61",
                                                                   "62+"]


# ----- protected attributes never enter a score -----

CATALOGUE = [
    Product(product_id="P_CHECK", name="Everyday Checking", category="deposit", description="Checking.",
            terms={"monthly_fee": 5, "min_balance": 1500}, eligibility={"min_age": 18}),
    Product(product_id="P_SAVE", name="High-Yield Savings", category="deposit", description="Savings.",
            terms={"apy": 0.042}, eligibility={"min_age": 18}),
    Product(product_id="P_CASH", name="Cash Back Card", category="card", description="Cash back.",
            terms={"apr": 0.21, "rewards": {"groceries": 0.03}, "base_reward_rate": 0.01},
            eligibility={"min_age": 18, "min_income": 20000}),
    Product(product_id="P_TRAVEL", name="Travel Card", category="card", description="Points on travel.",
            terms={"apr": 0.22, "annual_fee": 95, "rewards": {"travel": 0.03}, "base_reward_rate": 0.01,
                   "point_value": 0.0125}, eligibility={"min_age": 21, "min_income": 45000}),
    Product(product_id="P_AUTO", name="Auto Loan", category="loan", description="Finance a car.",
            terms={"apr": 0.065}, eligibility={"min_age": 18, "min_income": 25000}),
    Product(product_id="P_SENIOR", name="Senior Checking", category="deposit", description="Checking at 60+.",
            terms={}, eligibility={"min_age": 60}),
]
SPEND = ("groceries", "travel", "dining", "fuel")


def _bank(store, customers: int = 60) -> dict[str, list[str]]:
    """Enough customers (60) for the lookalike and next-product models to learn; returns their holdings."""
    rng = Random(11)
    store["products"].insert_many([{"_id": p.product_id, **p.model_dump(mode="json")} for p in CATALOGUE])
    holdings = {}
    for number in range(customers):
        cid, age = f"C{number:02d}", rng.randint(19, 75)
        held = sorted({"P_CHECK", *rng.sample(["P_SAVE", "P_CASH", "P_TRAVEL", "P_AUTO"], rng.randint(0, 2))})
        holdings[cid] = held
        born = f"{AS_OF.year - age - 1}-12-01"
        marital = rng.choice(["single", "married", "divorced", "widowed"])
        store["customers"].insert_one({"_id": cid, "customer_id": cid, "date_of_birth": born,
                                       "gender": "female" if number % 2 else "male", "marital_status": marital,
                                       "city": "Austin", "consent": {"profiling": number % 9 != 0}})
        income = float(rng.choice([18000, 32000, 55000, 90000, 140000]))
        spend = {category: float(rng.randint(0, 6000)) for category in SPEND}
        store["features"].insert_one({
            "_id": f"{RUN_ID}:{cid}", "run_id": RUN_ID, "customer_id": cid, "as_of": AS_OF.isoformat(), "age": age,
            "life_stage": "established", "marital_status": marital, "dependants": 0, "occupation": "Teacher",
            "declared_income": income, "income_estimate": income, "months_observed": 12, "spend_12m": spend,
            "spend_trend": {}, "deposit_balance": float(rng.randint(0, 20000)), "products_held": held, "goals": [],
            "kyc_verified": True, "risk_appetite": "medium"})
        for product_id in held:
            opened = AS_OF - timedelta(days=rng.randint(10, 900))
            store["accounts"].insert_one({"_id": f"A{cid}{product_id}", "account_id": f"A{cid}{product_id}",
                                          "customer_id": cid, "product_id": product_id,
                                          "opened_at": opened.isoformat(), "balance": 1000.0, "status": "open"})
    return holdings


def _context(store, holdings) -> ToolContext:
    customers = [{"customer_id": cid, "date_of_birth": "1980-01-01"} for cid in holdings]
    graph = build_graph(customers, [], holdings)
    return ToolContext(store, None, None, graph, graph_tfidf(graph, AS_OF), RUN_ID)


def test_flipping_every_customers_gender_and_marital_status_changes_no_offer_or_score(tmp_path):
    with open_store(Settings(data_dir=tmp_path, mongodb_uri=None)) as store:
        holdings = _bank(store)
        ids = sorted(holdings)
        ctx = _context(store, holdings)
        before = {cid: [rec.to_dict() for rec in recommend_personal(ctx, cid, k=5)] for cid in ids}
        groups_before = {person.customer_id: person.groups for person in subjects(ctx, ids)}
        flipped = {"single": "married", "married": "single", "divorced": "widowed", "widowed": "divorced"}
        for customer in store["customers"].find({}):
            marital = flipped[customer["marital_status"]]
            store["customers"].update_one({"_id": customer["_id"]}, {"$set": {
                "gender": "male" if customer["gender"] == "female" else "female", "marital_status": marital}})
            store["features"].update_one({"_id": f"{RUN_ID}:{customer['_id']}"},
                                         {"$set": {"marital_status": marital}})
        ctx = _context(store, holdings)  # a fresh context: the models learn again from the flipped bank
        after = {cid: [rec.to_dict() for rec in recommend_personal(ctx, cid, k=5)] for cid in ids}
        people = subjects(ctx, ids)
    assert after == before
    assert all(person.groups["gender"] != groups_before[person.customer_id]["gender"] for person in people)
    # the bank exercised the learnt parts, not only eligibility
    components = {name for recs in before.values() for rec in recs for name, value in rec["components"].items()
                  if value}
    assert {"lookalike", "peers"} <= components
    assert {person.customer_id: person.offered for person in people} == {
        cid: frozenset(rec["product_id"] for rec in recs) for cid, recs in after.items()}


def test_the_json_option_prints_only_the_report_on_stdout(monkeypatch, tmp_path):
    people = _people([(30, _groups("male"), {"P1"}, {}, ()), (30, _groups("female"), (), {}, ())])

    def fake_run(settings, k, progress):
        typer.echo("First run: making a demo bank")  # what building the bank prints
        return {**assess(people, PRODUCTS, ["gender"]), "k": k}

    monkeypatch.setattr(fairness, "evaluate_on_demo_bank", fake_run)
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["eval", "fairness", "--json", "--k", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["k"] == 3 and report["flags"] == 1
    assert _row(report, "gender", "P1")["flags"][0]["group"] == "female"
