"""Batch writes (and reads by `_id`) on the embedded store: one SQLite transaction and one statement per batch.

NeoSQLite's `insert_many` and `bulk_write` write document by document: a deep copy,
Python's `json.dumps`, a `json_valid` query and an autocommitted INSERT each, most of
a load's time. A batch of plain-JSON documents keyed by string `_id`s (what the
loader writes) is stored here the way NeoSQLite's own insert stores it (the JSON text
in `data`, the `_id` in its uniquely indexed column), in one savepoint, so the
collection's indexes, kept by SQLite, stay right. Anything else returns None and the
caller takes NeoSQLite's path: documents that are not plain JSON, an `_id` that is not
a string, a replacement that is not pinned to one `_id`, or a duplicate key (the batch
is rolled back and the slower path writes it and names the duplicate as before).
One difference: a float NaN is stored as null here, where NeoSQLite refuses the document.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from neosqlite.sql_utils import quote_table_name

JsonDefault = Callable[[Any], Any]
SAVEPOINT = "fargo_bulk"
ID_LOOKUP_CHUNK = 500  # bound parameters per `_id IN (...)` query


@dataclass(frozen=True)
class Replacement:
    document_id: str
    document: dict[str, Any]
    upsert: bool


def insert_documents(raw_collection: Any, documents: Sequence[dict[str, Any]], default: JsonDefault) -> int | None:
    """Insert `documents` in one transaction; their count, or None when NeoSQLite's own path must do it.

    `default` turns what orjson cannot write (dates, datetimes) into JSON values, or raises TypeError.
    """
    rows = _rows(documents, default)
    if rows is None:
        return None
    return insert_json_rows(raw_collection, rows)


def insert_json_rows(raw_collection: Any, rows: Sequence[tuple[str, str]]) -> int | None:
    """Insert ready (JSON text of a plain-JSON document, its string `_id`) rows in one transaction; their count, or
    None (nothing written) when a key was already stored."""
    table = quote_table_name(raw_collection.name)
    done = _in_savepoint(raw_collection.db, lambda db: db.executemany(
        f"INSERT INTO {table}(data, _id) VALUES (?, ?)", rows))
    return len(rows) if done else None


def replace_documents(raw_collection: Any, replacements: Sequence[Replacement],
                      default: JsonDefault) -> set[str] | None:
    """Replace each document by `_id` (inserting missing ones that upsert) in one transaction.

    Returns the `_id`s that matched a stored document, or None when NeoSQLite's own path must do it.
    """
    ids = [replacement.document_id for replacement in replacements]
    if len(set(ids)) != len(ids):
        return None
    rows = _rows([{**replacement.document, "_id": replacement.document_id} for replacement in replacements], default)
    if rows is None:
        return None
    table = quote_table_name(raw_collection.name)
    existing = _existing_ids(raw_collection.db, table, ids)
    updates = [row for row in rows if row[1] in existing]
    inserts = [row for row, replacement in zip(rows, replacements, strict=True)
               if row[1] not in existing and replacement.upsert]

    def write(db: sqlite3.Connection) -> None:
        db.executemany(f"UPDATE {table} SET data = ? WHERE _id = ?", updates)
        db.executemany(f"INSERT INTO {table}(data, _id) VALUES (?, ?)", inserts)

    return existing if _in_savepoint(raw_collection.db, write) else None


def find_by_ids(raw_collection: Any, ids: Sequence[str]) -> list[dict[str, Any]] | None:
    """The stored documents with these `_id`s, read by orjson; None when one needs NeoSQLite's own decoding.

    NeoSQLite decodes its tagged values (ObjectIds, binaries, `$date`) and reads JSONB; plain JSON reads the same.
    """
    table = quote_table_name(raw_collection.name)
    documents = []
    for start in range(0, len(ids), ID_LOOKUP_CHUNK):
        chunk = ids[start : start + ID_LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for (data,) in raw_collection.db.execute(f"SELECT data FROM {table} WHERE _id IN ({marks}) ORDER BY id", chunk):
            if type(data) is not str or "__neosqlite_" in data or '"$date"' in data:
                return None
            try:
                document = orjson.loads(data)
            except orjson.JSONDecodeError:  # a NaN, an integer beyond 64 bits
                return None
            if type(document) is not dict or "_id" not in document:
                return None
            documents.append(document)
    return documents


def page_after(raw_collection: Any, equalities: dict[str, str | int | float], after: int,
               limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` documents stored after row `after` (SQLite's `id`) whose top-level fields equal `equalities`,
    in stored order, and the last row read (`after` when none is left): one page of a read over many documents.

    Plain JSON is read by orjson; a document with NeoSQLite's tagged values (ObjectIds, `$date`) by NeoSQLite, as
    its own cursor reads it. A field's index (NeoSQLite indexes `json_extract(data, '$.field')`) serves the filter.
    """
    table = quote_table_name(raw_collection.name)
    where = "".join(f" AND json_extract(data, '$.{name}') = ?" for name in equalities)
    rows = raw_collection.db.execute(
        f"SELECT id, _id, CASE WHEN typeof(data) = 'blob' THEN json(data) ELSE data END FROM {table} "
        f"WHERE id > ?{where} ORDER BY id LIMIT ?", [after, *equalities.values(), limit]).fetchall()
    documents = []
    for row_id, stored_id, data in rows:
        document = None
        if "__neosqlite_" not in data and '"$date"' not in data:
            try:
                document = orjson.loads(data)
            except orjson.JSONDecodeError:  # a NaN, an integer beyond 64 bits
                pass
        if type(document) is not dict or "_id" not in document:
            document = raw_collection._load_with_stored_id(row_id, data, stored_id)
        documents.append(document)
    return documents, rows[-1][0] if rows else after


def all_string_ids(raw_collection: Any) -> list[str] | None:
    """Every document's `_id`, read by SQLite from the stored JSON; None unless every one is a string."""
    table = quote_table_name(raw_collection.name)
    ids = []
    for key, kind in raw_collection.db.execute(
            f"SELECT json_extract(data, '$._id'), json_type(data, '$._id') FROM {table} ORDER BY id"):
        if kind != "text":
            return None
        ids.append(key)
    return ids


def _rows(documents: Sequence[dict[str, Any]], default: JsonDefault) -> list[tuple[str, str]] | None:
    """(JSON text, `_id`) per document; None unless every document is plain JSON with a string `_id`."""
    rows = []
    for document in documents:
        key = document.get("_id")
        if type(key) is not str:
            return None
        try:
            rows.append((orjson.dumps(document, default=default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode(), key))
        except orjson.JSONEncodeError:  # an ObjectId, bytes, a set: NeoSQLite has its own ways with them
            return None
    return rows


def _existing_ids(db: sqlite3.Connection, table: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), ID_LOOKUP_CHUNK):
        chunk = ids[start : start + ID_LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(row[0] for row in db.execute(f"SELECT _id FROM {table} WHERE _id IN ({marks})", chunk))
    return found


def _in_savepoint(db: sqlite3.Connection, write) -> bool:
    """Run `write(db)` in a savepoint; False (and nothing written) when a constraint refused a row."""
    db.execute(f"SAVEPOINT {SAVEPOINT}")
    try:
        write(db)
    except BaseException as exc:
        db.execute(f"ROLLBACK TO {SAVEPOINT}")
        db.execute(f"RELEASE {SAVEPOINT}")
        if isinstance(exc, db.IntegrityError):  # the driver NeoSQLite chose (sqlite3 or pysqlite3)
            return False
        raise
    db.execute(f"RELEASE {SAVEPOINT}")
    return True
