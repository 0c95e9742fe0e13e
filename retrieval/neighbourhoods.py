"""The relationship graph as serving reads it: one document per person and run in the document store.

Ingestion builds a run's graph in memory (`retrieval.graph`) and writes it here; serving reads one person at a
time, so no API process holds the bank's whole graph. A graph has a name ("graph-<run_id>", the live pointer's
`graph_file`; a nightly run that changes nothing in it keeps the live one). Collection `graph_people` has one
document per person in the graph, `_id` "<graph>:<person_id>":

- the person: `is_customer`, `date_of_birth`, `name` (someone who is not a customer) and `products` (what they
  hold at the bank);
- `relatives`: the relationships they named, each with what a customer may see of the relative (the relative's
  `products` only when the relative consents to share);
- `named_by`: the relationships naming them (customer id and relation).

Collection `graph_stats` has the graph's statistics (`GraphStats` counts), `_id` the graph's name. Every count there is a
sum over people of what their own document shows (their relative contexts from `named_by` and their age, their
customer contexts from `relatives`), so erasing a person recounts only the documents the erasure changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import networkx as nx

from retrieval.errors import FargoError
from retrieval.graph import (
    GraphStats,
    as_date,
    context_of,
    customer_context_of,
    known_age,
    life_stage_band,
)

PEOPLE = "graph_people"
STATS = "graph_stats"
WRITE_BATCH = 1000
_EDGE_FIELDS = ("relationship_id", "relation", "consent_to_share", "relative_name")


class GraphNotStored(FargoError, LookupError):
    """The live graph is not in the document store (a run from before Fargo stored it there)."""


def graph_name(run_id: str) -> str:
    """The name of the graph a run builds."""
    return f"graph-{run_id}"


def person_key(graph: str, person_id: str) -> str:
    return f"{graph}:{person_id}"


# -- writing a graph ---------------------------------------------------------------------------------------------
def save_graph(store, graph: nx.MultiDiGraph, stats: GraphStats, name: str) -> int:
    """Write the graph's people and statistics under `name`; returns how many people were written."""
    written, batch = 0, []
    for document in person_documents(graph, name):
        batch.append(document)
        if len(batch) == WRITE_BATCH:
            written += _insert(store, batch)
            batch = []
    written += _insert(store, batch)
    store[STATS].replace_one({"_id": name}, _stats_document(name, stats), upsert=True)
    return written


def _insert(store, documents: list[dict]) -> int:
    if documents:
        store[PEOPLE].insert_many(documents, ordered=False)
    return len(documents)


def _stats_document(name: str, stats: GraphStats) -> dict:
    return {"_id": name, "graph": name, **stats.to_dict()}


def person_documents(graph: nx.MultiDiGraph, name: str) -> Iterator[dict]:
    for person_id, node in graph.nodes(data=True):
        yield {
            "_id": person_key(name, person_id),
            "graph": name,
            "person_id": person_id,
            "is_customer": node["is_customer"],
            "date_of_birth": node.get("date_of_birth"),
            "name": node.get("name"),
            "products": sorted(node.get("products") or ()),
            "relatives": [_relative_entry(graph.nodes[relative_id], relative_id, edge)
                          for _, relative_id, edge in graph.out_edges(person_id, data=True)],
            "named_by": [{"customer_id": customer_id, "relation": edge["relation"]}
                         for customer_id, _, edge in graph.in_edges(person_id, data=True)],
        }


def _relative_entry(node: dict, relative_id: str, edge: dict) -> dict:
    shared = sorted(node.get("products") or ()) if edge["consent_to_share"] else None
    return {"relative_id": relative_id, **{name: edge.get(name) for name in _EDGE_FIELDS},
            "is_customer": node["is_customer"], "date_of_birth": node.get("date_of_birth"), "name": node.get("name"),
            "products": shared}


def delete_graphs(store, keep: Iterable[str | None] = ()) -> None:
    """Delete the people and statistics of every graph but those named in `keep`."""
    kept = sorted(name for name in keep if name)
    for collection in (PEOPLE, STATS):
        store[collection].delete_many({"graph": {"$nin": kept}})


def graph_names(store) -> list[str]:
    """The names of every stored graph."""
    return sorted(document["_id"] for document in store[STATS].find({}, {"_id": 1}))


def load_stats(store, name: str) -> GraphStats:
    document = store[STATS].find_one({"_id": name})
    if document is None:
        raise GraphNotStored(f"no graph {name!r} in the document store; run `fargo ingest` to rebuild it")
    return GraphStats.from_dict(document)


# -- reading: what serving sees ----------------------------------------------------------------------------------------
class StoredGraph:
    """`retrieval.graph.Neighbourhoods` over one graph's people documents: every call reads one or two documents."""

    def __init__(self, store, name: str):
        self.store = store
        self.name = name

    def _document(self, person_id: str) -> dict | None:
        return self.store[PEOPLE].find_one({"_id": person_key(self.name, person_id)})

    def relationships_of(self, customer_id: str) -> list[tuple[str, dict, dict]]:
        document = self._document(customer_id)
        return [_relationship(entry) for entry in document["relatives"]] if document else []

    def person(self, person_id: str) -> dict | None:
        document = self._document(person_id)
        if document is None:
            return None
        return {"is_customer": document["is_customer"], "date_of_birth": as_date(document["date_of_birth"]),
                "name": document["name"], "products": frozenset(document["products"])}

    def relationship(self, relationship_id: str) -> dict | None:
        record = self.store["relationships"].find_one({"_id": relationship_id}, {"customer_id": 1})
        if record is None:
            return None
        edges = (edge for _, _, edge in self.relationships_of(record["customer_id"]))
        return next((edge for edge in edges if edge["relationship_id"] == relationship_id), None)


