"""Whole collections out of the document store as JSON lines, for an analytical engine to read.

The format is what `mongoexport` writes: one JSON object a line. On the embedded
store the stored JSON text is copied as SQLite holds it, with no Python object
made per document, which is what lets the feature engine read a million
customers' records in seconds.
"""

from __future__ import annotations

from typing import IO

import orjson

from retrieval.mongo_compat import MONGODB, DocumentStore


def dump_json_lines(store: DocumentStore, name: str, out: IO[bytes]) -> int:
    """Write every document of collection `name` to `out`, one JSON object a line; returns how many."""
    if store.backend == MONGODB:
        count = 0
        for doc in store[name].find({}):
            out.write(orjson.dumps(doc, default=str) + b"\n")
            count += 1
        return count
    return _copy_sqlite_text(store, name, out)


def _copy_sqlite_text(store: DocumentStore, name: str, out: IO[bytes]) -> int:
    count = 0
    with store._operation():  # the embedded store's lock: the one SQLite connection takes turns
        database = store._database
        if name not in database.list_collection_names():
            return 0
        # Stored JSON text goes out as it is (json() would re-serialise it: 6x slower); binary JSONB is converted.
        query = f"SELECT CAST(CASE WHEN typeof(data) = 'text' THEN data ELSE json(data) END AS BLOB) FROM \"{name}\""
        for (line,) in database.db.execute(query):
            out.write(line)
            out.write(b"\n")
            count += 1
    return count
