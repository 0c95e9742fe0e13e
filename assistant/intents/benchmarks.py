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
With `ensemble` as well, the frozen encoder's head is trained too, at the same
time, and the two models' probabilities are averaged with a weight and one
out-of-scope threshold chosen on validation (`ensemble_weight`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
ENSEMBLE_WEIGHTS = np.round(np.arange(0.0, 1.01, 0.1), 1)  # the frozen head's share, chosen on validation

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
    ensemble: bool = False,
    progress=None,
) -> dict:
    """Train on the benchmark's train split and score its test split; returns the figures and timings.

    `embed_seconds` is the time spent embedding the training texts with the frozen encoder (0 when
    cached or when fine-tuning); `train_seconds` is everything else training takes (fine-tuning and
    embedding with the fine-tuned encoder, features, SVMs, calibration).

    With `ensemble` (and `finetune`, on a benchmark with a validation split) two models are trained at once:
    the frozen `embedder`'s head (in this thread) and a MiniLM fine-tuned by `finetune` (in a second
    thread), one torch thread each, so on two cores neither waits; their probabilities are averaged with the weight and threshold
    chosen on validation (`ensemble_weight`). `train_seconds` then holds the wall clock until both are done.
    """
    if ensemble and finetune is None:
        raise ValueError("an ensemble averages the frozen head with a fine-tuned MiniLM: give `finetune` too")
    if embedder is None:
        from retrieval.embeddings import get_embedder

        embedder = get_embedder()
    cache = Path(cache_dir) if cache_dir is not None else None
    splits = load_benchmark(dataset, data_root)
    if ensemble and not splits.validation:
        raise ValueError(f"an ensemble chooses its weight on a validation split, which {dataset} does not have")

    started_training = time.perf_counter()
    tuned_future, pool = None, None
    if ensemble:
        import torch

        torch.set_num_threads(1)  # this thread's embedding on one core, the fine-tuning (`threads`) on the other
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finetune")
        tuned_future = pool.submit(train_intents, splits.train, embedder, validation=splits.validation,
                                   config=config, finetune=finetune, progress=progress)
        finetune = None  # this thread trains the frozen head
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
    tuned = None
    if tuned_future is not None:
        tuned = tuned_future.result()
        pool.shutdown()
    train_seconds = time.perf_counter() - (started_training if ensemble else started)

    def model_probabilities(texts: list[str]) -> np.ndarray:
        embeddings = classifier.embed(texts) if finetune is not None else cached_embeddings(texts, embedder, cache)[0]
        return classifier.probabilities(texts, embeddings)

    labels, threshold, calibration = classifier.labels, classifier.threshold, classifier.metadata["metrics"]
    probabilities = model_probabilities
    ensembled, validation_probabilities = {}, None
    if tuned is not None:
        if tuned.labels != labels:
            raise ValueError("the frozen head and the fine-tuned model disagree on the labels")
        validation_texts = [text for text, _ in splits.validation]
        validation_truth = np.asarray([label for _, label in splits.validation], dtype=object)
        frozen_validation = model_probabilities(validation_texts)
        tuned_validation = tuned.probabilities(validation_texts, tuned.embed(validation_texts))
        weight, threshold, calibration = ensemble_weight(
            labels, frozen_validation, tuned_validation, validation_truth, config
        )
        calibration["source"] = "validation"
        validation_probabilities = weight * frozen_validation + (1 - weight) * tuned_validation

        def probabilities(texts: list[str]) -> np.ndarray:
            return weight * model_probabilities(texts) + (1 - weight) * tuned.probabilities(texts, tuned.embed(texts))

        ensembled = {"frozen_weight": weight, "finetuned_encoder": tuned.metadata["embedder"],
                     "frozen_alone": classifier.metadata["metrics"], "finetuned_alone": tuned.metadata["metrics"]}

    test_texts = [text for text, _ in splits.test]
    test_probabilities = probabilities(test_texts)
    truth = np.asarray([label for _, label in splits.test], dtype=object)
    tuned_info = (tuned or classifier).metadata.get("finetune", {})
    result = {
        "dataset": dataset,
        "train_examples": len(splits.train),
        "test_examples": len(splits.test),
        "labels": len(labels),
        "test": held_out_metrics(decide(test_probabilities, labels, threshold), truth),
        "threshold": threshold,
        "calibration": calibration,
        "encoder": embedder.model_name,
        "embed_seconds": round(embed_seconds, 1),
        "embeddings_cached": train_cached,
        "embedding_cost": _total_cost(costs),
        "train_seconds": round(train_seconds, 1),
        "finetune": {key: value for key, value in tuned_info.items() if key != "labels"},
    }
    if ensembled:
        result["ensemble"] = ensembled
    if splits.validation:
        if validation_probabilities is None:
            validation_probabilities = probabilities([text for text, _ in splits.validation])
        validation_truth = np.asarray([label for _, label in splits.validation], dtype=object)
        result["operating_points"] = operating_points(
            labels, validation_probabilities, validation_truth, test_probabilities, truth
        )
    return result


def ensemble_weight(
    labels: Sequence[str],
    frozen: np.ndarray,
    tuned: np.ndarray,
    truth: np.ndarray,
    config: IntentConfig = IntentConfig(),
) -> tuple[float, float, dict]:
    """The frozen head's weight in `w x frozen + (1 - w) x tuned` probabilities, its threshold and validation figures.

    For each weight of `ENSEMBLE_WEIGHTS` the threshold is chosen as for one model (`choose_threshold`, the
    config's out-of-scope recall target and margin); the weight kept is the one whose validation accuracy
    (in-scope accuracy when there are out-of-scope examples) is best at its threshold, the lower weight on a tie.
    """
    best = None
    for weight in ENSEMBLE_WEIGHTS:
        combined = weight * frozen + (1 - weight) * tuned
        threshold = choose_threshold(combined, truth, labels, config.min_oos_recall, config.oos_recall_z)
        metrics = held_out_metrics(decide(combined, labels, threshold), truth)
        score = metrics.get("in_scope_accuracy", metrics["accuracy"])
        if best is None or score > best[0] + 1e-9:
            best = (score, float(weight), threshold, metrics)
    return best[1], best[2], best[3]


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
