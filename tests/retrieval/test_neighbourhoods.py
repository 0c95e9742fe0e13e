import pytest

from retrieval.graph import build_graph, graph_tfidf, relatives_of
from retrieval.neighbourhoods import (
    PEOPLE,
    GraphNotStored,
    StoredGraph,
    delete_graphs,
    erase_person,
    graph_names,
    load_stats,
    person_documents,
    save_graph,
    stats_from_people,
)
from tests.retrieval.test_graph import AS_OF, CUSTOMERS, HOLDINGS, RELATIONSHIPS, _rel

NAME = "graph-run-1"


@pytest.fixture
def graph():
    return build_graph(CUSTOMERS, RELATIONSHIPS, HOLDINGS)


@pytest.fixture
def saved(store, graph):
    """The store with the graph and its statistics saved under NAME, the relationships loaded as ingestion does."""
    store["relationships"].insert_many([{"_id": record["relationship_id"], **record} for record in RELATIONSHIPS])
    assert save_graph(store, graph, graph_tfidf(graph, AS_OF), NAME) == graph.number_of_nodes()
    return store


def test_a_stored_graph_shows_each_customer_the_relatives_the_graph_in_memory_does(saved, graph):
    stored = StoredGraph(saved, NAME)
    for customer_id in ("A", "B", "C", "E", "X", "nobody"):
        assert relatives_of(stored, customer_id, as_of=AS_OF) == relatives_of(graph, customer_id, as_of=AS_OF)
    assert relatives_of(stored, "B", ["child"], as_of=AS_OF) == relatives_of(graph, "B", ["child"], as_of=AS_OF)


def test_a_stored_graph_keeps_a_relatives_holdings_out_unless_they_consent(saved):
    entries = {entry["relative_id"]: entry for entry in saved[PEOPLE].find_one({"_id": f"{NAME}:A"})["relatives"]}
    assert entries["B"]["products"] == ["529", "checking"]  # B consents to share with A
    assert entries["D"]["products"] is None  # D does not


def test_a_stored_graph_finds_a_relationship_and_a_person_by_id(saved, graph):
    stored = StoredGraph(saved, NAME)
    assert stored.relationship("r6") == graph.edges["A", "X", "r6"]
    assert stored.person("X") == {"is_customer": False, "date_of_birth": graph.nodes["X"]["date_of_birth"],
                                  "name": "Xavi", "products": frozenset()}
    assert stored.person("A")["products"] == frozenset({"checking", "card"})
    assert stored.relationship("r99") is None and stored.person("nobody") is None


def test_stored_statistics_are_the_ones_computed(saved, graph):
    assert load_stats(saved, NAME) == graph_tfidf(graph, AS_OF)
    with pytest.raises(GraphNotStored, match="run `fargo ingest`"):
        load_stats(saved, "graph-before-the-store-held-graphs.json")


def test_statistics_are_a_sum_over_the_people_documents(graph):
    assert stats_from_people(person_documents(graph, NAME), AS_OF) == graph_tfidf(graph, AS_OF)


def test_statistics_count_the_people_holding_each_pair_of_products(graph):
    stats = graph_tfidf(graph, AS_OF)
    assert stats.holding_people == 4  # A, B, C, D; E holds nothing and X is not a customer
    assert stats.co_holders["checking"] == {"checking": 3, "card": 1, "529": 1, "annuity": 1}
    assert stats.co_holders["529"]["529"] == stats.bank_holders["529"] == 2


def test_erasing_a_customer_recounts_as_if_they_had_never_been_in_the_graph(saved, graph):
    # B named X, whom A also named: X stays. A alone named nobody outside the bank but X, so nobody else goes.
    assert erase_person(saved, NAME, "B") == 1
    graph.remove_node("B")
    assert load_stats(saved, NAME) == graph_tfidf(graph, AS_OF)
    assert relatives_of(StoredGraph(saved, NAME), "A", as_of=AS_OF) == relatives_of(graph, "A", as_of=AS_OF)
    left = saved[PEOPLE].find({"graph": NAME})
    assert "B" not in {person["person_id"] for person in left}
    assert all(entry["relative_id"] != "B" for person in left for entry in person["relatives"])
    assert all(named["customer_id"] != "B" for person in left for named in person["named_by"])


def test_erasing_a_customer_takes_the_relatives_only_they_named_with_them(store):
    graph = build_graph(CUSTOMERS, [*RELATIONSHIPS, _rel("r8", "C", "Y", "sibling", True, relative_name="Yve",
                                                           relative_date_of_birth="1955-03-03")], HOLDINGS)
    save_graph(store, graph, graph_tfidf(graph, AS_OF), NAME)
    assert erase_person(store, NAME, "C") == 2  # C and Y, whom only C named
    graph.remove_nodes_from(["C", "Y"])
    assert load_stats(store, NAME) == graph_tfidf(graph, AS_OF)
    assert store[PEOPLE].count_documents({"graph": NAME}) == graph.number_of_nodes()
    assert erase_person(store, NAME, "C") == 0


def test_delete_graphs_keeps_only_the_named_ones(store, graph):
    stats = graph_tfidf(graph, AS_OF)
    for name in ("graph-old", "graph-live", "graph-new"):
        save_graph(store, graph, stats, name)
    delete_graphs(store, keep=["graph-live", None, "graph-new"])
    assert graph_names(store) == ["graph-live", "graph-new"]
    assert store[PEOPLE].count_documents({"graph": "graph-old"}) == 0
    assert store[PEOPLE].count_documents({"graph": "graph-live"}) == graph.number_of_nodes()
