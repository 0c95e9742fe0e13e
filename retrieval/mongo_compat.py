"""A pymongo-compatible document store over two backends: NeoSQLite (embedded) and MongoDB.

`DocumentStore` and `Collection` mirror pymongo's methods and behave the same
on both backends; `open_neosqlite` and `open_mongodb` open one. Fargo's own
collections, indexes and lookups are in `retrieval.docstore`.
Storage rules, identical on both backends:
- a document's `_id` is its record's natural key (customers: the customer id;
  transactions: one bucket per customer-month, `_id` "<customer_id>:<YYYY-MM>");
- `datetime.date` is stored as "YYYY-MM-DD" and `datetime.datetime` as UTC
  "YYYY-MM-DDTHH:MM:SS.ffffffZ" (naive means UTC), in documents, filters and
  updates alike, so they compare and sort as strings; reads return the strings;
- booleans stay booleans, generated ids come back as `bson.ObjectId`;
- a null field counts as missing: `{"$exists": True}` and `{"$ne": None}` match
  non-null values only, `{"$exists": False}` and `None` match null or missing;
- a sub-document in a filter matches the fields it names (`{"consent":
  {"marketing": True}}` is `{"consent.marketing": True}`);
- `find`, `distinct` and `aggregate` return lists; `find_batches` yields them a batch at a time.

NeoSQLite gaps this wrapper closes (each has a test in
tests/retrieval/test_docstore.py): booleans written by `$set`; duplicate keys
raising sqlite3.IntegrityError; unordered `insert_many` stopping at the first
duplicate; replacement upserts dropping the filter's `_id`; dotted projections;
sub-document equality filters; `$exists` and `$ne: None` on nulls; `$push` in
`$group` coming back as JSON text; `date` values pymongo cannot encode;
ObjectId types; collections listed merely because they were read. What the
backends cannot do alike raises `UnsupportedQuery` instead of answering
differently.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import bson
import neosqlite
from neosqlite.collection import datetime_utils as neo_datetime_utils
from neosqlite.objectid import ObjectId as NeoObjectId
from pymongo import (
    DeleteMany,
    DeleteOne,
    InsertOne,
    MongoClient,
    ReplaceOne,
    UpdateMany,
    UpdateOne,
)
from pymongo.errors import PyMongoError

from retrieval.errors import (
    DuplicateKeyError,
    StoreError,
    StoreUnavailable,
    UnsupportedQuery,
    redact,
    translate_errors,
)
from retrieval.sqlite_bulk import (
    Replacement,
    all_string_ids,
    find_by_ids,
    insert_documents,
    insert_json_rows,
    page_after,
    replace_documents,
)

NEOSQLITE = "neosqlite"
MONGODB = "mongodb"
SERVER_SELECTION_TIMEOUT_MS = 2000
SQLITE_BUSY_TIMEOUT_S = 10.0
# A customer-month of transactions is a 2-8 KB document: on SQLite's default 4 KB pages most of them leave half a page
# empty. 16 KB pages make a new store's file 22% smaller.
SQLITE_PAGE_SIZE = 16384

IndexKeys = str | list[tuple[str, int]]
IndexSpec = Mapping[str, Sequence[tuple[IndexKeys, dict[str, Any]]]]  # collection -> (keys, options)

SUPPORTED_STAGES = frozenset({"$match", "$group", "$sort", "$limit", "$skip", "$project", "$unwind", "$count"})
GROUP_ACCUMULATORS = frozenset({"$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"})
RESTORABLE_BOOLEAN_UPDATES = ("$set", "$setOnInsert")


# --- results (the attributes of pymongo's result classes) -------------------------------------


@dataclass(frozen=True)
class InsertOneResult:
    inserted_id: Any
    acknowledged: bool = True


@dataclass(frozen=True)
class InsertManyResult:
    inserted_ids: list[Any]
    acknowledged: bool = True


@dataclass(frozen=True)
class UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: Any = None
    acknowledged: bool = True


@dataclass(frozen=True)
class DeleteResult:
    deleted_count: int
    acknowledged: bool = True


@dataclass(frozen=True)
class BulkWriteResult:
    inserted_count: int = 0
    matched_count: int = 0
    modified_count: int = 0
    deleted_count: int = 0
    upserted_count: int = 0
    upserted_ids: dict[int, Any] = field(default_factory=dict)
    acknowledged: bool = True


# --- values: what is written, what is read ----------------------------------------------------


def iso_datetime(value: datetime) -> str:
    """Fixed-width UTC text, so stored datetimes sort and compare as strings."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_PLAIN_LEAVES = frozenset({str, int, float, bool, type(None)})  # stored as they are


def storable(value: Any, embedded: bool = False) -> Any:
    """`value` as both backends store it: dates as ISO strings, tuples as lists.

    `embedded` also turns `bson.ObjectId` into NeoSQLite's own ObjectId type.
    """
    kind = type(value)
    if kind in _PLAIN_LEAVES:  # the common cases first, by exact type: a whole session is thousands of values
        return value
    if kind is dict:
        return {key: item if type(item) in _PLAIN_LEAVES else storable(item, embedded) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _PLAIN_LEAVES else storable(item, embedded) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {key: storable(item, embedded) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item, embedded) for item in value]
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if embedded and isinstance(value, bson.ObjectId):
        return NeoObjectId(str(value))
    return value


