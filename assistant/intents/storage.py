"""Saving and loading trained intent models.

A trained model is saved as plain arrays and JSON (no pickle), one numbered
directory per version under `<data_dir>/models/intents/`; a fine-tuned encoder
goes beside them as safetensors in `encoder/`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from assistant.intents.classifier import Embedder, IntentClassifier, features_from_state

MODELS_SUBDIR = Path("models") / "intents"
MODEL_FORMAT = 1
ENCODER_SUBDIR = "encoder"
_VERSION_PATTERN = re.compile(r"^\d{4,}$")

class ModelError(RuntimeError):
    """A saved intent model cannot be loaded or does not fit the embedder in use."""


class EncoderMismatch(ModelError):
    """A saved intent model read another encoder's vectors than the embedder in use gives; `metadata` is its own."""

    def __init__(self, directory: Path, trained_with: str, embedder_name: str, metadata: dict) -> None:
        super().__init__(
            f"{directory} was trained on {trained_with} embeddings but the encoder in use (FARGO_ENCODER) gives "
            f"{embedder_name} embeddings, which its weights cannot read: retrain it with `fargo train intents` "
            "(or set FARGO_ENCODER back)")
        self.metadata = metadata

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
        raise EncoderMismatch(directory, wanted, embedder.model_name, metadata)
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
