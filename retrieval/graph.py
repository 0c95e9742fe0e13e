"""The relationship graph and its graph TF-IDF statistics.

Nodes are people: every customer, and every relative named in a relationship
record (a relative who is not a customer too). Customer nodes carry
`date_of_birth`, `is_customer=True` and `products` (the product ids they hold);
other relatives carry `name`, `date_of_birth` and `is_customer=False`. Each
relationship record is one directed edge customer -> relative, keyed by its
`relationship_id`, with `relation` (what the relative is to the customer),
`consent_to_share` (the relative lets the customer's recommendations use their
private data) and `relative_name` (as the customer's record gives it).

The statistics treat each *context* as a document and the products its people
hold as its terms. There are two kinds of context, each its own corpus:

- a relative context, "child aged 6-12": the relatives in that relation and
  life-stage band, seen from the customers they are related to;
- a customer context, "customers with a child aged 6-12": the customers with at
  least one relative in that relation and band. Children under 18 (and
  relatives who are not customers) hold nothing at the bank: what is opened for
  them, a 529 plan or a custodial account, is held by the customer on their
  behalf, so only the customer side of the relationship shows it.

    tf        = holders / context_size       people in the context holding the product
    idf       = ln((1 + n_contexts) / (1 + df_contexts)) + 1     (scikit-learn's smooth idf, within one corpus)
    tfidf     = tf * idf
    bank_rate = bank_holders / population    everyone in the graph for a relative context,
                                             every customer for a customer context
    lift      = tf / bank_rate

A context counts distinct people: a child of two customers is one child aged
6-12, and a customer with two children aged 6-12 is one customer with a child
aged 6-12. Non-customers count in every relative-context denominator (context
sizes and the bank rate alike) because they hold nothing at the bank, so tf and
bank_rate measure the same thing and lift compares like with like; for the same
reason a customer context, made of customers only, is compared with the rate
among customers, and its idf with the other customer contexts only. Only counts
are stored; every figure is derived from them, so an explanation can quote the
counts behind it. The statistics also count, for every pair of products, the
people holding both (`co_holders`), which the personal tool's co-holding reads.

Ingestion builds the graph here in memory; serving reads it one person at a time
from the document store (`retrieval.neighbourhoods`), through the `Neighbourhoods`
protocol, which an in-memory graph also answers (`as_neighbourhoods`).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import networkx as nx

from retrieval.records import Relation

RELATIONS: tuple[str, ...] = tuple(relation.value for relation in Relation)
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 5, "0-5"),
    (6, 12, "6-12"),
    (13, 17, "13-17"),
    (18, 25, "18-25"),
    (26, 35, "26-35"),
    (36, 50, "36-50"),
    (51, 64, "51-64"),
    (65, None, "65+"),
)
ADULT_AGE = 18
IDF_FORMULA = "ln((1 + n_contexts) / (1 + df_contexts)) + 1"


# -- ages and contexts -------------------------------------------------------------------------------------------------
def age_on(dob: date, as_of: date) -> int:
    return as_of.year - dob.year - ((as_of.month, as_of.day) < (dob.month, dob.day))


def life_stage_band(age: int, relation: str) -> str:
    """The life-stage band of a relative of this age.

    The bands are the same for every relation, so "child aged 18-25" and
    "sibling aged 18-25" mean the same ages; the relation is checked so a
    misspelt one cannot create a context of its own.
    """
    _checked_relation(relation)
    if age < 0:
        raise ValueError(f"age must not be negative, got {age}")
    return next(label for low, high, label in AGE_BANDS if low <= age and (high is None or age <= high))


def _checked_relation(relation: str) -> str:
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}; expected one of {', '.join(RELATIONS)}")
    return relation


def context_of(relation: str, age_band: str) -> str:
    """The relative context: "child aged 6-12"."""
    return f"{relation} aged {age_band}"


def customer_context_of(relation: str, age_band: str) -> str:
    """The customer context: "customers with a child aged 6-12"."""
    return f"customers with a {context_of(relation, age_band)}"


_CONTEXT_ORDER = {
    name(relation, label): position
    for position, (name, relation, (_, _, label)) in enumerate(
        itertools.product((context_of, customer_context_of), RELATIONS, AGE_BANDS)
    )
}


def as_date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


# -- building the graph ------------------------------------------------------------------------------------------------
# What a graph reads of a relationship record: a bank's relationships read with only these take half the memory
RELATIONSHIP_FIELDS = ("relationship_id", "customer_id", "relative_id", "relation", "consent_to_share", "relative_name",
                       "relative_date_of_birth", "relative_is_customer")


def build_graph(
    customers: Iterable[dict], relationships: Iterable[dict], holdings: Mapping[str, Iterable[str]]
) -> nx.MultiDiGraph:
    """The relationship graph from stored customer and relationship records and each customer's product ids.

    Relationships are added in the order of their ids, whatever order the store gives them in: the first one naming
    a relative who is not a customer gives their name and birth date, and a graph built from part of the records
    (a nightly run's update, `ingest.jobs`) must agree with one built from all of them."""
    graph = nx.MultiDiGraph()
    for customer in customers:
        customer_id = customer["customer_id"]
        graph.add_node(customer_id, **_customer_attributes(customer.get("date_of_birth"), customer_id, holdings))
    for relationship in sorted(relationships, key=lambda record: record["relationship_id"]):
        _add_relationship(graph, relationship, holdings)
    return graph


def _customer_attributes(dob, customer_id: str, holdings: Mapping[str, Iterable[str]]) -> dict:
    return {"date_of_birth": as_date(dob), "is_customer": True, "products": frozenset(holdings.get(customer_id, ()))}


def _add_relationship(graph: nx.MultiDiGraph, relationship: dict, holdings: Mapping[str, Iterable[str]]) -> None:
    customer_id, relative_id = relationship["customer_id"], relationship["relative_id"]
    if customer_id not in graph:  # a record the customer list missed: still a customer, birth date unknown
        graph.add_node(customer_id, **_customer_attributes(None, customer_id, holdings))
    if relative_id not in graph:
        graph.add_node(relative_id, **_relative_attributes(relationship, holdings))
    graph.add_edge(
        customer_id,
        relative_id,
        key=relationship["relationship_id"],
        relation=_checked_relation(relationship["relation"]),
        consent_to_share=bool(relationship.get("consent_to_share", False)),
        relationship_id=relationship["relationship_id"],
        relative_name=relationship.get("relative_name"),
    )


def _relative_attributes(relationship: dict, holdings: Mapping[str, Iterable[str]]) -> dict:
    dob = relationship.get("relative_date_of_birth")
    if relationship.get("relative_is_customer"):
        return _customer_attributes(dob, relationship["relative_id"], holdings)
    return {"name": relationship.get("relative_name"), "date_of_birth": as_date(dob), "is_customer": False}


# -- statistics --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContextStat:
    """How common one product is among the people of one context, with the counts behind each figure.

    `people` is the population the bank-wide rate is over: everyone in the graph
    for a relative context, every customer for a customer context.
    """

    context: str
    product_id: str
    holders: int
    context_size: int
    tf: float
    df_contexts: int
    n_contexts: int
    idf: float
    tfidf: float
    bank_holders: int
    people: int
    bank_rate: float
    lift: float


@dataclass(frozen=True)
class _Corpus:
    """One kind of context: its contexts' counts, its product document frequencies and its bank-wide population."""

    population: int
    sizes: Mapping[str, int]
    df: Mapping[str, int]


def _document_frequencies(context_holders: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    df: dict[str, int] = defaultdict(int)
    for held in context_holders.values():
        for product_id, holders in held.items():
            df[product_id] += holders > 0
    return dict(df)


@dataclass
class GraphStats:
    """Counts from one graph on one date; the ContextStat figures are derived from them.

    `context_sizes`/`context_holders` are the relative contexts ("child aged 6-12"),
    `customer_context_sizes`/`customer_context_holders` the customer contexts
    ("customers with a child aged 6-12"); `get`, `top_products` and `contexts`
    cover both.
    """

    as_of: date
    people: int
    context_sizes: dict[str, int]
    context_holders: dict[str, dict[str, int]]
    bank_holders: dict[str, int]
    customers: int
    customer_context_sizes: dict[str, int]
    customer_context_holders: dict[str, dict[str, int]]
    co_holders: dict[str, dict[str, int]] = field(default_factory=dict)  # [a][b]: people holding both (a == b: a)
    holding_people: int = 0  # people holding at least one product
    _table: dict[str, dict[str, ContextStat]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        relatives = _Corpus(self.people, self.context_sizes, _document_frequencies(self.context_holders))
        customers = _Corpus(
            self.customers, self.customer_context_sizes, _document_frequencies(self.customer_context_holders)
        )
        self._corpus_of = dict.fromkeys(self.context_sizes, relatives) | dict.fromkeys(
            self.customer_context_sizes, customers
        )
        all_holders = self.context_holders | self.customer_context_holders
        self._table = {
            context: {product_id: self._stat(context, product_id, holders) for product_id, holders in held.items()}
            for context, held in all_holders.items()
        }

    def _stat(self, context: str, product_id: str, holders: int) -> ContextStat:
        corpus = self._corpus_of[context]
        size, n_contexts, df = corpus.sizes[context], len(corpus.sizes), corpus.df.get(product_id, 0)
        bank_holders = self.bank_holders.get(product_id, 0)
        tf = holders / size if size else 0.0
        idf = math.log((1 + n_contexts) / (1 + df)) + 1
        bank_rate = bank_holders / corpus.population if corpus.population else 0.0
        return ContextStat(
            context=context,
            product_id=product_id,
            holders=holders,
            context_size=size,
            tf=tf,
            df_contexts=df,
            n_contexts=n_contexts,
            idf=idf,
            tfidf=tf * idf,
            bank_holders=bank_holders,
            people=corpus.population,
            bank_rate=bank_rate,
            lift=tf / bank_rate if bank_rate else 0.0,
        )

    def contexts(self) -> list[str]:
        """Every context with someone in it: the relative contexts, then the customer contexts."""
        return sorted(self._corpus_of, key=lambda context: (_CONTEXT_ORDER.get(context, len(_CONTEXT_ORDER)), context))

    def get(self, context: str, product_id: str) -> ContextStat | None:
        """The product's figures in the context; holders=0 when someone in the bank holds it but nobody there does.

        None when the context has nobody in it or nobody in the bank holds the product.
        """
        if context not in self._corpus_of or not self.bank_holders.get(product_id):
            return None
        return self._table[context].get(product_id) or self._stat(context, product_id, 0)

    def top_products(self, context: str, k: int = 10, exclude: Iterable[str] = ()) -> list[ContextStat]:
        """The k products most distinctive of the context (highest tf-idf), skipping `exclude`."""
        excluded = set(exclude)
        candidates = [stat for stat in self._table.get(context, {}).values() if stat.product_id not in excluded]
        candidates.sort(key=lambda stat: (-stat.tfidf, -stat.holders, stat.product_id))
        return candidates[:k]

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "people": self.people,
            "customers": self.customers,
            "idf": IDF_FORMULA,
            "context_sizes": dict(self.context_sizes),
            "context_holders": _plain(self.context_holders),
            "customer_context_sizes": dict(self.customer_context_sizes),
            "customer_context_holders": _plain(self.customer_context_holders),
            "bank_holders": dict(self.bank_holders),
            "co_holders": _plain(self.co_holders),
            "holding_people": self.holding_people,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> GraphStats:
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            people=int(data["people"]),
            context_sizes=_counts(data["context_sizes"]),
            context_holders={context: _counts(held) for context, held in data["context_holders"].items()},
            bank_holders=_counts(data["bank_holders"]),
            customers=int(data["customers"]),
            customer_context_sizes=_counts(data["customer_context_sizes"]),
            customer_context_holders={
                context: _counts(held) for context, held in data["customer_context_holders"].items()
            },
            co_holders={product_id: _counts(held) for product_id, held in data["co_holders"].items()},
            holding_people=int(data["holding_people"]),
        )


def _plain(context_holders: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {context: dict(held) for context, held in context_holders.items()}


def _counts(data: Mapping) -> dict[str, int]:
    return {key: int(n) for key, n in data.items()}


def graph_tfidf(graph: nx.MultiDiGraph, as_of: date) -> GraphStats:
    """Count, for every context of both kinds, its people and how many of them hold each product, plus the
    bank-wide holders.

    A relative whose birth date is unknown (or after `as_of`) has no band and joins no context, and gives
    the customer no customer context either.
    """
    relative_members, customer_members = _context_members(graph, as_of)
    products = dict(graph.nodes(data="products"))
    bank_holders: dict[str, int] = defaultdict(int)
    co_holders: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for held in products.values():
        for product_id in held or ():
            bank_holders[product_id] += 1
            for other in held:
                co_holders[product_id][other] += 1
    return GraphStats(
        as_of=as_of,
        people=graph.number_of_nodes(),
        context_sizes={context: len(people) for context, people in relative_members.items()},
        context_holders=_holder_counts(relative_members, products),
        bank_holders=dict(bank_holders),
        customers=sum(1 for _, is_customer in graph.nodes(data="is_customer") if is_customer),
        customer_context_sizes={context: len(people) for context, people in customer_members.items()},
        customer_context_holders=_holder_counts(customer_members, products),
        co_holders=_plain(co_holders),
        holding_people=sum(1 for held in products.values() if held),
    )


def _holder_counts(members: Mapping[str, set[str]], products: Mapping[str, Iterable[str] | None]) -> dict:
    counts = {}
    for context, people in members.items():
        held: dict[str, int] = defaultdict(int)
        for person in people:
            for product_id in products[person] or ():
                held[product_id] += 1
        counts[context] = dict(held)
    return counts


def _context_members(graph: nx.MultiDiGraph, as_of: date) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The people of every relative context and of every customer context (edges run customer -> relative)."""
    ages = {node: known_age(dob, as_of) for node, dob in graph.nodes(data="date_of_birth")}
    contexts: dict[tuple[str, int], tuple[str, str]] = {}
    relative_members: dict[str, set[str]] = defaultdict(set)
    customer_members: dict[str, set[str]] = defaultdict(set)
    for customer_id, relatives in graph.adjacency():  # plain dicts: several times faster than graph.edges(data=...)
        for relative_id, edges in relatives.items():
            age = ages[relative_id]
            if age is None:
                continue
            for edge in edges.values():
                relation = edge["relation"]
                names = contexts.get((relation, age))
                if names is None:
                    band = life_stage_band(age, relation)
                    names = contexts[relation, age] = (context_of(relation, band), customer_context_of(relation, band))
                relative_members[names[0]].add(relative_id)
                customer_members[names[1]].add(customer_id)
    return dict(relative_members), dict(customer_members)


def known_age(dob: date | None, as_of: date) -> int | None:
    if dob is None:
        return None
    age = age_on(dob, as_of)
    return age if age >= 0 else None


# -- a customer's relatives --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RelativeView:
    """One relative as one customer may see them; `products` is None unless the relative consents to share."""

    relative_id: str
    relation: str
    is_customer: bool
    age: int | None
    age_band: str | None
    consent_to_share: bool
    relationship_id: str
    name: str | None = None
    products: frozenset[str] | None = None

    @property
    def context(self) -> str | None:
        """Their relative context ("child aged 6-12"); None when their age is unknown."""
        return context_of(self.relation, self.age_band) if self.age_band else None

    @property
    def customer_context(self) -> str | None:
        """The customer context of having them ("customers with a child aged 6-12"); None when their age is unknown."""
        return customer_context_of(self.relation, self.age_band) if self.age_band else None

    @property
    def is_adult_customer(self) -> bool:
        """Whether they can hold products at the bank themselves; otherwise the customer holds them on their behalf."""
        return self.is_customer and self.age is not None and self.age >= ADULT_AGE


class Neighbourhoods(Protocol):
    """What serving reads of a graph: one person's relationships, one person, one relationship.

    Node and edge attributes are those `build_graph` sets (a relative's `products` may be left out when they do
    not consent to share).
    """

    def relationships_of(self, customer_id: str) -> list[tuple[str, dict, dict]]:
        """(relative id, the relative's attributes, the edge's attributes) of each relationship the customer named."""

    def person(self, person_id: str) -> dict | None:
        """The person's attributes; None when the graph does not know them."""

    def relationship(self, relationship_id: str) -> dict | None:
        """The edge's attributes; None when the graph has no such relationship."""


class GraphNeighbourhoods:
    """`Neighbourhoods` over a graph held in memory (ingestion's, or one a test builds)."""

    def __init__(self, graph: nx.MultiDiGraph):
        self.graph = graph

    def relationships_of(self, customer_id: str) -> list[tuple[str, dict, dict]]:
        if customer_id not in self.graph:
            return []
        return [(relative_id, self.graph.nodes[relative_id], edge)
                for _, relative_id, edge in self.graph.out_edges(customer_id, data=True)]

    def person(self, person_id: str) -> dict | None:
        return self.graph.nodes[person_id] if person_id in self.graph else None

    def relationship(self, relationship_id: str) -> dict | None:
        return next((edge for *_, key, edge in self.graph.edges(keys=True, data=True) if key == relationship_id), None)


def as_neighbourhoods(graph: nx.MultiDiGraph | Neighbourhoods) -> Neighbourhoods:
    return GraphNeighbourhoods(graph) if isinstance(graph, nx.MultiDiGraph) else graph


def relatives_of(
    graph: nx.MultiDiGraph | Neighbourhoods, customer_id: str, relations: Iterable[str] | None = None, *,
    as_of: date | None = None,
) -> list[RelativeView]:
    """The customer's relatives, optionally only some relations, ordered by relation then id.

    Ages are on `as_of` (default today); pass the statistics' `as_of` so bands match their contexts.
    A customer the graph does not know has no relatives.
    """
    wanted = set(RELATIONS if relations is None else relations)
    unknown = wanted - set(RELATIONS)
    if unknown:
        raise ValueError(f"unknown relation(s) {', '.join(sorted(unknown))}")
    as_of = as_of or date.today()
    views = [
        _relative_view(node, relative_id, edge, as_of)
        for relative_id, node, edge in as_neighbourhoods(graph).relationships_of(customer_id)
        if edge["relation"] in wanted
    ]
    return sorted(views, key=lambda view: (RELATIONS.index(view.relation), view.relative_id, view.relationship_id))


def _relative_view(node: dict, relative_id: str, edge: dict, as_of: date) -> RelativeView:
    age = known_age(node.get("date_of_birth"), as_of)
    consent = edge["consent_to_share"]
    return RelativeView(
        relative_id=relative_id,
        relation=edge["relation"],
        is_customer=node["is_customer"],
        age=age,
        age_band=life_stage_band(age, edge["relation"]) if age is not None else None,
        consent_to_share=consent,
        relationship_id=edge["relationship_id"],
        name=edge.get("relative_name") or node.get("name"),
        products=frozenset(node.get("products", ())) if consent else None,
    )

