"""Serving the intent model: what a message asks for, with a calibrated confidence.

The model is a linear head over three views of the text: the shared MiniLM
sentence embedding (the assistant computes it once per turn and hands it over,
so classification adds no second model pass), TF-IDF word n-grams and TF-IDF
character n-grams (typos, product names, customer ids). Scores become
probabilities by softmax with a temperature fitted on held-out predictions; a
message is out of scope when the `out_of_scope` class wins or the best in-scope
probability is below the model's threshold (both chosen in `training`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from assistant.intents.tfidf import tfidf_rows

if TYPE_CHECKING:
    from assistant.intents.finetune import FinetunedEncoder

OUT_OF_SCOPE = "out_of_scope"
INTENT_LABELS: tuple[str, ...] = (
    "personal_recommendation",
    "family_recommendation",
    "healthcare",
    "product_question",
    "campaign_insight",
    "account_servicing",
    "fraud",
    "dispute",
    "complaint",
    "greeting",
    "thanks",
    "goodbye",
    "talk_to_human",
    OUT_OF_SCOPE,
)
TOP_SCORES = 3
OOS_RECALL_TARGET = 0.75  # out-of-scope recall the threshold is chosen to keep
OOS_RECALL_Z = 1.96  # the held-out recall's lower bound at this many standard errors must reach the target

class Embedder(Protocol):
    model_name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

@dataclass(frozen=True)
class IntentPrediction:
    """`scores` are the three most probable labels with their probabilities, best first."""

    label: str
    confidence: float
    scores: tuple[tuple[str, float], ...]
    out_of_scope: bool


@dataclass(frozen=True)
class IntentConfig:
    """The model's knobs; the defaults were tuned on a validation split carved from BANKING77's train."""

    embedding_weight: float = 2.0
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    svm_c: float = 1.0
    calibration_folds: int = 5
    min_oos_recall: float | None = OOS_RECALL_TARGET  # None: maximise mean of in-scope accuracy and OOS recall
    oos_recall_z: float = OOS_RECALL_Z
    seed: int = 0

# --- features ------------------------------------------------------------------------------


class EmbeddingFeatures:
    """The embedding alone, as it is: the features of a model whose fine-tuned encoder carries its own head."""

    def transform(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings, dtype=np.float32)

    def split(self, coef: np.ndarray) -> tuple[np.ndarray, ...]:
        return (np.ascontiguousarray(coef.T),)

    def scores(self, texts: Sequence[str], embeddings: np.ndarray, blocks: tuple[np.ndarray, ...]) -> np.ndarray:
        """`transform(texts, embeddings) @ coef.T`, given `split(coef)`."""
        return np.asarray(embeddings, dtype=np.float32) @ blocks[0]

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"kind": "embedding"}, {}


def features_from_state(meta: dict, arrays: dict[str, np.ndarray]) -> TextFeatures | EmbeddingFeatures:
    if meta.get("kind") == "embedding":
        return EmbeddingFeatures()
    return TextFeatures.from_state(meta, arrays)


@dataclass
class TextFeatures:
    """Turns (texts, embeddings) into one sparse row per text: weighted embedding | word TF-IDF | char TF-IDF."""

    embedding_weight: float
    word: TfidfVectorizer
    char: TfidfVectorizer

    @classmethod
    def fit(cls, texts: Sequence[str], config: IntentConfig) -> TextFeatures:
        word = TfidfVectorizer(
            analyzer="word", ngram_range=config.word_ngrams, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        )
        char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=config.char_ngrams, sublinear_tf=True, min_df=config.char_min_df
        )
        word.fit(texts)
        char.fit(texts)
        return cls(config.embedding_weight, word, char)

    def transform(self, texts: Sequence[str], embeddings: np.ndarray) -> sparse.csr_matrix:
        blocks = [
            sparse.csr_matrix(np.asarray(embeddings, dtype=np.float32) * self.embedding_weight),
            tfidf_rows(self.word, texts, self._analyzers[0]),
            tfidf_rows(self.char, texts, self._analyzers[1]),
        ]
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def split(self, coef: np.ndarray) -> tuple[np.ndarray, ...]:
        """The weight columns of each block (embedding, word, char), transposed and contiguous."""
        word, char = (len(getattr(v, "vocabulary_", None) or v.vocabulary) for v in (self.word, self.char))
        dimension = coef.shape[1] - word - char
        bounds = (0, dimension, dimension + word, coef.shape[1])
        return tuple(np.ascontiguousarray(coef[:, start:end].T) for start, end in zip(bounds, bounds[1:]))

    def scores(self, texts: Sequence[str], embeddings: np.ndarray, blocks: tuple[np.ndarray, ...]) -> np.ndarray:
        """`transform(texts, embeddings) @ coef.T`, given `split(coef)`, without building the stacked matrix
        (converting the dense embedding block to sparse was most of a one-message prediction)."""
        dense = (np.asarray(embeddings, dtype=np.float32) * self.embedding_weight) @ blocks[0]
        word = tfidf_rows(self.word, texts, self._analyzers[0]) @ blocks[1]
        char = tfidf_rows(self.char, texts, self._analyzers[1]) @ blocks[2]
        return dense + word + char

    @cached_property
    def _analyzers(self) -> tuple:
        return self.word.build_analyzer(), self.char.build_analyzer()

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {"embedding_weight": self.embedding_weight}
        arrays = {}
        for name, vectorizer in (("word", self.word), ("char", self.char)):
            meta[name] = {
                "analyzer": vectorizer.analyzer,
                "ngram_range": list(vectorizer.ngram_range),
                "token_pattern": vectorizer.token_pattern,
                "vocabulary": {term: int(index) for term, index in vectorizer.vocabulary_.items()},
            }
            arrays[f"{name}_idf"] = vectorizer.idf_.astype(np.float64)
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> TextFeatures:
        vectorizers = {}
        for name in ("word", "char"):
            spec = meta[name]
            vectorizer = TfidfVectorizer(
                analyzer=spec["analyzer"],
                ngram_range=tuple(spec["ngram_range"]),
                token_pattern=spec["token_pattern"],
                sublinear_tf=True,
                vocabulary=spec["vocabulary"],
            )
            vectorizer.idf_ = arrays[f"{name}_idf"]
            vectorizers[name] = vectorizer
        return cls(float(meta["embedding_weight"]), vectorizers["word"], vectorizers["char"])


# --- the classifier ------------------------------------------------------------------------


@dataclass
class IntentClassifier:
    """A trained intent model; `embedder` embeds texts that arrive without an embedding.

    With a fine-tuned `encoder` the model reads that encoder's embeddings only:
    `predict` and `predict_many` then ignore the shared (frozen) embedding they
    are handed and embed the texts themselves.
    """

    labels: tuple[str, ...]
    features: TextFeatures | EmbeddingFeatures
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    threshold: float
    embedder: Embedder | None = None
    metadata: dict = field(default_factory=dict)
    encoder: FinetunedEncoder | None = None

    def predict(self, text: str, embedding: np.ndarray | None = None) -> IntentPrediction:
        """The intent of one message; pass the turn's embedding to skip embedding it again."""
        embeddings = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.predict_many([text], embeddings)[0]

    def predict_many(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> list[IntentPrediction]:
        if self.encoder is not None:
            embeddings = None  # the shared embeddings come from the frozen model, not this one's encoder
        probabilities = self.probabilities(texts, embeddings)
        return [self._prediction(row) for row in probabilities]

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """One row of label probabilities per text, columns in `self.labels` order.

        `embeddings` must come from the model's own encoder when it has one (`embed`).
        """
        texts = list(texts)
        if embeddings is None:
            embeddings = self._embed(texts)
        if len(embeddings) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        scores = self.features.scores(texts, embeddings, self._weight_blocks) + self.intercept
        return softmax(np.asarray(scores) / self.temperature)

    @cached_property
    def _weight_blocks(self) -> tuple[np.ndarray, ...]:
        return self.features.split(self.coef)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings this model reads: its fine-tuned encoder's, else the shared embedder's."""
        return self._embed(list(texts))

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.encoder is not None:
            return self.encoder.embed(texts)
        if self.embedder is None:
            from retrieval.embeddings import get_embedder

            self.embedder = get_embedder()
        return self.embedder.embed(texts)

    def _prediction(self, row: np.ndarray) -> IntentPrediction:
        order = np.argsort(-row, kind="stable")
        top = tuple((self.labels[i], float(row[i])) for i in order[:TOP_SCORES])
        best_in_scope = _best_in_scope(row[None, :], self.labels)[0]
        label, confidence = top[0]
        if label == OUT_OF_SCOPE or row[best_in_scope] < self.threshold:
            return IntentPrediction(OUT_OF_SCOPE, float(1.0 - row[best_in_scope]), top, True)
        return IntentPrediction(label, confidence, top, False)


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _best_in_scope(probabilities: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    masked = probabilities.copy()
    if OUT_OF_SCOPE in labels:
        masked[:, list(labels).index(OUT_OF_SCOPE)] = -1.0
    return masked.argmax(axis=1)


def decide(probabilities: np.ndarray, labels: Sequence[str], threshold: float) -> np.ndarray:
    """Vectorised decision rule: the top label, or `out_of_scope` if it is that or too unsure."""
    labels_array = np.asarray(labels, dtype=object)
    top = labels_array[probabilities.argmax(axis=1)]
    best = _best_in_scope(probabilities, labels)
    too_unsure = probabilities[np.arange(len(best)), best] < threshold
    return np.where((top == OUT_OF_SCOPE) | too_unsure, OUT_OF_SCOPE, top)
