"""Lookalikes: holding rates given the traits a feature document shows, on hand-built documents."""

from __future__ import annotations

import math

import pytest

import tools.lookalike as lookalike
from tools.lookalike import LIFT_PRIOR, Lookalikes, NextProducts, Trait, traits_of


def _doc(customer_id, *, age=30, rent=0.0, held=(), medical=0.0, goals=()):
    spend = {"groceries": 3000.0, **({"rent": rent} if rent else {}), **({"medical": medical} if medical else {})}
    return {"_id": f"run-1:{customer_id}", "customer_id": customer_id, "age": age, "declared_income": 50000.0,
            "occupation": "Teacher", "risk_appetite": "medium", "spend_12m": spend, "products_held": list(held),
            "goals": list(goals), "gender": "female", "marital_status": "single"}


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


def test_a_disclosed_goal_is_a_trait_but_a_health_goal_is_not():
    keys = [trait.key for trait in traits_of(_doc("C1", goals=["first_home", "health_coverage"]))]
    assert "goal:first_home" in keys and not any("health" in key for key in keys)


def test_next_products_learn_which_trait_tells_what_is_opened_next(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    # renters who told us about a first home opened the savings account S; the other renters opened renters
    # insurance R; everyone pays rent, so only the goal tells the two apart
    documents = [_doc(f"A{i}", rent=12000.0, goals=["first_home"]) for i in range(6)]
    documents += [_doc(f"B{i}", rent=12000.0) for i in range(6)]
    openings = {f"A{i}": ["S"] for i in range(6)} | {f"B{i}": ["R"] for i in range(6)}
    model = NextProducts.fit(documents, ["K", "R", "S"], openings)
    saver, _ = model.estimates(traits_of(_doc("C1", rent=9000.0, goals=["first_home"])))
    renter, _ = model.estimates(traits_of(_doc("C2", rent=9000.0)))
    assert saver["S"] > 0.5 > saver["R"] and renter["R"] > 0.5 > renter["S"]
    assert saver["K"] == renter["K"] == 0.0  # nobody opened checking lately
    assert sum(saver.values()) == pytest.approx(1.0)
    _, raising = model.estimates(traits_of(_doc("C1", rent=9000.0, goals=["first_home"])))
    assert [trait.key for trait in raising["S"]] == ["goal:first_home"]  # paying rent favours neither


def test_next_products_with_too_few_openings_say_nothing():
    model = NextProducts.fit([_doc("C1")], ["K"], {"C1": ["K"]})
    assert model.estimates(traits_of(_doc("C2"))) == ({}, {})


def _spender(customer_id, **spend):
    return {**_doc(customer_id), "spend_12m": spend}


def test_a_category_taking_more_of_the_card_spending_than_for_most_is_a_trait(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    # travel is 10% of the card spending of three customers and 50% of one; rent, transfers and health are no
    # card spending, so a big rent or pharmacy bill neither dilutes the share nor becomes a trait
    documents = [_spender(f"A{i}", groceries=9000.0, travel=1000.0, rent=20000.0) for i in range(3)]
    documents.append(_spender("B", groceries=5000.0, travel=5000.0, pharmacy=8000.0))
    shares = lookalike.SpendingShares.from_features(documents)
    assert set(shares.cutoffs) == {"groceries", "travel"}
    assert shares.cutoffs["travel"] == pytest.approx(0.2)  # 75th percentile of (0.1, 0.1, 0.1, 0.5)
    heavy = [trait for trait in traits_of(_spender("C", groceries=3000.0, travel=2000.0, medical=9000.0), shares)
             if trait.key.startswith("heavy:")]
    assert heavy == [Trait("heavy:travel", "spend_12m.travel",
                           "spend more of their budget on travel than most customers, as you do")]
    assert "heavy:travel" not in {t.key for t in traits_of(_spender("D", groceries=9000.0, travel=1000.0), shares)}
    assert not [t for t in traits_of(_spender("C", groceries=3000.0, travel=2000.0)) if t.key.startswith("heavy:")]


def test_next_products_learn_from_a_spending_mix_when_given_the_shares(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    # everyone spends on travel and groceries; those whose budget leans to travel opened the travel card T
    documents = [_spender(f"A{i}", groceries=2000.0, travel=8000.0) for i in range(6)]
    documents += [_spender(f"B{i}", groceries=8000.0, travel=2000.0) for i in range(6)]
    openings = {f"A{i}": ["T"] for i in range(6)} | {f"B{i}": ["G"] for i in range(6)}
    shares = lookalike.SpendingShares.from_features(documents)
    model = NextProducts.fit(documents, ["G", "T"], openings, shares=shares)
    traveller, raising = model.estimates(traits_of(_spender("C", groceries=1000.0, travel=9000.0), shares))
    assert traveller["T"] > 0.5 > traveller["G"]
    assert [trait.key for trait in raising["T"]][0] == "heavy:travel"
    blind = NextProducts.fit(documents, ["G", "T"], openings)  # without shares both groups look alike
    same, _ = blind.estimates(traits_of(_spender("C", groceries=1000.0, travel=9000.0)))
    assert same["T"] == pytest.approx(0.5)


def test_goal_propensity_learns_who_else_likely_has_a_goal_from_those_who_told_us(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    monkeypatch.setattr(lookalike, "MIN_TELLERS", 5)
    # the eight who told us about a first home all pay rent; of the eight who did not, none does; a health goal
    # told by as many is never modelled
    documents = [_doc(f"A{i}", rent=12000.0, goals=["first_home", "health_coverage"]) for i in range(8)]
    documents += [_doc(f"B{i}") for i in range(8)]
    model = lookalike.GoalPropensity.fit(documents)
    assert model.goals == ("first_home",)
    renter, raising = model.estimates(traits_of(_doc("C1", rent=9000.0)))
    owner, _ = model.estimates(traits_of(_doc("C2")))
    assert renter["first_home"] > 0.5 > owner["first_home"]
    assert [trait.key for trait in raising["first_home"]] == ["spend:rent"]
    told, _ = model.estimates(traits_of(_doc("C3", rent=9000.0, goals=["first_home"])))
    assert told == {}  # a goal the customer told us is the goal component's, not a guess


def test_goal_propensity_with_too_few_tellers_says_nothing():
    documents = [_doc(f"A{i}", goals=["first_home"]) for i in range(3)] + [_doc(f"B{i}") for i in range(60)]
    assert lookalike.GoalPropensity.fit(documents).estimates(traits_of(_doc("C1"))) == ({}, {})


def test_fits_sharing_trait_keys_read_each_document_once_and_learn_the_same(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    documents = [_doc(f"A{i}", rent=12000.0, goals=["first_home"], held=["K", "R"] if i < 3 else ["K"])
                 for i in range(6)]
    documents += [_doc(f"B{i}", held=["K"]) for i in range(6)]
    openings = {f"A{i}": ["S"] for i in range(6)} | {f"B{i}": ["R"] for i in range(6)}
    asked = _doc("C1", rent=9000.0, goals=["first_home"])
    alone = (Lookalikes.from_features(documents, ["K", "R", "S"]).estimates(traits_of(asked)),
             NextProducts.fit(documents, ["K", "R", "S"], openings).estimates(traits_of(asked)))
    reads = []
    counted = lookalike.traits_of
    monkeypatch.setattr(lookalike, "traits_of", lambda document, shares=None: reads.append(document["_id"])
                        or counted(document, shares))
    keys = lookalike.trait_keys()
    shared = (Lookalikes.from_features(documents, ["K", "R", "S"], keys=keys).estimates(counted(asked)),
              NextProducts.fit(documents, ["K", "R", "S"], openings, keys=keys).estimates(counted(asked)))
    lookalike.GoalPropensity.fit(documents, keys=keys)
    assert sorted(reads) == sorted(document["_id"] for document in documents)  # once each, for three fits
    assert shared == alone


def test_fits_from_a_table_read_in_batches_learn_what_fits_from_the_documents_learn(monkeypatch):
    monkeypatch.setattr(lookalike, "MIN_CUSTOMERS", 4)
    monkeypatch.setattr(lookalike, "MIN_TELLERS", 3)
    # renters told us about a first home and lean to travel; the others hold and open other things
    documents = [{**_doc(f"A{i}", rent=12000.0, goals=["first_home"], held=["K", "R"] if i < 3 else ["K"]),
                  "spend_12m": {"groceries": 2000.0, "travel": 8000.0, "rent": 12000.0}} for i in range(7)]
    documents += [_spender(f"B{i}", groceries=8000.0, travel=500.0 * i) for i in range(7)]
    for document in documents[3::4]:
        document["products_held"] = ["K", "S", "X"]  # X: not in the catalogue
    openings = {f"A{i}": ["S", "S"] for i in range(0, 7, 2)} | {f"B{i}": ["R", "K"] for i in range(5)}
    products = ["K", "R", "S"]
    shares = lookalike.SpendingShares.from_features(documents)
    keys = lookalike.trait_keys(shares)
    read = documents[::-1]  # in the store's order, not the customers'
    table = lookalike.TraitTable((read[start:start + 3] for start in range(0, len(read), 3)), products)
    asked = [traits_of(_doc("C1", rent=9000.0)), traits_of(_spender("C2", groceries=100.0, travel=900.0), shares)]
    assert table.shares == shares
    for from_documents, from_table in (
        (Lookalikes.from_features(documents, products, keys=keys), Lookalikes.from_table(table)),
        (NextProducts.fit(documents, products, openings, keys=keys, max_rows=9),
         NextProducts.from_table(table, openings, max_rows=9)),
        (lookalike.GoalPropensity.fit(documents, keys=keys, max_rows=12),
         lookalike.GoalPropensity.from_table(table, max_rows=12)),
    ):
        assert [from_table.estimates(traits) for traits in asked] == [from_documents.estimates(traits)
                                                                      for traits in asked]
        assert from_table.estimates(asked[0]) != ({}, {})
