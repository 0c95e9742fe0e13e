"""Eligibility rules, `why_not` in words, and the allow-list every score reads features through."""

from __future__ import annotations

from datetime import date

import networkx as nx

from retrieval.graph import graph_tfidf
from tools.context import ToolContext
from tools.eligibility import (
    OPTED_OUT_OF_PROFILING,
    PROTECTED_ATTRIBUTES,
    SCORING_FIELDS,
    check,
    credit_score_inputs,
    eligibility_income,
    may_profile,
    why_not,
)
from tools.types import Ineligible

RUN_ID = "run-1"

TRAVEL_CARD = {
    "_id": "P010", "product_id": "P010", "name": "Voyager Travel Rewards Card", "category": "card",
    "eligibility": {"min_age": 21, "max_age": 120, "min_income": 45000.0, "requires_verified_kyc": True,
                    "risk_appetite": []},
}
STUDENT_CHECKING = {
    "_id": "P002", "product_id": "P002", "name": "Student Checking", "category": "deposit",
    "eligibility": {"min_age": 17, "max_age": 25, "min_income": 0.0, "requires_verified_kyc": True,
                    "risk_appetite": []},
}
GROWTH_PORTFOLIO = {
    "_id": "P030", "product_id": "P030", "name": "Managed Growth Portfolio", "category": "investment",
    "eligibility": {"min_age": 18, "max_age": 120, "min_income": 30000.0, "requires_verified_kyc": True,
                    "risk_appetite": ["medium", "high"]},
}
PET_INSURANCE = {
    "_id": "P045", "product_id": "P045", "name": "Pet Insurance", "category": "insurance",
    "eligibility": {"min_age": 18, "max_age": 120, "min_income": 0.0, "requires_verified_kyc": False,
                    "risk_appetite": []},
}


def _features(**overrides) -> dict:
    features = {"_id": f"{RUN_ID}:C1", "customer_id": "C1", "age": 34, "declared_income": 60000.0,
                "income_estimate": 52000.0, "kyc_verified": True, "risk_appetite": "medium", "products_held": ["P001"],
                "marital_status": "married", "gender": "female", "nationality": "PT", "religion": "none",
                "health": "asthma", "profile_summary": "34-year-old married nurse", "dependants": 2, "city": "Austin"}
    return features | overrides


def _rules(failures: list[Ineligible]) -> list[str]:
    return [failure.rule for failure in failures]


def test_an_eligible_customer_fails_no_rule():
    assert check(TRAVEL_CARD, _features()) == []
    assert check(GROWTH_PORTFOLIO, _features()) == []


def test_each_rule_is_named_with_the_customers_own_figure():
    assert check(TRAVEL_CARD, _features(age=19)) == [
        Ineligible("P010", "min_age", "available from age 21; you are 19")]
    assert check(STUDENT_CHECKING, _features()) == [
        Ineligible("P002", "max_age", "available only up to age 25; you are 34")]
    assert check(TRAVEL_CARD, _features(declared_income=30000.0, income_estimate=28000.0)) == [
        Ineligible("P010", "min_income", "needs an income of at least $45,000 a year; yours is $30,000")]
    assert check(GROWTH_PORTFOLIO, _features(risk_appetite="low")) == [
        Ineligible("P030", "risk_appetite", "suits a medium or high risk appetite; yours is low")]
    assert check(PET_INSURANCE, _features(products_held=["P001", "P045"])) == [
        Ineligible("P045", "already_held", "you already hold Pet Insurance")]


def test_income_rule_takes_the_higher_of_declared_and_estimated_income():
    assert eligibility_income(_features(declared_income=40000.0, income_estimate=47000.0)) == 47000.0
    assert check(TRAVEL_CARD, _features(declared_income=40000.0, income_estimate=47000.0)) == []  # paid here
    assert check(TRAVEL_CARD, _features(declared_income=46000.0, income_estimate=0.0)) == []  # paid elsewhere


def test_unverified_identity_blocks_only_products_that_require_kyc():
    unverified = _features(kyc_verified=False)
    assert check(TRAVEL_CARD, unverified) == [Ineligible(
        "P010", "requires_verified_kyc", "requires verified identity documents (KYC); yours are not verified")]
    assert check(TRAVEL_CARD, unverified, kyc_status="pending")[0].reason == (
        "requires verified identity documents (KYC); yours are pending")
    assert check(PET_INSURANCE, unverified) == []


