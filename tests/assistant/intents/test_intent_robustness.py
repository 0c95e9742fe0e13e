"""The served intent model on the ways customers actually phrase things (issue 17).

The model is `train_default`: Fargo's own set plus the public sample when the
datasets folder is there. The phrasings come from `data/robustness.jsonl`, none
of them a training line: the failures users reported, life events, products
named indirectly, relatives with ages, constraints, slang and typos.
"""

import json
from collections import defaultdict

import pytest
from tiny_encoder import TinyEncoder

from assistant.intents import (
    INTENT_LABELS,
    TRAINING_DATA_PATH,
    ModelError,
    current_model,
    load_examples,
    save_model,
    training,
)
from assistant.intents.public_examples import (
    ACCOUNT_SERVICING,
    BANKING77_SERVICING,
    DISPUTE,
    FRAUD,
    OUT_OF_SCOPE,
    PUBLIC_DATASETS_ROOT,
    public_examples,
)
from assistant.intents.shipped_eval import public_test_sets, robustness_cases
from assistant.intents.training import SHIPPED, train_default
from retrieval.embeddings import get_embedder

KIND_FLOOR = 0.85  # a kind may miss one phrasing in seven, no more
CASES = robustness_cases()
REPORTED = [case for case in CASES if case.kind == "reported_failure"]
needs_datasets = pytest.mark.skipif(not PUBLIC_DATASETS_ROOT.is_dir(), reason="no public datasets beside the repo")


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def served(embedder):
    return train_default(embedder)


@pytest.fixture(scope="module")
def predicted(served):
    predictions = served.predict_many([case.text for case in CASES])
    return {case.text: prediction for case, prediction in zip(CASES, predictions)}


@pytest.mark.parametrize("case", REPORTED, ids=[case.text for case in REPORTED])
def test_reported_failures_get_the_intent_the_customer_meant(predicted, case):
    prediction = predicted[case.text]
    assert (prediction.label, prediction.out_of_scope) == (case.label, False)


@pytest.mark.parametrize("kind", sorted({case.kind for case in CASES} - {"reported_failure"}))
def test_each_kind_of_phrasing_gets_its_intent(predicted, kind):
    cases = [case for case in CASES if case.kind == kind]
    misses = [(case.text, case.label, predicted[case.text].label) for case in cases
              if predicted[case.text].label != case.label]
    assert 1 - len(misses) / len(cases) >= KIND_FLOOR, misses


def test_robustness_phrasings_are_not_training_lines():
    training_texts = {text.lower() for text, _ in load_examples(TRAINING_DATA_PATH)}
    assert not [case.text for case in CASES if case.text.lower() in training_texts]
    assert {case.label for case in CASES} <= set(INTENT_LABELS)


def test_no_intent_is_left_thin_beside_the_larger_recommendation_set():
    counts = defaultdict(int)
    for _, label in load_examples(TRAINING_DATA_PATH):
        counts[label] += 1
    assert min(counts.values()) >= 60
    assert max(counts.values()) <= 5 * min(counts.values())


@needs_datasets
def test_public_sample_widens_servicing_fraud_disputes_and_out_of_scope_only(served):
    public = public_examples()
    labels = {label for _, label in public}
    assert labels == {ACCOUNT_SERVICING, FRAUD, DISPUTE, OUT_OF_SCOPE}
    assert 100 <= len(public) <= 550  # widens four intents without outweighing the hand-written set
    recorded = served.metadata["training_data"]
    assert recorded["source"] == SHIPPED
    assert 0.9 * len(public) <= recorded["public_examples"] <= len(public)  # less any the shipped set already holds


