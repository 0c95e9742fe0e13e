"""The loader keeps good records, reports bad ones, and is idempotent."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from ingest import csv_buckets, loader, sources
from ingest.loader import latest_transaction_month, load_directory
from ingest.sources import SourceFileError
from retrieval.records import SOURCES, TRANSACTION_COLUMNS


def write_jsonl(path: Path, rows: list[dict | str]) -> None:
    lines = [row if isinstance(row, str) else orjson.dumps(row).decode() for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def product(product_id: str, name: str, category: str = "card") -> dict:
    return {"product_id": product_id, "name": name, "category": category, "description": f"{name} for everyday use"}


def customer(customer_id: str, **overrides) -> dict:
    base = {
        "customer_id": customer_id,
        "first_name": "Ana",
        "last_name": "Lopez",
        "date_of_birth": "1985-04-12",
        "city": "Denver",
        "annual_income": 72000,
        "marital_status": "married",
        "consent": {"marketing": True, "share_with_family": False},
    }
    return base | overrides


def account(account_id: str, customer_id: str, product_id: str) -> dict:
    return {
        "account_id": account_id,
        "customer_id": customer_id,
        "product_id": product_id,
        "opened_at": "2021-06-01",
        "balance": 1200.5,
    }


def write_transactions(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRANSACTION_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def transaction(transaction_id: str, customer_id: str, account_id: str, day: str, amount: float) -> dict:
    return {
        "transaction_id": transaction_id,
        "customer_id": customer_id,
        "account_id": account_id,
        "date": day,
        "amount": amount,
        "merchant": "Blue Air",
        "category": "travel",
        "mcc": "4511",
        "channel": "online",
    }


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bank"
    directory.mkdir()
    write_jsonl(directory / "products.jsonl", [product("P001", "Voyager Card"), product("P002", "Everyday Checking", "deposit")])
    write_jsonl(
        directory / "customers.jsonl",
        [
            customer("C1"),
            customer("C2", date_of_birth="1990-02-31"),  # bad date
            customer("C3", annual_income=-5000),  # negative income
            customer("C4", first_name="Bo", consent={"marketing": False, "share_with_family": True}),
        ],
    )
    write_jsonl(
        directory / "accounts.jsonl",
        [account("A1", "C1", "P001"), account("A2", "C1", "P999"), account("A3", "C4", "P002")],  # P999 unknown
    )
    write_transactions(
        directory / "transactions.csv",
        [
            transaction("T1", "C1", "A1", "2026-03-02", -640.0),
            transaction("T2", "C1", "A1", "2026-03-20", -125.25),
            transaction("T3", "C4", "A3", "2026-04-01", 3100.0),
        ],
    )
    return directory


def test_bad_rows_are_reported_and_every_good_row_loads(store, bank_dir: Path):
    summary = load_directory(store, bank_dir)

    reasons = {(r.file, r.line, r.field): r.reason for r in summary.rejections}
    assert set(reasons) == {
        ("customers.jsonl", 2, "date_of_birth"),
        ("customers.jsonl", 3, "annual_income"),
        ("accounts.jsonl", 2, "product_id"),
    }
    assert "date" in reasons[("customers.jsonl", 2, "date_of_birth")]
    assert "greater than or equal to 0" in reasons[("customers.jsonl", 3, "annual_income")]
    assert "unknown product id 'P999'" in reasons[("accounts.jsonl", 2, "product_id")]

    assert sorted(doc["_id"] for doc in store["customers"].find({})) == ["C1", "C4"]
    assert sorted(doc["_id"] for doc in store["accounts"].find({})) == ["A1", "A3"]
    assert summary.files["customers.jsonl"].loaded == 2
    assert summary.files["customers.jsonl"].rejected == 2
    assert summary.total("rejected") == 3


def test_loaded_records_keep_their_types(store, bank_dir: Path):
    load_directory(store, bank_dir)

    ana = store["customers"].find_one({"_id": "C1"})
    assert ana["date_of_birth"] == "1985-04-12"
    assert ana["annual_income"] == 72000
    assert ana["consent"]["marketing"] is True
    assert ana["consent"]["share_with_family"] is False


def test_transactions_land_in_customer_month_buckets(store, bank_dir: Path):
    load_directory(store, bank_dir)

    march = store["transactions"].find_one({"_id": "C1:2026-03"})
    assert [txn["transaction_id"] for txn in march["transactions"]] == ["T1", "T2"]
    assert [txn["amount"] for txn in march["transactions"]] == [-640.0, -125.25]
    assert store["transactions"].count_documents({"customer_id": "C4"}) == 1


def test_reloading_the_same_files_changes_nothing(store, bank_dir: Path):
    load_directory(store, bank_dir)
    again = load_directory(store, bank_dir)

    assert again.total("loaded") == 0
    assert again.total("updated") == 0
    assert again.files["customers.jsonl"].unchanged == 2
    assert again.files["transactions.csv"].unchanged == 3
    assert store["customers"].count_documents({}) == 2
    assert store["transactions"].count_documents({}) == 2


def test_the_latest_transaction_month_is_kept_by_each_load_and_a_late_correction_does_not_move_it_back(
        store, bank_dir: Path):
    """Features are computed as of the latest month: a load keeps it, so a run does not sort every bucket for it."""
    assert latest_transaction_month(store) is None
    load_directory(store, bank_dir)
    assert latest_transaction_month(store) == "2026-04"

    write_transactions(bank_dir / "transactions.csv", [transaction("T9", "C1", "A1", "2026-02-11", -20.0)])
    load_directory(store, bank_dir)
    assert latest_transaction_month(store) == "2026-04"

    write_transactions(bank_dir / "transactions.csv", [transaction("T10", "C4", "A3", "2026-05-01", 3100.0)])
    load_directory(store, bank_dir)
    assert latest_transaction_month(store) == "2026-05"


def test_a_store_written_without_a_load_is_read_for_its_latest_month_and_the_next_load_keeps_it(
        store, bank_dir: Path):
    store["transactions"].insert_one({"_id": "C1:2026-07", "customer_id": "C1", "month": "2026-07", "transactions": []})
    assert latest_transaction_month(store) == "2026-07"

    load_directory(store, bank_dir)  # older months than what the store holds
    store["transactions"].delete_one({"_id": "C1:2026-07"})
    assert latest_transaction_month(store) == "2026-07"  # the latest month loaded, as the load found it


def test_a_changed_record_is_counted_as_updated(store, bank_dir: Path):
    load_directory(store, bank_dir)
    write_jsonl(bank_dir / "customers.jsonl", [customer("C1", city="Boulder")])
    write_transactions(bank_dir / "transactions.csv", [transaction("T2", "C1", "A1", "2026-03-20", -99.0)])

    summary = load_directory(store, bank_dir)

    assert summary.files["customers.jsonl"].updated == 1
    assert summary.files["transactions.csv"].updated == 1
    assert store["customers"].find_one({"_id": "C1"})["city"] == "Boulder"
    march = store["transactions"].find_one({"_id": "C1:2026-03"})
    assert {txn["transaction_id"]: txn["amount"] for txn in march["transactions"]} == {"T1": -640.0, "T2": -99.0}
    assert summary.changed_customers == {"C1"}


def test_an_unparseable_file_stops_the_load_and_changes_nothing(store, bank_dir: Path):
    (bank_dir / "accounts.jsonl").write_bytes(b"\xff\xfe\x00garbage\x00\n")

    with pytest.raises(SourceFileError, match="accounts.jsonl: not UTF-8"):
        load_directory(store, bank_dir)

    assert store["customers"].count_documents({}) == 0
    assert store["products"].count_documents({}) == 0


def test_a_csv_without_the_expected_header_is_refused(store, bank_dir: Path):
    (bank_dir / "transactions.csv").write_text("id,when,how_much\n1,2026-01-01,5\n", encoding="utf-8")

    with pytest.raises(SourceFileError, match="header lacks the column"):
        load_directory(store, bank_dir)


def test_a_broken_json_line_is_reported_and_the_rest_loads(store, bank_dir: Path):
    write_jsonl(bank_dir / "customers.jsonl", [customer("C1"), "{not json", customer("C4")])

    summary = load_directory(store, bank_dir)

    assert any(r.file == "customers.jsonl" and r.line == 2 and "not valid JSON" in r.reason for r in summary.rejections)
    assert store["customers"].count_documents({}) == 2


def test_a_directory_without_source_files_is_refused(store, tmp_path: Path):
    with pytest.raises(SourceFileError, match="no source files found"):
        load_directory(store, tmp_path)


def load_row_by_row(store, directory: Path, monkeypatch: pytest.MonkeyPatch, **options):
    """The load as it was before column checks: every CSV row through the model."""
    with monkeypatch.context() as patch:
        patch.setattr(loader.ColumnCheck, "for_file", staticmethod(lambda model, header: None))
        return load_directory(store, directory, **options)


def row_by_row_then_empty(store, directory: Path, monkeypatch: pytest.MonkeyPatch,
                          **options) -> tuple[loader.LoadSummary, list]:
    """What the row-by-row load reports and stores as transactions; the store is left empty for the next load."""
    summary = load_row_by_row(store, directory, monkeypatch, **options)
    documents = stored(store, "transactions")
    for source in SOURCES:
        store.drop_collection(source.collection)
    return summary, documents


def stored(store, collection: str) -> list[dict]:
    return [{key: value for key, value in document.items() if key != "_ingested_at"}
            for document in store[collection].find({}, sort=[("_id", 1)])]


@pytest.mark.parametrize("rows_per_chunk", [3, 50_000])
def test_column_checks_load_and_reject_exactly_as_row_by_row(store, bank_dir: Path, monkeypatch, rows_per_chunk):
    monkeypatch.setattr(sources, "CSV_CHUNK_ROWS", rows_per_chunk)
    good = transaction("T4", "C4", "A3", "2026-04-02", -20.0)
    rows = [
        transaction("T1", "C1", "A1", "2026-03-02", -640.0),
        {**good, "date": "2026-04-31"},  # no such day
        {**good, "transaction_id": "T5", "channel": "fax"},
        {**good, "transaction_id": "T6", "account_id": "A9"},  # unknown account
        {**good, "transaction_id": "T7", "amount": "twelve"},
        {**good, "transaction_id": " T8 ", "merchant": "  Corner Shop ", "mcc": ""},  # cleaned up, kept
        {**good, "transaction_id": "T9", "category": ""},  # a required value missing
        {**good, "transaction_id": "T10", "customer_id": "C2"},  # C2 was rejected
        good,
    ]
    write_transactions(bank_dir / "transactions.csv", rows)
    with (bank_dir / "transactions.csv").open("a", encoding="utf-8") as handle:
        handle.write("T11,C1,A1,2026-03-03,-1.0,Shop,food,5411,online,surplus\n\nT12,C1,A1\n")

    before, before_documents = row_by_row_then_empty(store, bank_dir, monkeypatch)
    after = load_directory(store, bank_dir)

    assert after.rejections == before.rejections
    assert after.files == before.files
    assert stored(store, "transactions") == before_documents
    assert after.files["transactions.csv"].loaded == 3  # T1, T8 (as "T8") and T4
    rejected = {(r.line, r.field) for r in after.rejections if r.file == "transactions.csv"}
    assert rejected == {(3, "date"), (4, "channel"), (5, "account_id"), (6, "amount"), (8, "category"),
                        (9, "customer_id"), (11, "(line)"), (13, "date")}
    assert load_directory(store, bank_dir).files["transactions.csv"].unchanged == 3


def test_a_clean_transactions_file_loads_in_bulk_exactly_as_row_by_row(store, bank_dir: Path, monkeypatch):
    good = transaction("T4", "C4", "A3", "2026-04-02", -20.0)
    rows = [
        {**good, "transaction_id": "T9", "date": "2026-03-30", "customer_id": "C1", "account_id": "A1"},
        transaction("T1", "C1", "A1", "2026-03-02", -640.0),
        {**good, "transaction_id": " T8 ", "merchant": '  Joe\'s "Diner", Café ', "mcc": ""},  # cleaned up
        {**good, "transaction_id": "T7", "amount": "5", "channel": "atm"},
        {**good, "transaction_id": "T6", "date": "2026-02-27"},  # past retention below
        good,
    ]
    write_transactions(bank_dir / "transactions.csv", rows)
    keep = {"transactions": ("date", "2026-03-01")}
    bulk = []
    real = loader.load_transaction_buckets
    monkeypatch.setattr(loader, "load_transaction_buckets",
                        lambda *args, **kwargs: bulk.append(real(*args, **kwargs)) or bulk[-1])

    before, before_documents = row_by_row_then_empty(store, bank_dir, monkeypatch)
    after = load_directory(store, bank_dir, keep_since=keep)

    assert bulk[-1] is not None  # the bulk path loaded it
    assert stored(store, "transactions") == [doc for doc in before_documents if doc["month"] >= "2026-03"]
    assert after.files["transactions.csv"].loaded == 5
    assert after.files["transactions.csv"].expired == 1
    assert after.rejections == before.rejections
    assert after.latest_month == before.latest_month
    assert after.changed_customers == before.changed_customers
    march = store["transactions"].find_one({"_id": "C1:2026-03"})
    assert [txn["transaction_id"] for txn in march["transactions"]] == ["T1", "T9"]
    april = store["transactions"].find_one({"_id": "C4:2026-04"})
    assert {txn["merchant"] for txn in april["transactions"]} == {"Blue Air", 'Joe\'s "Diner", Café'}
    assert load_directory(store, bank_dir, keep_since=keep).files["transactions.csv"].unchanged == 5


def bulk_only(monkeypatch: pytest.MonkeyPatch) -> list:
    """What each bulk load answered (None: declined), with the row-by-row transactions writer made to fail."""
    answers = []
    real = loader.load_transaction_buckets
    monkeypatch.setattr(loader, "load_transaction_buckets",
                        lambda *args, **kwargs: answers.append(real(*args, **kwargs)) or answers[-1])

    def row_by_row(*args, **kwargs):
        raise AssertionError("transactions went down the row-by-row path")

    monkeypatch.setattr(loader._TransactionWriter, "write", row_by_row)
    return answers


def test_one_bad_row_in_a_big_transactions_file_is_set_aside_and_the_rest_load_in_bulk(store, bank_dir: Path,
                                                                                        monkeypatch):
    rows = [transaction(f"T{number}", "C1", "A1", f"2026-03-{1 + number % 28:02d}", -1.5) for number in range(3000)]
    rows[1700] = {**rows[1700], "amount": "lots"}
    write_transactions(bank_dir / "transactions.csv", rows)
    bulk = bulk_only(monkeypatch)

    summary = load_directory(store, bank_dir)

    assert bulk[-1] is not None
    assert [(r.file, r.line, r.field) for r in summary.rejections if r.file == "transactions.csv"] == [
        ("transactions.csv", 1702, "amount")]
    assert summary.files["transactions.csv"].loaded == 2999
    assert summary.files["transactions.csv"].rejected == 1
    assert sum(len(doc["transactions"]) for doc in store["transactions"].find({})) == 2999


def test_bad_rows_are_set_aside_in_bulk_and_reported_exactly_as_row_by_row(store, bank_dir: Path, monkeypatch):
    from retrieval.privacy import ErasureList

    good = transaction("T4", "C4", "A3", "2026-04-02", -20.0)
    rows = [
        transaction("T1", "C1", "A1", "2026-03-02", -640.0),
        {**good, "transaction_id": "T2", "amount": "twelve"},
        {**good, "transaction_id": "T3", "date": "2026-04-31"},  # no such day
        {**good, "transaction_id": "T5", "customer_id": "C2"},  # C2 was rejected: unknown
        {**good, "transaction_id": "T6", "account_id": "A9"},  # unknown account
        {**good, "transaction_id": "T7", "customer_id": "C9", "account_id": "A9"},  # erased: skipped, not unknown
        {**good, "transaction_id": "T8", "date": "2026-02-27", "account_id": "A9"},  # past retention: skipped
        {**good, "transaction_id": "T10", "account_id": "A9", "date": "2026-13-01", "amount": "x"},  # the date first
        {**good, "transaction_id": "T11", "customer_id": "C7", "account_id": "A7"},  # the customer first
        {**good, "transaction_id": "T12", "customer_id": "C9", "amount": "many"},  # erased, but a bad value first
        {**good, "transaction_id": "T13", "category": "", "channel": "fax"},  # a required value missing first
        {**good, "transaction_id": " ", "merchant": "  Corner Shop "},  # an id of spaces only
        {**good, "transaction_id": "T14", "customer_id": "C1", "account_id": "A1", "date": "2026-03-09"},
        good,
    ]
    write_transactions(bank_dir / "transactions.csv", rows)
    key = b"k" * 32
    ErasureList(store, key).add("C9")
    options = {"keep_since": {"transactions": ("date", "2026-03-01")}}
    before, before_documents = row_by_row_then_empty(store, bank_dir, monkeypatch,
                                                     erasures=ErasureList(store, key), **options)
    bulk = bulk_only(monkeypatch)

    after = load_directory(store, bank_dir, erasures=ErasureList(store, key), **options)

    assert bulk[-1] is not None  # the bulk path loaded the file, and the row-by-row writer was not used
    assert stored(store, "transactions") == before_documents
    assert after.rejections == before.rejections
    assert after.files == before.files
    assert (after.latest_month, after.changed_customers) == (before.latest_month, before.changed_customers)
    counts = after.files["transactions.csv"]
    assert (counts.loaded, counts.rejected, counts.erased, counts.expired) == (3, 9, 1, 1)
    assert [(r.line, r.field) for r in after.rejections if r.file == "transactions.csv"] == [
        (3, "amount"), (4, "date"), (5, "customer_id"), (6, "account_id"), (9, "date"), (10, "customer_id"),
        (11, "amount"), (12, "category"), (13, "transaction_id")]
    reasons = {r.line: r.reason for r in after.rejections if r.file == "transactions.csv"}
    assert reasons[5] == "unknown customer id 'C2'" and reasons[6] == "unknown account id 'A9'"
    again = load_directory(store, bank_dir, erasures=ErasureList(store, key), **options)
    assert bulk[-1] is not None and again.rejections == after.rejections
    assert again.files["transactions.csv"].unchanged == 3


def test_a_transaction_id_repeated_in_a_bucket_keeps_the_last_as_row_by_row(store, bank_dir: Path, monkeypatch):
    monkeypatch.setattr(csv_buckets, "BUCKETS_PER_BATCH", 1)  # the repeat shows after a bucket was written
    rows = [transaction("T1", "C1", "A1", "2026-03-02", -640.0), transaction("T3", "C4", "A3", "2026-04-01", 3100.0),
            transaction("T3", "C4", "A3", "2026-04-09", 3200.0)]
    write_transactions(bank_dir / "transactions.csv", rows)
    before, before_documents = row_by_row_then_empty(store, bank_dir, monkeypatch)

    first = load_directory(store, bank_dir)
    assert first.files == before.files
    assert stored(store, "transactions") == before_documents
    assert [txn["amount"] for txn in store["transactions"].find_one({"_id": "C4:2026-04"})["transactions"]] == [3200.0]
    again = load_directory(store, bank_dir)
    assert (again.files["transactions.csv"].loaded, again.files["transactions.csv"].updated) == (0, 0)
    assert stored(store, "transactions") == before_documents


def test_an_erased_customers_transactions_are_skipped_in_bulk_as_row_by_row(store, bank_dir: Path, monkeypatch):
    from retrieval.privacy import ErasureList

    rows = [transaction("T1", "C1", "A1", "2026-03-02", -640.0), transaction("T2", "C9", "A9", "2026-03-03", -5.0),
            transaction("T3", "C4", "A3", "2026-04-01", 3100.0), transaction("T4", "C9", "A9", "2026-04-02", -7.0)]
    write_transactions(bank_dir / "transactions.csv", rows)  # C9 and their account A9 are gone from the files
    key = b"k" * 32
    ErasureList(store, key).add("C9")
    bulk = []
    real = loader.load_transaction_buckets
    monkeypatch.setattr(loader, "load_transaction_buckets",
                        lambda *args, **kwargs: bulk.append(real(*args, **kwargs)) or bulk[-1])

    summary = load_directory(store, bank_dir, erasures=ErasureList(store, key))

    assert bulk[-1] is not None and bulk[-1].erased_lines == [3, 5]
    assert summary.files["transactions.csv"].erased == 2
    assert summary.files["transactions.csv"].loaded == 2
    assert [r for r in summary.rejections if r.file == "transactions.csv"] == []  # skipped, not unknown ids
    assert store["transactions"].count_documents({"customer_id": "C9"}) == 0


def relationship(relationship_id: str, customer_id: str, relative_id: str, **overrides) -> dict:
    base = {"relationship_id": relationship_id, "customer_id": customer_id, "relative_id": relative_id,
            "relation": "spouse", "relative_is_customer": True}
    return base | overrides


def load_record_by_record(store, directory: Path, monkeypatch: pytest.MonkeyPatch, **options):
    """The load as it was before JSON lines were validated in batches: every record through its model alone."""
    def one_by_one(self, source, raws):
        return ((raw.line, self._validate(source, raw)) for raw in raws)

    with monkeypatch.context() as patch:
        patch.setattr(loader._Loader, "_checked_lines", one_by_one)
        return load_directory(store, directory, **options)


@pytest.mark.parametrize("batch_size", [3, 1000])
def test_json_lines_load_in_batches_exactly_as_record_by_record(store, bank_dir: Path, monkeypatch, batch_size):
    from retrieval.privacy import ErasureList

    monkeypatch.setattr(loader, "BATCH_SIZE", batch_size)
    accounts = [account(f"A{n}", "C1" if n % 2 else "C4", "P001" if n % 3 else "P002") for n in range(1, 12)]
    accounts[4] = "{not json"
    accounts[6] = account("A7", "C1", "P999")  # unknown product
    accounts[8] = account("A9", "C9", "P001")  # an erased customer's
    write_jsonl(bank_dir / "accounts.jsonl", [*accounts[:5], "", "[1, 2]", *accounts[5:]])
    write_jsonl(bank_dir / "relationships.jsonl", [
        relationship("R1", "C1", "C4"),
        relationship("R2", "C1", "C77"),  # the relative is no customer of ours
        relationship("R3", "C4", "X1", relative_is_customer=False, relative_date_of_birth="1960-01-01"),
        relationship("R4", "C4", "X2", relative_is_customer=False),  # no birth date: the model refuses it
        relationship("R5", "C4", "C1", relation="cousin"),
        relationship("R6", "C4", "C1", relation="sibling"),
    ])
    faq = {"question": "Which card?", "answer": "Either.", "category": "cards"}
    write_jsonl(bank_dir / "faq.jsonl", [{**faq, "faq_id": "F1", "product_ids": ["P001", "P002"]},
                                         {**faq, "faq_id": "F2", "product_ids": ["P001", "P999"]},  # P999 unknown
                                         {**faq, "faq_id": "F3"}])
    key = b"k" * 32
    ErasureList(store, key).add("C9")
    collections = ("customers", "accounts", "relationships", "faq")

    before = load_record_by_record(store, bank_dir, monkeypatch, erasures=ErasureList(store, key))
    before_documents = {name: stored(store, name) for name in collections}
    for source in SOURCES:
        store.drop_collection(source.collection)
    after = load_directory(store, bank_dir, erasures=ErasureList(store, key))

    assert after.rejections == before.rejections
    assert after.files == before.files
    assert {name: stored(store, name) for name in collections} == before_documents
    assert after.files["accounts.jsonl"].loaded == 8
    assert after.files["accounts.jsonl"].erased == 1
    assert [(r.line, r.field) for r in after.rejections if r.file == "accounts.jsonl"] == [
        (5, "(line)"), (7, "(line)"), (9, "product_id")]
    assert [(r.line, r.field) for r in after.rejections if r.file == "relationships.jsonl"] == [
        (2, "relative_id"), (4, "(record)"), (5, "relation")]
    assert {doc["_id"] for doc in store["relationships"].find({})} == {"R1", "R3", "R6"}
    assert [(r.line, r.field) for r in after.rejections if r.file == "faq.jsonl"] == [(2, "product_ids")]


def test_a_load_leaves_the_garbage_collector_as_it_found_it(store, bank_dir: Path):
    import gc

    before = gc.get_threshold()
    load_directory(store, bank_dir)
    (bank_dir / "customers.jsonl").write_bytes(b"\xff\xfe not text\n")
    with pytest.raises(SourceFileError):
        load_directory(store, bank_dir)

    assert gc.get_threshold() == before
