"""A transactions CSV loaded in bulk: validated and bucketed in DuckDB.

DuckDB parses the file once into a scratch columnar file, joins each column's
distinct values to what the model's own field makes of them (validated once each
by `ingest.columns`, as the row-by-row path does), checks customers and accounts
against the known ids, sorts the rows by bucket and hands over each customer-month
bucket's transactions as JSON text, byte for byte what the row-by-row path stores
(orjson's compact JSON, in (date, transaction id) order). An id-like value
(letters, digits and `_.:-`) of a plain string field is its own JSON and needs no
lookup. The loader inserts new buckets as they are and merges the ones already
stored as the row-by-row path merges them.

Bad rows are set aside and reported as the row-by-row path reports them, by line,
field and reason, in its order of checks: a value its field refuses (the first such
field in the model's order, with pydantic's own message), then a record about an
erased customer (skipped, not reported), past retention (skipped), and a customer or
account id not known. What only the row-by-row path can judge answers None before
the first write (or, for a repeated id found in an empty collection's load, after the
loader removed what it wrote): a record over more than one line, a CSV the strict
parser refuses, a header the model cannot take, a transaction id twice in a bucket.
Its scratch files (DuckDB's compressed copy of the CSV, and its sort's spill
beyond 1 GB of memory) go in the temporary directory (TMPDIR).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import duckdb
import orjson
from pydantic import BaseModel, ConfigDict

from ingest.columns import ColumnCheck, FieldValues, Problem, unknown_reference

BUCKETS_PER_BATCH = 2000
ROWS_PER_FETCH = 100_000
ID_LIKE = r"[A-Za-z0-9_.:\-]+"
DUCKDB_MEMORY = "1GB"

Missing = Callable[[str, set[str]], set[str]]  # (collection, ids) -> those it has no record of
Erased = Callable[[set[str]], set[str]]  # customer ids -> those of erased customers


class Bucket(NamedTuple):
    """One customer-month's transactions: `transactions` is their JSON objects, comma-separated, in order."""

    id: str
    customer: str
    month: str
    transactions: str
    count: int


Write = Callable[[list[Bucket]], None]


@dataclass
class BucketLoad:
    """Lines of the records skipped: about an erased customer, or past retention (records are one line each); and
    the records rejected, as (line, field, reason) in line order."""

    erased_lines: list[int] = field(default_factory=list)
    expired_lines: list[int] = field(default_factory=list)
    rejections: list[tuple[int, str, str]] = field(default_factory=list)


class _NotVouched(Exception):
    """Something only the row-by-row path can judge."""


def load_transaction_buckets(path: Path, model: type[BaseModel], references: tuple[tuple[str, str], ...],
                             missing: Missing, write: Write, keep_since: str | None = None,
                             check_repeats: bool = False, erased_of: Erased = lambda ids: set()) -> BucketLoad | None:
    """Hand the file's buckets to `write`, in `_id` order, a batch at a time; None when the row-by-row path must load
    it. A transaction id repeated in a bucket is found as its bucket comes, after earlier batches were written, or
    with `check_repeats` in a pass of its own before the first."""
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if ColumnCheck.for_file(model, header) is None or "customer_id" not in header or "date" not in header:
        return None
    if "transaction_id" not in header:
        return None
    with tempfile.TemporaryDirectory(prefix="fargo-buckets-") as scratch:
        db = duckdb.connect(str(Path(scratch) / "rows.duckdb"),
                            config={"memory_limit": DUCKDB_MEMORY})
        try:
            return _Buckets(db, path, model, header, Path(scratch)).load(references, missing, write, keep_since,
                                                                         check_repeats, erased_of)
        except (_NotVouched, duckdb.Error):
            return None
        finally:
            db.close()


