"""Fargo's embedded store held in memory: what the loader is given, for tests that keep no file."""

from __future__ import annotations

from pathlib import Path

from retrieval.docstore import DocumentStore, open_neosqlite


def memory_store() -> DocumentStore:
    return open_neosqlite(Path(":memory:"), "fargo")
