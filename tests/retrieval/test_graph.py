import math
from datetime import date

import pytest

from retrieval.graph import (
    GraphStats,
    build_graph,
    context_of,
    customer_context_of,
    graph_tfidf,
    life_stage_band,
    relatives_of,
)

AS_OF = date(2025, 6, 30)

# Dates come both as ISO strings and as date objects, as they may from the document store.
CUSTOMERS = [
    {"customer_id": "A", "date_of_birth": "1985-05-05"},  # 40
    {"customer_id": "B", "date_of_birth": date(1986, 2, 2)},  # 39
    {"customer_id": "C", "date_of_birth": "1950-01-01"},  # 75
    {"customer_id": "D", "date_of_birth": "2016-01-01"},  # 9
    {"customer_id": "E", "date_of_birth": "1990-01-01"},  # no relatives
]
HOLDINGS = {"A": ["checking", "card"], "B": ["checking", "529"], "C": ["annuity", "checking"], "D": ["529"]}


def _rel(rid, customer, relative, relation, consent, **outsider):
    record = {
        "relationship_id": rid,
        "customer_id": customer,
        "relative_id": relative,
        "relation": relation,
        "relative_is_customer": not outsider,
        "consent_to_share": consent,
    }
    return record | outsider


RELATIONSHIPS = [
    _rel("r1", "A", "B", "spouse", True),
    _rel("r2", "B", "A", "spouse", False),
    _rel("r3", "A", "C", "parent", True),
    _rel("r4", "A", "D", "child", False),
    _rel("r5", "B", "D", "child", True),
    _rel("r6", "A", "X", "child", False, relative_name="Xavi", relative_date_of_birth="2017-09-01"),
    _rel("r7", "B", "X", "child", True, relative_name="Xavi", relative_date_of_birth=date(2017, 9, 1)),
]


@pytest.fixture
def graph():
    return build_graph(CUSTOMERS, RELATIONSHIPS, HOLDINGS)


@pytest.fixture
def stats(graph):
    return graph_tfidf(graph, AS_OF)


def test_build_graph_holds_every_relationship_with_its_attributes(graph):
    assert graph.number_of_edges() == len(RELATIONSHIPS)
    for record in RELATIONSHIPS:
        edge = graph.edges[record["customer_id"], record["relative_id"], record["relationship_id"]]
        assert edge["relation"] == record["relation"]
        assert edge["consent_to_share"] is record["consent_to_share"]
        assert edge["relationship_id"] == record["relationship_id"]


def test_build_graph_makes_nodes_of_customers_and_outside_relatives(graph):
    assert set(graph.nodes) == {"A", "B", "C", "D", "E", "X"}
    assert graph.nodes["X"] == {"name": "Xavi", "date_of_birth": date(2017, 9, 1), "is_customer": False}
    assert graph.nodes["A"] == {
        "date_of_birth": date(1985, 5, 5),
        "is_customer": True,
        "products": frozenset({"checking", "card"}),
    }
    assert graph.nodes["E"]["products"] == frozenset()


@pytest.mark.parametrize(
    ("age", "band"),
    [(0, "0-5"), (5, "0-5"), (6, "6-12"), (12, "6-12"), (13, "13-17"), (17, "13-17"), (18, "18-25"),
     (25, "18-25"), (26, "26-35"), (35, "26-35"), (36, "36-50"), (50, "36-50"), (51, "51-64"), (64, "51-64"),
     (65, "65+"), (101, "65+")],
)
def test_life_stage_band_boundaries(age, band):
    assert life_stage_band(age, "child") == band


def test_life_stage_band_rejects_unknown_relation_and_negative_age():
    with pytest.raises(ValueError, match="cousin"):
        life_stage_band(30, "cousin")
    with pytest.raises(ValueError):
        life_stage_band(-1, "child")


def test_contexts_count_distinct_people_by_relation_and_band(stats):
    assert context_of("child", "6-12") == "child aged 6-12"
    assert stats.contexts()[:3] == ["spouse aged 36-50", "parent aged 65+", "child aged 6-12"]
    # D and X are each the child of two customers but count once.
    assert stats.context_sizes == {"spouse aged 36-50": 2, "parent aged 65+": 1, "child aged 6-12": 2}
    assert stats.people == 6


def test_customer_contexts_count_distinct_customers_who_have_such_a_relative(stats):
    assert customer_context_of("child", "6-12") == "customers with a child aged 6-12"
    assert stats.contexts()[3:] == [
        "customers with a spouse aged 36-50", "customers with a parent aged 65+", "customers with a child aged 6-12"]
    # A has two children aged 6-12 (D and X) but is one customer with a child aged 6-12; E has no relatives.
    assert stats.customer_context_sizes == {
        "customers with a spouse aged 36-50": 2, "customers with a parent aged 65+": 1,
        "customers with a child aged 6-12": 2,
    }
    assert stats.customer_context_holders["customers with a child aged 6-12"] == {"checking": 2, "card": 1, "529": 1}
    assert stats.customers == 5  # X is not a customer


