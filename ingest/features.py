"""Feature engineering: one customer's stored records in, one feature document out.

Pure functions: the job reads the records, this module computes, the job
writes. The profile summary (the "linguistic construct") is rendered from the
features by a template, so it never says more than the numbers do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from jinja2 import Environment, StrictUndefined

from retrieval.formats import money
from retrieval.graph import age_on

MONTHS = 12
RECENT_MONTHS = 3
MIN_TREND_MONTHS = 3  # fewer whole months observed show no direction, only noise
INCOME_CATEGORIES = {"payroll", "salary", "income", "pension"}

LIFE_STAGES = (
    (0, 25, "young adult"),
    (26, 34, "early career"),
    (35, 49, "established"),
    (50, 64, "pre-retirement"),
    (65, 200, "retired"),
)

_SUMMARY = Environment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True).from_string(
    "{{ age }}-year-old {{ marital_status }} {{ occupation or 'customer' }} in {{ city }}"
    "{% if dependants %} with {{ dependants }} dependant{{ 's' if dependants > 1 }}{% endif %}"
    " ({{ life_stage }}). "
    "{% if income_estimate %}Estimated income {{ money(income_estimate) }} a year from payroll. "
    "{% endif %}"
    "{% if top_spend %}Spends most on {{ top_spend | join(', ') }}. {% endif %}"
    "{% if rising %}Spending rising on {{ rising | join(', ') }}. {% endif %}"
    "{% if goals %}Goals: {{ goals | join(', ') }}. {% endif %}"
    "{% if held %}Holds {{ held | join(', ') }}.{% else %}Holds no products yet.{% endif %}",
    globals={"money": money},
)


@dataclass
class CustomerRecords:
    """Everything stored about one customer that features are computed from."""

    customer: dict
    accounts: list[dict] = field(default_factory=list)
    transaction_buckets: list[dict] = field(default_factory=list)
    disclosures: list[dict] = field(default_factory=list)
    kyc_documents: list[dict] = field(default_factory=list)


def life_stage(age: int) -> str:
    return next(stage for low, high, stage in LIFE_STAGES if low <= age <= high)


def month_keys(as_of: date, months: int = MONTHS) -> list[str]:
    """The `months` calendar months ending with as_of's month, oldest first, as 'YYYY-MM'."""
    index = as_of.year * 12 + as_of.month - 1
    return [f"{(index - back) // 12:04d}-{(index - back) % 12 + 1:02d}" for back in range(months - 1, -1, -1)]


def monthly_spend(buckets: list[dict], months: list[str]) -> tuple[dict[str, list[float]], list[float]]:
    """Spend per category per month (positive dollars) and income credits per month."""
    position = {month: i for i, month in enumerate(months)}
    spend: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(months))
    income = [0.0] * len(months)
    for bucket in buckets:
        slot = position.get(bucket["month"])
        if slot is None:
            continue
        for txn in bucket["transactions"]:
            if txn["amount"] < 0:
                spend[txn["category"]][slot] += -txn["amount"]
            elif txn.get("channel") == "payroll" or txn["category"] in INCOME_CATEGORIES:
                income[slot] += txn["amount"]
    return {category: [round(v, 2) for v in values] for category, values in sorted(spend.items())}, income


