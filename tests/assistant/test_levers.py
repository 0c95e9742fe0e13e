"""Arbitration levers: the file is validated, priority = relevance x lever, and levers only re-order what a tool
returned after the contact policy (they never add a product or bring back one a rule holds back)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from assistant.contact_policy import HeldBack
from assistant.levers import LeverFileError, load_levers
from assistant.offers import Offers
from assistant.settings import SettingsError, load_settings
from tools.types import Recommendation

PRODUCTS = {"P1": {"_id": "P1", "category": "card"}, "P2": {"_id": "P2", "category": "card"},
            "P3": {"_id": "P3", "category": "loan"}, "P4": {"_id": "P4", "category": "loan"},
            "P9": {"_id": "P9", "category": "loan"}}


def write(tmp_path, levers) -> str:
    path = tmp_path / "levers.json"
    path.write_text(json.dumps({"levers": levers}))
    return path


@pytest.mark.parametrize(("levers", "words"), [
    ([{"product_id": "P1", "weight": 0}], "levers.0.weight: Input should be greater than 0"),
    ([{"product_id": "P1", "category": "card"}], "set exactly one of product_id or category"),
    ([{"category": "card"}, {"category": "card", "weight": 2}], "more than one lever for category:card"),
    ([{"product_id": "P404", "weight": 2}], "no product P404 in the catalogue"),
    ([{"category": "boats"}], "levers.0.category"),
])
def test_a_bad_levers_file_is_refused_naming_the_entry_and_the_field(tmp_path, levers, words):
    with pytest.raises(LeverFileError, match=words):
        load_levers(write(tmp_path, levers), PRODUCTS)


def test_the_setting_names_the_variable_when_its_file_is_bad(tmp_path):
    with pytest.raises(SettingsError, match="FARGO_LEVERS_FILE: .*weight"):
        load_settings(levers_file=write(tmp_path, [{"category": "card", "weight": -1}]))


def test_a_lever_multiplies_weight_campaign_boost_while_it_runs_and_margin(tmp_path):
    levers = load_levers(write(tmp_path, [{"product_id": "P3", "weight": 2, "campaign_boost": 0.5,
                                           "campaign_until": "2026-12-31", "margin": 0.1}]), PRODUCTS)
    lever = levers.lever_for(PRODUCTS["P3"])

    assert lever.factor(date(2026, 12, 31)) == pytest.approx(2 * 1.5 * 1.1)
    assert lever.factor(date(2027, 1, 1)) == pytest.approx(2 * 1.1)  # the campaign is over


def rec(product_id: str, score: float) -> Recommendation:
    return Recommendation(product_id, product_id, PRODUCTS[product_id]["category"], score)


def test_arbitration_reorders_by_priority_and_a_products_own_lever_wins_over_its_categorys(tmp_path):
    levers = load_levers(write(tmp_path, [{"category": "loan", "weight": 3}, {"product_id": "P4", "weight": 0.5}]),
                         PRODUCTS)

    ordered = levers.arbitrate([rec("P1", 1.0), rec("P2", 0.9), rec("P3", 0.5), rec("P4", 0.8)], PRODUCTS)

    assert [r.product_id for r in ordered] == ["P3", "P1", "P2", "P4"]
    assert ordered[0].components == {"score_before_lever": 0.5, "lever": 3.0} and ordered[0].score == 1.5


class FakeTools:
    """A tool that ranks P1 > P2 > P3 > P4 > ... and returns the first k; P9 is never returned (not eligible)."""

    ranking = ("P1", "P2", "P3", "P4")

    def call(self, name, ctx, subject, k=3, **extra):
        return [rec(pid, 1.0 - index / 10) for index, pid in enumerate(self.ranking)][:k]

    def default(self, name, parameter):
        return 3


class FakePolicy:
    def __init__(self, held):
        self.held = held

    def held_back(self, subject):
        return {pid: HeldBack(pid, "dismissed", "dismissed lately") for pid in self.held}


class Ctx:
    products = PRODUCTS


def offers_with(levers: list[dict], held=(), tmp_path=None) -> Offers:
    return Offers(FakeTools(), Ctx(), FakePolicy(held), None, load_levers(write(tmp_path, levers), PRODUCTS))


def test_a_lever_lifts_an_offer_into_the_answer_from_among_the_tools_own_results(tmp_path):
    offers = offers_with([{"product_id": "P4", "weight": 5}], tmp_path=tmp_path)

    shown, held = offers.ranked("recommend_personal", "C1", {"k": 2})

    assert [r.product_id for r in shown] == ["P4", "P1"]
    assert held == []


def test_a_lever_never_adds_a_product_the_tool_did_not_return_nor_one_the_contact_policy_holds(tmp_path):
    offers = offers_with([{"product_id": "P9", "weight": 10}, {"product_id": "P2", "weight": 10}], held=["P2"],
                         tmp_path=tmp_path)

    shown, held = offers.ranked("recommend_personal", "C1", {"k": 3})

    assert [r.product_id for r in shown] == ["P1", "P3", "P4"]
    assert [item["product_id"] for item in held] == ["P2"]


def test_an_answer_to_a_stated_need_keeps_the_tools_order_of_fit(tmp_path):
    offers = offers_with([{"product_id": "P3", "weight": 10}], tmp_path=tmp_path)

    shown, _ = offers.ranked("recommend_personal", "C1", {"k": 3}, request=object())

    assert [r.product_id for r in shown] == ["P1", "P2", "P3"]
    assert all("lever" not in r.components for r in shown)


def test_the_decision_record_lists_the_levers_applied(tmp_path):
    levers = load_levers(write(tmp_path, [{"product_id": "P3", "weight": 2, "note": "Q1 push"},
                                          {"category": "card", "margin": 0.5}]), PRODUCTS)
    moved = levers.arbitrate([rec("P1", 1.0), rec("P3", 0.6), rec("P4", 0.5)], PRODUCTS)

    applied = levers.applied([r.to_dict() for r in moved], PRODUCTS)

    assert applied == [
        {"product_id": "P1", "lever": "category:card", "factor": 1.5, "category": "card", "weight": 1.0,
         "campaign_boost": 0.0, "campaign_until": None, "margin": 0.5, "note": ""},
        {"product_id": "P3", "lever": "P3", "factor": 2.0, "category": None, "weight": 2.0,
         "campaign_boost": 0.0, "campaign_until": None, "margin": 0.0, "note": "Q1 push"},
    ]
