"""Public intent benchmarks: BANKING77 and CLINC150, trained and scored with Fargo's intent model.

The data stays where it is (`data_root/banking77/`, `data_root/clinc150/`, as
described by each folder's SOURCE.md); nothing is copied into the repository.

Protocols:
- BANKING77 (Casanueva et al., 2020): train on all of `train.csv`, report
  accuracy on `test.csv`. There is no validation split and no out-of-scope
  class, so the model calibrates by cross-validation on train and rejects nothing.
- CLINC150 "full" (Larson et al., 2019): train on `train` plus `oos_train` as
  the explicit out-of-scope class; fit the temperature and choose the
  out-of-scope threshold on `val` + `oos_val` (the best in-scope accuracy whose
  OOS recall keeps `OOS_RECALL_TARGET`, see `choose_threshold`); report on `test` + `oos_test`
  in-scope accuracy (an in-scope query rejected as out of scope is an error)
  and out-of-scope recall, both at that one threshold.

Sentence embeddings of the benchmark texts are cached under `cache_dir` (by
model name and a hash of the texts), so a second run skips the slowest step.
With `finetune` the encoder is fine-tuned on the train split first (CLINC150:
with `oos_train` as one more class) and its embeddings, never cached, feed the
same head, temperature and threshold; `train_seconds` then holds the whole of it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.intents.classifier import OUT_OF_SCOPE, Embedder, IntentConfig, decide
from assistant.intents.training import choose_threshold, held_out_metrics, train_intents

if TYPE_CHECKING:
    from assistant.intents.finetune import FinetuneConfig

DATASETS = ("banking77", "clinc150")
CLINC_OOS_LABEL = "oos"
OOS_RECALL_TARGETS = (0.75, 0.8, 0.85, 0.9)
CACHE_CHUNK = 2048  # texts embedded and kept at a time

Examples = list[tuple[str, str]]


@dataclass(frozen=True)
class BenchmarkSplits:
    train: Examples
    test: Examples
    validation: Examples | None = None


def load_banking77(data_root: str | Path) -> BenchmarkSplits:
    """BANKING77's train and test splits as (text, category) pairs."""
    folder = Path(data_root) / "banking77"
    return BenchmarkSplits(train=_read_banking_csv(folder / "train.csv"), test=_read_banking_csv(folder / "test.csv"))


