"""Chroma vector indexes: products, healthcare services, FAQ passages, campaign posts.

Each logical index lives in versioned collections named `<index>__<run_id>`.
An ingestion run builds its version beside the live one and `publish` switches
the live pointer only when the build is done, so a failed run leaves the
service answering from the last good version.

The pointers live inside Chroma itself, one record per index in the
`fargo_index_pointers` collection (id = index name, metadata = run id). Kept in
the same store as the collections they point at, they work unchanged with the
embedded client and with a Chroma server shared by many replicas, and a
single-record upsert switches one index atomically.

Every index is its own collection so hot queries need no metadata filter,
which costs Chroma many times a plain query on a large collection.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from retrieval.errors import FargoError

if TYPE_CHECKING:
    from retrieval.embeddings import Embedder

INDEX_NAMES = ("products", "healthcare_services", "faq", "campaign_posts")
POINTER_COLLECTION = "fargo_index_pointers"
VERSION_SEPARATOR = "__"
# Chroma needs a vector for every record; a pointer record has nothing to search.
_POINTER_VECTOR = [1.0]
KEPT_VECTORS_READ = 2000  # ids per read of the live version's vectors
_RUN_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_CHROMA_FAILURES = (ChromaError, ValueError, httpx.HTTPError, OSError)

Progress = Callable[[int, int], None]  # (items written, items expected)
MetadataValue = str | int | float | bool


class VectorStoreError(FargoError):
    """The vector store failed or holds no usable index; the message says which."""


@dataclass(frozen=True)
class IndexItem:
    """One document to index; `embedding` is computed from `text` when None."""

    id: str
    text: str
    metadata: dict[str, MetadataValue | None] = field(default_factory=dict)
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class VectorHit:
    """A search result; `score` is the cosine similarity, higher is closer."""

    id: str
    score: float
    text: str
    metadata: dict[str, MetadataValue]


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    """Re-raise what Chroma (or its HTTP transport) throws as a VectorStoreError."""
    try:
        yield
    except _CHROMA_FAILURES as exc:
        raise VectorStoreError(f"{action}: {exc}") from exc


def version_name(name: str, run_id: str) -> str:
    return f"{name}{VERSION_SEPARATOR}{run_id}"


def parse_version_name(collection_name: str) -> tuple[str, str] | None:
    """(index, run_id) for a versioned collection of a known index, else None."""
    name, separator, run_id = collection_name.partition(VERSION_SEPARATOR)
    if separator and name in INDEX_NAMES and run_id:
        return name, run_id
    return None


def server_address(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of a Chroma server URL such as https://chroma.internal:8443."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VectorStoreError(f"FARGO_CHROMA_URL must look like http://host:port, got {url!r}")
    if parts.path.strip("/") or parts.query:
        raise VectorStoreError(f"FARGO_CHROMA_URL must not have a path or query, got {url!r}")
    ssl = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if ssl else 8000), ssl


class VectorSettings(Protocol):
    """What opening the vector store reads of Fargo's settings."""

    chroma_url: str | None
    data_dir: Path


def open_client(settings: VectorSettings):
    """A Chroma server client when `settings.chroma_url` is set, else the embedded store."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        host, port, ssl = server_address(settings.chroma_url)
        with chroma_errors(f"cannot reach Chroma at {settings.chroma_url}"):
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
    path = Path(settings.data_dir) / "chroma"
    with chroma_errors(f"cannot open the Chroma store at {path}"):
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def flat_metadata(item_id: str, metadata: dict) -> dict[str, MetadataValue] | None:
    """Metadata Chroma accepts: scalar values only, None values dropped, None when empty."""
    flat = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(key, str) or not isinstance(value, MetadataValue):
            raise ValueError(f"item {item_id}: metadata {key!r} must be a str, int, float or bool")
        flat[key] = value
    return flat or None


def runs_to_drop(created: dict[str, float], live_run: str, keep: int) -> list[str]:
    """Run ids to delete: all but the live run and the keep-1 newest runs built before it.

    Runs built after the live one never went live (a killed or failed job), so they go.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1: the live version is always kept")
    live_created = created.get(live_run, float("inf"))
    older = sorted((run for run in created if created[run] < live_created), key=created.get, reverse=True)
    kept = {live_run, *older[: keep - 1]}
    return sorted(run for run in created if run not in kept)


