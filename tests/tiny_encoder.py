"""A second "encoder" for tests about changing encoders: hashed word counts, unit length, instant to load."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer


class TinyEncoder:
    """Same interface as `retrieval.embeddings.Embedder` (embed, embed_one, model_name, dimension)."""

    def __init__(self, model_name: str = "tiny-hashing-encoder", dimension: int = 64) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self._hashing = HashingVectorizer(n_features=dimension, alternate_sign=False, norm="l2")
        self.embedded = 0  # texts embedded so far

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        self.embedded += len(texts)
        rows = self._hashing.transform(texts).toarray().astype(np.float32)
        rows[np.linalg.norm(rows, axis=1) == 0, 0] = 1.0  # a text of no words still gets a unit vector
        return rows

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
