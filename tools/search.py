"""Conversational product search: hybrid retrieval over the catalogue and the FAQ.

One query, two rankings over the same passages (every product and every FAQ
answer):
- vector: the query embedding against the "products" and "faq" Chroma indexes,
  merged by cosine similarity (one embedder, so the scores compare); both are
  small, so their live vectors are read once per ToolContext and scored exactly,
  as one matrix product, rather than queried in Chroma on every turn;
- lexical: BM25 over the same texts, plus each product's id, so an exact term
  the sentence model misses (a product code, a brand, an acronym) still counts.
The two are fused by reciprocal rank fusion (`retrieval.lexical`). The BM25
index is built once per ToolContext, on first use. Vector candidates below
VECTOR_FLOOR are dropped, so a query about nothing in the catalogue finds
nothing instead of the least unrelated passages.

A category filter is applied after retrieval (Chroma's `where` is much slower
than a plain query); the product candidate pool then spans the whole category.
Each hit carries the passage it was found by and `Evidence` naming the stored
field (products: "description", FAQ: "answer"). With a customer id, a product
hit also says whether that customer is eligible and, if not, why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from retrieval.lexical import BM25, reciprocal_rank_fusion
from retrieval.records import ProductCategory
from tools.eligibility import why_not
from tools.evidence import field_evidence
from tools.personal.ranking import has_business
from tools.requests.fit import is_business_product
from tools.requests.parse import about_business
from tools.spec import tool
from tools.types import Evidence, EvidenceKind, Ineligible

if TYPE_CHECKING:
    from tools.context import ToolContext

PRODUCTS, FAQ = "products", "faq"
CANDIDATE_POOL = 20  # candidates per ranking before fusion, at least
CATEGORY_POOL = 500  # product candidates per ranking when filtering by category (the whole category, in practice)
# MiniLM cosine below which a passage has nothing to do with the query: such vector
# candidates are dropped rather than padding the answer (a lexical match still counts).
VECTOR_FLOOR = 0.25
NOT_A_RULE_ON_THEM = frozenset({"no_profile", "already_held"})  # no rule they fail: nothing known, or theirs already
ASKS_WHAT_THEY_CAN_GET = re.compile(
    r"\b(?:can|could|may) (?:i|we) (?:open|get|apply for|have|sign up for|qualify for)\b"
    r"|\b(?:am i|are we|i'?m|we'?re) eligible\b|\bdo (?:i|we) qualify\b|\bavailable to (?:me|us)\b", re.IGNORECASE)
PASSAGE_FIELD = {PRODUCTS: "description", FAQ: "answer"}
CATALOGUE_KEY = "tools.search.catalogue"  # its ToolContext.memo key
CATEGORIES = tuple(category.value for category in ProductCategory)
# FAQ categories without products of their own, by the product category they are about.
FAQ_CATEGORY_ALIASES = {
    "deposit": {"accounts", "savings", "deposit", "deposits"}, "card": {"cards", "card"}, "loan": {"loans", "loan"},
    "mortgage": {"mortgages", "mortgage"}, "investment": {"investing", "investment", "investments"},
    "retirement": {"retirement"}, "education_savings": {"education", "education_savings"},
    "insurance": {"insurance"}, "healthcare": {"healthcare", "health"},
}

Key = tuple[str, str]  # (collection, record id)


@dataclass(frozen=True)
class SearchHit:
    """One passage that answers the query: a product's description or an FAQ answer."""

    collection: str  # "products" or "faq"
    record_id: str
    title: str  # the product's name or the FAQ question
    text: str  # the passage itself, as stored
    score: float  # fused (reciprocal rank) score, higher is better
    category: str  # the product's category; an FAQ's own category
    product_ids: tuple[str, ...]  # the product, or the products an FAQ answer is about
    evidence: Evidence
    components: dict[str, float] = field(default_factory=dict)  # vector/lexical scores and ranks
    eligible: bool | None = None  # for a product hit when a customer is given; None when unknown
    why_not: tuple[Ineligible, ...] = ()

    @property
    def product_id(self) -> str | None:
        return self.record_id if self.collection == PRODUCTS else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["evidence"] = self.evidence.to_dict()
        data["product_ids"] = list(self.product_ids)
        data["why_not"] = [asdict(item) for item in self.why_not]
        data["product_id"] = self.product_id
        return data


