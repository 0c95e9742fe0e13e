"""Lookalikes: holding rates given the traits a feature document shows, on hand-built documents."""

from __future__ import annotations

import math

import pytest

import tools.lookalike as lookalike
from tools.lookalike import LIFT_PRIOR, Lookalikes, Trait, traits_of


def _doc(customer_id, *, age=30, rent=0.0, held=(), medical=0.0):
    spend = {"groceries": 3000.0, **({"rent": rent} if rent else {}), **({"medical": medical} if medical else {})}
    return {"_id": f"run-1:{customer_id}", "customer_id": customer_id, "age": age, "declared_income": 50000.0,
            "occupation": "Teacher", "risk_appetite": "medium", "spend_12m": spend, "products_held": list(held),
            "gender": "female", "marital_status": "single"}


def test_traits_are_bands_fields_spending_and_holdings_never_health_or_protected_attributes():
    traits = traits_of(_doc("C1", age=30, rent=14000.0, held=["P1"], medical=900.0))
    assert [trait.key for trait in traits] == [
        "age:26", "income:30000", "occupation:Teacher", "risk_appetite:medium", "spend:groceries", "spend:rent",
        "holds:P1",
    ]
    assert traits[5] == Trait("spend:rent", "spend_12m.rent", "spend on rent, as you do")


def test_renters_are_estimated_to_hold_what_most_renters_hold(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    # 4 renters, 3 of whom hold renters insurance R; 4 others, none of whom do; everyone holds checking K
    documents = [_doc(f"A{i}", rent=12000.0, held=["K", "R"] if i < 3 else ["K"]) for i in range(4)]
    documents += [_doc(f"B{i}", held=["K"]) for i in range(4)]
    table = Lookalikes.from_features(documents, ["K", "R"])
    chance, raising = table.estimates(traits_of(_doc("C1", rent=9000.0)))
    base = 3 / 8
    renters_rate = (3 + LIFT_PRIOR * base) / (4 + LIFT_PRIOR)
    # every other trait is shared by all eight, so its lift is 1; only paying rent moves R
    assert chance["R"] == pytest.approx(base * math.exp(lookalike.DAMPING * math.log(renters_rate / base)))
    assert chance["K"] == pytest.approx(1.0)
    assert [trait.key for trait in raising["R"]] == ["spend:rent"]
    assert raising["K"] == []


def test_too_few_documents_say_nothing():
    table = Lookalikes.from_features([_doc("C1", held=["K"])], ["K"])
    assert table.estimates(traits_of(_doc("C2"))) == ({}, {})
