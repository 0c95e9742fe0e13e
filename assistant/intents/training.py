"""Training the intent model: the linear head, its temperature and its out-of-scope threshold.

The threshold on the best in-scope probability is chosen on held-out data as
the lowest threshold (so the best in-scope accuracy) whose out-of-scope recall
still reaches `OOS_RECALL_TARGET` with a margin: the lower confidence bound of
the held-out recall (Wilson, `OOS_RECALL_Z`) must reach it, so a few hundred
held-out out-of-scope examples do not promise more than they show. Held-out
data is a validation set when one is given, else out-of-fold predictions from
cross-validation on the training set.

Optionally (`finetune=FinetuneConfig(...)`, see `assistant.intents.finetune`) the
MiniLM encoder is first fine-tuned on the training examples and its embeddings
replace the frozen ones. Such a model embeds each message itself, a second
encoder pass beside the shared embedding, so it is an option for large labelled
sets (the public benchmarks), not the default.

The model Fargo serves (`train_default`, kept current by `current_model`) trains
on the shipped set plus a fixed sample of public banking and chit-chat data for
`account_servicing` and `out_of_scope` (`public_examples`), when those datasets
lie beside the repository.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from assistant.intents.classifier import (
    OOS_RECALL_TARGET,
    OUT_OF_SCOPE,
    Embedder,
    EmbeddingFeatures,
    IntentClassifier,
    IntentConfig,
    TextFeatures,
    decide,
    softmax,
)
from assistant.intents.examples import TRAINING_DATA_PATH, data_hash, load_examples
from assistant.intents.public_examples import (
    DEFAULT_SAMPLE,
    PUBLIC_DATASETS_ROOT,
    PublicSample,
    add_public_examples,
    public_examples,
)
from assistant.intents.storage import (
    MODEL_FORMAT,
    EncoderMismatch,
    load_latest,
    save_model,
)

if TYPE_CHECKING:
    from assistant.intents.finetune import FinetuneConfig, FinetunedEncoder

FINETUNE_HOLDOUT_SHARE = 0.1  # fine-tuning without a validation set keeps this share aside to choose the threshold

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
    and its own cosine head gives the scores, not an SVM over the fine-tuned embeddings: those
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


SHIPPED = "shipped"  # `training_data.source` of a model trained on Fargo's own set


def default_examples(
    path: str | Path = TRAINING_DATA_PATH,
    datasets_root: str | Path | None = PUBLIC_DATASETS_ROOT,
    sample: PublicSample = DEFAULT_SAMPLE,
) -> tuple[list[tuple[str, str]], int]:
    """The file's examples plus the public sample for the labels it has (none with `datasets_root=None`);
    returns (examples, how many of them are public)."""
    examples = load_examples(path)
    if datasets_root is None:
        return examples, 0
    labels = {label for _, label in examples}
    combined = add_public_examples(examples, public_examples(datasets_root, labels, sample))
    return combined, len(combined) - len(examples)


def train_default(
    embedder: Embedder,
    path: str | Path = TRAINING_DATA_PATH,
    *,
    datasets_root: str | Path | None = PUBLIC_DATASETS_ROOT,
    **kwargs,
) -> IntentClassifier:
    """Train on Fargo's own labelled set (or another file in the same format) and the public sample.

    The model's `training_data` metadata says which file (`SHIPPED` for Fargo's own) and how many
    public examples it trained on, so `current_model` can tell when the shipped set has changed.
    """
    examples, public = default_examples(path, datasets_root)
    classifier = train_intents(examples, embedder, **kwargs)
    shipped = Path(path).resolve() == TRAINING_DATA_PATH
    classifier.metadata["training_data"] = {"source": SHIPPED if shipped else str(path), "public_examples": public}
    return classifier


def current_model(data_dir: str | Path, embedder: Embedder) -> IntentClassifier:
    """The newest saved model, or a new one trained on the shipped set (and saved) when that model is missing
    or was trained on an older version of the shipped set.

    A model trained on a bank's own file is kept as it is. One saved before models recorded their
    `training_data` counts as trained on the shipped set: that is what the service trained on its own.
    A model of the shipped set trained on another encoder's embeddings is trained again for this one; a model
    trained on purpose (a bank's file, a fine-tuned encoder) for another encoder is refused (`EncoderMismatch`).
    """
    try:
        classifier = load_latest(data_dir, embedder)
    except EncoderMismatch as mismatch:
        if _trained_on_purpose(mismatch.metadata):
            raise
        classifier = None
    if classifier is not None and not _outdated_default(classifier):
        return classifier
    classifier = train_default(embedder)
    save_model(classifier, data_dir)
    return classifier


def _outdated_default(classifier: IntentClassifier) -> bool:
    if _trained_on_purpose(classifier.metadata):
        return False
    return classifier.metadata.get("data_hash") != data_hash(default_examples()[0])


def _trained_on_purpose(metadata: dict) -> bool:
    """Trained on a bank's own file, or fine-tuned: not the model the service trains for itself."""
    return metadata.get("training_data", {}).get("source", SHIPPED) != SHIPPED or bool(metadata.get("encoder"))
