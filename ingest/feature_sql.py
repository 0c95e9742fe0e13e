"""The feature stage as SQL, written once for every engine (DuckDB embedded, Spark on a cluster).

The queries read six flat views each engine defines over the exported records:

    customers(customer_id, date_of_birth, marital_status, dependants, city, occupation, annual_income,
              risk_appetite, customer_since)
    accounts(customer_id, product_id, status, balance, opened_at)
    transactions(customer_id, month, date, amount, category, channel)   one row per transaction
    disclosures(customer_id, kind, topic)
    kyc_documents(customer_id, status)
    targets(customer_id)                                                the customers to compute

The transactions are read once (`monthly_query`, kept by the engine as `monthly`). They use only what both engines' SQL share (joins, GROUP BY, CASE, SUM/MIN/MAX,
substr, array_agg), so one text runs on either. They scan and aggregate the
bank's records; `ingest.features.feature_document` turns each customer's
aggregates into the document, the same function the python path uses, so the
documents are the same whichever engine ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from itertools import groupby

from ingest.features import INCOME_CATEGORIES, Aggregates

CUSTOMER_COLUMNS = ("customer_id", "date_of_birth", "marital_status", "dependants", "city", "occupation",
                    "annual_income", "risk_appetite")


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def _per_month(months: list[str], column: str, prefix: str, cents: bool = False) -> str:
    def total(month: str) -> str:
        summed = f"SUM(CASE WHEN m.month = '{month}' THEN m.{column} ELSE 0 END)"
        return f"round({summed}, 2)" if cents else summed

    return ",\n       ".join(f"{total(month)} AS {prefix}{slot:02d}" for slot, month in enumerate(months))


def monthly_query() -> str:
    """The one pass over the transactions: per customer, month and category, what was spent and earned.
    Engines keep its result (`monthly`) for the queries below."""
    return f"""
SELECT t.customer_id, t.month, t.category,
       SUM(CASE WHEN t.amount < 0 THEN -t.amount ELSE 0 END) AS spent,
       MAX(CASE WHEN t.amount < 0 THEN 1 ELSE 0 END) AS has_spend,
       SUM(CASE WHEN t.amount >= 0 AND (t.channel = 'payroll' OR t.category IN ({_quoted(sorted(INCOME_CATEGORIES))}))
                THEN t.amount ELSE 0 END) AS earned,
       MIN(CASE WHEN t.date <> '' THEN substr(t.date, 1, 10) END) AS first_day
FROM transactions t JOIN targets g ON t.customer_id = g.customer_id
GROUP BY t.customer_id, t.month, t.category"""


def spend_query(months: list[str]) -> str:
    """Spend per customer and category, one column per month of the window, ordered by customer and category.
    A month's spend is a sum of amounts in cents, so rounding it here and in Python agree."""
    return f"""
SELECT m.customer_id, m.category,
       {_per_month(months, "spent", "m", cents=True)}
FROM monthly m
WHERE m.has_spend = 1 AND m.month IN ({_quoted(months)})
GROUP BY m.customer_id, m.category
ORDER BY m.customer_id, m.category"""


def customer_query(months: list[str]) -> str:
    """One row per target customer: the record's fields, then first days, balances, lists, income per month."""
    columns = ", ".join(f"c.{name}" for name in CUSTOMER_COLUMNS)
    income = ", ".join(f"i.i{slot:02d}" for slot in range(len(months)))
    return f"""
WITH income AS (
  SELECT m.customer_id,
       {_per_month(months, "earned", "i")}
  FROM monthly m
  WHERE m.month IN ({_quoted(months)})
  GROUP BY m.customer_id
), first_transaction AS (
  SELECT m.customer_id, MIN(m.first_day) AS first_day
  FROM monthly m
  GROUP BY m.customer_id
), held AS (
  SELECT a.customer_id,
         MIN(substr(a.opened_at, 1, 10)) AS first_opened,
         SUM(CASE WHEN a.status = 'open' AND a.balance > 0 THEN a.balance ELSE 0 END) AS deposit_balance,
         array_agg(CASE WHEN a.status = 'open' THEN a.product_id END) AS products
  FROM accounts a JOIN targets g ON a.customer_id = g.customer_id
  GROUP BY a.customer_id
), goals AS (
  SELECT d.customer_id, array_agg(d.topic) AS topics
  FROM disclosures d JOIN targets g ON d.customer_id = g.customer_id
  WHERE d.kind <> 'health'
  GROUP BY d.customer_id
), kyc AS (
  SELECT k.customer_id, MAX(CASE WHEN k.status = 'verified' THEN 1 ELSE 0 END) AS verified
  FROM kyc_documents k JOIN targets g ON k.customer_id = g.customer_id
  GROUP BY k.customer_id
)
SELECT {columns},
       substr(c.customer_since, 1, 10) AS customer_since, f.first_day, h.first_opened,
       h.deposit_balance, h.products, o.topics, k.verified, {income}
FROM customers c
JOIN targets g ON c.customer_id = g.customer_id
LEFT JOIN income i ON c.customer_id = i.customer_id
LEFT JOIN first_transaction f ON c.customer_id = f.customer_id
LEFT JOIN held h ON c.customer_id = h.customer_id
LEFT JOIN goals o ON c.customer_id = o.customer_id
LEFT JOIN kyc k ON c.customer_id = k.customer_id
ORDER BY c.customer_id"""


def customer_aggregates(customer_rows: Iterable[tuple], spend_rows: Iterable[tuple],
                        months: int) -> Iterator[tuple[dict, Aggregates]]:
    """Join the two queries' rows (both ordered by customer id) into each customer's record and aggregates."""
    spend_groups = groupby(spend_rows, key=lambda row: row[0])
    pending = next(spend_groups, None)
    width = len(CUSTOMER_COLUMNS)
    for row in customer_rows:
        customer = dict(zip(CUSTOMER_COLUMNS, row[:width], strict=True))
        customer_since, first_day, first_opened, deposit, products, topics, verified = row[width:width + 7]
        while pending is not None and pending[0] < customer["customer_id"]:
            pending = next(spend_groups, None)  # spend of a customer without a record: nothing to attach it to
        spend: dict[str, list[float]] = {}
        if pending is not None and pending[0] == customer["customer_id"]:
            spend = {category: list(values) for _, category, *values in pending[1]}
            pending = next(spend_groups, None)
        known = [day for day in (customer_since, first_day, first_opened) if day]
        yield customer, Aggregates(
            spend=spend,
            income_by_month=[value or 0.0 for value in row[width + 7:width + 7 + months]],
            joined=date.fromisoformat(min(known)) if known else None,
            deposit_balance=deposit or 0.0,
            products_held=sorted({product for product in products or () if product is not None}),
            goals=sorted(set(topics or ())),
            kyc_verified=bool(verified),
        )
