"""resolve() reads every kind of evidence back from the stores; the personal tool's evidence all resolves."""

from __future__ import annotations

import re
import zlib
from datetime import date

import numpy as np
import pytest

from retrieval.formats import money
from retrieval.graph import build_graph, graph_tfidf
from retrieval.records import Product
from retrieval.vectors import VectorHit
from tools.context import ToolContext
from tools.evidence import EvidenceNotFound, field_evidence, resolve, value_at
from tools.personal import recommend_personal
from tools.types import Evidence, EvidenceKind

RUN_ID = "run-1"
AS_OF = date(2026, 9, 30)
MONEY = re.compile(r"\$[0-9][0-9,]*(?:\.[0-9]+)?")


def _product(product_id, name, category, description, terms=None, eligibility=None) -> dict:
    record = Product(product_id=product_id, name=name, category=category, description=description,
                     terms=terms or {}, eligibility=eligibility or {})
    return {"_id": product_id, **record.model_dump(mode="json")}


PRODUCTS = [
    _product("P_CHECK", "Everyday Checking", "deposit", "Checking with bill pay.",
             {"monthly_fee": 5, "min_balance": 1500}),
    _product("P_SAVE", "High-Yield Savings", "deposit", "Savings earning interest.", {"apy": 0.042}),
    _product("P_CASH", "Everyday Cash Back Card", "card", "Cash back at grocery stores.",
             {"apr": 0.2149, "rewards": {"groceries": 0.03}, "base_reward_rate": 0.01, "point_value": 0.01}),
    _product("P_TRAVEL", "Voyager Travel Card", "card", "Points on flights and hotels.",
             {"apr": 0.2249, "annual_fee": 95, "rewards": {"travel": 0.03}, "base_reward_rate": 0.01,
              "point_value": 0.0125}),
    _product("P_CONSOL", "Debt Consolidation Loan", "loan", "Combine credit card debt into one payment.",
             {"apr": 0.0999, "max_amount": 50000}),
    _product("P_RENO", "Home Improvement Loan", "loan", "Renovate your kitchen: home improvement loans.",
             {"apr": 0.0899, "max_amount": 100000}),
    _product("P_RENT", "Renters Insurance", "insurance", "Cover for renters paying rent on an apartment.",
             {"premium_monthly": 15}),
    _product("P_PET", "Pet Insurance", "insurance", "Vet bills for dogs and cats.", {"premium_monthly": 24}),
    _product("P_SOLO", "Solo 401(k)", "retirement", "Retirement plan for the self-employed.",
             {"employer_match": 0.25, "max_amount": 69000}),
]


class WordVectors:
    """Stand-in for both the embedder and the products index: texts that share words are close."""

    dimension = 256

    def __init__(self, products) -> None:
        self.products = {p["_id"]: self.embed_one(f"{p['name']} {p['description']}") for p in products}

    def embed(self, texts):
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]{4,}", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def embed_one(self, text):
        return self.embed([text])[0]

    def query(self, name, text=None, embedding=None, k=10, where=None):
        scores = {pid: float(vector @ embedding) for pid, vector in self.products.items()}
        return [VectorHit(pid, score, "", {}) for pid, score in sorted(scores.items(), key=lambda kv: -kv[1])][:k]

    def vectors(self, name):
        return list(self.products), np.stack(list(self.products.values()))


