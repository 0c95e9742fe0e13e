"""Load a directory of source files into the document store.

Every record is validated against its model and against the records it points
at (an account's product must be in the catalogue). A bad record is reported
with file, line, field and reason and skipped; the good ones are upserted by
their natural key, so loading the same files twice changes nothing. Every file
is checked for parseability before the first write, so an unreadable file stops
the load with nothing changed.

JSON-lines records are validated BATCH_SIZE at a time in one call, their references
looked up once per collection; a batch holding an invalid record is validated record
by record, so each rejection still names its line, field and reason.

Transactions are stored in the bucket pattern, one document per customer-month
(`_id` "C000001:2026-03"), merged by transaction id. A transactions CSV read whole
(not only its changed lines) is validated and bucketed in DuckDB (`ingest.csv_buckets`),
its bad rows set aside and reported as the row-by-row path reports them, and its
buckets stored as ready JSON text; a file it cannot judge (a record over several lines,
a transaction id twice in a bucket) takes the row-by-row path.
"""

from __future__ import annotations

import gc
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from pathlib import Path

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pymongo import ReplaceOne

from ingest.columns import ColumnCheck, unknown_reference, validation_problem
from ingest.csv_buckets import Bucket, bucket_json, load_transaction_buckets
from ingest.loaded_lines import LoadedLines
from ingest.sources import (
    RawLine,
    SourceFileError,
    check_parseable,
    csv_line_chunks,
    csv_raw_line,
    json_lines,
    read_csv_chunks,
    read_lines,
)
from retrieval.privacy import ErasureList, effective_consent, recorded_consents
from retrieval.records import SOURCES, Source

BATCH_SIZE = 1000
LOOKUP_BUDGET = 50_000  # references looked up by id per collection before reading all its ids instead
TRANSACTION_CHUNK = 20_000
GC_YOUNG_OBJECTS = 50_000  # new containers between two collections of the youngest generation while loading

Progress = Callable[[str, int, int], None]
ERASED: dict = {}  # what `_validate` answers for a record about an erased customer (compared by identity)
EXPIRED: dict = {}  # ... and for a record already past its retention
# collection -> (its time field, the oldest ISO time kept): older records are not loaded
KeepSince = Mapping[str, tuple[str, str]]

# (field, collection it must exist in); list fields are checked item by item.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "healthcare_services": (("product_id", "products"),),
    "faq": (("product_ids", "products"),),
    "kyc_documents": (("customer_id", "customers"),),
    "disclosures": (("customer_id", "customers"),),
    "accounts": (("customer_id", "customers"), ("product_id", "products")),
    "relationships": (("customer_id", "customers"),),
    "campaigns": (("product_ids", "products"),),
    "campaign_events": (("campaign_id", "campaigns"), ("customer_id", "customers")),
    "transactions": (("customer_id", "customers"), ("account_id", "accounts")),
}


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


@dataclass
class FileCounts:
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    erased: int = 0  # skipped: about a customer on the erasure list
    expired: int = 0  # skipped: already past its retention (`keep_since`)


@dataclass
class LoadSummary:
    files: dict[str, FileCounts] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    changed_customers: set[str] = field(default_factory=set)
    latest_month: str | None = None  # of the transactions written ("YYYY-MM")

    def total(self, attribute: str) -> int:
        return sum(getattr(counts, attribute) for counts in self.files.values())


def present_sources(directory: Path) -> list[tuple[Source, Path]]:
    """The known source files in `directory`, in load order."""
    if not directory.is_dir():
        raise SourceFileError(f"{directory}: no such directory")
    found = [(source, directory / source.file_name) for source in SOURCES if (directory / source.file_name).is_file()]
    if not found:
        names = ", ".join(source.file_name for source in SOURCES)
        raise SourceFileError(f"{directory}: no source files found; expected any of {names}")
    return found