def embedded_json(value: Any) -> Any:
    """What orjson cannot write itself, as `storable` stores it; anything else is left to NeoSQLite's own path."""
    if isinstance(value, date):  # a datetime is a date too
        return storable(value)
    raise TypeError(f"{type(value).__name__} is written by NeoSQLite itself")


def readable_id(value: Any) -> Any:
    return bson.ObjectId(str(value)) if isinstance(value, NeoObjectId) else value


def readable(document: dict[str, Any]) -> dict[str, Any]:
    """Stored document as callers see it: NeoSQLite ObjectIds become bson ObjectIds."""
    if any(isinstance(value, NeoObjectId) for value in document.values()):
        return {key: readable_id(value) for key, value in document.items()}
    return document


# --- filters, projections, sorts, updates, pipelines (pure) -----------------------------------


def _is_operator_document(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(key).startswith("$") for key in value)


def _flatten_equality(prefix: str, value: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, item in value.items():
        path = f"{prefix}.{key}"
        if isinstance(item, dict) and item and not _is_operator_document(item):
            yield from _flatten_equality(path, item)
        else:
            yield path, item


def _tests_presence(value: Any) -> bool:
    return _is_operator_document(value) and ("$exists" in value or ("$ne" in value and value["$ne"] is None))


def _presence_conditions(key: str, value: dict[str, Any]) -> list[tuple[str, Any]]:
    # The backends disagree on nulls (NeoSQLite's $exists skips a null field, its $ne: null keeps
    # a missing one), so both mean "holds a non-null value" here, and equality with None the opposite.
    present = (key, {"$exists": True, "$ne": None})
    conditions = []
    if "$exists" in value:
        conditions.append(present if value["$exists"] else (key, None))
    if "$ne" in value and value["$ne"] is None:
        conditions.append(present)
    others = {op: argument for op, argument in value.items() if op != "$exists" and (op, argument) != ("$ne", None)}
    return conditions + ([(key, others)] if others else [])


def _field_conditions(key: str, value: Any) -> Iterable[tuple[str, Any]]:
    if _tests_presence(value):
        return _presence_conditions(key, value)
    if isinstance(value, dict) and not value:
        raise UnsupportedQuery(f"filter {key!r}: equality with an empty sub-document is not supported")
    if isinstance(value, list | tuple):
        raise UnsupportedQuery(f"filter {key!r}: equality with a whole list is not supported; use $all or $in")
    if isinstance(value, dict) and not _is_operator_document(value):
        # Neither backend matches a sub-document by equality; match its fields instead.
        return _flatten_equality(key, value)
    return [(key, value)]


def normalise_filter(query: Mapping[str, Any] | None, embedded: bool = False) -> dict[str, Any]:
    """A filter both backends answer alike; sub-document equality becomes dotted-field equality."""
    conditions: list[tuple[str, Any]] = []
    for key, value in (query or {}).items():
        if key in ("$and", "$or", "$nor"):
            conditions.append((key, [normalise_filter(part, embedded) for part in value]))
        elif key.startswith("$"):
            conditions.append((key, storable(value, embedded)))
        else:
            conditions.extend((path, storable(item, embedded)) for path, item in _field_conditions(key, value))
    keys = [key for key, _ in conditions]
    if len(keys) == len(set(keys)):
        return dict(conditions)
    return {"$and": [{key: value} for key, value in conditions]}


def normalise_sort(sort: Any) -> list[tuple[str, int]] | None:
    if not sort:
        return None
    if isinstance(sort, str):
        return [(sort, 1)]
    if isinstance(sort, Mapping):
        return [(str(key), int(direction)) for key, direction in sort.items()]
    if isinstance(sort, tuple) and len(sort) == 2 and isinstance(sort[1], int):
        return [(str(sort[0]), sort[1])]
    return [(item, 1) if isinstance(item, str) else (str(item[0]), int(item[1])) for item in sort]


def _projection_dict(projection: Any) -> dict[str, Any] | None:
    if projection is None:
        return None
    if isinstance(projection, Mapping):
        return dict(projection)
    return {str(name): 1 for name in projection}


def _is_inclusion(spec: Mapping[str, Any]) -> bool:
    return any(bool(value) for key, value in spec.items() if key != "_id")


def split_projection(
    projection: Any, project_locally: bool = False
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(what the backend projects, what the wrapper projects afterwards).

    Both backends mishandle dotted paths (an inclusion comes back as a flat
    "a.b" key, an exclusion is ignored), so those are projected here.
    """
    spec = _projection_dict(projection)
    if spec and project_locally:
        return None, spec
    if not spec or not any("." in key for key in spec):
        return spec, None
    if _is_inclusion(spec):
        backend = {key.split(".", 1)[0]: 1 for key in spec if key != "_id"}
        if "_id" in spec:
            backend["_id"] = spec["_id"]
        return backend, spec
    backend = {key: value for key, value in spec.items() if "." not in key}
    return backend or None, spec


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, dict):
        _copy_path(value, target.setdefault(head, {}), rest)
    elif isinstance(value, list):
        items = [item for item in value if isinstance(item, dict)]
        copies = target.get(head) or [{} for _ in items]
        for item, copy in zip(items, copies, strict=True):
            _copy_path(item, copy, rest)
        target[head] = copies


def _remove_path(document: Any, parts: list[str]) -> None:
    if isinstance(document, list):
        for item in document:
            _remove_path(item, parts)
    elif isinstance(document, dict) and parts[0] in document:
        if len(parts) == 1:
            del document[parts[0]]
        else:
            _remove_path(document[parts[0]], parts[1:])


def apply_projection(document: dict[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """MongoDB's projection of `document`, dotted paths included (`document` may be changed)."""
    paths = [key for key in spec if key != "_id"]
    if _is_inclusion(spec):
        projected: dict[str, Any] = {}
        if spec.get("_id", 1) and "_id" in document:
            projected["_id"] = document["_id"]
        for path in paths:
            _copy_path(document, projected, path.split("."))
        return projected
    for path in paths:
        _remove_path(document, path.split("."))
    if not spec.get("_id", 1):
        document.pop("_id", None)
    return document


def check_update(update: Any) -> None:
    """pymongo's own checks, plus the update forms the two backends answer differently."""
    if isinstance(update, list):
        raise UnsupportedQuery("pipeline updates are not supported; use update operators")
    if not isinstance(update, Mapping) or not update:
        raise ValueError("update must be a non-empty dict of $ operators")
    if not all(str(key).startswith("$") for key in update):
        raise ValueError("update only works with $ operators")
    for operator, arguments in update.items():
        if operator in RESTORABLE_BOOLEAN_UPDATES or not isinstance(arguments, Mapping):
            continue
        for path, argument in arguments.items():
            each = argument.get("$each", []) if isinstance(argument, Mapping) else []
            if isinstance(argument, bool) or any(isinstance(item, bool) for item in each):
                raise UnsupportedQuery(f"{operator} {path!r}: a boolean here is stored as 0/1 by NeoSQLite")


def check_replacement(document: Mapping[str, Any]) -> None:
    if any(str(key).startswith("$") for key in document):
        raise ValueError("replacement can not include $ operators")


def boolean_assignments(update: Mapping[str, Any], operator: str) -> dict[str, bool]:
    arguments = update.get(operator) or {}
    return {path: value for path, value in arguments.items() if isinstance(value, bool)}


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value


def equality_id(query: Mapping[str, Any]) -> Any:
    """The `_id` a filter pins by equality, or None."""
    value = query.get("_id")
    if isinstance(value, Mapping):
        return value.get("$eq") if set(value) == {"$eq"} else None
    return value


def _check_group(spec: Mapping[str, Any]) -> None:
    key = spec.get("_id")
    if isinstance(key, Mapping | list):
        raise UnsupportedQuery("$group: a compound _id is not supported; group by one field")
    for name, accumulator in spec.items():
        if name == "_id":
            continue
        operators = list(accumulator) if isinstance(accumulator, Mapping) else []
        if len(operators) != 1 or operators[0] not in GROUP_ACCUMULATORS:
            raise UnsupportedQuery(f"$group {name!r}: use one of {sorted(GROUP_ACCUMULATORS)}")


def _check_project(spec: Mapping[str, Any]) -> None:
    if any("." in key for key in spec):
        raise UnsupportedQuery("$project: dotted paths are not supported; name a field {'a': '$n.a'}")
    if set(spec) == {"_id"} and spec["_id"] in (1, True):
        raise UnsupportedQuery("$project: projecting only _id is not supported; use find(projection=...)")


def normalise_pipeline(pipeline: Sequence[Mapping[str, Any]], embedded: bool = False) -> list[dict[str, Any]]:
    """The pipeline with checked stages and stored-form values; raises UnsupportedQuery otherwise."""
    stages = []
    for stage in pipeline:
        if len(stage) != 1 or next(iter(stage)) not in SUPPORTED_STAGES:
            raise UnsupportedQuery(f"aggregate: stage {list(stage)} is not supported; use {sorted(SUPPORTED_STAGES)}")
        name, spec = next(iter(stage.items()))
        if name == "$match":
            spec = normalise_filter(spec, embedded)
        elif name == "$group":
            _check_group(spec)
        elif name == "$project":
            _check_project(spec)
        stages.append({name: storable(spec, embedded) if name != "$match" else spec})
    return stages


def pushed_fields(pipeline: Sequence[Mapping[str, Any]]) -> set[str]:
    """Output fields that hold a $push result, followed through simple {"new": "$old"} renames."""
    fields: set[str] = set()
    for stage in pipeline:
        name, spec = next(iter(stage.items()))
        if name == "$group":
            fields |= {key for key, value in spec.items() if isinstance(value, Mapping) and "$push" in value}
        elif name == "$project":
            fields |= {key for key, value in spec.items() if isinstance(value, str) and value[1:] in fields}
    return fields


def restore_pushed_lists(document: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """NeoSQLite's SQL aggregation returns a $push result as JSON text; MongoDB returns the list."""
    for name in fields & document.keys():
        if isinstance(document[name], str) and document[name].startswith("["):
            document[name] = json.loads(document[name])
    return document


def _sorted_if_possible(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return values


# --- writes as plain data, so bulk_write can run them one by one ------------------------------


@dataclass
class _Write:
    kind: str  # insert, update_one, update_many, replace, delete_one, delete_many
    filter: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    upsert: bool = False

    @property
    def sets_booleans(self) -> bool:
        return self.kind.startswith("update") and any(
            boolean_assignments(self.document, operator) for operator in RESTORABLE_BOOLEAN_UPDATES
        )

    def request(self) -> Any:
        """The pymongo request for this write (NeoSQLite's bulk_write takes them too)."""
        match self.kind:
            case "insert":
                return InsertOne(self.document)
            case "replace":
                return ReplaceOne(self.filter, self.document, upsert=self.upsert)
            case "update_one":
                return UpdateOne(self.filter, self.document, upsert=self.upsert)
            case "update_many":
                return UpdateMany(self.filter, self.document, upsert=self.upsert)
            case "delete_one":
                return DeleteOne(self.filter)
        return DeleteMany(self.filter)


def _pinned_replacement(write: _Write) -> Replacement | None:
    """A replacement whose filter is `{"_id": <string>}` alone, as a batch can run it; else None."""
    key = write.filter.get("_id")
    if write.kind != "replace" or len(write.filter) != 1 or type(key) is not str:
        return None
    if write.document.get("_id", key) != key:
        return None
    return Replacement(key, write.document, write.upsert)


_REQUEST_KINDS = {
    InsertOne: "insert",
    UpdateOne: "update_one",
    UpdateMany: "update_many",
    ReplaceOne: "replace",
    DeleteOne: "delete_one",
    DeleteMany: "delete_many",
}


class Collection:
    """One collection; methods mirror pymongo's and behave the same on both backends."""

    def __init__(self, store: DocumentStore, name: str):
        self._store = store
        self.name = name

    def __repr__(self) -> str:
        return f"Collection({self._store.backend!r}, {self.name!r})"

    @property
    def _raw(self) -> Any:
        return self._store._database[self.name]

    @property
    def _embedded(self) -> bool:
        return self._store.backend == NEOSQLITE

    def _filter(self, query: Mapping[str, Any] | None) -> dict[str, Any]:
        return normalise_filter(query, self._embedded)

    def _value(self, value: Any) -> Any:
        return storable(value, self._embedded)

    # --- reads ---------------------------------------------------------------------------------

    def find(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Any = None,
        sort: Any = None,
        limit: int = 0,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """The matching documents, as a list rather than a cursor."""
        # NeoSQLite projects slower than it reads whole documents, so it gets none.
        backend_projection, local_projection = split_projection(projection, project_locally=self._embedded)
        options: dict[str, Any] = {"projection": backend_projection, "sort": normalise_sort(sort)}
        options.update({"limit": limit} if limit else {})
        options.update({"skip": skip} if skip else {})
        query = self._filter(filter)
        plain = self._embedded and not sort and not limit and not skip
        with self._store._operation():
            raw = self._read_plain_json(query, local_projection) if plain else None
            if raw is None:
                split = plain and _indexable_in(query)
                raw = _union_of_equalities(self._raw, query, options) if split else self._raw.find(query, **options)
            documents = [readable(document) for document in raw]
        if local_projection is not None:
            documents = [apply_projection(document, local_projection) for document in documents]
        return documents

    def find_batches(self, filter: Mapping[str, Any] | None = None, projection: Any = None,
                     batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """The matching documents in lists of up to `batch_size`, in stored order: a read over a whole collection
        that holds one batch at a time (MongoDB: one cursor; embedded: a page of rows after the last one read, for a
        filter of top-level equalities to strings and numbers, a field holding a list not searched within; any
        other embedded filter is read whole, as `find` reads it, and handed out in batches). Each batch is read under the store's lock, none is held between."""
        backend_projection, local_projection = split_projection(projection, project_locally=self._embedded)
        query = self._filter(filter)
        equalities = _plain_equalities(query) if self._embedded else None
        if self._embedded and equalities is None:
            everything = self.find(filter, projection)
            yield from (everything[start:start + batch_size] for start in range(0, len(everything), batch_size))
            return
        if self._embedded:
            batches = self._pages(equalities, batch_size)
        else:
            batches = self._cursor_batches(query, backend_projection, batch_size)
        for batch in batches:
            yield batch if local_projection is None else [apply_projection(doc, local_projection) for doc in batch]

    def _pages(self, equalities: dict[str, Any], batch_size: int) -> Iterator[list[dict[str, Any]]]:
        after = 0
        while True:
            with self._store._operation():
                documents, after = page_after(self._raw, equalities, after, batch_size)
            if not documents:
                return
            yield [readable(document) for document in documents]

    def _cursor_batches(self, query: dict[str, Any], projection: dict[str, Any] | None,
                        batch_size: int) -> Iterator[list[dict[str, Any]]]:
        with self._store._operation():
            cursor = self._raw.find(query, projection, batch_size=batch_size)
        try:
            while True:
                with self._store._operation():
                    documents = [readable(document) for document in itertools.islice(cursor, batch_size)]
                if not documents:
                    return
                yield documents
        finally:
            cursor.close()

    def _read_plain_json(self, query: dict[str, Any], projection: dict[str, Any] | None) -> list[dict] | None:
        """Embedded reads SQLite answers without NeoSQLite's Python decoding: documents by a list of string
        `_id`s, or every `_id`; None for any other query, or when a document needs NeoSQLite's decoding."""
        ids = _string_ids_in(query)
        if ids is not None:
            return find_by_ids(self._raw, ids)
        if not query and _only_id(projection):
            every_id = all_string_ids(self._raw)
            return None if every_id is None else [{"_id": key} for key in every_id]
        return None

    def find_one(
        self, filter: Mapping[str, Any] | None = None, projection: Any = None, sort: Any = None
    ) -> dict[str, Any] | None:
        found = self.find(filter, projection, sort=sort, limit=1)
        return found[0] if found else None

    def count_documents(self, filter: Mapping[str, Any] | None = None) -> int:
        query = self._filter(filter)
        with self._store._operation():
            return int(self._raw.count_documents(query))

    def distinct(self, key: str, filter: Mapping[str, Any] | None = None) -> list[Any]:
        """Distinct values of `key` (list elements count one by one), sorted when they compare."""
        query = self._filter(filter)
        with self._store._operation():
            values = [readable_id(value) for value in self._raw.distinct(key, query)]
        return _sorted_if_possible(values)

    def aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Runs $match, $group, $sort, $limit, $skip, $project, $unwind and $count stages.

        NeoSQLite turns a non-string `_id` into text after $unwind; Fargo's `_id`s are strings.
        """
        stages = normalise_pipeline(pipeline, self._embedded)
        pushed = pushed_fields(stages)
        with self._store._operation():
            documents = [readable(document) for document in self._raw.aggregate(stages)]
        return [restore_pushed_lists(document, pushed) for document in documents] if pushed else documents

    # --- writes --------------------------------------------------------------------------------

    def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        if self._embedded and type(document.get("_id")) is str:  # a third of NeoSQLite's CPU (it deep-copies)
            with self._store._operation():
                if insert_documents(self._raw, [dict(document)], embedded_json) is not None:
                    return InsertOneResult(document["_id"])
        stored = self._value(dict(document))
        with self._store._operation():
            result = self._raw.insert_one(stored)
        return InsertOneResult(readable_id(result.inserted_id))

    def insert_many(self, documents: Iterable[Mapping[str, Any]], ordered: bool = True) -> InsertManyResult:
        """Unordered inserts go on past a duplicate (then raise DuplicateKeyError), as MongoDB's do."""
        documents = list(documents)
        if not documents:
            return InsertManyResult([])
        if self._embedded:
            with self._store._operation():
                if insert_documents(self._raw, documents, embedded_json) is not None:
                    return InsertManyResult([document["_id"] for document in documents])
        stored = [self._value(dict(document)) for document in documents]
        with self._store._operation():
            # NeoSQLite's insert_many stops at the first duplicate even unordered; its bulk_write does not.
            self._raw.bulk_write([InsertOne(document) for document in stored], ordered=ordered)
        return InsertManyResult([readable_id(document["_id"]) for document in stored])

    def insert_json(self, rows: Sequence[tuple[str, str]]) -> None:
        """Insert documents given as (JSON text of a plain-JSON object, its string `_id`), unordered: a bulk load's
        ready-made documents, stored as `insert_many` would store them, without making Python objects on SQLite."""
        if not rows:
            return
        if self._embedded:
            with self._store._operation():
                if insert_json_rows(self._raw, rows) is not None:
                    return
        self.insert_many([json.loads(text) for text, _ in rows], ordered=False)

    def update_one(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False
    ) -> UpdateResult:
        check_update(update)
        return self._update(_Write("update_one", self._filter(filter), self._value(update), upsert))

    def update_many(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False
    ) -> UpdateResult:
        check_update(update)
        return self._update(_Write("update_many", self._filter(filter), self._value(update), upsert))

    def replace_one(
        self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False
    ) -> UpdateResult:
        check_replacement(replacement)
        return self._replace(self._replace_write(filter, replacement, upsert))

    def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        return self._delete(_Write("delete_one", self._filter(filter)))

    def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        return self._delete(_Write("delete_many", self._filter(filter)))

    def bulk_write(self, requests: Iterable[Any], ordered: bool = False) -> BulkWriteResult:
        """Runs pymongo InsertOne, UpdateOne, UpdateMany, ReplaceOne, DeleteOne and DeleteMany requests."""
        writes = [self._write_from_request(request) for request in requests]
        if not writes:
            return BulkWriteResult()
        if self._store._restores_booleans and any(write.sets_booleans for write in writes):
            return self._bulk_one_by_one(writes, ordered)
        with self._store._operation():
            batched = self._embedded_batch(writes) if self._embedded else None
            if batched is not None:
                return batched
            result = self._raw.bulk_write([write.request() for write in writes], ordered=ordered)
        return BulkWriteResult(
            inserted_count=result.inserted_count,
            matched_count=result.matched_count,
            modified_count=result.modified_count,
            deleted_count=result.deleted_count,
            upserted_count=result.upserted_count,
            upserted_ids={int(index): readable_id(value) for index, value in result.upserted_ids.items()},
        )

    def _embedded_batch(self, writes: list[_Write]) -> BulkWriteResult | None:
        """All inserts, or all replacements pinned to an `_id`, in one SQLite transaction; else None."""
        if all(write.kind == "insert" for write in writes):
            inserted = insert_documents(self._raw, [write.document for write in writes], embedded_json)
            return None if inserted is None else BulkWriteResult(inserted_count=inserted)
        replacements = [_pinned_replacement(write) for write in writes]
        if None in replacements:
            return None
        matched = replace_documents(self._raw, replacements, embedded_json)
        if matched is None:
            return None
        upserted = {index: item.document_id for index, item in enumerate(replacements)
                    if item.upsert and item.document_id not in matched}
        return BulkWriteResult(matched_count=len(matched), modified_count=len(matched),
                               upserted_count=len(upserted), upserted_ids=upserted)

    def create_index(self, keys: IndexKeys, unique: bool = False, name: str | None = None) -> str:
        """Creates the index unless it exists; returns the backend's name for it."""
        options: dict[str, Any] = {"unique": unique}
        if name is not None:
            options["name"] = name
        with self._store._operation():
            return str(self._raw.create_index(keys, **options))

    # --- write internals (arguments already in stored form) -------------------------------------

    def _write_from_request(self, request: Any) -> _Write:
        kind = _REQUEST_KINDS.get(type(request))
        if kind is None:
            raise TypeError(f"bulk_write takes pymongo write requests, not {type(request).__name__}")
        if kind == "insert":
            return _Write(kind, document=self._value(dict(request._doc)))
        if kind == "replace":
            check_replacement(request._doc)
            return self._replace_write(request._filter, request._doc, bool(request._upsert))
        if kind.startswith("update"):
            check_update(request._doc)
            return _Write(kind, self._filter(request._filter), self._value(request._doc), bool(request._upsert))
        return _Write(kind, self._filter(request._filter))

    def _replace_write(self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool) -> _Write:
        query = self._filter(filter)
        document = self._value(dict(replacement))
        pinned = equality_id(query)
        if upsert and "_id" not in document and pinned is not None:
            # MongoDB inserts an upserted replacement under the filter's _id; NeoSQLite makes a new ObjectId.
            document["_id"] = pinned
        return _Write("replace", query, document, upsert)

    def _update(self, write: _Write) -> UpdateResult:
        with self._store._operation():
            if write.sets_booleans and self._store._restores_booleans:
                return self._update_keeping_booleans(write)
            method = self._raw.update_many if write.kind == "update_many" else self._raw.update_one
            result = method(write.filter, write.document, upsert=write.upsert)
        return UpdateResult(result.matched_count, result.modified_count, readable_id(result.upserted_id))

    def _update_keeping_booleans(self, write: _Write) -> UpdateResult:
        # NeoSQLite (embedded, or behind a wire-protocol server such as nx-27017) stores a
        # boolean written by $set as 0/1 and no update form avoids it, so the updated documents
        # are rewritten with their booleans put back. Embedded, the store's lock makes this
        # atomic; through a server a concurrent writer can interleave. Real MongoDB skips this.
        raw = self._raw
        first_only = {} if write.kind == "update_many" else {"limit": 1}
        ids = [document["_id"] for document in raw.find(write.filter, projection={"_id": 1}, **first_only)]
        set_booleans = boolean_assignments(write.document, "$set")
        if ids:
            result = raw.update_many({"_id": {"$in": ids}}, write.document)
            for document_id in ids:
                self._restore_booleans(document_id, set_booleans)
            return UpdateResult(result.matched_count, result.modified_count)
        if not write.upsert:
            return UpdateResult(0, 0)
        result = raw.update_one(write.filter, write.document, upsert=True)
        inserted = set_booleans | boolean_assignments(write.document, "$setOnInsert")
        self._restore_booleans(result.upserted_id, inserted)
        return UpdateResult(0, 0, readable_id(result.upserted_id))

    def _restore_booleans(self, document_id: Any, booleans: Mapping[str, bool]) -> None:
        document = self._raw.find_one({"_id": document_id})
        if document is None or not booleans:
            return
        for path, value in booleans.items():
            set_path(document, path, value)
        self._raw.replace_one({"_id": document_id}, document)

    def _replace(self, write: _Write) -> UpdateResult:
        with self._store._operation():
            result = self._raw.replace_one(write.filter, write.document, upsert=write.upsert)
        return UpdateResult(result.matched_count, result.modified_count, readable_id(result.upserted_id))

    def _delete(self, write: _Write) -> DeleteResult:
        with self._store._operation():
            method = self._raw.delete_many if write.kind == "delete_many" else self._raw.delete_one
            return DeleteResult(method(write.filter).deleted_count)

    def _run_write(self, write: _Write) -> tuple[str, Any]:
        if write.kind == "insert":
            with self._store._operation():
                self._raw.insert_one(write.document)
            return "inserted", None
        if write.kind.startswith("delete"):
            return "deleted", self._delete(write)
        return "updated", self._replace(write) if write.kind == "replace" else self._update(write)

    def _bulk_one_by_one(self, writes: list[_Write], ordered: bool) -> BulkWriteResult:
        counts = {"inserted": 0, "matched": 0, "modified": 0, "deleted": 0}
        upserted: dict[int, Any] = {}
        failures: list[StoreError] = []
        for index, write in enumerate(writes):
            try:
                outcome, result = self._run_write(write)
            except StoreError as error:
                if ordered:
                    raise
                failures.append(error)
                continue
            if outcome == "inserted":
                counts["inserted"] += 1
            elif outcome == "deleted":
                counts["deleted"] += result.deleted_count
            else:
                counts["matched"] += result.matched_count
                counts["modified"] += result.modified_count
                if result.upserted_id is not None:
                    upserted[index] = result.upserted_id
        if failures:
            kind = DuplicateKeyError if all(isinstance(f, DuplicateKeyError) for f in failures) else StoreError
            raise kind(f"{len(failures)} write(s) failed; first: {failures[0]}")
        return BulkWriteResult(
            inserted_count=counts["inserted"],
            matched_count=counts["matched"],
            modified_count=counts["modified"],
            deleted_count=counts["deleted"],
            upserted_count=len(upserted),
            upserted_ids=upserted,
        )


class DocumentStore:
    """The open document database: collections by name, indexes, health, lifecycle."""

    def __init__(self, backend: str, client: Any, database: Any, where: str, secrets: tuple[str, ...] = (),
                 indexes: IndexSpec | None = None):
        self.backend = backend
        self.indexes = dict(indexes or {})
        self._client = client
        self._database = database
        self._where = where
        self._secrets = secrets
        self._closed = False
        self._restores_booleans = backend == NEOSQLITE
        # One SQLite connection is shared by the API's worker threads; NeoSQLite runs
        # several statements per call, so calls take turns. MongoClient is thread-safe.
        self._lock: Any = threading.RLock() if backend == NEOSQLITE else nullcontext()

    def __repr__(self) -> str:
        return f"DocumentStore({self.backend!r}, {self._where!r})"

    @contextmanager
    def _operation(self):
        if self._closed:
            raise StoreUnavailable(f"{self._where}: the store is closed")
        with self._lock, translate_errors(self._where, self._secrets):
            yield

    def collection(self, name: str) -> Collection:
        return Collection(self, name)

    def __getitem__(self, name: str) -> Collection:
        return self.collection(name)

    def ensure_indexes(self) -> None:
        """Creates every index the store was opened with; indexes that exist are left as they are."""
        for collection_name, indexes in self.indexes.items():
            for keys, options in indexes:
                self.collection(collection_name).create_index(keys, **options)

    def ping(self) -> None:
        """Raises StoreUnavailable unless the database answers."""
        with self._operation():
            if self.backend == MONGODB:
                self._client.admin.command("ping")
            else:
                self._database.list_collection_names()

    def drop_collection(self, name: str) -> None:
        with self._operation():
            self._database.drop_collection(name)

    def list_collection_names(self) -> list[str]:
        """Collections that hold documents or indexes (NeoSQLite also makes one when merely read)."""
        with self._operation():
            return sorted(name for name in self._database.list_collection_names() if self._holds_something(name))

    def _holds_something(self, name: str) -> bool:
        raw = self._database[name]
        return raw.find_one({}, {"_id": 1}) is not None or any(index != "_id_" for index in raw.index_information())

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            self._closed = True
            self._client.close()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


# --- opening --------------------------------------------------------------------------------


def strings_compare_as_strings() -> None:
    """Make NeoSQLite compare an ISO-looking string as a string, as MongoDB does.

    NeoSQLite wraps such a comparison in SQLite's datetime(), which drops the fraction of a second: a session opened
    at 10:00:00.4 was not before a period ending at 10:00:00.9. Every datetime Fargo stores is already a fixed-width
    string (`iso_datetime`), so comparing the text is right, and it is what the MongoDB backend does.
    """
    detects = neo_datetime_utils.is_datetime_value
    if getattr(detects, "strings_as_strings", False):
        return

    def datetime_objects_only(value: Any) -> bool:
        return not isinstance(value, str) and detects(value)

    datetime_objects_only.strings_as_strings = True
    neo_datetime_utils.is_datetime_value = datetime_objects_only



def open_neosqlite(path: Path, database_name: str, indexes: IndexSpec | None = None) -> DocumentStore:
    """The embedded store in the SQLite file `path`, checked to answer."""
    where = f"NeoSQLite file {path}"
    # NeoSQLite logs its routine fallbacks from fast SQL to Python at WARNING.
    logging.getLogger("neosqlite").setLevel(logging.ERROR)
    strings_compare_as_strings()
    with translate_errors(where):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"{where} cannot be created: {exc}") from None
        if not path.exists():
            _create_sqlite_file(path)
        connection = neosqlite.Connection(
            str(path), name=database_name, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S
        )
    store = DocumentStore(NEOSQLITE, connection, connection, where, indexes=indexes)
    _ping_or_close(store)
    return store


def _create_sqlite_file(path: Path) -> None:
    """A new SQLite file with Fargo's page size, in the modes NeoSQLite opens it in (a page size is fixed once a file
    is in WAL mode)."""
    connection = sqlite3.connect(str(path))
    try:
        connection.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()


def uri_secrets(uri: str) -> tuple[str, ...]:
    """The parts of a MongoDB URI no message may show: the URI itself, its user info, its password."""
    authority = uri.split("://", 1)[-1].split("/", 1)[0]
    if "@" not in authority:
        return (uri,)
    user_info = authority.rsplit("@", 1)[0]
    password = user_info.split(":", 1)[1] if ":" in user_info else ""
    return tuple(secret for secret in (uri, user_info, unquote(user_info), password, unquote(password)) if secret)


def uri_hosts(uri: str) -> str:
    authority = uri.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return authority.rsplit("@", 1)[-1]


def open_mongodb(uri: str, database_name: str, indexes: IndexSpec | None = None) -> DocumentStore:
    """pymongo against the server `uri` names, checked to answer; the URI's secrets never reach a message."""
    where = f"MongoDB at {uri_hosts(uri)}"
    secrets = uri_secrets(uri)
    options: dict[str, Any] = {"appname": "fargo"}
    if "serverselectiontimeoutms" not in uri.lower():
        options["serverSelectionTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
    if "connecttimeoutms" not in uri.lower():
        options["connectTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
    try:
        client = MongoClient(uri, **options)
    except (PyMongoError, ValueError) as exc:
        raise StoreError(redact(f"FARGO_MONGODB_URI is not usable: {exc}", secrets)) from None
    store = DocumentStore(MONGODB, client, client[database_name], where, secrets, indexes)
    _ping_or_close(store)
    with store._operation():
        store._restores_booleans = not is_real_mongodb(client.admin.command("buildInfo"))
    return store


def is_real_mongodb(build_info: Mapping[str, Any]) -> bool:
    """MongoDB's buildInfo carries gitVersion; NeoSQLite-backed servers such as nx-27017 do not."""
    return "gitVersion" in build_info


def _ping_or_close(store: DocumentStore) -> None:
    try:
        store.ping()
    except StoreError:
        store.close()
        raise


def _indexable_in(query: Mapping[str, Any]) -> bool:
    """A lone `{field: {"$in": [...]}}` on a field other than `_id`."""
    if len(query) != 1:
        return False
    (field_name, condition), = query.items()
    return field_name != "_id" and isinstance(condition, dict) and list(condition) == ["$in"]


PLAIN_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain_equalities(query: Mapping[str, Any]) -> dict[str, Any] | None:
    """A filter of top-level fields each equal to a string or a number (not a boolean), as field -> value; else
    None. SQLite's `json_extract` compares those as MongoDB does."""
    plain = all(PLAIN_FIELD.fullmatch(name) and type(value) in (str, int, float) for name, value in query.items())
    return dict(query) if plain else None


def _only_id(projection: Mapping[str, Any] | None) -> bool:
    """A projection that keeps nothing but `_id`."""
    return projection is not None and list(projection) == ["_id"] and bool(projection["_id"])


def _string_ids_in(query: Mapping[str, Any]) -> list[str] | None:
    """The ids of a lone `{"_id": {"$in": [<strings>]}}`, else None."""
    condition = query.get("_id") if len(query) == 1 else None
    if not isinstance(condition, dict) or list(condition) != ["$in"]:
        return None
    ids = condition["$in"]
    return list(ids) if all(type(value) is str for value in ids) else None


def _union_of_equalities(raw, query: Mapping[str, Any], options: dict) -> list[dict]:
    # NeoSQLite scans the whole collection for `$in` even on an indexed field, where an equality query uses
    # the index, so a lone `$in` runs as one indexed equality query per value.
    (field_name, condition), = query.items()
    seen: set = set()
    documents = []
    for value in dict.fromkeys(condition["$in"]):
        for document in raw.find({field_name: value}, **options):
            key = str(document.get("_id"))
            if key not in seen:
                seen.add(key)
                documents.append(document)
    return documents


