"""Intent classification: what a message asks for, with a calibrated confidence.

The model is a linear head over three views of the text: the shared MiniLM
sentence embedding (the assistant computes it once per turn and hands it over,
so classification adds no second model pass), TF-IDF word n-grams and TF-IDF
character n-grams (typos, product names, customer ids). Scores become
probabilities by softmax with a temperature fitted on held-out predictions.

Out-of-scope detection uses both an explicit class (`out_of_scope` examples in
the training data) and a threshold on the best in-scope probability, chosen on
held-out data as the lowest threshold (so the best in-scope accuracy) whose
out-of-scope recall still reaches `OOS_RECALL_TARGET` with a margin: the lower
confidence bound of the held-out recall (Wilson, `OOS_RECALL_Z`) must reach it,
so a few hundred held-out out-of-scope examples do not promise more than they show.
Held-out data is a validation set when one is given, else out-of-fold
predictions from cross-validation on the training set.

Optionally (`finetune=FinetuneConfig(...)`, see `assistant.intents.finetune`) the
MiniLM encoder is first fine-tuned on the training examples and its embeddings
replace the frozen ones. Such a model embeds each message itself, a second
encoder pass beside the shared embedding, so it is an option for large labelled
sets (the public benchmarks), not the default.

A trained model is saved as plain arrays and JSON (no pickle), one numbered
directory per version under `<data_dir>/models/intents/`; a fine-tuned encoder
goes beside them as safetensors in `encoder/`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from assistant.intents.tfidf import tfidf_rows

if TYPE_CHECKING:
    from assistant.intents.finetune import FinetuneConfig, FinetunedEncoder

OUT_OF_SCOPE = "out_of_scope"
INTENT_LABELS: tuple[str, ...] = (
    "personal_recommendation",
    "family_recommendation",
    "healthcare",
    "product_question",
    "campaign_insight",
    "account_servicing",
    "greeting",
    "thanks",
    "goodbye",
    "talk_to_human",
    OUT_OF_SCOPE,
)
TRAINING_DATA_PATH = Path(__file__).resolve().parent / "data" / "intents.jsonl"
MODELS_SUBDIR = Path("models") / "intents"
MODEL_FORMAT = 1
ENCODER_SUBDIR = "encoder"
FINETUNE_HOLDOUT_SHARE = 0.1  # fine-tuning without a validation set keeps this share aside to choose the threshold
TOP_SCORES = 3
MAX_REPORTED_PROBLEMS = 20
OOS_RECALL_TARGET = 0.75  # out-of-scope recall the threshold is chosen to keep
OOS_RECALL_Z = 1.96  # the held-out recall's lower bound at this many standard errors must reach the target
_VERSION_PATTERN = re.compile(r"^\d{4,}$")


class Embedder(Protocol):
    model_name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class TrainingDataError(ValueError):
    """A training file has rows Fargo cannot learn from; `problems` holds (line, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = problems
        shown = [f"  line {line}: {reason}" for line, reason in problems[:MAX_REPORTED_PROBLEMS]]
        more = len(problems) - MAX_REPORTED_PROBLEMS
        if more > 0:
            shown.append(f"  ... and {more} more")
        super().__init__(f"{source}: {len(problems)} bad training row(s)\n" + "\n".join(shown))


class ModelError(RuntimeError):
    """A saved intent model cannot be loaded or does not fit the embedder in use."""


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


# --- training data -------------------------------------------------------------------------


class _Row(NamedTuple):
    line: int
    text: object
    label: object


Problems = list[tuple[int, str]]


def load_examples(path: str | Path) -> list[tuple[str, str]]:
    """(text, label) pairs from a `.csv` (header with `text` and `label`) or `.jsonl` file.

    Every bad row is collected and reported at once, with its line number, in a
    `TrainingDataError`: a model trained on silently skipped rows is worse than no model.
    """
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(str(path), [(0, "file not found")])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, problems = _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows, problems = _jsonl_rows(path)
    else:
        raise TrainingDataError(str(path), [(0, f"unknown file type {suffix!r}: use .csv or .jsonl")])
    examples, row_problems = validate_rows(rows)
    problems = sorted(problems + row_problems)
    if problems:
        raise TrainingDataError(str(path), problems)
    return examples


def _csv_rows(path: Path) -> tuple[list[_Row], Problems]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"text", "label"} - set(reader.fieldnames or ())
        if missing:
            return [], [(1, f"header lacks column(s) {', '.join(sorted(missing))}")]
        # line_num is the reader's position after the record: its last physical line.
        return [_Row(reader.line_num, record.get("text"), record.get("label")) for record in reader], []


