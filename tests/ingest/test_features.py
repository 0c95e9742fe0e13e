"""Features are computed from the customer's own records, and the summary says only what they hold."""

from __future__ import annotations

from datetime import date

from ingest.features import (
    CustomerRecords,
    compute_features,
    life_stage,
    month_keys,
    trend,
)

AS_OF = date(2026, 10, 31)


def bucket(month: str, *txns: tuple[float, str, str]) -> dict:
    return {
        "month": month,
        "transactions": [
            {"amount": amount, "category": category, "channel": channel} for amount, category, channel in txns
        ],
    }


def records() -> CustomerRecords:
    return CustomerRecords(
        customer={
            "customer_id": "C1",
            "date_of_birth": "1986-11-01",
            "marital_status": "married",
            "dependants": 2,
            "city": "Denver",
            "occupation": "Nurse",
            "annual_income": 80000,
        },
        accounts=[
            {"product_id": "P001", "balance": 2500.0, "status": "open"},
            {"product_id": "P010", "balance": -300.0, "status": "open"},
            {"product_id": "P020", "balance": 900.0, "status": "closed"},
        ],
        transaction_buckets=[
            bucket("2026-09", (-400.0, "travel", "online"), (5000.0, "payroll", "payroll")),
            bucket("2026-10", (-240.0, "travel", "online"), (-60.5, "dining", "card_present"), (5000.0, "payroll", "payroll")),
            bucket("2025-10", (-999.0, "travel", "online")),  # 13 months back: outside the window
        ],
        disclosures=[
            {"kind": "life_goal", "topic": "first_home"},
            {"kind": "health", "topic": "diabetes"},
        ],
        kyc_documents=[{"status": "pending"}, {"status": "verified"}],
    )


def test_month_keys_cover_twelve_months_ending_at_as_of():
    months = month_keys(AS_OF)
    assert months[0] == "2025-11" and months[-1] == "2026-10" and len(months) == 12


def test_spend_income_and_holdings_come_from_the_customers_records():
    features = compute_features(records(), AS_OF, {"P001": "Everyday Checking", "P010": "Voyager Card"})

    assert features["age"] == 39
    assert features["life_stage"] == "established"
    assert features["spend_12m"] == {"dining": 60.5, "travel": 640.0}
    assert features["spend_by_month"]["travel"][-2:] == [400.0, 240.0]
    assert features["income_estimate"] == 60000.0
    assert features["products_held"] == ["P001", "P010"]
    assert features["deposit_balance"] == 2500.0
    assert features["kyc_verified"] is True


def test_health_disclosures_stay_out_of_general_features():
    features = compute_features(records(), AS_OF, {})

    assert features["goals"] == ["first_home"]
    assert "diabetes" not in features["profile_summary"]


def test_profile_summary_reads_from_the_features():
    summary = compute_features(records(), AS_OF, {"P001": "Everyday Checking", "P010": "Voyager Card"})[
        "profile_summary"
    ]

    assert summary.startswith("39-year-old married nurse in Denver with 2 dependants (established).")
    assert "Estimated income $60,000 a year" in summary
    assert "Spends most on travel, dining." in summary
    assert "Goals: first home." in summary
    assert "Holds Everyday Checking, Voyager Card." in summary


def test_trend_is_the_monthly_slope_and_life_stages_have_edges():
    assert trend([100, 200, 300]) == 100.0
    assert trend([50]) == 0.0
    assert life_stage(25) == "young adult" and life_stage(26) == "early career" and life_stage(65) == "retired"
