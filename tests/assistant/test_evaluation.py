import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import pytest

from assistant import evaluation
from assistant.evaluation import (
    Case,
    HiddenAccount,
    berka_features,
    berka_matrix,
    berka_task,
    choose_holdouts,
    format_report,
    hit_at_k,
    hit_rate,
    mean_ndcg,
    ndcg_at_k,
    precision_at_share,
    random_hit,
    random_ndcg,
    rank_of,
    read_jsonl,
    tool_block,
    write_holdout_copy,
)
from assistant.settings import Settings
from ingest.synth import synthesize

BERKA = Path("/work/shared/datasets/berka_pkdd99")


# ----- metrics on hand-made ranks -----


def test_rank_is_one_based_and_none_when_missing():
    assert rank_of("b", ["a", "b", "c"]) == 2
    assert rank_of("z", ["a", "b"]) is None


def test_hit_and_ndcg_at_k_for_single_ranks():
    assert hit_at_k(3, 3) == 1.0 and hit_at_k(4, 3) == 0.0 and hit_at_k(None, 3) == 0.0
    assert ndcg_at_k(1, 5) == 1.0
    assert ndcg_at_k(3, 5) == 0.5  # 1 / log2(4)
    assert ndcg_at_k(6, 5) == 0.0


def test_hit_rate_and_mean_ndcg_average_over_cases():
    assert hit_rate([1, 4, None], 3) == pytest.approx(1 / 3)
    assert mean_ndcg([1, 3, None, 7], 5) == pytest.approx(1.5 / 4)


def test_precision_at_top_ten_percent_counts_positives_among_the_highest_scores():
    labels = [1, 0] + [0] * 17 + [1]
    scores = [0.9, 0.8] + [0.1] * 17 + [0.05]
    assert precision_at_share(labels, scores, 0.1) == 0.5  # top 2 of 20: one positive


def test_random_expectations_are_exact():
    assert random_hit(10, 1, 3) == pytest.approx(0.3)
    assert random_hit(10, 2, 3) == pytest.approx(1 - (8 * 7 * 6) / (10 * 9 * 8))
    assert random_ndcg(2, 5) == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_popularity_skips_what_the_customer_holds_and_random_uses_the_rest():
    cases = [Case("P2", frozenset({"P1"}), frozenset({"P3"}), ["P9", "P2"])]
    block = tool_block(cases, {"P1": 50, "P2": 40, "P3": 30, "P4": 1}, ["P1", "P2", "P3", "P4"], "hand-made")
    assert block["tool"]["hr_at_3"] == 1.0 and block["tool"]["ndcg_at_5"] == pytest.approx(1 / math.log2(3))
    assert block["tool"]["needs_hit_at_3"] == 0.0
    assert block["popularity"]["hr_at_3"] == 1.0 and block["popularity"]["ndcg_at_5"] == 1.0  # P2 first
    assert block["popularity"]["needs_hit_at_3"] == 1.0
    assert block["random"]["hr_at_3"] == pytest.approx(1.0)  # 3 candidates left, all shown


# ----- the hold-out copy -----


@pytest.fixture(scope="module")
def small_bank(tmp_path_factory) -> Path:
    bank = tmp_path_factory.mktemp("bank")
    synthesize(bank, 200, 3)
    return bank


def _categories(bank: Path) -> dict[str, str]:
    return {p["product_id"]: p["category"] for p in read_jsonl(bank / "products.jsonl")}


def test_holdouts_hide_the_latest_open_account_of_customers_with_two_or_more():
    accounts = [
        {"account_id": "A1", "customer_id": "C1", "product_id": "P001", "opened_at": "2020-01-01"},
        {"account_id": "A2", "customer_id": "C1", "product_id": "P011", "opened_at": "2024-05-01"},
        {"account_id": "A3", "customer_id": "C1", "product_id": "P044", "opened_at": "2025-01-01", "status": "closed"},
        {"account_id": "A4", "customer_id": "C2", "product_id": "P001", "opened_at": "2021-01-01"},
    ]
    hidden = choose_holdouts(accounts, {"P001": "deposit", "P011": "card", "P044": "insurance"}, 5, seed=1)
    assert hidden == {"C1": HiddenAccount("C1", "A2", "P011", "card", "2024-05-01")}


def test_holdouts_are_customers_whose_latest_opening_is_recent():
    accounts = [
        {"account_id": "A1", "customer_id": "C1", "product_id": "P001", "opened_at": "2020-01-01"},
        {"account_id": "A2", "customer_id": "C1", "product_id": "P011", "opened_at": "2026-08-01"},
        {"account_id": "A3", "customer_id": "C2", "product_id": "P001", "opened_at": "2018-01-01"},
        {"account_id": "A4", "customer_id": "C2", "product_id": "P044", "opened_at": "2022-03-01"},
    ]
    categories = {"P001": "deposit", "P011": "card", "P044": "insurance"}
    hidden = choose_holdouts(accounts, categories, 5, seed=1, opened_since="2026-04-03")
    assert list(hidden) == ["C1"] and hidden["C1"].account_id == "A2"


def test_holdout_copy_has_no_row_mentioning_a_hidden_account(small_bank, tmp_path):
    hidden = choose_holdouts(read_jsonl(small_bank / "accounts.jsonl"), _categories(small_bank), 40, seed=2)
    removed = write_holdout_copy(small_bank, tmp_path, hidden)
    copied = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert len(hidden) == 40 and removed["accounts_removed"] == 40
    for account in hidden.values():
        assert account.account_id.encode() not in copied
    assert not (tmp_path / "ground_truth").exists()