def _read_banking_csv(path: Path) -> Examples:
    # Some texts hold newlines inside quotes: only a CSV parser reads them right.
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def load_clinc150(data_root: str | Path, include_oos_train: bool = True) -> BenchmarkSplits:
    """CLINC150 "full": in-scope splits plus their out-of-scope parts, `oos` renamed to `out_of_scope`."""
    data = json.loads((Path(data_root) / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def split(*names: str) -> Examples:
        return [(text, OUT_OF_SCOPE if label == CLINC_OOS_LABEL else label) for name in names for text, label in data[name]]

    train = split("train", "oos_train") if include_oos_train else split("train")
    return BenchmarkSplits(train=train, validation=split("val", "oos_val"), test=split("test", "oos_test"))


def load_benchmark(dataset: str, data_root: str | Path) -> BenchmarkSplits:
    if dataset == "banking77":
        return load_banking77(data_root)
    if dataset == "clinc150":
        return load_clinc150(data_root)
    raise ValueError(f"unknown benchmark {dataset!r}: choose one of {', '.join(DATASETS)}")


def cached_embeddings(texts: Sequence[str], embedder: Embedder, cache_dir: Path | None) -> tuple[np.ndarray, bool]:
    """The texts' embeddings, from `cache_dir` when there; returns (embeddings, came_from_cache).

    They are computed `CACHE_CHUNK` texts at a time, each chunk kept as it is done, so a run stopped half-way
    (a slow encoder on a shared machine) resumes where it stopped. Beside each cached array, `<name>.json`
    records what computing it took (wall and CPU seconds, summed over the chunks), so a rerun from the cache
    can still report what training from scratch costs (`embedding_cost`).
    """
    if cache_dir is None:
        return embedder.embed(list(texts)), False
    path = cache_path(texts, embedder, cache_dir)
    if path.is_file():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            return cached, True
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks, cost = [], {"wall_seconds": 0.0, "cpu_seconds": 0.0, "texts": len(texts)}
    for number, start in enumerate(range(0, len(texts), CACHE_CHUNK)):
        chunks.append(_cached_chunk(list(texts[start:start + CACHE_CHUNK]), embedder, path, number, cost))
    embeddings = np.concatenate(chunks) if chunks else embedder.embed([])
    partial = path.with_suffix(".partial.npy")
    np.save(partial, embeddings)
    path.with_suffix(".json").write_text(json.dumps({k: round(v, 1) for k, v in cost.items()}) + "\n",
                                         encoding="utf-8")
    partial.replace(path)
    for chunk in path.parent.glob(f"{path.stem}.chunk-*"):
        chunk.unlink()
    return embeddings, False


def _cached_chunk(texts: list[str], embedder: Embedder, path: Path, number: int, cost: dict) -> np.ndarray:
    """One chunk's embeddings, from its chunk file when a stopped run left it; adds what computing it took."""
    chunk = path.with_name(f"{path.stem}.chunk-{number:04d}.npy")
    record = chunk.with_suffix(".json")
    if chunk.is_file() and record.is_file():
        spent = json.loads(record.read_text(encoding="utf-8"))
        cost["wall_seconds"] += spent["wall_seconds"]
        cost["cpu_seconds"] += spent["cpu_seconds"]
        return np.load(chunk)
    wall, cpu = time.perf_counter(), time.process_time()
    embeddings = embedder.embed(texts)
    spent = {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    np.save(chunk, embeddings)
    record.write_text(json.dumps(spent), encoding="utf-8")
    cost["wall_seconds"] += spent["wall_seconds"]
    cost["cpu_seconds"] += spent["cpu_seconds"]
    return embeddings


def cache_path(texts: Sequence[str], embedder: Embedder, cache_dir: Path) -> Path:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"{embedder.model_name}-{len(texts)}-{digest}.npy"


def embedding_cost(texts: Sequence[str], embedder: Embedder, cache_dir: Path | None) -> dict | None:
    """What embedding these texts cost when they were cached (wall and CPU seconds), or None if not recorded."""
    if cache_dir is None:
        return None
    record = cache_path(texts, embedder, cache_dir).with_suffix(".json")
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None


def evaluate(
    dataset: str,
    data_root: str | Path,
    *,
    embedder: Embedder | None = None,
    cache_dir: str | Path | None = None,
    config: IntentConfig = IntentConfig(),
    finetune: FinetuneConfig | None = None,
    progress=None,
) -> dict:
    """Train on the benchmark's train split and score its test split; returns the figures and timings.

    `embed_seconds` is the time spent embedding the training texts with the frozen encoder (0 when
    cached or when fine-tuning); `train_seconds` is everything else training takes (fine-tuning and
    embedding with the fine-tuned encoder, features, SVMs, calibration).
    """
    if embedder is None:
        from retrieval.embeddings import get_embedder

        embedder = get_embedder()
    cache = Path(cache_dir) if cache_dir is not None else None
    splits = load_benchmark(dataset, data_root)

    started = time.perf_counter()
    train_embeddings, train_cached, validation_embeddings = None, False, None
    if finetune is None:
        train_embeddings, train_cached = cached_embeddings([text for text, _ in splits.train], embedder, cache)
        if splits.validation:
            validation_embeddings, _ = cached_embeddings([text for text, _ in splits.validation], embedder, cache)
    embed_seconds = time.perf_counter() - started
    costs = [embedding_cost([text for text, _ in split], embedder, cache) if split else {}
             for split in (splits.train, splits.validation)] if finetune is None else []

    started = time.perf_counter()
    classifier = train_intents(
        splits.train,
        embedder,
        embeddings=train_embeddings,
        validation=splits.validation,
        validation_embeddings=validation_embeddings,
        config=config,
        finetune=finetune,
        progress=progress,
    )
    train_seconds = time.perf_counter() - started

    def model_embeddings(texts: list[str]) -> np.ndarray:
        if finetune is not None:
            return classifier.embed(texts)
        return cached_embeddings(texts, embedder, cache)[0]

    test_texts = [text for text, _ in splits.test]
    test_embeddings = model_embeddings(test_texts)
    test_probabilities = classifier.probabilities(test_texts, test_embeddings)
    truth = np.asarray([label for _, label in splits.test], dtype=object)
    result = {
        "dataset": dataset,
        "train_examples": len(splits.train),
        "test_examples": len(splits.test),
        "labels": len(classifier.labels),
        "test": held_out_metrics(decide(test_probabilities, classifier.labels, classifier.threshold), truth),
        "threshold": classifier.threshold,
        "calibration": classifier.metadata["metrics"],
        "encoder": embedder.model_name,
        "embed_seconds": round(embed_seconds, 1),
        "embeddings_cached": train_cached,
        "embedding_cost": _total_cost(costs),
        "train_seconds": round(train_seconds, 1),
        "finetune": {key: value for key, value in classifier.metadata.get("finetune", {}).items() if key != "labels"},
    }
    if splits.validation:
        validation_texts = [text for text, _ in splits.validation]
        validation_probabilities = classifier.probabilities(validation_texts, model_embeddings(validation_texts))
        validation_truth = np.asarray([label for _, label in splits.validation], dtype=object)
        result["operating_points"] = operating_points(
            classifier.labels, validation_probabilities, validation_truth, test_probabilities, truth
        )
    return result


def _total_cost(costs: list[dict | None]) -> dict | None:
    """The recorded cost of embedding the train (and validation) texts, summed; None when any is unknown."""
    if not costs or any(cost is None for cost in costs):
        return None
    keys = ("wall_seconds", "cpu_seconds", "texts")
    return {key: round(sum(cost.get(key, 0) for cost in costs), 1) for key in keys}


def operating_points(
    labels: Sequence[str],
    validation_probabilities: np.ndarray,
    validation_truth: np.ndarray,
    test_probabilities: np.ndarray,
    test_truth: np.ndarray,
    targets: Sequence[float] = OOS_RECALL_TARGETS,
) -> list[dict]:
    """Test figures at thresholds chosen on validation for each out-of-scope recall target there."""
    points = []
    for target in targets:
        threshold = choose_threshold(validation_probabilities, validation_truth, labels, target)
        figures = held_out_metrics(decide(test_probabilities, labels, threshold), test_truth)
        points.append({"validation_oos_recall": target, "threshold": threshold, **figures})
    return points


def side_by_side(results: Sequence[dict]) -> str:
    """One column per encoder's result on the same benchmark: the test figures and what training cost."""

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.2f}"

    def cost(result: dict) -> str:
        recorded = result.get("embedding_cost")
        if recorded:
            return f"{recorded['wall_seconds']:.0f} s ({recorded['cpu_seconds']:.0f} s CPU)"
        return "cached, not recorded" if result["embeddings_cached"] else f"{result['embed_seconds']:.0f} s"

    rows = [("encoder", [r["encoder"] for r in results])]
    if "in_scope_accuracy" in results[0]["test"]:
        rows += [("in-scope accuracy", [percent(r["test"]["in_scope_accuracy"]) for r in results]),
                 ("out-of-scope recall", [percent(r["test"]["out_of_scope_recall"]) for r in results]),
                 ("threshold (on validation)", [f"{r['threshold']:.3f}" for r in results])]
    else:
        rows.append(("accuracy", [percent(r["test"]["accuracy"]) for r in results]))
    rows += [("embedding the training texts", [cost(r) for r in results]),
             ("fitting the head", [f"{r['train_seconds']:.0f} s" for r in results])]
    width = max(len(cell) for _, cells in rows for cell in cells) + 2
    return "\n".join(f"{label:<30}" + "".join(f"{cell:>{width}}" for cell in cells) for label, cells in rows)
