import json
from collections import Counter

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from assistant.intents import (
    INTENT_LABELS,
    OUT_OF_SCOPE,
    TRAINING_DATA_PATH,
    ModelError,
    TrainingDataError,
    load_examples,
    load_latest,
    save_model,
    train_intents,
)
from assistant.intents.classifier import softmax
from assistant.intents.training import (
    THRESHOLD_GRID,
    choose_threshold,
    threshold_curve,
    wilson_lower_bound,
)
from retrieval.embeddings import get_embedder

HELD_OUT_SHARE = 0.25
HELD_OUT_FLOOR = 0.85


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def examples():
    return load_examples(TRAINING_DATA_PATH)


@pytest.fixture(scope="module")
def split(examples):
    labels = [label for _, label in examples]
    return train_test_split(examples, test_size=HELD_OUT_SHARE, stratify=labels, random_state=0)


@pytest.fixture(scope="module")
def classifier(split, embedder):
    train, _ = split
    return train_intents(train, embedder)


def test_fargo_training_set_covers_every_intent_with_at_least_40_examples(examples):
    counts = Counter(label for _, label in examples)
    assert set(counts) == set(INTENT_LABELS)
    assert min(counts.values()) >= 40
    texts = [text.lower() for text, _ in examples]
    assert len(texts) == len(set(texts))


def test_held_out_accuracy_is_high(classifier, split, embedder):
    _, held_out = split
    texts = [text for text, _ in held_out]
    predictions = classifier.predict_many(texts, embedder.embed(texts))
    accuracy = np.mean([prediction.label == label for prediction, (_, label) in zip(predictions, held_out)])
    print(f"held-out accuracy on {len(held_out)} examples: {accuracy:.3f}")
    assert accuracy >= HELD_OUT_FLOOR


@pytest.mark.parametrize("text", ["what's the weather in Paris", "write me a poem", "who won the match yesterday?"])
def test_off_topic_messages_are_flagged_out_of_scope(classifier, text):
    prediction = classifier.predict(text)
    assert prediction.out_of_scope
    assert prediction.label == OUT_OF_SCOPE


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("what should I offer customer C0555123?", "personal_recommendation"),
        ("what card would suit me best", "personal_recommendation"),
        ("my daughter starts university soon, which account for her?", "family_recommendation"),
        ("how can I pay for my hip surgery", "healthcare"),
        ("what is the annual fee on the platinum card", "product_question"),
        ("show me the leads from yesterday's facebook campaign", "campaign_insight"),
        ("my card was swallowed by the cash machine", "account_servicing"),
        ("hello!", "greeting"),
        ("thanks so much", "thanks"),
        ("bye for now", "goodbye"),
        ("I'd like to speak to a real person", "talk_to_human"),
        ("there's a payment on my card I never made", "fraud"),
        ("this month's account fee is wrong, you took it twice", "dispute"),
        ("I want to make a complaint about the branch", "complaint"),
    ],
)
def test_clear_messages_get_their_intent(classifier, text, label):
    prediction = classifier.predict(text)
    assert prediction.label == label
    assert not prediction.out_of_scope


def test_prediction_carries_top_three_probabilities(classifier):
    prediction = classifier.predict("is there an annual fee on the travel card?")
    assert len(prediction.scores) == 3
    probabilities = [probability for _, probability in prediction.scores]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.0 < prediction.confidence <= 1.0
    assert prediction.scores[0] == (prediction.label, pytest.approx(prediction.confidence))


def test_shared_embedding_gives_the_same_prediction_as_embedding_inside(classifier, embedder):
    text = "my husband wants a card with travel rewards"
    assert classifier.predict(text, embedder.embed_one(text)) == classifier.predict(text)


def test_scores_equal_the_stacked_features_times_the_weights(classifier, embedder):
    texts = ["what card suits my spending?", "hi", "how do I save for my kid's college?"]
    embeddings = embedder.embed(texts)
    stacked = classifier.features.transform(texts, embeddings) @ classifier.coef.T + classifier.intercept
    expected = softmax(np.asarray(stacked) / classifier.temperature)
    assert np.allclose(classifier.probabilities(texts, embeddings), expected, atol=1e-6)


def test_embeddings_must_match_the_texts(classifier, embedder):
    with pytest.raises(ValueError, match="2 texts but 1 embeddings"):
        classifier.predict_many(["hi", "bye"], embedder.embed(["hi"]))


def test_metadata_records_calibration_and_data(classifier, split):
    train, _ = split
    metadata = classifier.metadata
    assert metadata["examples"] == len(train)
    assert metadata["data_hash"].startswith("sha256:")
    assert set(metadata["labels"]) == set(INTENT_LABELS)
    assert 0.0 <= metadata["threshold"] < 1.0
    assert metadata["metrics"]["source"] == "5-fold cross-validation"
    assert metadata["metrics"]["accuracy"] > 0.8