def load_directory(store, directory: Path, progress: Progress | None = None,
                   erasures: ErasureList | None = None, keep_since: KeepSince | None = None,
                   loaded_lines: LoadedLines | None = None) -> LoadSummary:
    """Validate and upsert every known source file in `directory`, skipping records about erased customers.

    Without `erasures` the store's list is read with no key, which refuses to load once anyone was erased.
    With `loaded_lines`, only lines the store does not hold yet are read, and what it holds after is kept there.
    """
    with _fewer_collections():
        return _load_directory(store, Path(directory), progress, erasures, keep_since, loaded_lines)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector looks at its youngest objects every GC_YOUNG_OBJECTS new containers while
    loading, not every 700: a load makes millions of dicts that live until their batch is written and no cycles to
    collect, and looking at them that often took ~15% of the JSON-lines files' CPU (20k customers). Put back after."""
    before = gc.get_threshold()
    if before[0]:  # 0: collection was switched off, and stays off
        gc.set_threshold(max(before[0], GC_YOUNG_OBJECTS), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _load_directory(store, directory: Path, progress: Progress | None, erasures: ErasureList | None,
                    keep_since: KeepSince | None, loaded_lines: LoadedLines | None) -> LoadSummary:
    files = present_sources(directory)
    line_counts = [check_parseable(path, source) for source, path in files]
    latest_before = latest_transaction_month(store)  # read the slow way once, in a store no load kept it in
    loader = _Loader(store, progress, erasures if erasures is not None else ErasureList(store, None), keep_since or {})
    kept = {}
    for (source, path), lines in zip(files, line_counts, strict=True):
        selected = loaded_lines.read(path) if loaded_lines is not None else None
        loader.load_file(source, path, lines, selected.new if selected else None)
        if selected is not None:
            kept[path.name] = selected.kept(loader.skipped_lines.pop(source.file_name, []))
    if loaded_lines is not None:
        loaded_lines.save(kept)
    _keep_latest_month(store, latest_before, loader.summary.latest_month)
    return loader.summary


LATEST_MONTH_ID = "transactions_latest_month"


def latest_transaction_month(store) -> str | None:
    """The latest month ("YYYY-MM") the store holds transactions of. Each load keeps it in `meta`, so that no one
    has to sort every bucket to know it (at a million customers that read took minutes); a store no load kept it in
    is read the slow way. A month's transactions erased later leave it as it was: the latest month loaded."""
    kept = store["meta"].find_one({"_id": LATEST_MONTH_ID})
    return kept["month"] if kept is not None else _latest_stored_month(store)


def _latest_stored_month(store) -> str | None:
    latest = next(iter(store["transactions"].find({}, {"month": 1}, sort=[("month", -1)], limit=1)), None)
    return latest and latest["month"]


def _keep_latest_month(store, before: str | None, loaded: str | None) -> None:
    latest = max(before or "", loaded or "")
    if latest:
        store["meta"].replace_one({"_id": LATEST_MONTH_ID}, {"_id": LATEST_MONTH_ID, "month": latest}, upsert=True)


class _Loader:
    def __init__(self, store, progress: Progress | None, erasures: ErasureList, keep_since: KeepSince):
        self.store = store
        self.progress = progress
        self.erasures = erasures
        self.keep_since = keep_since
        self.consents = recorded_consents(store)
        self.summary = LoadSummary()
        self.skipped_lines: dict[str, list[int]] = {}  # per file: lines rejected, erased or expired
        self._known: dict[str, set[str]] = {}  # every id of a collection, read once
        self._confirmed: dict[str, set[str]] = defaultdict(set)  # ids looked up one by one, or written
        self._looked_up: dict[str, int] = defaultdict(int)
        self._few_lines = False  # loading only a file's changed lines: references are looked up by id

    def known_ids(self, collection: str) -> set[str]:
        if collection not in self._known:
            self._known[collection] = {doc["_id"] for doc in self.store[collection].find({}, {"_id": 1})}
        return self._known[collection]

    def missing_ids(self, collection: str, values: set[str]) -> set[str]:
        """Those of `values` no record of `collection` has. Loading only changed lines, references are looked up by
        id, until LOOKUP_BUDGET ids were; else every id of the collection is read once."""
        if collection in self._known or not self._few_lines:
            return values - self.known_ids(collection)
        unresolved = values - self._confirmed[collection]
        if not unresolved:
            return set()
        self._looked_up[collection] += len(unresolved)
        if self._looked_up[collection] > LOOKUP_BUDGET:
            return values - self.known_ids(collection)
        for ids in batched(sorted(unresolved), BATCH_SIZE):
            self._confirmed[collection].update(doc["_id"] for doc in self.store[collection].find(
                {"_id": {"$in": ids}}, {"_id": 1}))
        return unresolved - self._confirmed[collection]

    def _written(self, collection: str, ids) -> None:
        (self._known[collection] if collection in self._known else self._confirmed[collection]).update(ids)

    def load_file(self, source: Source, path: Path, lines: int, only: list[tuple[int, bytes]] | None = None) -> None:
        """Load the file's records, or `only` these (line number, text) of it."""
        counts = self.summary.files.setdefault(source.file_name, FileCounts())
        self._few_lines = only is not None
        if source.collection == "transactions" and only is None and self._load_buckets(source, path, lines, counts):
            return
        records = self._valid_records(source, path, lines, counts, only)
        if source.collection == "transactions":
            _TransactionWriter(self.store, counts, self.summary).write(records)
        else:
            self._write_documents(source, records, counts)

    def _load_buckets(self, source: Source, path: Path, lines: int, counts: FileCounts) -> bool:
        """A transactions CSV, validated and bucketed in DuckDB (`ingest.csv_buckets`), merged into the stored buckets
        as the row-by-row path merges them, its bad rows counted and reported as that path reports them; False when
        the row-by-row path must load it."""
        time_field, oldest = self.keep_since.get("transactions", ("date", None))
        covered = {"relative_id", "author_handle"} & source.model.model_fields.keys()
        if path.suffix != ".csv" or time_field != "date" or covered:
            return False  # below, an erased customer's records are found by their customer_id alone
        writer = _TransactionWriter(self.store, counts, self.summary)
        empty = writer.collection.find_one({}, {"_id": 1}) is None
        wrote = False
        before = (counts.loaded, set(self.summary.changed_customers), self.summary.latest_month) if empty else None

        def write(buckets: list[Bucket]) -> None:
            nonlocal wrote
            wrote = True
            writer.write_buckets(buckets, stored=not empty)

        loaded = load_transaction_buckets(
            path, source.model, REFERENCES["transactions"], self.missing_ids, write, oldest, check_repeats=not empty,
            erased_of=lambda ids: {each for each in ids if self.erasures.holds(each)} if self.erasures else set())
        if loaded is None:
            if wrote and before is not None:  # a repeated transaction id, found after the first batches went in
                writer.collection.delete_many({})
                counts.loaded, self.summary.changed_customers, self.summary.latest_month = before
            return False
        counts.erased += len(loaded.erased_lines)
        counts.expired += len(loaded.expired_lines)
        counts.rejected += len(loaded.rejections)
        self.summary.rejections.extend(Rejection(source.file_name, *rejected) for rejected in loaded.rejections)
        rejected_lines = [line for line, _, _ in loaded.rejections]
        self.skipped_lines.setdefault(source.file_name, []).extend(
            sorted(loaded.erased_lines + loaded.expired_lines + rejected_lines))
        if self.progress:
            self.progress(f"load {source.file_name}", lines, lines)
        return True

    def _valid_records(self, source: Source, path: Path, lines: int, counts: FileCounts,
                       only: list[tuple[int, bytes]] | None) -> Iterator[dict]:
        skipped = self.skipped_lines.setdefault(source.file_name, [])
        for line, record in self._checked(source, path, only):
            if record is ERASED:
                counts.erased += 1
            elif record is EXPIRED:
                counts.expired += 1
            elif record is None:
                counts.rejected += 1
            else:
                yield record
                continue
            skipped.append(line)
            if self.progress and line % 5000 == 0:
                self.progress(f"load {source.file_name}", line, lines)
        if self.progress:
            self.progress(f"load {source.file_name}", lines, lines)

    def _checked(self, source: Source, path: Path,
                 only: list[tuple[int, bytes]] | None) -> Iterator[tuple[int, dict | None]]:
        """(line, what `_validate` answers) for every record of the file, or of `only` its lines."""
        if path.suffix != ".csv":
            raws = read_lines(path) if only is None else json_lines(only)
            for chunk in iter(lambda: list(islice(raws, BATCH_SIZE)), []):
                yield from self._checked_lines(source, chunk)
            return
        check: ColumnCheck | None = None
        chunks = read_csv_chunks(path) if only is None else csv_line_chunks(path, only)
        for number, chunk in enumerate(chunks):
            if number == 0:  # one check per file: what its columns learnt carries over to the next chunk
                check = ColumnCheck.for_file(source.model, chunk.header)
            records = check.records(chunk.rows) if check else [None] * len(chunk.rows)
            resolved = self._all_references_known(source, [record for record in records if record is not None])
            for line, row, record in zip(chunk.lines, chunk.rows, records, strict=True):
                if record is None:  # the model names the field and the reason
                    yield line, self._validate(source, csv_raw_line(chunk.header, line, row))
                else:
                    yield line, self._admit(source, line, record, references_known=resolved)

    def _checked_lines(self, source: Source, raws: list[RawLine]) -> Iterator[tuple[int, dict | None]]:
        """(line, what `_validate` answers) for consecutive JSONL records: validated in one call and their references
        looked up once per collection; when one of them is invalid, record by record, so each rejection names its
        line, field and reason, in line order."""
        parsed = [raw for raw in raws if raw.data is not None]
        adapter = _list_adapter(source.model)
        try:
            records = adapter.dump_python(adapter.validate_python([raw.data for raw in parsed]), mode="json")
        except ValidationError:
            records = None
        if records is None:
            for raw in raws:
                yield raw.line, self._validate(source, raw)
            return
        resolved = self._all_references_known(source, records)
        valid = iter(records)
        for raw in raws:
            if raw.data is None:
                yield raw.line, self._validate(source, raw)
            else:
                yield raw.line, self._admit(source, raw.line, next(valid), references_known=resolved)

    def _all_references_known(self, source: Source, records: list[dict]) -> bool:
        """Whether every reference of these records is known: one lookup per referenced collection."""
        wanted: dict[str, set] = defaultdict(set)
        for field_name, collection in REFERENCES.get(source.collection, ()):
            values = [record.get(field_name) for record in records]
            if any(type(value) is list for value in values):  # a list field (a FAQ's products): each item
                values = [item for value in values for item in (value if type(value) is list else (value,))]
            wanted[collection].update(values)
        if source.collection == "relationships":  # relative_id is a reference only for a relative who is a customer
            wanted["customers"].update(record["relative_id"] for record in records if record["relative_is_customer"])
        return not any(self.missing_ids(collection, values - {None}) for collection, values in wanted.items())

    def _validate(self, source: Source, raw: RawLine) -> dict | None:
        if raw.data is None:
            return self._reject(source, raw.line, "(line)", raw.error or "unreadable")
        try:
            record = source.model.model_validate(raw.data).model_dump(mode="json")
        except ValidationError as exc:
            return self._reject(source, raw.line, *validation_problem(exc))
        return self._admit(source, raw.line, record)

    def _admit(self, source: Source, line: int, record: dict, references_known: bool = False) -> dict | None:
        """A valid record, unless it is about an erased customer, past retention, or points at nothing."""
        if self.erasures and self.erasures.covers(record):
            return ERASED
        if source.collection in self.keep_since:
            time_field, oldest = self.keep_since[source.collection]
            if str(record.get(time_field) or "") < oldest:
                return EXPIRED
        if source.collection == "customers" and record["customer_id"] in self.consents:
            record["consent"] = effective_consent(record["consent"], self.consents[record["customer_id"]])
        problem = None if references_known else self._dangling_reference(source, record)
        if problem:
            return self._reject(source, line, *problem)
        return record

    def _dangling_reference(self, source: Source, record: dict) -> tuple[str, str] | None:
        references = REFERENCES.get(source.collection, ())
        if source.collection == "relationships" and record["relative_is_customer"]:
            references = (*references, ("relative_id", "customers"))
        for field_name, collection in references:
            values = record.get(field_name)
            if values is None:
                continue
            for value in values if isinstance(values, list) else (values,):
                if value is not None and self.missing_ids(collection, {value}):
                    return unknown_reference(field_name, collection, value)
        return None

    def _reject(self, source: Source, line: int, where: str, reason: str) -> None:
        self.summary.rejections.append(Rejection(source.file_name, line, where, reason))

    def _write_documents(self, source: Source, records: Iterable[dict], counts: FileCounts) -> None:
        # Into an empty collection, only keys this file wrote before can be stored already: no lookups for the rest.
        written = set() if self.store[source.collection].find_one({}, {"_id": 1}) is None else None
        batch: dict[str, dict] = {}
        for record in records:
            key = record[source.key]
            if key in batch:
                self._flush(source, batch, counts, written)
            batch[key] = record
            if len(batch) >= BATCH_SIZE:
                self._flush(source, batch, counts, written)
        self._flush(source, batch, counts, written)

    def _flush(self, source: Source, batch: dict[str, dict], counts: FileCounts, written: set[str] | None) -> None:
        if not batch:
            return
        collection = self.store[source.collection]
        stamp = ingested_now()
        documents = {key: _document(key, record, stamp) for key, record in batch.items()}
        stored = list(documents) if written is None else [key for key in documents if key in written]
        existing = {
            doc["_id"]: doc.get("_hash")
            for doc in (collection.find({"_id": {"$in": stored}}, {"_id": 1, "_hash": 1}) if stored else ())
        }
        if written is not None:
            written.update(documents)
        new = [doc for key, doc in documents.items() if key not in existing]
        changed = [doc for key, doc in documents.items() if key in existing and existing[key] != doc["_hash"]]
        if new:
            collection.insert_many(new, ordered=False)
        if changed:
            collection.bulk_write([ReplaceOne({"_id": doc["_id"]}, doc) for doc in changed], ordered=False)
        counts.loaded += len(new)
        counts.updated += len(changed)
        counts.unchanged += len(documents) - len(new) - len(changed)
        self._written(source.collection, documents)
        self.summary.changed_customers.update(
            doc["customer_id"] for doc in new + changed if isinstance(doc.get("customer_id"), str)
        )
        batch.clear()


class _TransactionWriter:
    """Merges transactions into customer-month buckets."""

    def __init__(self, store, counts: FileCounts, summary: LoadSummary):
        self.collection = store["transactions"]
        self.counts = counts
        self.summary = summary

    def write(self, records: Iterable[dict]) -> None:
        chunk: list[dict] = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= TRANSACTION_CHUNK:
                self._write_chunk(chunk)
                chunk = []
        if chunk:
            self._write_chunk(chunk)

    def _write_chunk(self, records: list[dict]) -> None:
        incoming: dict[str, dict[str, dict]] = defaultdict(dict)
        for record in records:
            incoming[bucket_id(record["customer_id"], record["date"])][record["transaction_id"]] = record
        for ids in batched(list(incoming), BATCH_SIZE):
            existing = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": ids}})}
            new_buckets, changed_buckets = [], []
            for bucket in ids:
                merged = self._merge(existing.get(bucket), incoming[bucket])
                if merged is not None:
                    (changed_buckets if bucket in existing else new_buckets).append(merged)
            if new_buckets:
                self.collection.insert_many(new_buckets, ordered=False)
            if changed_buckets:
                self.collection.bulk_write(
                    [ReplaceOne({"_id": doc["_id"]}, doc) for doc in changed_buckets], ordered=False
                )

    def write_buckets(self, buckets: list[Bucket], stored: bool) -> None:
        """Store ready buckets: new ones as they are, ones already stored (looked up only when `stored`) merged."""
        existing = {doc["_id"]: doc for doc in self.collection.find({"_id": {"$in": [b.id for b in buckets]}})
                    } if stored and buckets else {}
        stamp = ingested_now()
        self.collection.insert_json([(bucket_json(bucket, stamp), bucket.id) for bucket in buckets
                                     if bucket.id not in existing])
        changed = []
        for bucket in buckets:
            if bucket.id in existing:
                incoming = {txn["transaction_id"]: txn for txn in orjson.loads(f"[{bucket.transactions}]")}
                merged = self._merge(existing[bucket.id], incoming)
                if merged is not None:
                    changed.append(ReplaceOne({"_id": bucket.id}, merged))
            else:
                self.counts.loaded += bucket.count
                self.summary.changed_customers.add(bucket.customer)
                self.summary.latest_month = max(self.summary.latest_month or "", bucket.month)
        if changed:
            self.collection.bulk_write(changed, ordered=False)

    def _merge(self, bucket: dict | None, incoming: dict[str, dict]) -> dict | None:
        """Return the bucket with `incoming` merged in, or None when nothing changed."""
        current = {txn["transaction_id"]: txn for txn in (bucket or {}).get("transactions", [])}
        changed = False
        for txn_id, txn in incoming.items():
            if txn_id not in current:
                self.counts.loaded += 1
            elif current[txn_id] != txn:
                self.counts.updated += 1
            else:
                self.counts.unchanged += 1
                continue
            current[txn_id] = txn
            changed = True
        if not changed:
            return None
        first = next(iter(incoming.values()))
        self.summary.changed_customers.add(first["customer_id"])
        self.summary.latest_month = max(self.summary.latest_month or "", first["date"][:7])
        transactions = sorted(current.values(), key=lambda txn: (txn["date"], txn["transaction_id"]))
        return {
            "_id": bucket_id(first["customer_id"], first["date"]),
            "customer_id": first["customer_id"],
            "month": first["date"][:7],
            "transactions": transactions,
            "_ingested_at": ingested_now(),
        }


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])


def bucket_id(customer_id: str, iso_date: str) -> str:
    return f"{customer_id}:{iso_date[:7]}"


def _document(key: str, record: dict, stamp: str) -> dict:
    digest = hashlib.blake2b(orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
    return {"_id": key, **record, "_hash": digest, "_ingested_at": stamp}


def ingested_now() -> str:
    """The stamp incremental ingestion compares against the last good run's start."""
    return datetime.now(UTC).isoformat()


def batched(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

