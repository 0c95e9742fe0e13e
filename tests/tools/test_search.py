"""Product search: hybrid (vector + BM25, fused by RRF) over a hand-built catalogue and FAQ, real embedder.

One embedded store and one set of Chroma indexes for the module: search only
reads whole collections and documents by id, which both store backends answer
alike (tests/retrieval/test_docstore.py), so the second backend adds nothing here.
"""

from __future__ import annotations

from datetime import date

import networkx as nx
import numpy as np
import pytest

from assistant.settings import Settings
from ingest.jobs import index_items
from retrieval.docstore import open_store
from retrieval.embeddings import get_embedder
from retrieval.graph import graph_tfidf
from retrieval.records import FaqDocument, Product
from retrieval.vectors import VectorIndexes
from tools.context import ToolContext
from tools.evidence import resolve
from tools.search import search_products
from tools.types import Evidence, EvidenceKind

RUN = "r1"


def product(product_id: str, name: str, category: str, description: str, needs: list[str], **eligibility) -> dict:
    record = Product(product_id=product_id, name=name, category=category, description=description,
                     need_statements=needs, eligibility=eligibility)
    return {"_id": product_id, **record.model_dump(mode="json")}


def faq(faq_id: str, question: str, answer: str, category: str, product_ids: list[str]) -> dict:
    record = FaqDocument(faq_id=faq_id, question=question, answer=answer, category=category, product_ids=product_ids)
    return {"_id": faq_id, **record.model_dump(mode="json")}


PRODUCTS = [
    product("P010", "Skyline Travel Card", "card",
            "Earn 3 points per dollar on flights and hotels, with airport lounge access and no foreign "
            "transaction fees.", ["I travel a lot and want rewards"]),
    product("P011", "Everyday Cash Back Card", "card",
            "2% cash back on groceries and gas and no annual fee.", ["I want cash back on groceries"]),
    product("P014", "Campus Starter Card", "card",
            "A first credit card for students with a low limit, to build a credit history.",
            ["my first credit card"], max_age=25),
    product("P025", "30-Year Fixed Mortgage", "mortgage",
            "A fixed rate and a predictable monthly payment for buying a house.", ["I'm buying a house"]),
    product("P027", "First-Time Homebuyer Mortgage", "mortgage",
            "Buy your first home with as little as 3% down and help with closing costs.",
            ["I'm buying my first home"]),
    {**product("P016", "Business Rewards Card", "card", "Rewards on your company's spending on software and ads.",
               ["a credit card for my small business expenses"]), "target_segments": ["small_business"]},
    product("P043", "Homeowners Insurance", "insurance",
            "Covers your house and belongings against fire, theft and storms; discounts when your mortgage "
            "is with us.", ["insurance for my new house"]),
    product("P004", "High-Yield Savings", "deposit",
            "A savings account earning 4.20% APY with no monthly fee.", ["I want my savings to earn more"]),
]
FAQS = [
    faq("F001", "How do I report a lost or stolen card?",
        "Lock the card in the app right away, then call us any time on the number on the back of your "
        "statement; a replacement arrives in three to five business days.", "cards", []),
    faq("F002", "How much do I need for a down payment on a house?",
        "Our First-Time Homebuyer Mortgage needs as little as 3% down; with less than 20% down you pay "
        "mortgage insurance until you reach 20% equity.", "mortgages", ["P027"]),
    faq("F003", "What does homeowners insurance cover?",
        "Homeowners Insurance covers the structure of your house, your belongings and liability.",
        "insurance", ["P043"]),
]
FEATURES = {"_id": f"{RUN}:C1", "customer_id": "C1", "age": 40, "declared_income": 90000.0, "income_estimate": 88000.0,
            "kyc_verified": True, "risk_appetite": "medium", "products_held": ["P004"]}


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, embedder):
    settings = Settings(data_dir=tmp_path_factory.mktemp("search"), mongodb_uri=None)
    with open_store(settings) as store, VectorIndexes.open(settings, embedder) as vectors:
        store["products"].insert_many(PRODUCTS)
        store["faq"].insert_many(FAQS)
        store["features"].insert_one(FEATURES)
        store["customers"].insert_one({"_id": "C1", "customer_id": "C1", "first_name": "Ann"})
        for name in ("products", "faq"):
            vectors.build(name, RUN, list(index_items(name, store)))
        vectors.publish(RUN, ["products", "faq"])
        graph = nx.MultiDiGraph()
        yield ToolContext(store, vectors, embedder, graph, graph_tfidf(graph, date(2026, 11, 1)), RUN)


def ids(hits) -> list[str]:
    return [hit.record_id for hit in hits]


def test_a_travel_question_finds_the_travel_card_first_with_its_description_as_evidence(ctx):
    hits = search_products(ctx, "card with travel rewards")

    top = hits[0]
    assert (top.collection, top.record_id, top.title) == ("products", "P010", "Skyline Travel Card")
    assert top.text == PRODUCTS[0]["description"]
    assert top.evidence == Evidence(EvidenceKind.document_passage, "products", "P010", "description",
                                    PRODUCTS[0]["description"], "Skyline Travel Card description")
    assert resolve(ctx, top.evidence) == top.text
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert top.eligible is None and top.why_not == ()  # no customer given