def _relationship(entry: dict) -> tuple[str, dict, dict]:
    node = {"is_customer": entry["is_customer"], "date_of_birth": as_date(entry["date_of_birth"]), "name": entry["name"]}
    if entry["products"] is not None:
        node["products"] = frozenset(entry["products"])
    return entry["relative_id"], node, {name: entry[name] for name in _EDGE_FIELDS}


# -- statistics as sums over people ------------------------------------------------------------------------------------
def stats_from_people(people: Iterable[dict], as_of: date) -> GraphStats:
    """The statistics `graph_tfidf` gives for the graph these people documents hold."""
    counts = _empty_counts(as_of)
    for person in people:
        _tally(counts, person, as_of, +1)
    return GraphStats.from_dict(_pruned(counts))


def _empty_counts(as_of: date) -> dict:
    return {"as_of": as_of.isoformat(), "people": 0, "customers": 0, "holding_people": 0, "context_sizes": {},
            "context_holders": {}, "customer_context_sizes": {}, "customer_context_holders": {},
            "bank_holders": {}, "co_holders": {}}


def _tally(counts: dict, person: dict, as_of: date, sign: int) -> None:
    """Add (sign +1) or take away (-1) what one person counts for in the statistics."""
    held = person["products"]
    counts["people"] += sign
    counts["customers"] += sign * bool(person["is_customer"])
    counts["holding_people"] += sign * bool(held)
    for product_id in held:
        _add(counts["bank_holders"], product_id, sign)
        for other in held:
            _add(counts["co_holders"].setdefault(product_id, {}), other, sign)
    for kind, context in _contexts_of(person, as_of):
        _add(counts[f"{kind}_sizes"], context, sign)
        holders = counts[f"{kind}_holders"].setdefault(context, {})
        for product_id in held:
            _add(holders, product_id, sign)


def _contexts_of(person: dict, as_of: date) -> set[tuple[str, str]]:
    """The relative contexts the person is in (as someone's relative) and the customer contexts (as a customer with
    relatives)."""
    contexts = set()
    age = known_age(as_date(person["date_of_birth"]), as_of)
    if age is not None:
        contexts |= {("context", context_of(named["relation"], life_stage_band(age, named["relation"])))
                     for named in person["named_by"]}
    for entry in person["relatives"]:
        relative_age = known_age(as_date(entry["date_of_birth"]), as_of)
        if relative_age is not None:
            band = life_stage_band(relative_age, entry["relation"])
            contexts.add(("customer_context", customer_context_of(entry["relation"], band)))
    return contexts


def _add(counts: dict, key: str, sign: int) -> None:
    counts[key] = counts.get(key, 0) + sign


def _pruned(counts: dict) -> dict:
    """Without the contexts nobody is in and the products nobody holds, as `graph_tfidf` counts them."""
    pruned = dict(counts)
    for kind in ("context", "customer_context"):
        sizes = {context: n for context, n in counts[f"{kind}_sizes"].items() if n > 0}
        pruned[f"{kind}_sizes"] = sizes
        pruned[f"{kind}_holders"] = {context: _positive(held)
                                     for context, held in counts[f"{kind}_holders"].items() if context in sizes}
    pruned["bank_holders"] = _positive(counts["bank_holders"])
    pruned["co_holders"] = {product_id: _positive(held) for product_id, held in counts["co_holders"].items()
                            if counts["bank_holders"].get(product_id, 0) > 0}
    return pruned


def _positive(counts: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n > 0}


# -- erasure -----------------------------------------------------------------------------------------------------------
def erase_person(store, name: str, customer_id: str) -> int:
    """Remove the customer, and the relatives only they told us about, from the graph `name`, and recount its
    statistics from the documents that changed; returns how many people were removed."""
    people = store[PEOPLE]
    erased = people.find_one({"_id": person_key(name, customer_id)})
    if erased is None:
        return 0
    linked_ids = {entry["relative_id"] for entry in erased["relatives"]} | {
        named["customer_id"] for named in erased["named_by"]}
    linked_ids.discard(customer_id)
    linked = people.find({"_id": {"$in": [person_key(name, person_id) for person_id in sorted(linked_ids)]}})
    gone = [erased, *(person for person in linked if _only_theirs(person, customer_id))]
    gone_ids = {person["person_id"] for person in gone}
    stats = load_stats(store, name)
    counts = stats.to_dict()
    for person in gone:
        _tally(counts, person, stats.as_of, -1)
    for person in linked:
        if person["person_id"] not in gone_ids:
            _tally(counts, person, stats.as_of, -1)
            person = _without(person, customer_id)
            _tally(counts, person, stats.as_of, +1)
            people.replace_one({"_id": person["_id"]}, person)
    people.delete_many({"_id": {"$in": [person["_id"] for person in gone]}})
    store[STATS].replace_one({"_id": name}, _stats_document(name, GraphStats.from_dict(_pruned(counts))))
    return len(gone)


def _only_theirs(person: dict, customer_id: str) -> bool:
    """Someone who is not a customer and whom only this customer named."""
    return not person["is_customer"] and {named["customer_id"] for named in person["named_by"]} <= {customer_id}


def _without(person: dict, customer_id: str) -> dict:
    return {**person, "relatives": [entry for entry in person["relatives"] if entry["relative_id"] != customer_id],
            "named_by": [named for named in person["named_by"] if named["customer_id"] != customer_id]}