def as_date(value: date | str | None) -> date | None:
    """A stored date (a date, a datetime or an ISO string) as a date; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def joined_on(records: CustomerRecords) -> date | None:
    """When the customer's history with the bank starts: the earliest of customer_since, an account opening
    and a transaction; None when nothing says."""
    dates = [as_date(records.customer.get("customer_since"))]
    dates += [as_date(account.get("opened_at")) for account in records.accounts]
    dates += [as_date(txn.get("date")) for bucket in records.transaction_buckets for txn in bucket["transactions"]]
    known = [day for day in dates if day is not None]
    return min(known) if known else None


def observed_months(months: list[str], joined: date | None) -> int:
    """How many of `months` (oldest first) the customer was with the bank in, the month they joined included."""
    if joined is None:
        return len(months)
    return sum(1 for month in months if month >= f"{joined.year:04d}-{joined.month:02d}")


def whole_observed_months(months: list[str], joined: date | None) -> int:
    """Observed months without a part-month of joining inside the window: half a month would look like a rise."""
    observed = observed_months(months, joined)
    joined_part_way = joined is not None and joined.day > 1 and 0 < observed < len(months)
    return observed - 1 if joined_part_way else observed


def spend_trends(spend: dict[str, list[float]], whole_months: int) -> dict[str, float]:
    """Each category's slope over the last `whole_months` months only: months before the customer joined are
    not zero spend, they are unknown."""
    if whole_months < MIN_TREND_MONTHS:
        return {category: 0.0 for category in spend}
    return {category: trend(values[-whole_months:]) for category, values in spend.items()}


def trend(values: list[float]) -> float:
    """Least-squares slope in dollars per month."""
    n = len(values)
    if n < 2 or not any(values):
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    covariance = sum([(x - mean_x) * (y - mean_y) for x, y in enumerate(values)])
    variance = n * (n * n - 1) / 12  # the sum of (x - mean_x)^2, exactly: its terms are quarters
    return round(covariance / variance, 2)


def income_estimate(income_by_month: list[float]) -> float:
    """Annualised payroll over the months that had any, so a new customer is not under-counted."""
    paid = [value for value in income_by_month if value > 0]
    return round(sum(paid) / len(paid) * 12, 2) if paid else 0.0


@dataclass
class Aggregates:
    """What features are made of, per customer: the part an engine computes over the whole bank at once."""

    spend: dict[str, list[float]]  # category -> spend per month of the window, rounded to cents
    income_by_month: list[float]
    joined: date | None
    deposit_balance: float  # open accounts' positive balances, summed
    products_held: list[str]
    goals: list[str]
    kyc_verified: bool


def aggregate(records: CustomerRecords, months: list[str]) -> Aggregates:
    """One customer's aggregates from their stored records (the `python` feature engine)."""
    spend, income = monthly_spend(records.transaction_buckets, months)
    open_accounts = [acc for acc in records.accounts if acc.get("status", "open") == "open"]
    return Aggregates(
        spend=spend,
        income_by_month=income,
        joined=joined_on(records),
        deposit_balance=sum(acc.get("balance") or 0 for acc in open_accounts if (acc.get("balance") or 0) > 0),
        products_held=sorted({acc["product_id"] for acc in open_accounts}),
        goals=sorted({d["topic"] for d in records.disclosures if d["kind"] != "health"}),
        kyc_verified=any(doc["status"] == "verified" for doc in records.kyc_documents),
    )


def compute_features(records: CustomerRecords, as_of: date, product_names: dict[str, str]) -> dict:
    """The feature document for one customer (without run id or storage keys)."""
    months = month_keys(as_of)
    return feature_document(records.customer, aggregate(records, months), as_of, months, product_names)


def feature_document(customer: dict, totals: Aggregates, as_of: date, months: list[str],
                     product_names: dict[str, str]) -> dict:
    """The feature document from a customer's record and aggregates, whichever engine computed them."""
    age = age_on(date.fromisoformat(customer["date_of_birth"]), as_of)
    spend = totals.spend
    features = {
        "customer_id": customer["customer_id"],
        "as_of": as_of.isoformat(),
        "age": age,
        "life_stage": life_stage(age),
        "marital_status": customer["marital_status"],
        "dependants": customer.get("dependants", 0),
        "city": customer["city"],
        "occupation": customer.get("occupation", ""),
        "declared_income": customer["annual_income"],
        "income_estimate": income_estimate(totals.income_by_month),
        "months": months,
        "months_observed": observed_months(months, totals.joined),  # spend_12m covers only these
        "spend_by_month": spend,
        "spend_12m": {category: round(sum(values), 2) for category, values in spend.items()},
        "spend_trend": spend_trends(spend, whole_observed_months(months, totals.joined)),
        "deposit_balance": round(totals.deposit_balance, 2),
        "products_held": totals.products_held,
        "goals": totals.goals,
        "kyc_verified": totals.kyc_verified,
        "risk_appetite": customer.get("risk_appetite", "medium"),
    }
    features["profile_summary"] = profile_summary(features, product_names)
    return features


def profile_summary(features: dict, product_names: dict[str, str]) -> str:
    spend = features["spend_12m"]
    top_spend = sorted(spend, key=spend.get, reverse=True)[:3]
    rising = [c for c, slope in sorted(features["spend_trend"].items(), key=lambda kv: -kv[1]) if slope > 25][:2]
    return _SUMMARY.render(
        age=features["age"],
        marital_status=features["marital_status"],
        occupation=features["occupation"].lower(),
        city=features["city"],
        dependants=features["dependants"],
        life_stage=features["life_stage"],
        income_estimate=features["income_estimate"],
        top_spend=[c.replace("_", " ") for c in top_spend],
        rising=[c.replace("_", " ") for c in rising],
        goals=[g.replace("_", " ") for g in features["goals"]],
        held=[product_names.get(p, p) for p in features["products_held"]],
    )