def _jsonl_rows(path: Path) -> tuple[list[_Row], Problems]:
    rows: list[_Row] = []
    problems: Problems = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict):
                problems.append((number, "not a JSON object"))
                continue
            rows.append(_Row(number, record.get("text"), record.get("label")))
    return rows, problems


def validate_rows(rows: Iterable[_Row]) -> tuple[list[tuple[str, str]], Problems]:
    """Split parsed rows into clean (text, label) examples and (line, reason) problems."""
    examples: list[tuple[str, str]] = []
    problems: Problems = []
    label_of: dict[str, tuple[str, int]] = {}
    for line, text, label in rows:
        reason = _row_problem(text, label)
        if reason is None:
            text, label = " ".join(text.split()), label.strip()
            earlier = label_of.get(text.lower())
            if earlier is not None and earlier[0] != label:
                reason = f"same text as line {earlier[1]} but label {label!r} instead of {earlier[0]!r}"
        if reason is not None:
            problems.append((line, reason))
            continue
        label_of.setdefault(text.lower(), (label, line))
        examples.append((text, label))
    if not problems and len({label for _, label in examples}) < 2:
        problems.append((0, "training needs at least two different labels"))
    return examples, problems


def _row_problem(text: object, label: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "missing or empty text"
    if not isinstance(label, str) or not label.strip():
        return "missing or empty label"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", label.strip()):
        return f"label {label.strip()!r} has characters other than letters, digits and _.:-"
    return None


def data_hash(examples: Iterable[tuple[str, str]]) -> str:
    """A fingerprint of the training data that ignores row order."""
    digest = hashlib.sha256()
    for text, label in sorted(examples):
        digest.update(f"{label}\t{text}\n".encode())
    return "sha256:" + digest.hexdigest()


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


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOut:
    """Scores of examples a model did not train on, with their true labels."""

    scores: np.ndarray
    labels: np.ndarray
    source: str


def train_intents(
    examples: Sequence[tuple[str, str]],
    embedder: Embedder,
    *,
    embeddings: np.ndarray | None = None,
    validation: Sequence[tuple[str, str]] | None = None,
    validation_embeddings: np.ndarray | None = None,
    config: IntentConfig = IntentConfig(),
    finetune: FinetuneConfig | None = None,
    progress=None,
) -> IntentClassifier:
    """Train on (text, label) examples; calibrate and pick the threshold on `validation`, else by cross-validation.

    `embeddings` (and `validation_embeddings`) are the texts' rows from `embedder`, if already computed.
    With `finetune` the encoder is fine-tuned on the examples first (the given embeddings are ignored)
    and its own cosine head gives the scores: on a validation split carved from BANKING77's train it beat
    the SVM over the fine-tuned embeddings and TF-IDF (93.2 against 92.5; frozen 91.9), whose
    embeddings of its training texts are too well separated to learn a head from. A TF-IDF-only
    SVM's scores are added to the head's (`FinetuneConfig.tfidf_weight`, see `finetuned_head`). The head cannot be
    cross-validated without fine-tuning again, so without `validation` a stratified
    `FINETUNE_HOLDOUT_SHARE` of the examples is kept aside for the temperature and threshold when
    they hold out-of-scope examples; without those there is no threshold to choose, every example
    trains, and the temperature stays 1 (the head's own scale).
    """
    all_examples = list(examples)
    if finetune is not None and not validation and OUT_OF_SCOPE in {label for _, label in all_examples}:
        examples, validation = _holdout_split(all_examples, FINETUNE_HOLDOUT_SHARE, config.seed)
    texts = [text for text, _ in examples]
    labels = np.asarray([label for _, label in examples], dtype=object)
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two different labels")
    encoder = None
    if finetune is not None:
        from assistant.intents.finetune import finetune_encoder

        encoder = finetune_encoder(texts, labels.tolist(), finetune, progress=progress)
        validation_embeddings = encoder.embed([text for text, _ in validation]) if validation else None
        features, coef, intercept, classes = finetuned_head(texts, labels, encoder, config)
    else:
        if embeddings is None:
            embeddings = embedder.embed(texts)
        features, coef, intercept, classes = fit_head(texts, labels, embeddings, config)
    if validation:
        val_texts = [text for text, _ in validation]
        if validation_embeddings is None:
            validation_embeddings = embedder.embed(val_texts)
        held_out = HeldOut(
            np.asarray(features.transform(val_texts, validation_embeddings) @ coef.T + intercept),
            np.asarray([label for _, label in validation], dtype=object),
            "validation",
        )
    elif encoder is None:
        held_out = cross_validated_scores(texts, labels, embeddings, classes, config)
    else:
        held_out = None
    if held_out is None:  # fine-tuned on every example, none of them out of scope
        temperature, threshold, metrics = 1.0, 0.0, {"source": "none"}
    else:
        temperature = fit_temperature(held_out.scores, held_out.labels, classes)
        probabilities = softmax(held_out.scores / temperature)
        threshold = choose_threshold(
            probabilities, held_out.labels, classes, config.min_oos_recall, config.oos_recall_z
        )
        metrics = held_out_metrics(decide(probabilities, classes, threshold), held_out.labels)
        metrics["source"] = held_out.source
    metadata = {
        "format": MODEL_FORMAT,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_hash": data_hash(all_examples),
        "examples": len(examples),
        "examples_per_label": dict(sorted(Counter(labels.tolist()).items())),
        "labels": list(classes),
        "threshold": threshold,
        "temperature": temperature,
        "metrics": metrics,
        "config": asdict(config),
        "embedder": getattr(embedder, "model_name", type(embedder).__name__),
    }
    if encoder is not None:
        metadata["embedder"] = encoder.model_name
        metadata["base_embedder"] = getattr(embedder, "model_name", type(embedder).__name__)
        metadata["finetune"] = encoder.info
    return IntentClassifier(classes, features, coef, intercept, temperature, threshold, embedder, metadata, encoder)


def _holdout_split(
    examples: list[tuple[str, str]], share: float, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A stratified (kept, held-out) split; labels with a single example stay in `kept`."""
    from sklearn.model_selection import train_test_split

    counts = Counter(label for _, label in examples)
    single = [example for example in examples if counts[example[1]] < 2]
    rest = [example for example in examples if counts[example[1]] >= 2]
    kept, held_out = train_test_split(
        rest, test_size=share, stratify=[label for _, label in rest], random_state=seed
    )
    return single + kept, held_out


def fit_head(
    texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray, config: IntentConfig
) -> tuple[TextFeatures, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Fit the features and a linear SVM; returns (features, coef, intercept, classes)."""
    features = TextFeatures.fit(texts, config)
    svm = LinearSVC(C=config.svm_c, random_state=config.seed)
    svm.fit(features.transform(texts, embeddings), labels)
    coef, intercept = svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32)
    if len(svm.classes_) == 2:
        # A binary SVM keeps one weight row, for the second class; give each class its own.
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return features, coef, intercept, tuple(str(label) for label in svm.classes_)


def finetuned_head(
    texts: Sequence[str], labels: np.ndarray, encoder: FinetunedEncoder, config: IntentConfig
) -> tuple[TextFeatures | EmbeddingFeatures, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The fine-tuned encoder's cosine head, plus `tfidf_weight` x a TF-IDF-only SVM's scores when that is above 0.

    The sum is one linear layer over [embedding | word TF-IDF | char TF-IDF]: the SVM is fitted with the
    embedding block zeroed (so its weights there are 0) and the head's weights take that block.
    """
    coef, intercept, classes = encoder.head_weights()
    weight = encoder.config.tfidf_weight
    if weight <= 0:
        return EmbeddingFeatures(), coef, intercept, classes
    no_embedding = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    features, svm_coef, svm_intercept, svm_classes = fit_head(
        texts, labels, no_embedding, replace(config, embedding_weight=1.0)
    )
    if svm_classes != classes:
        raise ValueError("the TF-IDF SVM and the fine-tuned head disagree on the labels")
    combined = weight * svm_coef
    combined[:, : encoder.dimension] = coef
    return features, combined, (intercept + weight * svm_intercept).astype(np.float32), classes


def cross_validated_scores(
    texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray, classes: tuple[str, ...], config: IntentConfig
) -> HeldOut:
    """Out-of-fold scores for every example, columns in `classes` order."""
    folds = min(config.calibration_folds, min(Counter(labels.tolist()).values()))
    if folds < 2:
        raise ValueError("every label needs at least two examples to calibrate by cross-validation")
    texts_array = np.asarray(texts, dtype=object)
    scores = np.zeros((len(texts), len(classes)), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for train_index, test_index in splitter.split(texts_array, labels):
        features, coef, intercept, fold_classes = fit_head(
            texts_array[train_index].tolist(), labels[train_index], embeddings[train_index], config
        )
        fold_scores = features.transform(texts_array[test_index].tolist(), embeddings[test_index]) @ coef.T
        columns = [classes.index(label) for label in fold_classes]
        scores[np.ix_(test_index, columns)] = np.asarray(fold_scores + intercept)
    return HeldOut(scores, labels, f"{folds}-fold cross-validation")


def fit_temperature(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> float:
    """The softmax temperature that minimises the negative log-likelihood of the true labels."""
    from scipy.optimize import minimize_scalar

    index = {label: i for i, label in enumerate(classes)}
    known = np.asarray([label in index for label in labels])
    if not known.any():
        return 1.0
    rows = np.flatnonzero(known)
    targets = np.asarray([index[label] for label in labels[known]])

    def negative_log_likelihood(log_temperature: float) -> float:
        probabilities = softmax(scores[rows] / np.exp(log_temperature))
        return float(-np.log(probabilities[np.arange(len(rows)), targets] + 1e-12).mean())

    result = minimize_scalar(negative_log_likelihood, bounds=(-6.0, 3.0), method="bounded")
    return float(np.exp(result.x))


THRESHOLD_GRID = np.round(np.arange(0.0, 1.0, 0.005), 3)


def choose_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    min_oos_recall: float | None = OOS_RECALL_TARGET,
    z: float = 0.0,
) -> float:
    """The in-scope probability below which a message is out of scope.

    With `min_oos_recall` it is the lowest threshold whose out-of-scope recall,
    less `z` standard errors (Wilson lower bound), reaches that share: in-scope
    accuracy only falls as the threshold rises, so this is the best in-scope
    accuracy the recall target allows; where higher thresholds keep that same
    in-scope accuracy, it moves to the middle of those with the best recall.
    If no threshold reaches the target, the one with the best recall bound. With `min_oos_recall=None` it maximises the mean of
    in-scope accuracy (a rejected in-scope message is an error) and out-of-scope
    recall, keeping the middle of the best plateau. Without out-of-scope
    examples nothing is rejected by confidence (0.0).
    """
    is_oos = labels == OUT_OF_SCOPE
    if not is_oos.any() or is_oos.all():
        return 0.0
    in_scope_accuracy, oos_recall = threshold_curve(probabilities, labels, classes)
    if min_oos_recall is not None:
        bound = wilson_lower_bound(oos_recall, int(is_oos.sum()), z)
        reaching = bound >= min_oos_recall - 1e-9
        if not reaching.any():
            return float(THRESHOLD_GRID[int(np.argmax(bound))])
        best_in_scope = in_scope_accuracy[reaching].max()
        allowed = reaching & (in_scope_accuracy >= best_in_scope - 1e-9)
        return _middle_of_best(np.where(allowed, oos_recall, -1.0))
    return _middle_of_best((in_scope_accuracy + oos_recall) / 2)


def _middle_of_best(objective: np.ndarray) -> float:
    """The threshold in the middle of the grid points where `objective` is at its maximum."""
    best = np.flatnonzero(objective >= objective.max() - 1e-9)
    return float(THRESHOLD_GRID[best[len(best) // 2]])


def wilson_lower_bound(share: np.ndarray, count: int, z: float) -> np.ndarray:
    """The Wilson score interval's lower end for a share observed on `count` examples (the share itself at z=0)."""
    share = np.asarray(share, dtype=np.float64)
    if z <= 0:
        return share
    z2 = z * z
    centre = share + z2 / (2 * count)
    spread = z * np.sqrt(share * (1 - share) / count + z2 / (4 * count * count))
    return (centre - spread) / (1 + z2 / count)


def threshold_curve(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """In-scope accuracy and out-of-scope recall at each threshold of `THRESHOLD_GRID`."""
    is_oos = labels == OUT_OF_SCOPE
    in_scope_accuracy, oos_recall = [], []
    for threshold in THRESHOLD_GRID:
        predicted = decide(probabilities, classes, threshold)
        in_scope_accuracy.append((predicted[~is_oos] == labels[~is_oos]).mean())
        oos_recall.append((predicted[is_oos] == OUT_OF_SCOPE).mean())
    return np.asarray(in_scope_accuracy), np.asarray(oos_recall)


def held_out_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy over all examples, and in-scope accuracy / out-of-scope recall when both kinds are present."""
    metrics = {"accuracy": round(float((predicted == labels).mean()), 4), "examples": int(len(labels))}
    is_oos = labels == OUT_OF_SCOPE
    if is_oos.any() and not is_oos.all():
        metrics["in_scope_accuracy"] = round(float((predicted[~is_oos] == labels[~is_oos]).mean()), 4)
        metrics["out_of_scope_recall"] = round(float((predicted[is_oos] == OUT_OF_SCOPE).mean()), 4)
    return metrics


# --- saving and loading --------------------------------------------------------------------


def models_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / MODELS_SUBDIR


def save_model(classifier: IntentClassifier, data_dir: str | Path) -> Path:
    """Write `classifier` as the next version under `<data_dir>/models/intents/`; returns its directory.

    The files are written to a temporary directory first and renamed into place,
    so a reader never sees a half-written version.
    """
    root = models_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    feature_meta, arrays = classifier.features.to_state()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    np.savez(staging / "weights.npz", coef=classifier.coef, intercept=classifier.intercept, **arrays)
    if classifier.encoder is not None:
        from assistant.intents.finetune import save_encoder

        save_encoder(classifier.encoder, staging / ENCODER_SUBDIR)
    (staging / "features.json").write_text(json.dumps(feature_meta, ensure_ascii=False), encoding="utf-8")
    while True:
        version = f"{_latest_version_number(root) + 1:04d}"
        metadata = {**classifier.metadata, "version": version, "labels": list(classifier.labels),
                    "threshold": classifier.threshold, "temperature": classifier.temperature}
        if classifier.encoder is not None:
            metadata["encoder"] = ENCODER_SUBDIR
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(staging, root / version)
        except OSError:
            if (root / version).exists():
                continue  # another process took this number first
            raise
        classifier.metadata = metadata
        return root / version


def _latest_version_number(root: Path) -> int:
    numbers = [int(path.name) for path in root.iterdir() if path.is_dir() and _VERSION_PATTERN.match(path.name)]
    return max(numbers, default=0)


def load_latest(data_dir: str | Path, embedder: Embedder | None = None) -> IntentClassifier | None:
    """The newest saved model, or None if none was saved yet."""
    root = models_dir(data_dir)
    if not root.is_dir():
        return None
    versions = sorted(
        (path for path in root.iterdir() if _VERSION_PATTERN.match(path.name) and (path / "metadata.json").is_file()),
        key=lambda path: int(path.name),
    )
    return load_model(versions[-1], embedder) if versions else None


def load_model(directory: str | Path, embedder: Embedder | None = None) -> IntentClassifier:
    """The model saved in `directory`; raises ModelError if it is unreadable or built for another embedder."""
    directory = Path(directory)
    try:
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        feature_meta = json.loads((directory / "features.json").read_text(encoding="utf-8"))
        with np.load(directory / "weights.npz") as weights:
            arrays = {name: weights[name] for name in weights.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot read the intent model in {directory}: {exc}") from exc
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelError(f"{directory}: model format {metadata.get('format')!r}, this Fargo reads {MODEL_FORMAT}")
    wanted = metadata.get("base_embedder") or metadata.get("embedder")
    if embedder is not None and wanted and getattr(embedder, "model_name", wanted) != wanted:
        raise ModelError(f"{directory} was trained on {wanted} embeddings, not {embedder.model_name}")
    encoder = None
    if metadata.get("encoder"):
        from assistant.intents.finetune import load_encoder

        try:
            encoder = load_encoder(directory / metadata["encoder"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read the fine-tuned encoder in {directory}: {exc}") from exc
    return IntentClassifier(
        labels=tuple(metadata["labels"]),
        features=features_from_state(feature_meta, arrays),
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        temperature=float(metadata["temperature"]),
        threshold=float(metadata["threshold"]),
        embedder=embedder,
        metadata=metadata,
        encoder=encoder,
    )


def train_default(embedder: Embedder, path: str | Path = TRAINING_DATA_PATH, **kwargs) -> IntentClassifier:
    """Train on Fargo's own labelled set (or another file in the same format)."""
    return train_intents(load_examples(path), embedder, **kwargs)
