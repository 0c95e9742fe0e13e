"""Whole collections come out of either store as JSON lines an engine can read."""

from __future__ import annotations

import io

import orjson

from retrieval.json_export import dump_json_lines


def test_every_document_comes_out_as_one_json_line(store):
    docs = [{"_id": "A1", "customer_id": "C1", "balance": 12.5, "status": "open"},
            {"_id": "A2", "customer_id": "C2", "balance": None, "tags": ["x", "é"]}]
    store["accounts"].insert_many(docs)
    out = io.BytesIO()
    assert dump_json_lines(store, "accounts", out) == 2
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(lines, key=lambda doc: doc["_id"]) == docs


def test_a_collection_never_written_gives_no_lines(store):
    out = io.BytesIO()
    assert dump_json_lines(store, "nothing_here", out) == 0 and out.getvalue() == b""
