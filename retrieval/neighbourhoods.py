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

A graph may be an update of another (`update_graph`, a nightly run that changed some people): its statistics
document names its `base`, a full graph, and its own people documents are only the people it replaced since that
base, with a `removed` marker for someone no longer in the graph; a reader looks for a person in the graph first,
then in its base (`read_people`). The base stays while a graph built on it is kept (`delete_graphs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from itertools import islice

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


def _stats_document(name: str, stats: GraphStats, layers: tuple[str, ...] = ()) -> dict:
    """The statistics document; `layers` (the graph's, `graph_layers`) keep the base a graph updates."""
    return {"_id": name, "graph": name, **stats.to_dict(), **({"base": layers[-1]} if len(layers) > 1 else {})}


def _removed(name: str, person_id: str) -> dict:
    """The marker of someone the graph `name` no longer holds, though the graph it updates does."""
    return {"_id": person_key(name, person_id), "graph": name, "person_id": person_id, "removed": True}


def _renamed(document: dict, name: str) -> dict:
    return {**document, "_id": person_key(name, document["person_id"]), "graph": name}


def person_documents(graph: nx.MultiDiGraph, name: str, only: Iterable[str] | None = None) -> Iterator[dict]:
    """Every person's document, or only those of the people `only` names (who are in the graph)."""
    people = graph.nodes(data=True) if only is None else ((person_id, graph.nodes[person_id])
                                                          for person_id in sorted(only) if person_id in graph)
    for person_id, node in people:
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
    """Delete the people and statistics of every graph but those named in `keep` and the graphs they update."""
    kept = {layer for name in keep if name for layer in graph_layers(store, name)}
    for collection in (PEOPLE, STATS):
        # One graph at a time, by equality: the embedded store answers `$nin` by reading every matching document
        # and deleting them by a list of ids, past SQLite's limit on variables beyond about 250,000 people.
        for name in store[collection].distinct("graph"):
            if name not in kept:
                store[collection].delete_many({"graph": name})


def graph_names(store) -> list[str]:
    """The names of every stored graph."""
    return sorted(document["_id"] for document in store[STATS].find({}, {"_id": 1}))


def graph_layers(store, name: str) -> tuple[str, ...]:
    """Where the graph's people are: the graph itself, then the graph it updates, if any."""
    document = store[STATS].find_one({"_id": name}, {"base": 1}) or {}
    return tuple(layer for layer in (name, document.get("base")) if layer)


def read_people(store, layers: tuple[str, ...], person_ids: Iterable[str]) -> dict[str, dict]:
    """person id -> document, each from the first of `layers` that has it; without the people removed there."""
    found: dict[str, dict] = {}
    wanted = sorted(set(person_ids))
    for batch in (wanted[start:start + WRITE_BATCH] for start in range(0, len(wanted), WRITE_BATCH)):
        seen: set[str] = set()
        for layer in layers:
            keys = [person_key(layer, person_id) for person_id in batch if person_id not in seen]
            for document in store[PEOPLE].find({"_id": {"$in": keys}}) if keys else ():
                seen.add(document["person_id"])
                if not document.get("removed"):
                    found[document["person_id"]] = document
    return found


def load_stats(store, name: str) -> GraphStats:
    document = store[STATS].find_one({"_id": name})
    if document is None:
        raise GraphNotStored(f"no graph {name!r} in the document store; run `fargo ingest` to rebuild it")
    return GraphStats.from_dict(document)


# -- updating a graph --------------------------------------------------------------------------------------------------
def update_graph(store, live: str, name: str, people: Mapping[str, dict | None]) -> int:
    """Write the graph `name`: the graph `live` with `people` replaced, person id -> their document in the new graph
    (`person_documents(..., name, ...)`) or None (no longer in it). Its statistics are `live`'s with the replaced
    people's old documents taken away and their new ones added; it holds only the people replaced since the full
    graph `live` is or updates (`live`'s own documents, carried, and these), over that graph. Returns how many people
    documents it holds: the work follows the changes since the last full graph, not the bank."""
    layers = graph_layers(store, live)
    stats = load_stats(store, live)
    counts = stats.to_dict()
    old = read_people(store, layers, people)
    for person_id, document in people.items():
        if person_id in old:
            _tally(counts, old[person_id], stats.as_of, -1)
        if document is not None:
            _tally(counts, document, stats.as_of, +1)
    written = 0
    if len(layers) > 1:  # what `live` replaced before
        carried = (_renamed(document, name) for document in store[PEOPLE].find({"graph": live})
                   if document["person_id"] not in people)
        while batch := list(islice(carried, WRITE_BATCH)):
            written += _insert(store, batch)
    replaced = iter([document or _removed(name, person_id) for person_id, document in sorted(people.items())])
    while batch := list(islice(replaced, WRITE_BATCH)):
        written += _insert(store, batch)
    stats_document = _stats_document(name, GraphStats.from_dict(_pruned(counts)), (name, layers[-1]))
    store[STATS].replace_one({"_id": name}, stats_document, upsert=True)
    return written


# -- reading: what serving sees ----------------------------------------------------------------------------------------
class StoredGraph:
    """`retrieval.graph.Neighbourhoods` over one graph's people documents: every call reads one or two documents."""

    def __init__(self, store, name: str):
        self.store = store
        self.name = name
        self.layers = graph_layers(store, name)

    def _document(self, person_id: str) -> dict | None:
        if len(self.layers) == 1:
            return self.store[PEOPLE].find_one({"_id": person_key(self.name, person_id)})
        return read_people(self.store, self.layers, [person_id]).get(person_id)

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
def erase_from_graphs(store, customer_id: str) -> dict[str, int]:
    """Erase the customer from every stored graph (`erase_person`); graph name -> how many people left it.

    A graph that updates another is erased first, while its base still shows it everyone it holds; then the
    markers of people no longer in its base either go too: nothing is left that names someone erased."""
    layers = {name: graph_layers(store, name) for name in graph_names(store)}
    order = sorted(layers, key=lambda name: (len(layers[name]) == 1, name))
    gone = {name: _erase(store, name, customer_id) for name in order}
    everyone_gone = set().union(*gone.values())
    for name in order:
        if len(layers[name]) > 1 and everyone_gone:
            in_base = read_people(store, layers[name][1:], everyone_gone)
            markers = [person_key(name, person_id) for person_id in sorted(everyone_gone - set(in_base))]
            store[PEOPLE].delete_many({"_id": {"$in": markers}, "removed": True})
    return {name: len(ids) for name, ids in gone.items()}


def erase_person(store, name: str, customer_id: str) -> int:
    """Remove the customer, and the relatives only they told us about, from the graph `name`, and recount its
    statistics from the documents that changed; returns how many people were removed. Erase from every graph with
    `erase_from_graphs`: a graph that updates another must be erased before the one it updates."""
    return len(_erase(store, name, customer_id))


def _erase(store, name: str, customer_id: str) -> set[str]:
    """`erase_person`; the ids of the people removed. A graph that updates another gets its own copy of every
    document the erasure changes, and a marker for everyone removed."""
    layers = graph_layers(store, name)
    people = store[PEOPLE]
    erased = read_people(store, layers, [customer_id]).get(customer_id)
    if erased is None:
        return set()
    linked_ids = {entry["relative_id"] for entry in erased["relatives"]} | {
        named["customer_id"] for named in erased["named_by"]}
    linked_ids.discard(customer_id)
    linked = list(read_people(store, layers, linked_ids).values())
    gone = [erased, *(person for person in linked if _only_theirs(person, customer_id))]
    gone_ids = {person["person_id"] for person in gone}
    stats = load_stats(store, name)
    counts = stats.to_dict()
    for person in gone:
        _tally(counts, person, stats.as_of, -1)
    for person in linked:
        if person["person_id"] not in gone_ids:
            _tally(counts, person, stats.as_of, -1)
            person = _renamed(_without(person, customer_id), name)
            _tally(counts, person, stats.as_of, +1)
            people.replace_one({"_id": person["_id"]}, person, upsert=True)
    if len(layers) == 1:
        people.delete_many({"_id": {"$in": [person["_id"] for person in gone]}})
    else:  # the base still holds them: a marker says they left
        for person_id in sorted(gone_ids):
            people.replace_one({"_id": person_key(name, person_id)}, _removed(name, person_id), upsert=True)
    store[STATS].replace_one({"_id": name}, _stats_document(name, GraphStats.from_dict(_pruned(counts)), layers))
    return gone_ids


def _only_theirs(person: dict, customer_id: str) -> bool:
    """Someone who is not a customer and whom only this customer named."""
    return not person["is_customer"] and {named["customer_id"] for named in person["named_by"]} <= {customer_id}


def _without(person: dict, customer_id: str) -> dict:
    return {**person, "relatives": [entry for entry in person["relatives"] if entry["relative_id"] != customer_id],
            "named_by": [named for named in person["named_by"] if named["customer_id"] != customer_id]}
