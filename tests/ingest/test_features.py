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


def bucket(month: str, *txns: tuple[float, str, str], day: int | None = None) -> dict:
    dated = {"date": f"{month}-{day:02d}"} if day else {}
    return {
        "month": month,
        "transactions": [
            {"amount": amount, "category": category, "channel": channel, **dated} for amount, category, channel in txns
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


def joiner(since: str, *spend_by_month: tuple[str, float]) -> CustomerRecords:
    """A customer who joined on `since` and spent the given amounts on utilities and groceries each month."""
    customer = {**records().customer, "customer_since": since}
    buckets = [bucket(month, (-amount, "utilities", "direct_debit"), (-2 * amount, "groceries", "card_present"),
                      day=20) for month, amount in spend_by_month]
    return CustomerRecords(customer=customer, accounts=[{"product_id": "P001", "opened_at": since}],
                           transaction_buckets=buckets)


FLAT_SINCE_JUNE = [("2026-06", 150.0), ("2026-07", 150.0), ("2026-08", 150.0), ("2026-09", 150.0), ("2026-10", 150.0)]


def test_a_customer_who_joined_five_months_ago_with_flat_spending_is_not_rising():
    features = compute_features(joiner("2026-06-01", *FLAT_SINCE_JUNE), AS_OF, {})

    assert features["months_observed"] == 5
    assert features["spend_trend"] == {"groceries": 0.0, "utilities": 0.0}
    assert features["spend_12m"] == {"groceries": 1500.0, "utilities": 750.0}  # what they spent, not annualised
    assert "rising" not in features["profile_summary"]


def test_the_part_month_a_customer_joined_in_does_not_read_as_a_rise():
    half_june = [("2026-06", 75.0), *FLAT_SINCE_JUNE[1:]]
    features = compute_features(joiner("2026-06-16", *half_june), AS_OF, {})

    assert features["months_observed"] == 5
    assert features["spend_trend"] == {"groceries": 0.0, "utilities": 0.0}


def test_spending_that_rises_after_joining_is_still_rising():
    rising = [("2026-06", 100.0), ("2026-07", 150.0), ("2026-08", 200.0), ("2026-09", 250.0), ("2026-10", 300.0)]
    features = compute_features(joiner("2026-06-01", *rising), AS_OF, {})

    assert features["spend_trend"] == {"groceries": 100.0, "utilities": 50.0}
    assert "Spending rising on groceries, utilities." in features["profile_summary"]


def test_fewer_than_three_months_with_the_bank_show_no_trend():
    features = compute_features(joiner("2026-09-01", ("2026-09", 100.0), ("2026-10", 400.0)), AS_OF, {})

    assert features["months_observed"] == 2
    assert features["spend_trend"] == {"groceries": 0.0, "utilities": 0.0}


def test_the_earliest_of_joining_account_opening_and_first_transaction_starts_the_history():
    later_since = joiner("2026-09-01", *FLAT_SINCE_JUNE)
    later_since.accounts = [{"product_id": "P001", "opened_at": "2026-08-01"}]
    assert compute_features(later_since, AS_OF, {})["months_observed"] == 5  # June's transactions came first

    old_account = joiner("2026-09-01", *FLAT_SINCE_JUNE)
    old_account.accounts = [{"product_id": "P001", "opened_at": date(2019, 4, 1)}]
    assert compute_features(old_account, AS_OF, {})["months_observed"] == 12  # a long-standing customer


def test_a_customer_with_the_bank_all_year_or_with_no_dates_is_observed_for_twelve_months():
    long_standing = records()
    long_standing.customer["customer_since"] = "2015-03-09"
    assert compute_features(long_standing, AS_OF, {})["months_observed"] == 12
    assert compute_features(records(), AS_OF, {})["months_observed"] == 12