def test_holdout_copy_drops_the_hidden_products_payments_from_its_opening_date(small_bank, tmp_path):
    hidden = choose_holdouts(read_jsonl(small_bank / "accounts.jsonl"), _categories(small_bank), 200, seed=2)
    write_holdout_copy(small_bank, tmp_path, hidden)
    lines = (tmp_path / "transactions.csv").read_text().splitlines()[1:]
    for line in lines:
        _, customer, _, day, _, merchant, *_ = line.split(",")
        account = hidden.get(customer)
        if account and evaluation.INTERNAL_MERCHANTS.get(account.category) == merchant:
            assert day < account.opened_at


def test_card_purchases_move_to_the_customers_oldest_remaining_account(small_bank, tmp_path):
    hidden = choose_holdouts(read_jsonl(small_bank / "accounts.jsonl"), _categories(small_bank), 200, seed=2)
    cards = {cid for cid, account in hidden.items() if account.category == "card"}
    removed = write_holdout_copy(small_bank, tmp_path, hidden)
    if not cards:
        pytest.skip("no hold-out's latest product is a card in this bank")
    assert removed["transactions_moved"] > 0
    remaining = {a["account_id"] for a in read_jsonl(tmp_path / "accounts.jsonl")}
    for line in (tmp_path / "transactions.csv").read_text().splitlines()[1:]:
        assert line.split(",")[2] in remaining


# ----- the whole synthetic evaluation, ingestion and tools faked at their seams -----


def test_evaluation_returns_every_key(monkeypatch, tmp_path):
    def fake_ingest(settings, mode):
        assert settings.data_dir == tmp_path / "data" and settings.mongodb_uri is None
        return SimpleNamespace(status="succeeded")

    def hidden_first(settings, hidden, targets, popularity):  # a perfect tool
        cases = [Case(h.product_id, frozenset(), targets[cid], [h.product_id]) for cid, h in hidden.items()]
        scope = sorted(popularity)
        return {name: tool_block(cases, popularity, scope, name) for name in ("personal", "healthcare", "family")}

    monkeypatch.setattr("assistant.worker.run_ingest_now", fake_ingest)
    monkeypatch.setattr(evaluation, "_score_live", hidden_first)
    report = evaluation.evaluate_recommendations(Settings(data_dir=tmp_path / "live"), customers=200, holdouts=30,
                                                 seed=5, work_dir=tmp_path)
    assert set(report) == {"kind", "customers", "holdouts", "seed", "opened_since", "hidden_categories", "removed",
                           "tools", "goal"}
    assert report["holdouts"] == 30
    for block in report["tools"].values():
        assert set(block) == {"note", "tool", "popularity", "random", "returned_nothing", "hr_at_3_by_category"}
        assert set(block["tool"]) == {"cases", "hr_at_3", "ndcg_at_5", "needs_cases", "needs_hit_at_3"}
        assert block["tool"]["hr_at_3"] == 1.0
    assert report["goal"]["met"] is True
    assert "NOT MET" not in format_report(report) and "personal" in format_report(report)
    assert not (tmp_path / "live").exists()


# ----- Berka -----


def _client(**overrides) -> dict:
    client = {
        "birth_date": "1960-01-01", "gender": "F", "district_id": 1,
        "accounts": [{"role": "owner", "frequency": "monthly", "opened_at": "1995-01-01", "loan_status": "A"}],
        "standing_orders": {"household": {"count": 1, "total": 100.0},
                            "loan_payment": {"count": 1, "total": 900.0}},
        "cards": [{"type": "gold"}], "has_card": "gold", "loans": [{"amount": 1.0}], "has_loan": "A",
    }
    return client | overrides


def test_loan_features_leave_out_the_loan_repayment_orders_and_never_read_the_labels():
    districts = {"1": {"region": "Prague", "average_salary_czk_month": 12541}}
    _, card_y, card_names = berka_matrix([_client(), _client(has_card=None)], districts, "card")
    loan_x, loan_y, loan_names = berka_matrix([_client(), _client(has_loan=None)], districts, "loan")
    assert "orders_loan_payment_count" in card_names and "orders_loan_payment_count" not in loan_names
    assert list(card_y) == [1, 0] and list(loan_y) == [1, 0]
    assert "district_average_salary_czk_month" in loan_names and "district_region" not in loan_names
    assert (loan_x[0] == loan_x[1]).all()  # the label differs, the features cannot tell
    assert berka_features(_client(), districts)["age"] == pytest.approx(39.0, abs=0.01)


def test_berka_task_reports_every_model_and_fargo_is_the_validation_winner():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=400) > 0.8).astype(int)
    result = berka_task(x, y, seed=1, test_share=0.3, iterations=20)
    assert set(result["test"]) == {"random", "logistic_regression", "gradient_boosting", "fargo"}
    assert result["test"]["fargo"] == result["test"][result["fargo_model"]]
    assert result["test"]["logistic_regression"]["roc_auc"] > 0.85
    assert abs(result["test"]["random"]["roc_auc"] - 0.5) < 0.05
    assert result["test_clients"] == 120 and result["positives_test"] == round(y.mean() * 120)


@pytest.mark.skipif(not BERKA.is_dir(), reason="the Berka tables are not on this machine")
def test_berka_matrix_on_the_real_tables_has_one_row_per_client(tmp_path):
    from ingest.berka import CLIENTS_FILE, DISTRICTS_FILE, import_berka

    import_berka(BERKA, tmp_path)
    clients = read_jsonl(tmp_path / CLIENTS_FILE)
    x, y, names = berka_matrix(clients, orjson.loads((tmp_path / DISTRICTS_FILE).read_bytes()), "loan")
    assert x.shape == (len(clients), len(names)) and 0 < y.mean() < 0.5
    assert not any("loan" in name for name in names)
