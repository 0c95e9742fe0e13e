import sqlite3

import pytest

from retrieval.graph import build_graph, graph_tfidf, relatives_of
from retrieval.mongo_compat import NEOSQLITE
from retrieval.neighbourhoods import (
    PEOPLE,
    GraphNotStored,
    StoredGraph,
    delete_graphs,
    erase_from_graphs,
    erase_person,
    graph_layers,
    graph_names,
    load_stats,
    person_documents,
    save_graph,
    stats_from_people,
    update_graph,
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


def test_delete_graphs_removes_a_graph_of_more_people_than_sqlite_takes_variables(store, graph):
    if store.backend != NEOSQLITE:
        pytest.skip("SQLite's limit on variables is the embedded store's")
    stats = graph_tfidf(graph, AS_OF)
    for name in ("graph-old", "graph-live"):
        save_graph(store, graph, stats, name)
    people = graph.number_of_nodes()
    store._client.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, people - 1)  # as 544,605 people are at 300k

    delete_graphs(store, keep=["graph-live"])

    assert graph_names(store) == ["graph-live"]
    assert store[PEOPLE].count_documents({"graph": "graph-old"}) == 0
    assert store[PEOPLE].count_documents({"graph": "graph-live"}) == people


# -- a graph updated from another -------------------------------------------------------------------------------------
def _update(store, live: str, name: str, before, after) -> dict:
    """update_graph with the people whose documents differ between the graphs `before` and `after`."""
    old = {doc["person_id"]: doc for doc in person_documents(before, name)}
    new = {doc["person_id"]: doc for doc in person_documents(after, name)}
    people = {person_id: new.get(person_id) for person_id in old | new if new.get(person_id) != old.get(person_id)}
    update_graph(store, live, name, people)
    return people


@pytest.fixture
def nights(saved, graph):
    """The graph after two nights: C takes up a 529 and E names a sibling who does not bank here; then A stops naming
    X (whom B still names) and E's sibling record goes. Graph name -> graph in memory."""
    second_night = [*RELATIONSHIPS, _rel("r8", "E", "Y", "sibling", True, relative_name="Yve",
                                         relative_date_of_birth="1955-03-03")]
    second = build_graph(CUSTOMERS, second_night, {**HOLDINGS, "C": ["annuity", "checking", "529"]})
    third = build_graph(CUSTOMERS, [record for record in RELATIONSHIPS if record["relationship_id"] != "r6"],
                        {**HOLDINGS, "C": ["annuity", "checking", "529"]})
    assert _update(saved, NAME, "graph-run-2", graph, second)
    assert _update(saved, "graph-run-2", "graph-run-3", second, third)["Y"] is None
    return {NAME: graph, "graph-run-2": second, "graph-run-3": third}


def test_an_updated_graph_reads_and_counts_as_the_whole_graph_would(saved, nights):
    for name, graph in nights.items():
        stored = StoredGraph(saved, name)
        assert load_stats(saved, name) == graph_tfidf(graph, AS_OF)
        for person_id in (*graph.nodes, "Y"):
            assert stored.person(person_id) == (_person(graph, person_id) if person_id in graph else None)
            assert relatives_of(stored, person_id, as_of=AS_OF) == relatives_of(graph, person_id, as_of=AS_OF)
    # over the full graph, holding only the people changed since it: not the bank's every person
    assert graph_layers(saved, "graph-run-3") == ("graph-run-3", NAME)
    assert saved[PEOPLE].count_documents({"graph": "graph-run-3"}) < nights[NAME].number_of_nodes()


def _person(graph, person_id: str) -> dict:
    node = graph.nodes[person_id]
    return {"is_customer": node["is_customer"], "date_of_birth": node["date_of_birth"], "name": node.get("name"),
            "products": frozenset(node.get("products") or ())}


def test_delete_graphs_keeps_the_graph_an_update_reads_through(saved, nights):
    delete_graphs(saved, keep=["graph-run-3"])
    assert graph_names(saved) == sorted([NAME, "graph-run-3"])
    assert load_stats(saved, "graph-run-3") == graph_tfidf(nights["graph-run-3"], AS_OF)
    assert relatives_of(StoredGraph(saved, "graph-run-3"), "B", as_of=AS_OF) == relatives_of(
        nights["graph-run-3"], "B", as_of=AS_OF)


def test_erasing_a_customer_removes_them_from_updates_and_the_graph_they_update(saved, nights):
    removed = erase_from_graphs(saved, "E")  # E alone named Y, in the second night's graph
    assert removed == {NAME: 1, "graph-run-2": 2, "graph-run-3": 1}
    for name, graph in nights.items():
        graph.remove_nodes_from(["E", "Y"])
        assert load_stats(saved, name) == graph_tfidf(graph, AS_OF)
        assert StoredGraph(saved, name).person("E") is None
    assert saved[PEOPLE].count_documents({"person_id": {"$in": ["E", "Y"]}}) == 0
    erase_from_graphs(saved, "B")  # named by A in every graph; X goes with B once A no longer names X
    for name, graph in nights.items():
        graph.remove_nodes_from(["B", *(["X"] if set(graph.predecessors("X")) == {"B"} else [])])
        assert load_stats(saved, name) == graph_tfidf(graph, AS_OF)
        assert relatives_of(StoredGraph(saved, name), "A", as_of=AS_OF) == relatives_of(graph, "A", as_of=AS_OF)
    assert "B" not in str(list(saved[PEOPLE].find({}, {"_id": 0, "graph": 0})))