def _bank(store) -> ToolContext:
    store["products"].insert_many(PRODUCTS)
    store["customers"].insert_one({"_id": "C1", "customer_id": "C1", "date_of_birth": "1986-05-01",
                                   "consent": {"profiling": True}})
    store["features"].insert_one({
        "_id": f"{RUN_ID}:C1", "run_id": RUN_ID, "customer_id": "C1", "age": 40, "life_stage": "established",
        "occupation": "Teacher", "declared_income": 90000.0, "income_estimate": 80000.0, "kyc_verified": True,
        "risk_appetite": "medium", "products_held": ["P_CASH", "P_CHECK"], "goals": ["travel"],
        "spend_12m": {"travel": 7680.0, "groceries": 5200.0, "home_improvement": 3100.0, "rent": 18000.0,
                      "debt_payment": 2400.0, "brokerage_transfer": 4800.0, "medical": 900.0},
        "spend_trend": {"home_improvement": 60.0, "medical": 40.0}, "deposit_balance": 6500.0,
    })
    store["accounts"].insert_many([
        {"_id": "A1", "account_id": "A1", "customer_id": "C1", "product_id": "P_CHECK", "balance": 6500.0,
         "status": "open"},
        {"_id": "A2", "account_id": "A2", "customer_id": "C1", "product_id": "P_CASH", "balance": -3000.0,
         "status": "open"},
    ])
    store["disclosures"].insert_many([
        {"_id": "D1", "disclosure_id": "D1", "customer_id": "C1", "kind": "life_goal", "topic": "travel",
         "text": "Flights and hotels every month for work.", "explicit_consent": False},
        {"_id": "D2", "disclosure_id": "D2", "customer_id": "C1", "kind": "health", "topic": "allergy",
         "text": "Allergic to cats and dogs.", "explicit_consent": True},
    ])
    holdings = {"C1": ["P_CASH", "P_CHECK"], **{f"O{i}": ["P_CASH", "P_PET"] for i in range(6)},
                **{f"X{i}": ["P_CHECK"] for i in range(6)}}
    customers = [{"customer_id": cid, "date_of_birth": "1980-01-01"} for cid in holdings]
    graph = build_graph(customers, [], holdings)
    vectors = WordVectors(PRODUCTS)
    return ToolContext(store, vectors, vectors, graph, graph_tfidf(graph, AS_OF), RUN_ID)


def _money_figures_allowed(recommendation) -> set[str]:
    numbers = [e.value for e in recommendation.evidence
               if isinstance(e.value, int | float) and not isinstance(e.value, bool)]
    allowed = {money(abs(number)) for number in numbers}
    if recommendation.estimated_annual_value is not None:
        allowed.add(money(recommendation.estimated_annual_value))
    return allowed


def test_every_personal_evidence_item_resolves_and_every_dollar_figure_is_an_evidence_value(store):
    ctx = _bank(store)
    recommendations = recommend_personal(ctx, "C1", k=20)
    evidence = [item for recommendation in recommendations for item in recommendation.evidence]
    # the walk covers every kind of evidence the tool gives
    assert {item.collection for item in evidence} == {"features", "products", "accounts", "disclosures"}
    assert {"spend_trend.home_improvement", "spend_12m.rent", "products_held", "text", "balance",
            "terms.employer_match"} <= {item.field for item in evidence}
    for item in evidence:
        assert resolve(ctx, item) == item.value, item
    for recommendation in recommendations:
        allowed = _money_figures_allowed(recommendation)
        for reason in recommendation.reasons:
            assert set(MONEY.findall(reason)) <= allowed, (reason, allowed)
    texts = " ".join(reason for recommendation in recommendations for reason in recommendation.reasons)
    assert "D2" not in {item.record_id for item in evidence} and "Allergic" not in texts
    assert "$900" not in texts and "medical" not in texts


def test_resolve_reads_a_dotted_field_a_list_item_and_a_whole_record(store):
    store["transactions"].insert_one({"_id": "C1:2026-09", "customer_id": "C1", "month": "2026-09",
                                      "transactions": [{"transaction_id": "T1", "amount": -42.5}]})
    store["products"].insert_one(PRODUCTS[3])
    ctx = ToolContext(store, None, None, None, None, RUN_ID)
    terms = Evidence(EvidenceKind.product_terms, "products", "P_TRAVEL", "terms.rewards.travel", 0.03)
    amount = Evidence(EvidenceKind.transaction_aggregate, "transactions", "C1:2026-09", "transactions.0.amount", -42.5)
    assert resolve(ctx, terms) == 0.03
    assert resolve(ctx, amount) == -42.5
    whole = resolve(ctx, Evidence(EvidenceKind.product_terms, "products", "P_TRAVEL", "", None))
    assert whole["name"] == "Voyager Travel Card"
    with pytest.raises(EvidenceNotFound, match="no record"):
        resolve(ctx, Evidence(EvidenceKind.product_terms, "products", "P_NONE", "name", None))
    with pytest.raises(EvidenceNotFound, match="terms.rewards.fuel"):
        resolve(ctx, Evidence(EvidenceKind.product_terms, "products", "P_TRAVEL", "terms.rewards.fuel", None))