def test_save_and_load_round_trip_gives_identical_predictions(classifier, split, tmp_path, embedder):
    _, held_out = split
    texts = [text for text, _ in held_out] + ["what's the weather in Paris"]
    directory = save_model(classifier, tmp_path)
    loaded = load_latest(tmp_path, embedder)

    assert directory == tmp_path / "models" / "intents" / "0001"
    assert json.loads((directory / "metadata.json").read_text())["version"] == "0001"
    embeddings = embedder.embed(texts)
    assert loaded.predict_many(texts, embeddings) == classifier.predict_many(texts, embeddings)
    np.testing.assert_array_equal(loaded.probabilities(texts, embeddings), classifier.probabilities(texts, embeddings))


def test_load_latest_picks_the_newest_version(classifier, tmp_path, embedder):
    assert load_latest(tmp_path) is None
    save_model(classifier, tmp_path)
    second = save_model(classifier, tmp_path)
    assert second.name == "0002"
    assert load_latest(tmp_path, embedder).metadata["version"] == "0002"


def test_model_from_another_embedder_is_refused(classifier, tmp_path):
    save_model(classifier, tmp_path)

    class OtherEmbedder:
        model_name = "some-other-model"

        def embed(self, texts):
            raise AssertionError("never called")

    with pytest.raises(ModelError, match="some-other-model"):
        load_latest(tmp_path, OtherEmbedder())


def test_bad_jsonl_training_file_names_each_bad_line(tmp_path):
    path = tmp_path / "intents.jsonl"
    path.write_text(
        '{"text": "hello", "label": "greeting"}\n'
        '{"text": "bye", "label": }\n'
        '{"text": "", "label": "goodbye"}\n'
        '{"text": "thanks", "label": "thanks"}\n'
        '{"text": "Hello", "label": "goodbye"}\n'
    )
    with pytest.raises(TrainingDataError) as caught:
        load_examples(path)
    message = str(caught.value)
    assert "line 2: not valid JSON" in message
    assert "line 3: missing or empty text" in message
    assert "line 5: same text as line 1" in message
    assert [line for line, _ in caught.value.problems] == [2, 3, 5]


def test_csv_training_file_loads_and_reports_bad_rows(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text('text,label\nhello,greeting\n"multi\nline thanks",thanks\n')
    assert load_examples(good) == [("hello", "greeting"), ("multi line thanks", "thanks")]

    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,greeting\nbye,\n")
    with pytest.raises(TrainingDataError, match="line 3: missing or empty label"):
        load_examples(bad)

    headless = tmp_path / "headless.csv"
    headless.write_text("utterance,intent\nhello,greeting\n")
    with pytest.raises(TrainingDataError, match="line 1: header lacks column"):
        load_examples(headless)


def _threshold_fixture(seed=0):
    """Probabilities over (a, b, out_of_scope): in-scope rows mostly confident, OOS rows mostly not."""
    rng = np.random.default_rng(seed)
    classes = ("a", "b", OUT_OF_SCOPE)
    in_scope = rng.uniform(0.3, 1.0, 200)
    oos = rng.uniform(0.0, 0.8, 100)
    best = np.concatenate([in_scope, oos])
    probabilities = np.stack([best, (1 - best) * 0.7, (1 - best) * 0.3], axis=1)
    labels = np.asarray(["a"] * 150 + ["b"] * 50 + [OUT_OF_SCOPE] * 100, dtype=object)
    return probabilities, labels, classes


def test_threshold_keeps_the_oos_recall_target_at_the_best_in_scope_accuracy():
    probabilities, labels, classes = _threshold_fixture()
    threshold = choose_threshold(probabilities, labels, classes, 0.8)
    in_scope, recall = threshold_curve(probabilities, labels, classes)
    chosen = int(np.flatnonzero(THRESHOLD_GRID == threshold)[0])
    assert recall[chosen] >= 0.8
    assert in_scope[chosen] == in_scope[recall >= 0.8].max()


def test_threshold_margin_asks_more_recall_of_few_held_out_examples():
    probabilities, labels, classes = _threshold_fixture()
    plain = choose_threshold(probabilities, labels, classes, 0.75)
    with_margin = choose_threshold(probabilities, labels, classes, 0.75, z=1.96)
    assert with_margin > plain
    assert wilson_lower_bound(np.asarray([0.8]), 100, 0.0)[0] == pytest.approx(0.8)
    assert wilson_lower_bound(np.asarray([0.8]), 100, 1.96)[0] < wilson_lower_bound(np.asarray([0.8]), 1000, 1.96)[0] < 0.8


def test_threshold_rejects_more_when_it_costs_no_in_scope_accuracy():
    classes = ("a", "b", OUT_OF_SCOPE)
    best = np.asarray([0.95] * 20 + [0.1, 0.2, 0.3, 0.4])
    probabilities = np.stack([best, (1 - best) * 0.7, (1 - best) * 0.3], axis=1)
    labels = np.asarray(["a"] * 20 + [OUT_OF_SCOPE] * 4, dtype=object)
    threshold = choose_threshold(probabilities, labels, classes, 0.25)
    assert 0.4 < threshold <= 0.95