def test_customer_context_figures_use_customer_idf_and_the_rate_among_customers(stats):
    stat = stats.get("customers with a child aged 6-12", "529")
    # 529 is held in two of the three customer contexts (B is in the spouse and child ones, not the parent one)
    assert (stat.holders, stat.context_size, stat.df_contexts, stat.n_contexts) == (1, 2, 2, 3)
    assert (stat.bank_holders, stat.people) == (2, 5)  # B and D hold it, among 5 customers
    assert stat.tf == 0.5
    assert stat.idf == pytest.approx(math.log(4 / 3) + 1)
    assert stat.bank_rate == pytest.approx(2 / 5)
    assert stat.lift == pytest.approx(1.25)

    card = stats.get("customers with a parent aged 65+", "card")
    assert (card.holders, card.context_size, card.df_contexts, card.n_contexts) == (1, 1, 3, 3)
    assert card.idf == pytest.approx(1.0)
    assert card.lift == pytest.approx(5.0)
    assert [s.product_id for s in stats.top_products("customers with a child aged 6-12")] == ["checking", "529", "card"]


def test_relative_contexts_are_unchanged_by_the_customer_contexts(stats):
    assert stats.get("child aged 6-12", "529").n_contexts == 3
    assert stats.get("child aged 6-12", "529").people == 6


def test_tfidf_figures_and_their_counts(stats):
    stat = stats.get("child aged 6-12", "529")
    assert (stat.holders, stat.context_size, stat.df_contexts, stat.n_contexts) == (1, 2, 2, 3)
    assert (stat.bank_holders, stat.people) == (2, 6)
    assert stat.tf == 0.5
    assert stat.idf == pytest.approx(math.log(4 / 3) + 1)
    assert stat.tfidf == pytest.approx(0.5 * (math.log(4 / 3) + 1))
    assert stat.bank_rate == pytest.approx(2 / 6)
    assert stat.lift == pytest.approx(1.5)

    annuity = stats.get("parent aged 65+", "annuity")
    assert (annuity.holders, annuity.context_size, annuity.df_contexts) == (1, 1, 1)
    assert annuity.idf == pytest.approx(math.log(2) + 1)
    assert annuity.lift == pytest.approx(6.0)


def test_get_reports_zero_holders_and_none_for_unknowns(stats):
    nobody = stats.get("child aged 6-12", "checking")
    assert (nobody.holders, nobody.tf, nobody.lift, nobody.bank_holders) == (0, 0.0, 0.0, 3)
    assert stats.get("child aged 6-12", "no-such-product") is None
    assert stats.get("sibling aged 6-12", "529") is None


def test_top_products_ranks_by_tfidf_and_honours_exclude(stats):
    ranked = [s.product_id for s in stats.top_products("spouse aged 36-50")]
    assert ranked == ["checking", "card", "529"]  # 1.29, 0.85, 0.64
    assert [s.product_id for s in stats.top_products("spouse aged 36-50", k=1, exclude={"checking"})] == ["card"]
    assert stats.top_products("sibling aged 6-12") == []


def test_relatives_of_shows_holdings_only_with_consent(graph):
    views = {v.relative_id: v for v in relatives_of(graph, "A", as_of=AS_OF)}
    assert views["B"].products == frozenset({"checking", "529"})
    assert views["C"].products == frozenset({"annuity", "checking"})
    assert views["D"].products is None  # D's consent goes to B, not A
    assert views["X"].products is None
    assert [v.products for v in relatives_of(graph, "B", as_of=AS_OF) if v.relative_id == "A"] == [None]


def test_relatives_of_describes_each_relative(graph):
    views = relatives_of(graph, "B", ["child"], as_of=AS_OF)
    assert [(v.relative_id, v.relation, v.is_customer, v.age, v.age_band) for v in views] == [
        ("D", "child", True, 9, "6-12"),
        ("X", "child", False, 7, "6-12"),
    ]
    assert views[1].name == "Xavi" and views[1].products == frozenset()
    assert views[0].context == "child aged 6-12" and views[0].relationship_id == "r5"
    assert views[0].customer_context == "customers with a child aged 6-12"
    assert relatives_of(graph, "nobody", as_of=AS_OF) == []


def test_only_adult_customers_hold_products_themselves(graph):
    views = {v.relative_id: v for v in relatives_of(graph, "A", as_of=AS_OF)}
    assert {rid: v.is_adult_customer for rid, v in views.items()} == {"B": True, "C": True, "D": False, "X": False}


def test_relative_without_birth_date_joins_no_context_of_either_kind():
    graph = build_graph([{"customer_id": "F", "date_of_birth": "1980-01-01"}, {"customer_id": "G"}],
                        [_rel("r8", "F", "G", "sibling", False)], {"F": ["checking"], "G": ["card"]})
    stats = graph_tfidf(graph, AS_OF)
    assert (stats.contexts(), stats.customers, stats.people) == ([], 2, 2)
    assert relatives_of(graph, "F", as_of=AS_OF)[0].customer_context is None


def test_stats_dict_round_trip(stats):
    assert GraphStats.from_dict(stats.to_dict()) == stats


def test_build_graph_rejects_an_unknown_relation():
    with pytest.raises(ValueError, match="cousin"):
        build_graph(CUSTOMERS, [_rel("r9", "A", "B", "cousin", True)], HOLDINGS)
