"""The intent classifier: what a message asks for, with a calibrated confidence.

Serving, training, saved models and training data live in their own modules;
the names callers use are re-exported here.
"""

from assistant.intents.classifier import (
    INTENT_LABELS,
    OOS_RECALL_TARGET,
    OOS_RECALL_Z,
    OUT_OF_SCOPE,
    Embedder,
    IntentClassifier,
    IntentConfig,
    IntentPrediction,
)
from assistant.intents.examples import (
    TRAINING_DATA_PATH,
    TrainingDataError,
    load_examples,
)
from assistant.intents.storage import ModelError, load_latest, load_model, save_model
from assistant.intents.training import current_model, train_default, train_intents

__all__ = [
    "INTENT_LABELS",
    "OOS_RECALL_TARGET",
    "OOS_RECALL_Z",
    "OUT_OF_SCOPE",
    "TRAINING_DATA_PATH",
    "Embedder",
    "IntentClassifier",
    "IntentConfig",
    "IntentPrediction",
    "ModelError",
    "TrainingDataError",
    "current_model",
    "load_examples",
    "load_latest",
    "load_model",
    "save_model",
    "train_default",
    "train_intents",
]