def test_every_failed_rule_is_listed():
    failures = check(TRAVEL_CARD, _features(age=19, declared_income=10000.0, income_estimate=0.0,
                                            kyc_verified=False, products_held=["P010"]))
    assert _rules(failures) == ["min_age", "min_income", "requires_verified_kyc", "already_held"]


def test_scoring_inputs_never_carry_a_protected_attribute():
    inputs = credit_score_inputs(_features())
    assert not PROTECTED_ATTRIBUTES & set(inputs)
    assert not PROTECTED_ATTRIBUTES & set(SCORING_FIELDS)
    assert "profile_summary" not in inputs  # it names the marital status
    assert inputs["_id"] == f"{RUN_ID}:C1" and inputs["declared_income"] == 60000.0


def test_changing_gender_and_marital_status_leaves_scoring_inputs_and_eligibility_unchanged():
    before = _features()
    after = _features(gender="male", marital_status="single", nationality="US", religion="catholic",
                      profile_summary="34-year-old single nurse")
    assert credit_score_inputs(after) == credit_score_inputs(before)
    for product in (TRAVEL_CARD, STUDENT_CHECKING, GROWTH_PORTFOLIO, PET_INSURANCE):
        assert check(product, after) == check(product, before)


def _context(store) -> ToolContext:
    graph = nx.MultiDiGraph()
    return ToolContext(store, None, None, graph, graph_tfidf(graph, date(2026, 9, 30)), RUN_ID)


def test_why_not_names_the_kyc_status_on_file_and_every_other_failed_rule(store):
    store["products"].insert_many([TRAVEL_CARD, PET_INSURANCE])
    store["features"].insert_many([
        _features(kyc_verified=False, declared_income=40000.0, income_estimate=0.0),
        _features(_id=f"{RUN_ID}:C2", customer_id="C2", kyc_verified=False),
    ])
    store["kyc_documents"].insert_many([
        {"_id": "K1", "document_id": "K1", "customer_id": "C1", "doc_type": "passport", "status": "expired",
         "verified_at": "2019-01-01T00:00:00Z"},
        {"_id": "K2", "document_id": "K2", "customer_id": "C1", "doc_type": "driver_license", "status": "pending"},
    ])
    ctx = _context(store)
    assert why_not(ctx, "C1", "P010") == [
        Ineligible("P010", "min_income", "needs an income of at least $45,000 a year; yours is $40,000"),
        Ineligible("P010", "requires_verified_kyc", "requires verified identity documents (KYC); yours are pending"),
    ]
    store["kyc_documents"].delete_one({"_id": "K2"})
    assert why_not(ctx, "C1", "P010")[1].reason == "requires verified identity documents (KYC); yours are expired"
    assert why_not(ctx, "C2", "P010")[0].reason == (
        "requires verified identity documents (KYC); we have none on file")
    assert why_not(ctx, "C1", "P045") == []


def test_why_not_for_an_unknown_product_or_a_customer_without_a_profile(store):
    store["products"].insert_one(TRAVEL_CARD)
    ctx = _context(store)
    assert _rules(why_not(ctx, "C1", "P999")) == ["unknown_product"]
    assert why_not(ctx, "C1", "P010") == [
        Ineligible("P010", "no_profile", "we have no current profile for you yet, so we cannot check")]


def test_only_a_withdrawn_profiling_consent_refuses_profiling_and_the_store_query_finds_exactly_those(store):
    customers = [
        {"_id": "C1", "consent": {"profiling": False, "marketing": True}},
        {"_id": "C2", "consent": {"profiling": True}},
        {"_id": "C3", "consent": {"marketing": False}},  # says nothing about profiling
        {"_id": "C4"},
        {"_id": "C5", "consent": None},
    ]
    store["customers"].insert_many(customers)
    assert [c["_id"] for c in customers if not may_profile(c)] == ["C1"]
    assert [c["_id"] for c in store["customers"].find(OPTED_OUT_OF_PROFILING, {"_id": 1})] == ["C1"]

