"""The one typed object that hands tools the stores they read (read-only).

`ToolContext.open(store, ...)` resolves the live pointer written by the last
good ingestion run: its feature documents, its graph (read a person at a time
from the document store, never loaded whole) and the live vector indexes.
Tests build a ToolContext directly from hand-made parts, a graph in memory among
them.

What a tool builds from those stores (tables, models, indexes, embedded texts)
is kept on the context with `memo`, so it lives exactly as long as the data it
was built from and goes with it when the next run's context replaces it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from retrieval.docstore import (
    DocumentStore,
    feature_runs,
    live_feature_documents,
    live_pointer,
)
from retrieval.errors import FargoError
from retrieval.graph import GraphStats, Neighbourhoods, as_neighbourhoods
from retrieval.neighbourhoods import GraphNotStored, StoredGraph, load_stats

if TYPE_CHECKING:  # Chroma and the model's libraries are slow to import; a context needs neither to be built
    from retrieval.embeddings import Embedder
    from retrieval.vectors import VectorIndexes

T = TypeVar("T")
FEATURE_CACHE = 1024  # customers whose feature documents a context keeps (the ones in conversation lately)


class NoLiveData(FargoError, RuntimeError):
    """No ingestion run has completed yet, so there is nothing to recommend from."""

    status = 503
    kind = "no_data"
    retry_after_s = 60

    @property
    def public_message(self) -> str:
        return "no data yet: run fargo ingest"


@dataclass
class ToolContext:
    store: DocumentStore
    vectors: VectorIndexes | None
    embedder: Embedder | None
    graph: Neighbourhoods  # a graph built in memory is wrapped (GraphNeighbourhoods)
    graph_stats: GraphStats
    run_id: str
    _features: OrderedDict[str, dict | None] = field(default_factory=OrderedDict, repr=False)
    _features_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _index_vectors: dict[str, tuple] = field(default_factory=dict, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False, compare=False)
    _memo_locks_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.graph = as_neighbourhoods(self.graph)

    @classmethod
    def open(cls, store: DocumentStore, vectors: VectorIndexes | None, embedder: Embedder | None) -> ToolContext:
        pointer = live_pointer(store)
        if pointer is None:
            raise NoLiveData("no ingestion run has completed yet; run `fargo ingest`")
        graph = pointer["graph_file"]  # the name of the live graph in the store
        try:
            stats = load_stats(store, graph)
        except GraphNotStored as exc:
            raise NoLiveData(str(exc)) from None
        return cls(store, vectors, embedder, StoredGraph(store, graph), stats, pointer["run_id"])

    @property
    def as_of(self) -> date:
        return self.graph_stats.as_of

    @cached_property
    def feature_runs(self) -> tuple[str, ...]:
        """The runs whose feature documents are this run's features, newest first."""
        return feature_runs(self.store, self.run_id)

    def features(self, customer_id: str) -> dict | None:
        """The live feature document of one customer; the last FEATURE_CACHE customers' are kept (a bank's
        million documents would be gigabytes)."""
        with self._features_lock:
            if customer_id in self._features:
                self._features.move_to_end(customer_id)
                return self._features[customer_id]
        found = live_feature_documents(self.store, self.feature_runs, [customer_id]).get(customer_id)
        with self._features_lock:
            self._features[customer_id] = found
            while len(self._features) > FEATURE_CACHE:
                self._features.popitem(last=False)
        return found

    def index_vectors(self, name: str) -> tuple:
        """(ids, unit vectors) of a small live vector index (the catalogue, the FAQ), read once for the life of this
        context, so a tool scores it exactly as one matrix product instead of querying Chroma on every call."""
        if name not in self._index_vectors:
            self._index_vectors[name] = self.vectors.vectors(name)
        return self._index_vectors[name]

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """The value kept under `key` for the life of this context, built by `factory()` on first use.

        Tools are called from several threads: callers asking for the same key at once wait for one build, while
        a slow build under one key does not hold up callers of another (each key has its own lock). A factory
        that raises keeps nothing, so the next caller tries again.
        """
        try:
            return self._memo[key]
        except KeyError:
            pass
        with self._memo_locks_lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = factory()
            return self._memo[key]

    def customer(self, customer_id: str) -> dict | None:
        return self.store["customers"].find_one({"_id": customer_id})

    @cached_property
    def products(self) -> dict[str, dict]:
        return {doc["_id"]: doc for doc in self.store["products"].find({})}

    @cached_property
    def healthcare_services(self) -> list[dict]:
        """The healthcare catalogue, read once for the life of this context, like `products`."""
        return self.store["healthcare_services"].find({})