class _Buckets:
    def __init__(self, db, path: Path, model: type[BaseModel], header: list[str], scratch: Path):
        self.db = db
        # Without statistics of the CSV, the planner would build the joins' hash tables on its rows.
        db.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
        self.model = model
        self.header = header
        self.scratch = scratch
        columns = "{" + ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in header) + "}"
        # Parsed once into DuckDB's columnar file: each check after reads only its column.
        db.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv({_literal(str(path))}, header = true, "
                   f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = {columns}, "
                   "strict_mode = true)")
        self.path = path
        db.execute("SET preserve_insertion_order = false")

    def load(self, references, missing: Missing, write: Write, keep_since: str | None, check_repeats: bool,
             erased_of: Erased) -> BucketLoad:
        self._check_one_record_per_line()
        problems: list[tuple[str, Problem]] = []  # (column, (field, reason)) of each value refused, by its number
        with (self.scratch / "mapping.jsonl").open("wb") as mapping:  # raw value -> what the field makes of it
            json_of, text_of = self._map_columns(mapping, problems)
        self._load_mapping()
        fields = self.model.model_fields
        join = {name: f" LEFT JOIN mapping m_{name} ON m_{name}.c = {_literal(name)} "
                      f"AND m_{name}.raw = coalesce(raw.{_identifier(name)}, '')"
                for name in fields if name in self.header}
        joins = "".join(join.values())
        record = " || ',' || ".join(f"'{orjson.dumps(name).decode()}:' || {json_of[name]}" for name in fields)
        referring = [(name, collection) for name, collection in references if name in self.header]
        self.db.execute(
            f"CREATE VIEW rows AS SELECT raw.rowid AS place, {text_of['customer_id']} AS customer, "
            f"{text_of['date']} AS day, {text_of['transaction_id']} AS txn_id, "
            f"'{{' || {record} || '}}' AS txn FROM raw{joins}")
        # What the checks after the values read, with only the joins they need.
        keyed = dict.fromkeys(["customer_id", "date", *(name for name, _ in referring)])
        self.db.execute(
            f"CREATE VIEW keys AS SELECT raw.rowid AS place, {text_of['customer_id']} AS customer, "
            f"{text_of['date']} AS day"
            + "".join(f", {text_of[name]} AS {_identifier('ref_' + name)}" for name, _ in referring)
            + " FROM raw" + "".join(join[name] for name in keyed))
        result = BucketLoad()
        # Each row's checks in the row-by-row path's order; a row rejected or skipped is out of the checks after.
        aside = self._set_aside(self._refused(problems, [name for name in fields if name in self.header]))
        kept = "place NOT IN (SELECT place FROM aside)" if aside else "TRUE"
        erased = erased_of(self._distinct(text_of["customer_id"], join["customer_id"]) - {None})
        if erased:  # about erased customers: skipped, not checked further, as the row-by-row path does
            self.db.execute("CREATE TABLE erased (id VARCHAR)")
            self.db.executemany("INSERT INTO erased VALUES (?)", [(each,) for each in sorted(erased)])
            result.erased_lines = self._lines(f"{kept} AND customer IN (SELECT id FROM erased)", [])
            kept = f"{kept} AND customer NOT IN (SELECT id FROM erased)"
        if keep_since is not None:
            result.expired_lines = self._lines(f"{kept} AND day < ?", [keep_since])
            kept = f"{kept} AND day >= $keep"
        parameters = {"keep": keep_since} if keep_since is not None else {}
        # Every row's ids are looked up (a superset of the rows kept's); only the rows kept are reported.
        unknown = {name: missing(collection, self._distinct(text_of[name], join[name]) - {"", None})
                   for name, collection in referring}
        dangling = self._set_aside(self._dangling(referring, unknown, kept, parameters))
        if dangling and not aside:
            kept = f"{kept} AND place NOT IN (SELECT place FROM aside)"
        result.rejections = sorted((place + 2, where, reason) for place, where, reason in aside + dangling)
        if check_repeats and self.db.execute(
                f"SELECT count(*) FROM (SELECT customer, substr(day, 1, 7), txn_id FROM rows WHERE {kept} "
                "GROUP BY ALL HAVING count(*) > 1)", parameters).fetchone()[0]:
            raise _NotVouched("transaction_id")
        query = ("SELECT customer || ':' || substr(day, 1, 7), customer, txn_id, txn "
                 f"FROM rows WHERE {kept} ORDER BY customer, substr(day, 1, 7), day, txn_id")
        buckets: list[Bucket] = []
        current, customer, parts, ids = None, None, [], set()
        for batch in self._batches(query, parameters):
            for bucket, its_customer, txn_id, txn in batch:
                if bucket != current:
                    if current is not None:
                        buckets.append(_bucket(current, customer, parts, ids))
                        if len(buckets) >= BUCKETS_PER_BATCH:
                            write(buckets)
                            buckets = []
                    current, customer, parts, ids = bucket, its_customer, [], set()
                parts.append(txn)
                ids.add(txn_id)
        if current is not None:
            buckets.append(_bucket(current, customer, parts, ids))
        write(buckets)
        return result

    def _set_aside(self, rows: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """Rows rejected, as (place, field, reason): kept in the `aside` table, which the checks after leave out."""
        if rows:
            self.db.execute("CREATE TABLE IF NOT EXISTS aside (place BIGINT)")
            self.db.executemany("INSERT INTO aside VALUES (?)", [(place,) for place, _, _ in rows])
        return rows

    def _refused(self, problems: list[tuple[str, Problem]], columns: list[str]) -> list[tuple[int, str, str]]:
        """(place, field, reason) of the rows holding a value its field refused: the first such field in the model's
        order, as pydantic reports a record's first error."""
        found: dict[int, Problem] = {}
        refusing = {name for name, _ in problems}
        for name in (column for column in columns if column in refusing):
            for place, number in self.db.execute(
                    f"SELECT raw.rowid, m.problem FROM raw JOIN (SELECT raw, problem FROM mapping WHERE c = "
                    f"{_literal(name)} AND problem IS NOT NULL) m ON m.raw = coalesce(raw.{_identifier(name)}, '')"
                    ).fetchall():
                found.setdefault(place, problems[number][1])
        return [(place, *problem) for place, problem in found.items()]

    def _dangling(self, referring: list[tuple[str, str]], unknown: dict[str, set[str]],
                  kept: str, parameters: dict) -> list[tuple[int, str, str]]:
        """(place, field, reason) of the rows `kept` picks whose customer or account is `unknown`: the first such
        field in `referring`'s order, as the row-by-row path reports it."""
        found: dict[int, Problem] = {}
        for name, collection in referring:
            if not unknown[name]:
                continue
            self.db.execute("CREATE OR REPLACE TABLE unknown (id VARCHAR)")
            self.db.executemany("INSERT INTO unknown VALUES (?)", [(each,) for each in sorted(unknown[name])])
            column = _identifier("ref_" + name)
            for place, value in self.db.execute(
                    f"SELECT place, {column} FROM keys WHERE {kept} AND {column} IN (SELECT id FROM unknown)",
                    parameters).fetchall():
                found.setdefault(place, unknown_reference(name, collection, value))
        return [(place, *problem) for place, problem in found.items()]

    def _map_columns(self, mapping: BinaryIO,
                     problems: list[tuple[str, Problem]]) -> tuple[dict[str, str], dict[str, str]]:
        """Each field's JSON and text as SQL over `raw`; what the model makes of each distinct raw value that needs
        a lookup is written to `mapping`, and for a value it refuses, the number of its (column, (field, reason)) in
        `problems`."""
        config = ConfigDict(**self.model.model_config)
        fields = self.model.model_fields
        json_of, text_of = {}, {}
        for name, info in fields.items():
            column = FieldValues(info, config)
            if name not in self.header:
                if "" not in column.accepted:
                    raise _NotVouched(name)
                json_of[name] = _literal(orjson.dumps(column.accepted[""]).decode())
                text_of[name] = _literal(str(column.accepted[""]))
                continue
            raw = f"coalesce({_identifier(name)}, '')"
            id_like = info.annotation is str and _plain_string(info)
            where = f"WHERE NOT regexp_full_match({raw}, '{ID_LIKE}')" if id_like else ""
            values = {row[0] for row in self.db.execute(f"SELECT DISTINCT {raw} FROM raw {where}").fetchall()}
            column.learn(values)
            for value in values:
                if value in column.accepted:
                    made = column.accepted[value]
                    mapped = {"json": orjson.dumps(made).decode(), "text": str(made)}
                elif value in column.failed:
                    mapped = {"problem": len(problems)}
                    problems.append((name, column.problem(name, value)))
                else:
                    raise _NotVouched(name)
                mapping.write(orjson.dumps({"c": name, "raw": value, **mapped}) + b"\n")
            lookup = f"m_{name}"
            found_json, found_text = f"{lookup}.json", f"{lookup}.text"
            if id_like:  # no mapping for the value: it is its own text
                json_of[name] = f"CASE WHEN {lookup}.raw IS NULL THEN '\"' || {raw} || '\"' ELSE {found_json} END"
                text_of[name] = f"CASE WHEN {lookup}.raw IS NULL THEN {raw} ELSE {found_text} END"
            else:
                json_of[name], text_of[name] = found_json, found_text
        return json_of, text_of

    def _distinct(self, value: str, rest: str) -> set[str]:
        return {row[0] for row in self.db.execute(f"SELECT DISTINCT {value} FROM raw{rest}").fetchall()}

    def _lines(self, where: str, parameters: list) -> list[int]:
        """The lines of the records `where` picks (records are one line each; the header is line 1)."""
        return [place + 2 for (place,) in self.db.execute(
            f"SELECT place FROM keys WHERE {where} ORDER BY place", parameters).fetchall()]

    def _batches(self, query: str, parameters: dict) -> Iterator[list[tuple]]:
        cursor = self.db.execute(query, parameters)
        while batch := cursor.fetchmany(ROWS_PER_FETCH):
            yield batch

    def _check_one_record_per_line(self) -> None:
        """The row-by-row path numbers lines; this path only loads files whose records are one line each."""
        records = self.db.execute("SELECT count(*) FROM raw").fetchone()[0]
        newlines = ends_in_newline = 0
        with self.path.open("rb") as handle:
            last = b""
            while chunk := handle.read(1 << 24):
                newlines += chunk.count(b"\n")
                last = chunk
            ends_in_newline = last.endswith(b"\n")
        if records + 1 != newlines + (0 if ends_in_newline else 1):
            raise _NotVouched("(line)")

    def _load_mapping(self) -> None:
        mapping = self.scratch / "mapping.jsonl"
        self.db.execute(
            f"CREATE TABLE mapping AS SELECT * FROM read_json({_literal(str(mapping))}, format = 'newline_delimited', "
            "columns = {c: 'VARCHAR', raw: 'VARCHAR', json: 'VARCHAR', text: 'VARCHAR', problem: 'INTEGER'})")


def _bucket(bucket: str, customer: str, parts: list[str], ids: set[str]) -> Bucket:
    if len(ids) != len(parts):
        raise _NotVouched("transaction_id")  # repeated in a bucket: the row-by-row path keeps the last
    return Bucket(bucket, customer, bucket[len(customer) + 1 :], ",".join(parts), len(parts))


def bucket_json(bucket: Bucket, stamp: str) -> str:
    """The bucket document's JSON text, as orjson writes the row-by-row path's dict."""
    return (f'{{"_id":{orjson.dumps(bucket.id).decode()},"customer_id":{orjson.dumps(bucket.customer).decode()},'
            f'"month":{orjson.dumps(bucket.month).decode()},"transactions":[{bucket.transactions}],'
            f'"_ingested_at":{orjson.dumps(stamp).decode()}}}')


def _plain_string(info) -> bool:
    """A str field whose only constraint is at most a minimum length of 1: an id-like value is valid as it is."""
    return all(getattr(item, "min_length", None) in (0, 1) for item in info.metadata)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