# --- the per-context catalogue and its lexical index ------------------------------------------------------


def product_text(product: Mapping) -> str:
    """What a product is found by: the vector index's text (ingest.jobs.index_items) plus its id."""
    needs = " ".join(product.get("need_statements") or [])
    return f"{product['_id']} {product['name']}. {product['description']} {needs}"


def faq_text(faq: Mapping) -> str:
    return f"{faq['question']} {faq['answer']}"


class _Catalogue:
    """Products and FAQ documents of one ToolContext, with a BM25 index over both."""

    def __init__(self, ctx: ToolContext) -> None:
        self.documents: dict[Key, Mapping] = {(PRODUCTS, pid): doc for pid, doc in ctx.products.items()}
        self.faq_count = 0
        for faq in ctx.store[FAQ].find({}):
            self.documents[(FAQ, str(faq["_id"]))] = faq
            self.faq_count += 1
        self.product_count = len(self.documents) - self.faq_count
        self.lexical = BM25(
            (key, product_text(doc) if key[0] == PRODUCTS else faq_text(doc)) for key, doc in self.documents.items()
        )


def catalogue(ctx: ToolContext) -> _Catalogue:
    """The context's catalogue and lexical index, built on first use and kept for the life of the context."""
    return ctx.memo(CATALOGUE_KEY, lambda: _Catalogue(ctx))


# --- filtering ---------------------------------------------------------------------------------------------


def in_category(key: Key, document: Mapping, category: str, products: Mapping[str, Mapping]) -> bool:
    """A product of `category`, or an FAQ answer about one (by its products, else by its own category)."""
    if key[0] == PRODUCTS:
        return document.get("category") == category
    related = [products[pid] for pid in document.get("product_ids") or () if pid in products]
    if related:
        return any(product.get("category") == category for product in related)
    return document.get("category") in FAQ_CATEGORY_ALIASES.get(category, {category})


def _check_category(category: str | None) -> None:
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown product category {category!r}; expected one of {', '.join(CATEGORIES)}")


# --- the two rankings --------------------------------------------------------------------------------------


def _vector_ranking(ctx: ToolContext, books: _Catalogue, query: str, query_embedding, pools: Mapping[str, int]
                    ) -> list[tuple[Key, float]]:
    if ctx.vectors is None or (query_embedding is None and ctx.embedder is None):
        return []
    embedding = ctx.embedder.embed_one(query) if query_embedding is None else query_embedding
    query_vector = np.asarray(embedding, dtype=np.float32)
    hits = []
    for name in (PRODUCTS, FAQ):
        if pools[name] > 0:
            # every stored vector against the query, as one matrix product: the k nearest are exactly the
            # index query's (the same vectors, the same cosine), without a vector-store round trip per turn
            ids, matrix = ctx.index_vectors(name)
            scores = matrix @ query_vector if len(ids) else np.empty(0, dtype=np.float32)
            hits += [
                ((name, ids[j]), float(scores[j]))
                for j in np.argsort(-scores, kind="stable")[: pools[name]]
                if scores[j] >= VECTOR_FLOOR and (name, ids[j]) in books.documents  # else nothing to cite yet
            ]
    return sorted(hits, key=lambda item: -item[1])


def _pools(books: _Catalogue, k: int, category: str | None) -> dict[str, int]:
    pool = max(CANDIDATE_POOL, 4 * k)
    product_pool = max(pool, CATEGORY_POOL) if category else pool
    return {PRODUCTS: min(product_pool, books.product_count), FAQ: min(pool, books.faq_count)}


# --- hits --------------------------------------------------------------------------------------------------


def _hit(ctx: ToolContext, key: Key, document: Mapping, score: float, components: dict[str, float],
         customer_id: str | None) -> SearchHit:
    collection, record_id = key
    path = PASSAGE_FIELD[collection]
    if collection == PRODUCTS:
        title, product_ids = document["name"], (record_id,)
        evidence = field_evidence(EvidenceKind.document_passage, collection, document, path, f"{title} description")
    else:
        title, product_ids = document["question"], tuple(document.get("product_ids") or ())
        evidence = field_evidence(EvidenceKind.document_passage, collection, document, path, title)
    eligible, reasons = None, ()
    if customer_id is not None and collection == PRODUCTS:
        reasons = tuple(why_not(ctx, customer_id, record_id))
        eligible = None if any(item.rule == "no_profile" for item in reasons) else not reasons
    return SearchHit(collection, record_id, title, evidence.value, score, str(document.get("category", "")),
                     product_ids, evidence, components, eligible, reasons)