@needs_datasets
def test_public_sample_only_feeds_labels_the_training_file_has(tmp_path, embedder):
    path = tmp_path / "own.jsonl"
    rows = [{"text": f"hello number {i}", "label": "greeting"} for i in range(6)]
    rows += [{"text": f"my card number {i} was stolen", "label": ACCOUNT_SERVICING} for i in range(6)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    classifier = train_default(embedder, path)
    assert set(classifier.labels) == {"greeting", ACCOUNT_SERVICING}
    assert classifier.metadata["training_data"]["source"] == str(path)
    assert classifier.metadata["examples_per_label"][ACCOUNT_SERVICING] > 6


def test_without_the_datasets_folder_training_uses_the_shipped_set_alone(tmp_path):
    assert public_examples(tmp_path) == []
    examples, public = training.default_examples(datasets_root=tmp_path)
    assert public == 0 and examples == load_examples(TRAINING_DATA_PATH)


@needs_datasets
def test_public_test_sets_use_fargo_labels_and_exclude_training_folds():
    sets = public_test_sets()
    assert {"banking77 servicing", "nlu++ servicing", "clinc150 mapped"} <= set(sets)
    assert all(label in INTENT_LABELS for examples in sets.values() for _, label in examples)
    trained = {text for text, _ in public_examples()}
    tested = {text for name, examples in sets.items() for text, _ in examples}
    assert not trained & tested
    assert len(BANKING77_SERVICING) > 40


# --- picking up a changed shipped set ------------------------------------------------------


@pytest.fixture
def retrain_counter(monkeypatch, served):
    calls = []

    def fake_train_default(embedder):
        calls.append(embedder)
        return served

    monkeypatch.setattr(training, "train_default", fake_train_default)
    return calls


def _rewrite_metadata(directory, **changes):
    path = directory / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata.update(changes)
    path.write_text(json.dumps(metadata))


def test_saved_model_of_the_current_shipped_set_is_reused(tmp_path, served, embedder, retrain_counter):
    save_model(served, tmp_path)
    assert current_model(tmp_path, embedder).metadata["version"] == "0001"
    assert retrain_counter == []


def test_model_of_an_older_shipped_set_is_retrained_and_saved(tmp_path, served, embedder, retrain_counter):
    _rewrite_metadata(save_model(served, tmp_path), data_hash="sha256:older-set")
    assert current_model(tmp_path, embedder).metadata["version"] == "0002"
    assert len(retrain_counter) == 1


def test_model_saved_before_training_data_was_recorded_counts_as_shipped(tmp_path, served, embedder, retrain_counter):
    directory = save_model(served, tmp_path)
    metadata = json.loads((directory / "metadata.json").read_text())
    del metadata["training_data"]
    metadata["data_hash"] = "sha256:older-set"
    (directory / "metadata.json").write_text(json.dumps(metadata))
    current_model(tmp_path, embedder)
    assert len(retrain_counter) == 1


def test_model_trained_on_a_banks_own_file_is_kept(tmp_path, served, embedder, retrain_counter):
    _rewrite_metadata(save_model(served, tmp_path), data_hash="sha256:their-set",
                      training_data={"source": "/bank/intents.csv", "public_examples": 0})
    assert current_model(tmp_path, embedder).metadata["version"] == "0001"
    assert retrain_counter == []


def test_shipped_model_of_another_encoder_is_trained_again_for_this_one(tmp_path, served, retrain_counter):
    save_model(served, tmp_path)
    other = TinyEncoder("tiny-encoder")
    current_model(tmp_path, other)
    assert retrain_counter == [other]


def test_banks_own_model_of_another_encoder_is_refused_saying_why(tmp_path, served, retrain_counter):
    _rewrite_metadata(save_model(served, tmp_path), training_data={"source": "/bank/intents.csv", "public_examples": 0})
    with pytest.raises(ModelError, match=r"trained on all-MiniLM-L6-v2 embeddings but the encoder in use "
                                         r"\(FARGO_ENCODER\) gives tiny-encoder embeddings.*fargo train intents"):
        current_model(tmp_path, TinyEncoder("tiny-encoder"))
    assert retrain_counter == []