def test_an_faq_hit_carries_its_answer_question_and_id(ctx):
    hits = search_products(ctx, "I lost my card, what do I do?")

    top = hits[0]
    assert (top.collection, top.record_id) == ("faq", "F001")
    assert top.title == FAQS[0]["question"] and top.text == FAQS[0]["answer"]
    assert top.evidence == Evidence(EvidenceKind.document_passage, "faq", "F001", "answer", FAQS[0]["answer"],
                                    FAQS[0]["question"])
    assert resolve(ctx, top.evidence) == FAQS[0]["answer"]
    assert top.product_id is None and top.to_dict()["evidence"]["record_id"] == "F001"


def test_a_category_filter_keeps_that_category_and_faq_answers_about_it(ctx):
    unfiltered = search_products(ctx, "insurance for my new home", k=3)
    filtered = search_products(ctx, "insurance for my new home", category="mortgage", k=10)

    assert unfiltered[0].record_id in {"P043", "F003"}
    assert {hit.record_id for hit in filtered} <= {"P025", "P027", "F002"}
    assert {"P025", "P027"} <= set(ids(filtered))
    assert all(hit.category == "mortgage" for hit in filtered if hit.collection == "products")


def test_an_exact_product_code_the_vectors_miss_is_found_by_the_lexical_ranking(ctx):
    hits = search_products(ctx, "P027")

    top = hits[0]
    assert top.record_id == "P027"
    assert top.components["lexical_rank"] == 1.0
    assert top.components.get("vector_rank", 99.0) > 1.0  # the sentence model alone would not put it first


def test_with_a_customer_each_product_hit_says_whether_they_are_eligible_and_why_not(ctx):
    hits = {hit.record_id: hit for hit in search_products(ctx, "credit card", customer_id="C1", k=10)}

    assert hits["P010"].eligible is True and hits["P010"].why_not == ()
    student = hits["P014"]
    assert student.eligible is False
    assert [(item.rule, item.reason) for item in student.why_not] == [
        ("max_age", "available only up to age 25; you are 40")
    ]
    assert all(hit.eligible is None for hit in hits.values() if hit.collection == "faq")
    savings = search_products(ctx, "savings account interest", customer_id="C1", category="deposit")[0]
    assert savings.record_id == "P004" and [item.rule for item in savings.why_not] == ["already_held"]


def test_asked_what_they_can_get_products_whose_rules_they_fail_are_left_out(ctx):
    asked = {hit.record_id: hit for hit in search_products(ctx, "which credit cards can I get?", customer_id="C1", k=10)}
    assert "P014" not in asked and "P010" in asked  # the student card stops at 25; C1 is 40
    assert {rule.rule for hit in asked.values() for rule in hit.why_not} <= {"already_held"}
    assert "P014" in ids(search_products(ctx, "which credit cards do you have?", customer_id="C1", k=10))
    held = search_products(ctx, "what savings accounts could I open?", customer_id="C1", category="deposit")
    assert "P004" in ids(held)  # one they hold already is still an answer, marked as theirs


def test_business_products_are_found_for_a_business_question_not_for_a_customer_without_one(ctx):
    assert "P016" not in ids(search_products(ctx, "which credit card would you suggest", customer_id="C1", k=10))
    assert "P016" in ids(search_products(ctx, "a credit card for my small business", customer_id="C1", k=10))
    assert "P016" in ids(search_products(ctx, "which credit card would you suggest", k=10))  # the catalogue, to staff


def test_an_unknown_customer_gets_hits_without_an_eligibility_verdict(ctx):
    (top,) = search_products(ctx, "card with travel rewards", customer_id="C404", k=1)

    assert top.eligible is None and [item.rule for item in top.why_not] == ["no_profile"]


class RefusingEmbedder:
    dimension = 384

    def embed(self, texts, batch_size: int = 64):
        raise AssertionError("search embedded the query again")

    def embed_one(self, text: str):
        raise AssertionError("search embedded the query again")


def test_a_given_query_embedding_is_used_instead_of_embedding_the_query(ctx, embedder):
    given = embedder.embed_one("card with travel rewards")
    no_embedding = ToolContext(ctx.store, ctx.vectors, RefusingEmbedder(), ctx.graph, ctx.graph_stats, RUN)

    hits = search_products(no_embedding, "card with travel rewards", query_embedding=given)

    assert hits[0].record_id == "P010" and "vector_rank" in hits[0].components
    assert isinstance(given, np.ndarray)


def test_k_limits_the_answer_and_an_empty_query_or_bad_category_is_handled(ctx):
    assert len(search_products(ctx, "card", k=2)) == 2
    assert search_products(ctx, "   ") == []
    assert search_products(ctx, "card", k=0) == []
    with pytest.raises(ValueError, match="unknown product category 'cards'"):
        search_products(ctx, "card", category="cards")


@pytest.mark.parametrize("query", ["travel rewards card", "how do I reset my PIN?", "a loan for my car", "zebra"])
def test_the_vector_ranking_is_the_chroma_indexes_nearest_items_with_their_scores(ctx, embedder, query):
    from tools.search import _pools, _vector_ranking, catalogue

    books = catalogue(ctx)
    pools = _pools(books, 5, None)
    embedding = embedder.embed_one(query)
    expected = sorted(
        (((name, hit.id), hit.score) for name in ("products", "faq")
         for hit in ctx.vectors.query(name, embedding=embedding, k=pools[name]) if hit.score >= 0.25),
        key=lambda item: -item[1])
    ranking = _vector_ranking(ctx, books, query, embedding, pools)
    assert [key for key, _ in ranking] == [key for key, _ in expected]
    np.testing.assert_allclose([score for _, score in ranking], [score for _, score in expected], atol=1e-5)