def _batches(items: Iterable[IndexItem], size: int) -> Iterator[list[IndexItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _check_index(name: str) -> None:
    if name not in INDEX_NAMES:
        raise ValueError(f"unknown vector index {name!r}; expected one of {', '.join(INDEX_NAMES)}")


def _check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id) or VERSION_SEPARATOR in run_id:
        raise ValueError(f"run id {run_id!r} must be letters, digits, '.', '_' or '-' (no '__')")


class VectorIndexes:
    """The four vector indexes over one Chroma client; safe to share between threads."""

    def __init__(self, client, embedder) -> None:
        self._client = client
        self._embedder = embedder
        self._collections: dict[str, object] = {}

    @classmethod
    def open(cls, settings: VectorSettings, embedder: Embedder) -> VectorIndexes:
        return cls(open_client(settings), embedder)

    def close(self) -> None:
        """Release the embedded store's files (no-op for clients without close)."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
        self._collections.clear()

    def __enter__(self) -> VectorIndexes:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def ping(self) -> None:
        """Raises VectorStoreError unless the Chroma store answers (a server may have gone away since opening)."""
        with chroma_errors("Chroma does not answer"):
            self._client.heartbeat()

    # --- building and publishing -------------------------------------------------

    def build(
        self,
        name: str,
        run_id: str,
        items: Iterable[IndexItem],
        batch_size: int = 256,
        progress: Progress | None = None,
    ) -> int:
        """Write `items` into the not-yet-live collection `<name>__<run_id>`; return its size.

        A leftover collection of the same version (a killed run retried) is replaced.
        `progress(done, total)` is called after every batch. Ids must be unique within `items`.
        An item the live version holds with the same text keeps its vector (same encoder), and a text repeated
        among the items is embedded once: a run embeds only what is new.
        """
        _check_index(name)
        _check_run_id(run_id)
        live = self.live_version(name)
        if live == run_id:
            raise VectorStoreError(f"{version_name(name, run_id)} is live; build under a new run id")
        items = self._with_kept_vectors(version_name(name, live), list(items)) if live else list(items)
        collection = self._fresh_collection(name, run_id)
        # Like-length texts in one batch pad least (encode() sorts each call's texts; this sorts across batches), and
        # equal texts fall in one batch, to be embedded once.
        items.sort(key=lambda item: (len(item.text), item.text) if item.embedding is None else (0, ""))
        total, done = len(items), 0

        def written(write) -> None:
            nonlocal done
            done += write.result()
            if progress:
                progress(done, total)

        # Chroma's write holds the GIL but torch's kernels do not: embed the next batch while the last is written.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fargo-index-write") as writer:
            pending = None
            for batch in _batches(items, batch_size):
                vectors = self._vectors(batch)
                if pending is not None:
                    written(pending)
                pending = writer.submit(self._write, collection, batch, vectors)
            if pending is not None:
                written(pending)
        with chroma_errors(f"cannot count {collection.name}"):
            return collection.count()

    def publish(self, run_id: str, names: Iterable[str]) -> None:
        """Make `run_id` the live version of each index in `names`.

        Every version must exist first; if one is missing nothing is switched.
        """
        _check_run_id(run_id)
        names = list(dict.fromkeys(names))
        for name in names:
            _check_index(name)
        missing = [name for name in names if not self._exists(version_name(name, run_id))]
        if missing:
            raise VectorStoreError(f"cannot publish {run_id}: no version built for {', '.join(missing)}")
        if not names:
            return
        published_at = time.time()
        with self._using(POINTER_COLLECTION, f"cannot publish {run_id}"):
            self._pointers().upsert(
                ids=names,
                embeddings=[_POINTER_VECTOR] * len(names),
                metadatas=[{"run_id": run_id, "published_at": published_at} for _ in names],
            )

    def live_version(self, name: str) -> str | None:
        """The run id the index is served from, or None before its first publish."""
        _check_index(name)
        return self.live_versions().get(name)

    def live_versions(self) -> dict[str, str]:
        """Index name -> live run id, for every published index."""
        with self._using(POINTER_COLLECTION, "cannot read the live index pointers"):
            records = self._pointers().get(include=["metadatas"])
        return {
            record_id: str(metadata["run_id"])
            for record_id, metadata in zip(records["ids"], records["metadatas"] or [], strict=False)
            if metadata and record_id in INDEX_NAMES
        }

    def cleanup(self, keep: int = 1) -> list[str]:
        """Drop versions that are not live, keeping `keep - 1` earlier ones for rollback.

        Indexes never published are left alone. Do not run this while a build is in
        progress: an unpublished version looks exactly like a killed run's.
        """
        live = self.live_versions()
        dropped = []
        for name, created in self._versions().items():
            if name not in live:
                continue
            for run_id in runs_to_drop(created, live[name], keep):
                collection_name = version_name(name, run_id)
                with chroma_errors(f"cannot drop {collection_name}"):
                    self._client.delete_collection(collection_name)
                self._collections.pop(collection_name, None)
                dropped.append(collection_name)
        return dropped

    def forget(self, name: str, ids: Sequence[str]) -> int:
        """Delete these items from every version of index `name` (live and kept); returns the versions touched.

        For erasure and retention: an item must go from the rollback versions too."""
        _check_index(name)
        if not ids:
            return 0
        touched = 0
        for run_id in self._versions().get(name, {}):
            collection_name = version_name(name, run_id)
            with self._using(collection_name, f"cannot delete from {collection_name}"):
                self._collection(collection_name).delete(ids=list(dict.fromkeys(ids)))
            touched += 1
        return touched

    # --- querying ----------------------------------------------------------------

    def query(
        self,
        name: str,
        text: str | None = None,
        embedding=None,
        k: int = 10,
        where: dict | None = None,
    ) -> list[VectorHit]:
        """The `k` nearest items of the live version, closest first, by text or by vector."""
        _check_index(name)
        if (text is None) == (embedding is None):
            raise ValueError("query needs exactly one of text or embedding")
        if k < 1:
            raise ValueError("k must be at least 1")
        vector = self._require_embedder().embed_one(text) if embedding is None else embedding
        run_id = self.live_version(name)
        if run_id is None:
            raise VectorStoreError(f"vector index {name} has no live version yet; run ingestion")
        collection_name = version_name(name, run_id)
        with self._using(collection_name, f"cannot query {collection_name}"):
            result = self._same_encoder(collection_name).query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=k,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        return _hits(result)

    def vectors(self, name: str) -> tuple[list[str], np.ndarray]:
        """Every item id of the live version and its stored vector (one row each, same order).

        For exact similarity against a small index (the catalogue) as one matrix product:
        rows are unit length, so row @ query is what `query` scores (1 - cosine distance).
        """
        _check_index(name)
        run_id = self.live_version(name)
        if run_id is None:
            raise VectorStoreError(f"vector index {name} has no live version yet; run ingestion")
        collection_name = version_name(name, run_id)
        with self._using(collection_name, f"cannot read {collection_name}"):
            records = self._same_encoder(collection_name).get(include=["embeddings"])
        return list(records["ids"]), np.asarray(records["embeddings"], dtype=np.float32)

    def vectors_of(self, name: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these item ids in the live version; ids it does not hold are left out."""
        _check_index(name)
        run_id = self.live_version(name)
        if run_id is None or not ids:
            return {}
        collection_name = version_name(name, run_id)
        with self._using(collection_name, f"cannot read {collection_name}"):
            records = self._same_encoder(collection_name).get(ids=list(dict.fromkeys(ids)), include=["embeddings"])
        return {item_id: np.asarray(vector, dtype=np.float32)
                for item_id, vector in zip(records["ids"], records["embeddings"], strict=True)}

    def other_encoder_indexes(self) -> dict[str, str]:
        """Live indexes whose vectors another encoder made: index name -> that encoder's name.

        Ingestion rebuilds them all; until then they are not queried (vectors of two encoders do not compare).
        """
        if self._embedder is None:
            return {}
        stale = {}
        for name, run_id in self.live_versions().items():
            collection_name = version_name(name, run_id)
            with self._using(collection_name, f"cannot read {collection_name}"):
                built_with = self._built_with(self._collection(collection_name))
            if built_with != self._embedding_model():
                stale[name] = built_with
        return stale

    # --- internals ---------------------------------------------------------------

    def _same_encoder(self, collection_name: str):
        """The collection, if its vectors come from the encoder this store embeds queries with."""
        collection = self._collection(collection_name)
        built_with = self._built_with(collection)
        if self._embedder is not None and built_with != self._embedding_model():
            raise VectorStoreError(
                f"{collection_name} holds {built_with} vectors but FARGO_ENCODER now embeds with "
                f"{self._embedding_model()}: run `fargo ingest` to rebuild the indexes (or set FARGO_ENCODER back)")
        return collection

    @staticmethod
    def _built_with(collection) -> str:
        return str((collection.metadata or {}).get("embedding_model", "unknown"))

    def _require_embedder(self):
        if self._embedder is None:
            raise VectorStoreError("these vector indexes were opened without an embedder")
        return self._embedder

    @contextmanager
    def _using(self, collection_name: str, action: str) -> Iterator[None]:
        """Map Chroma errors; forget the cached handle, which may point at a dropped collection."""
        with chroma_errors(action):
            try:
                yield
            except ChromaError:
                self._collections.pop(collection_name, None)
                raise

    def _pointers(self):
        pointers = self._collections.get(POINTER_COLLECTION)
        if pointers is None:
            pointers = self._client.get_or_create_collection(POINTER_COLLECTION, embedding_function=None)
            self._collections[POINTER_COLLECTION] = pointers
        return pointers

    def _collection(self, collection_name: str):
        collection = self._collections.get(collection_name)
        if collection is None:
            collection = self._client.get_collection(collection_name, embedding_function=None)
            self._collections[collection_name] = collection
        return collection

    def _exists(self, collection_name: str) -> bool:
        return collection_name in {collection.name for collection in self._list_collections()}

    def _list_collections(self) -> list:
        with chroma_errors("cannot list Chroma collections"):
            return list(self._client.list_collections())

    def _versions(self) -> dict[str, dict[str, float]]:
        """Index name -> {run_id: created_at} for every versioned collection."""
        versions: dict[str, dict[str, float]] = {}
        for collection in self._list_collections():
            parsed = parse_version_name(collection.name)
            if parsed:
                name, run_id = parsed
                created_at = (collection.metadata or {}).get("created_at", 0.0)
                versions.setdefault(name, {})[run_id] = float(created_at)
        return versions

    def _fresh_collection(self, name: str, run_id: str):
        collection_name = version_name(name, run_id)
        self._collections.pop(collection_name, None)
        with chroma_errors(f"cannot create {collection_name}"):
            if self._exists(collection_name):
                self._client.delete_collection(collection_name)
            return self._client.create_collection(
                collection_name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={
                    "index": name,
                    "run_id": run_id,
                    "created_at": time.time(),
                    "embedding_model": self._embedding_model(),
                },
                embedding_function=None,
            )

    def _embedding_model(self) -> str:
        return getattr(self._embedder, "model_name", "precomputed")

    def _write(self, collection, batch: list[IndexItem], vectors: np.ndarray) -> int:
        metadatas = [flat_metadata(item.id, item.metadata) for item in batch]
        with chroma_errors(f"cannot write to {collection.name}"):
            collection.add(  # the collection is fresh (see _fresh_collection): nothing to update, no lookup needed
                ids=[item.id for item in batch],
                embeddings=vectors,
                documents=[item.text for item in batch],
                metadatas=metadatas,
            )
        return len(batch)

    def _vectors(self, batch: list[IndexItem]) -> np.ndarray:
        texts = list(dict.fromkeys(item.text for item in batch if item.embedding is None))
        computed = dict(zip(texts, self._require_embedder().embed(texts) if texts else (), strict=True))
        rows = [computed[item.text] if item.embedding is None else item.embedding for item in batch]
        return np.vstack([np.asarray(row, dtype=np.float32) for row in rows])

    def _with_kept_vectors(self, live_name: str, items: list[IndexItem]) -> list[IndexItem]:
        """The items, each still to embed taking its vector from the live version when that holds its id with the
        same text and its vectors come from this store's encoder; all of them to embed when it cannot be read."""
        kept: dict[str, tuple[str, np.ndarray]] = {}
        try:
            with self._using(live_name, f"cannot read {live_name}"):
                live = self._collection(live_name)
                if self._embedder is None or self._built_with(live) != self._embedding_model():
                    return items
                for batch in _batches((item for item in items if item.embedding is None), KEPT_VECTORS_READ):
                    records = live.get(ids=[item.id for item in batch], include=["documents", "embeddings"])
                    kept.update((item_id, (document, vector)) for item_id, document, vector
                                in zip(records["ids"], records["documents"], records["embeddings"], strict=True))
        except VectorStoreError:
            return items
        return [replace(item, embedding=kept[item.id][1])
                if item.embedding is None and item.id in kept and kept[item.id][0] == item.text else item
                for item in items]

def _hits(result) -> list[VectorHit]:
    ids = result["ids"][0]
    distances = result["distances"][0]
    documents = (result.get("documents") or [[None] * len(ids)])[0]
    metadatas = (result.get("metadatas") or [[None] * len(ids)])[0]
    return [
        VectorHit(id=item_id, score=1.0 - float(distance), text=document or "", metadata=dict(metadata or {}))
        for item_id, distance, document, metadata in zip(ids, distances, documents, metadatas, strict=True)
    ]
