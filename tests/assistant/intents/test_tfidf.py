"""The lean TF-IDF rows are scikit-learn's to the last bit, so intent predictions do not move."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.intents import IntentConfig, load_examples
from assistant.intents.classifier import TextFeatures
from assistant.intents.tfidf import tfidf_rows
from assistant.runtime import shipped_intents_path

ASKED = ["hi", "what card suits my spending?", "why?", "what is a HELOC?", "C0000123 wants a mortgage",
         "how can I earn more intrest on my savigns?", "", "!!!", "tell me more about the second one",
         "any health plans for me and my kids? my kids are 6 and 9"]


@pytest.fixture(scope="module")
def features() -> TextFeatures:
    texts = [text for text, _ in load_examples(shipped_intents_path())]
    return TextFeatures.fit(texts, IntentConfig())


@pytest.fixture(scope="module")
def reloaded(features) -> TextFeatures:
    return TextFeatures.from_state(*features.to_state())


@pytest.mark.parametrize("view", ["word", "char"])
def test_rows_equal_sklearn_transform_bit_for_bit(features, reloaded, view):
    texts = ASKED + [text for text, _ in load_examples(shipped_intents_path())][:300]
    for model in (features, reloaded):
        vectorizer = getattr(model, view)
        ours, theirs = tfidf_rows(vectorizer, texts), vectorizer.transform(texts)
        np.testing.assert_array_equal(ours.toarray(), theirs.toarray())