def test_resolve_reads_graph_statistics_edges_and_people():
    customers = [{"customer_id": c, "date_of_birth": "1980-01-01"} for c in ("C1", "C2", "C3")]
    links = [{"relationship_id": "L1", "customer_id": "C1", "relative_id": "C2", "relation": "spouse",
              "relative_is_customer": True, "consent_to_share": True},
             {"relationship_id": "L2", "customer_id": "C3", "relative_id": "R9", "relation": "child",
              "relative_is_customer": False, "relative_name": "Kim", "relative_date_of_birth": "2018-03-01"}]
    graph = build_graph(customers, links, {"C2": ["P1"], "C1": ["P2"]})
    ctx = ToolContext(None, None, None, graph, graph_tfidf(graph, AS_OF), RUN_ID)
    context = "spouse aged 36-50"
    holders = Evidence(EvidenceKind.graph_statistic, "graph_stats", context, "P1.holders", 1)
    assert resolve(ctx, holders) == 1
    assert resolve(ctx, Evidence(EvidenceKind.graph_statistic, "graph_stats", context, "P1.tf", None)) == 1.0
    assert resolve(ctx, Evidence(EvidenceKind.graph_edge, "graph", "L1", "consent_to_share", True)) is True
    assert resolve(ctx, Evidence(EvidenceKind.graph_edge, "graph", "L2", "relation", "child")) == "child"
    assert resolve(ctx, Evidence(EvidenceKind.graph_edge, "graph", "R9", "name", "Kim")) == "Kim"
    with pytest.raises(EvidenceNotFound):
        resolve(ctx, Evidence(EvidenceKind.graph_statistic, "graph_stats", "child aged 0-5", "P1.holders", 0))
    with pytest.raises(EvidenceNotFound):
        resolve(ctx, Evidence(EvidenceKind.graph_statistic, "graph_stats", context, "P1.nonsense", 0))
    with pytest.raises(EvidenceNotFound):
        resolve(ctx, Evidence(EvidenceKind.graph_edge, "graph", "L404", "relation", None))


def test_resolve_counts_account_openings_in_the_window_and_refuses_an_unknown_field(store):
    store["accounts"].insert_many([
        {"_id": "A1", "customer_id": "C1", "product_id": "P_SAVE", "opened_at": "2026-09-01", "status": "open"},
        {"_id": "A2", "customer_id": "C2", "product_id": "P_SAVE", "opened_at": "2026-05-01", "status": "open"},
        {"_id": "A3", "customer_id": "C3", "product_id": "P_SAVE", "opened_at": "2026-09-10", "status": "closed"},
        {"_id": "A4", "customer_id": "C4", "product_id": "P_SAVE", "opened_at": "2025-01-01", "status": "open"},
        {"_id": "A5", "customer_id": "C5", "product_id": "P_CASH", "opened_at": "2026-09-02", "status": "open"},
    ])
    graph = build_graph([{"customer_id": "C1", "date_of_birth": "1980-01-01"}], [], {})
    ctx = ToolContext(store, None, None, graph, graph_tfidf(graph, AS_OF), RUN_ID)
    opened = Evidence(EvidenceKind.graph_statistic, "account_openings", "P_SAVE", "opened_last_180_days", 2)
    assert resolve(ctx, opened) == 2  # A1 and A2: A3 is closed, A4 too old, A5 another product
    assert resolve(ctx, Evidence(EvidenceKind.graph_statistic, "account_openings", "P_SAVE",
                                 "opened_last_60_days", 1)) == 1
    with pytest.raises(EvidenceNotFound, match="opened_lately"):
        resolve(ctx, Evidence(EvidenceKind.graph_statistic, "account_openings", "P_SAVE", "opened_lately", 2))


def test_field_evidence_copies_the_value_stored_at_the_path():
    record = {"_id": "run-1:C1", "spend_12m": {"travel": 7680.0}}
    evidence = field_evidence(EvidenceKind.transaction_aggregate, "features", record, "spend_12m.travel", "travel")
    assert evidence == Evidence(EvidenceKind.transaction_aggregate, "features", "run-1:C1", "spend_12m.travel",
                                7680.0, "travel")
    with pytest.raises(EvidenceNotFound):
        field_evidence(EvidenceKind.transaction_aggregate, "features", record, "spend_12m.dining")


def test_value_at_and_money():
    assert value_at({"a": [{"b": 1}]}, "a.0.b") == 1
    assert value_at({"a": 1}, "") == {"a": 1}
    with pytest.raises(EvidenceNotFound):
        value_at({"a": [1]}, "a.3")
    assert money(7680.0) == "$7,680" and money(229.6) == "$230" and money(95) == "$95"
