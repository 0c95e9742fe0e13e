"""The vectors of the texts the tools embed, kept so a text seen again is not embedded again.

`text_vectors(ctx)` is the one cache of a ToolContext: the personal tool's goal
texts (disclosures, spending patterns, stages of life, the goal examples) and
the campaign tool's post texts all go through it. It keeps the most recently
used EMBEDDING_CACHE_SIZE texts, since those texts are open-ended. The
catalogue's need statements and the campaign rules' statements, a fixed set,
are kept whole per embedder in a TextVectors of their own
(`tools.campaign.statement_vectors`), since the campaign worker matches them
without a context.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tools.context import ToolContext

EMBEDDING_CACHE_SIZE = 4096  # texts whose vectors a context keeps (stages of life and post templates repeat a lot)
MEMO_KEY = "tools.text_vectors"


class TextVectors:
    """Text -> vector, embedding only the texts not kept, in one batch per call; safe to share between threads.

    `limit` bounds how many texts are kept, least recently used first out; None keeps every text (for a fixed set
    such as the catalogue's need statements).
    """

    def __init__(self, limit: int | None = EMBEDDING_CACHE_SIZE) -> None:
        self.limit = limit
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embedder, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order; a (0, dimension) array for no texts."""
        texts = list(texts)
        if not texts:
            return np.empty((0, embedder.dimension), dtype=np.float32)
        with self._lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        # embedded outside the lock: other callers' kept texts are not held up by this batch
        fresh = dict(zip(missing, embedder.embed(missing), strict=True)) if missing else {}
        with self._lock:
            self._vectors.update(fresh)
            rows = [self._vectors[text] if text in self._vectors else fresh[text] for text in texts]
            for text in texts:
                if text in self._vectors:
                    self._vectors.move_to_end(text)
            while self.limit is not None and len(self._vectors) > self.limit:
                self._vectors.popitem(last=False)
        return np.vstack(rows)


def text_vectors(ctx: ToolContext) -> TextVectors:
    """The context's text vectors, made on first use and kept for the life of the context."""
    return ctx.memo(MEMO_KEY, TextVectors)
