"""Column-by-column validation accepts exactly what the model accepts, and makes the same records."""

from __future__ import annotations

import itertools

import orjson
from pydantic import ValidationError

from ingest.columns import ColumnCheck
from retrieval.records import (
    TRANSACTION_COLUMNS,
    Account,
    Customer,
    Disclosure,
    Transaction,
)

GOOD = ["T1", "C1", "A1", "2026-03-02", "-12.50", "Blue Air", "travel", "4511", "online"]
# Values the model takes as they are, cleans up, or refuses, per column.
TRICKY = {
    "transaction_id": ["", " T2 ", "T3"],
    "date": ["2026-02-30", " 2026-03-01", "20260301", "2026-03-01T00:00:00", "yesterday", "2026-3-1"],
    "amount": ["1e3", "nan", "abc", " 5 ", "1_000", "-0", "3.", ""],
    "merchant": ["", " ", " Shop "],
    "category": ["", " ", "  groceries"],
    "mcc": ["", "5411"],
    "channel": ["ONLINE", " online", "fax", "payroll", ""],
}


def by_the_model(row: list[str]) -> dict | None:
    data = {key: value for key, value in zip(TRANSACTION_COLUMNS, row, strict=False) if value != ""}
    try:
        return Transaction.model_validate(data).model_dump(mode="json")
    except ValidationError:
        return None


def tricky_rows() -> list[list[str]]:
    rows = [list(GOOD)]
    for column, values in TRICKY.items():
        index = TRANSACTION_COLUMNS.index(column)
        rows.extend([*GOOD[:index], value, *GOOD[index + 1 :]] for value in values)
    rows.extend([["T9", "C1", "A1", date, amount, "", "fees", "", channel]]
                for date, amount, channel in itertools.product(TRICKY["date"][:2], TRICKY["amount"][:3], ["atm", "x"]))
    return rows


def test_records_match_the_model_row_for_row_or_are_left_to_it():
    rows = tricky_rows()
    check = ColumnCheck.for_file(Transaction, list(TRANSACTION_COLUMNS))
    records = check.records(rows) + check.records(rows)  # the second time from what the columns remember

    for row, record in zip(rows + rows, records, strict=True):
        expected = by_the_model(row)
        if record is not None:  # compared as JSON text: keys in the same order, and a NaN equals a NaN
            assert orjson.dumps(record) == orjson.dumps(expected), row
    assert records[0] == by_the_model(GOOD)
    assert sum(record is not None for record in records) > len(rows) // 2


def test_absent_columns_take_the_defaults_and_short_or_long_rows_go_to_the_model():
    header = [name for name in TRANSACTION_COLUMNS if name not in ("merchant", "mcc")]
    check = ColumnCheck.for_file(Transaction, header)
    good = ["T1", "C1", "A1", "2026-03-02", "-12.5", "travel", "online"]
    records = check.records([good, good[:-1], [*good, "extra"]])
    assert records[0] == {**dict(zip(header, good, strict=True)), "amount": -12.5, "merchant": "", "mcc": ""}
    assert records[1:] == [None, None]


def test_only_models_judged_field_by_field_and_known_columns_qualify():
    assert ColumnCheck.for_file(Disclosure, ["disclosure_id"]) is None  # a model validator
    assert ColumnCheck.for_file(Customer, ["customer_id"]) is None  # a field validator, sub-documents
    assert ColumnCheck.for_file(Transaction, [*TRANSACTION_COLUMNS, "note"]) is None
    assert ColumnCheck.for_file(Transaction, [*TRANSACTION_COLUMNS, "date"]) is None
    assert ColumnCheck.for_file(Account, ["account_id", "customer_id", "product_id", "opened_at"]) is not None