@tool
def search_products(ctx: ToolContext, query: str, customer_id: str | None = None, category: str | None = None,
                    k: int = 5, query_embedding=None, exclude: Sequence[str] = ()) -> list[SearchHit]:
    """Search the product catalogue and FAQ for passages that answer a product question, best first.

    Use for any question about fees, rates, features or how a product works ("which card is best for travel?",
    "what is a HELOC?", "P038"). Each hit carries the passage to cite. With a customer, each product hit says
    whether that customer is eligible (`eligible`) and which rules they fail (`why_not`); FAQ hits carry no
    eligibility. None for an empty query.

    Args:
        query: The product question in the customer's words.
        customer_id: The current customer, to mark which products they can get.
        category: Only products of this category, and FAQ answers about them: deposit, card, loan, mortgage, investment, retirement, education_savings, insurance or healthcare.
        exclude: Product ids the customer ruled out ("we rent", "not our first home"); their passages are left out.
            With a customer who has no business and does not ask about one, business products are left out too.
    """
    _check_category(category)
    if k < 1 or not query or not query.strip():
        return []
    books = catalogue(ctx)
    pools = _pools(books, k, category)
    # Lexical first: on an exact tie, a passage holding the query's very term beats a paraphrase.
    rankings = {
        "lexical": _in_category(books.lexical.rank(query), books, category, ctx)[: max(pools.values())],
        "vector": _in_category(_vector_ranking(ctx, books, query, query_embedding, pools), books, category, ctx),
    }
    exclude = {*exclude, *_not_their_business(ctx, query, customer_id), *_not_open_to_them(ctx, query, customer_id)}
    if exclude:
        rankings = {name: [(key, score) for key, score in ranking if not (key[0] == PRODUCTS and key[1] in exclude)]
                    for name, ranking in rankings.items()}
    fused = reciprocal_rank_fusion([[key for key, _ in ranking] for ranking in rankings.values()])[:k]
    return [_hit(ctx, key, books.documents[key], round(score, 6), _components(key, rankings), customer_id)
            for key, score in fused]


def _not_their_business(ctx: ToolContext, query: str, customer_id: str | None) -> list[str]:
    """Business products, for a customer with no business who does not ask about one (as recommendations do)."""
    features = ctx.features(customer_id) if customer_id else None
    if features is None or about_business(query) or has_business(features, ctx.products):
        return []
    return [product_id for product_id, product in ctx.products.items() if is_business_product(product)]


def _not_open_to_them(ctx: ToolContext, query: str, customer_id: str | None) -> list[str]:
    """Asked what they can get ("what accounts can I open at 18?"), the products whose rules they fail are no
    answer; asked about products in general, each hit says whether it is open to them."""
    if customer_id is None or not ASKS_WHAT_THEY_CAN_GET.search(query):
        return []
    return [product_id for product_id in ctx.products
            if [reason for reason in why_not(ctx, customer_id, product_id) if reason.rule not in NOT_A_RULE_ON_THEM]]


def _in_category(ranking: list[tuple[Key, float]], books: _Catalogue, category: str | None, ctx: ToolContext
                 ) -> list[tuple[Key, float]]:
    if category is None:
        return ranking
    return [(key, score) for key, score in ranking if in_category(key, books.documents[key], category, ctx.products)]


def _components(key: Key, rankings: Mapping[str, Sequence[tuple[Key, float]]]) -> dict[str, float]:
    """The hit's score and rank (from 1) in each ranking it appears in, for the explanation."""
    parts: dict[str, float] = {}
    for name, ranking in rankings.items():
        position = next((rank for rank, (candidate, _) in enumerate(ranking, start=1) if candidate == key), None)
        if position is not None:
            parts[f"{name}_score"] = round(float(ranking[position - 1][1]), 4)
            parts[f"{name}_rank"] = float(position)
    return parts
