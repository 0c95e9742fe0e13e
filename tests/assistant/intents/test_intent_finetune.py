"""The fine-tuning path of the intent model, on a toy set small enough to train in seconds."""

import json

import numpy as np
import pytest

from assistant.intents import OUT_OF_SCOPE, load_latest, save_model, train_intents
from assistant.intents.finetune import FinetuneConfig, load_encoder, save_encoder
from retrieval.embeddings import get_embedder

TOY = {
    "weather": ["will it rain tomorrow", "what's the forecast for today", "is it going to be sunny",
                "how cold is it outside", "will there be snow this weekend", "is it windy in town",
                "do I need an umbrella today", "what's the temperature right now", "any storms coming",
                "how hot will it get"],
    "music": ["play some jazz", "put on my favourite song", "skip this track", "turn the music up",
              "play the new album by adele", "start my running playlist", "who sings this song",
              "pause the music", "play something relaxing", "shuffle my songs"],
    "balance": ["how much money is in my account", "what's my balance", "show my checking balance",
                "how much do I have in savings", "tell me my account balance", "what is left in my account",
                "check my balance please", "how much cash is in checking", "balance of my savings account",
                "do I have enough money in my account"],
    "recipe": ["how do I bake bread", "give me a pasta recipe", "how long to boil an egg",
               "what can I cook with chicken", "recipe for chocolate cake", "how to make pancakes",
               "easy dinner ideas", "how do I roast vegetables", "what goes in a lasagne", "how to cook rice"],
}
HELD_OUT = [("is it raining outside", "weather"), ("play a song by the beatles", "music"),
            ("how much is in my savings", "balance"), ("how do I make soup", "recipe"),
            ("what's the weather like tomorrow", "weather"), ("next song please", "music"),
            ("what's the balance on my checking account", "balance"), ("a recipe for cookies", "recipe")]
FAST = FinetuneConfig(epochs=2, batch_size=8, learning_rate=1e-4, threads=1)


def toy_examples() -> list[tuple[str, str]]:
    return [(text, label) for label, texts in TOY.items() for text in texts]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def classifier(embedder):
    return train_intents(toy_examples(), embedder, finetune=FAST)


def test_finetuned_model_gets_held_out_toy_queries_right(classifier):
    predicted = [prediction.label for prediction in classifier.predict_many([text for text, _ in HELD_OUT])]
    correct = sum(label == truth for label, (_, truth) in zip(predicted, HELD_OUT))
    assert correct >= 7  # of 8; chance is 2


def test_finetuning_lowers_the_training_loss_and_moves_the_encoder(classifier, embedder):
    info = classifier.metadata["finetune"]
    assert len(info["loss_per_epoch"]) == FAST.epochs
    assert info["loss_per_epoch"][-1] < info["loss_per_epoch"][0]
    texts = ["what's my balance", "play some jazz"]
    tuned, frozen = classifier.embed(texts), embedder.embed(texts)
    np.testing.assert_allclose(np.linalg.norm(tuned, axis=1), 1.0, rtol=1e-5)
    assert (np.sum(tuned * frozen, axis=1) < 0.9999).all()


def test_the_shared_embedder_is_left_untouched(classifier, embedder):
    from retrieval.embeddings import load_embedder

    text = "what's my balance"
    np.testing.assert_allclose(embedder.embed([text] * 9), load_embedder().embed([text] * 9), atol=1e-6)


def test_metadata_names_the_finetuned_encoder_and_its_base(classifier, embedder):
    metadata = classifier.metadata
    assert metadata["embedder"].startswith("all-MiniLM-L6-v2+finetuned-")
    assert metadata["base_embedder"] == embedder.model_name
    assert metadata["finetune"]["config"]["epochs"] == FAST.epochs


def test_finetuned_model_ignores_the_shared_frozen_embedding(classifier, embedder):
    text = "will it snow tomorrow"
    assert classifier.predict(text, embedder.embed_one(text)) == classifier.predict(text)


def test_saved_finetuned_model_loads_with_its_encoder_and_predicts_the_same(classifier, embedder, tmp_path):
    texts = [text for text, _ in HELD_OUT] + ["book me a flight to Rome"]
    directory = save_model(classifier, tmp_path)
    assert json.loads((directory / "metadata.json").read_text())["encoder"] == "encoder"
    assert (directory / "encoder" / "model.safetensors").is_file()

    loaded = load_latest(tmp_path, embedder)
    assert loaded.encoder is not None
    np.testing.assert_allclose(loaded.probabilities(texts, loaded.embed(texts)),
                               classifier.probabilities(texts, classifier.embed(texts)), atol=1e-5)
    assert [p.label for p in loaded.predict_many(texts)] == [p.label for p in classifier.predict_many(texts)]


def test_encoder_round_trip_keeps_its_embeddings(classifier, tmp_path):
    encoder = classifier.encoder
    loaded = load_encoder(save_encoder(encoder, tmp_path / "encoder"))
    assert loaded.model_name == encoder.model_name
    np.testing.assert_allclose(loaded.embed(["how do I make soup"]), encoder.embed(["how do I make soup"]), atol=1e-6)


def test_out_of_scope_examples_without_validation_keep_a_share_aside_for_the_threshold(embedder):
    oos = [("book me a flight to Rome", OUT_OF_SCOPE), ("who won the football match", OUT_OF_SCOPE),
           ("tell me a joke", OUT_OF_SCOPE), ("what time is it in Tokyo", OUT_OF_SCOPE),
           ("translate hello into French", OUT_OF_SCOPE), ("set an alarm for 7am", OUT_OF_SCOPE),
           ("how tall is Everest", OUT_OF_SCOPE), ("order a pizza", OUT_OF_SCOPE),
           ("what's the capital of Peru", OUT_OF_SCOPE), ("remind me to call mum", OUT_OF_SCOPE)]
    examples = toy_examples() + oos
    model = train_intents(examples, embedder, finetune=FinetuneConfig(epochs=1, batch_size=8, threads=1))
    assert model.metadata["metrics"]["source"] == "validation"
    assert model.metadata["examples"] == len(examples) - 5  # 10% of 50 kept aside, one per label
    assert 0.0 <= model.threshold < 1.0


def test_fargo_train_intents_finetune_flag_saves_a_finetuned_model(tmp_path, monkeypatch, embedder):
    from typer.testing import CliRunner

    from assistant.cli import app

    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FARGO_MONGODB_URI", raising=False)
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in toy_examples()))

    result = CliRunner().invoke(app, ["train", "intents", "--data", str(data), "--finetune-epochs", "1"])

    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.output
    model = load_latest(tmp_path / "data", embedder)
    assert model.encoder is not None
    assert model.predict("will it rain on sunday").label == "weather"


def test_tfidf_weight_adds_a_tfidf_svm_to_the_head_as_one_linear_layer(embedder, tmp_path):
    from dataclasses import replace

    from assistant.intents.classifier import TextFeatures

    texts = [text for text, _ in HELD_OUT]
    plain = train_intents(toy_examples(), embedder, finetune=replace(FAST, tfidf_weight=0.0))
    mixed = train_intents(toy_examples(), embedder, finetune=replace(FAST, tfidf_weight=0.5))
    assert isinstance(mixed.features, TextFeatures)
    # Same seed, same encoder: the embedding block of the mixed model is the plain model's head.
    dimension = mixed.encoder.dimension
    np.testing.assert_allclose(mixed.coef[:, :dimension], plain.coef, atol=1e-6)
    assert np.abs(mixed.coef[:, dimension:]).sum() > 0
    embeddings = mixed.embed(texts)
    head_scores = embeddings @ plain.coef.T
    mixed_scores = np.asarray(mixed.features.transform(texts, embeddings) @ mixed.coef.T + mixed.intercept)
    assert not np.allclose(mixed_scores, head_scores, atol=1e-3)
    assert sum(p.label == truth for p, (_, truth) in zip(mixed.predict_many(texts), HELD_OUT)) >= 7

    save_model(mixed, tmp_path)
    loaded = load_latest(tmp_path, embedder)
    np.testing.assert_allclose(loaded.probabilities(texts, loaded.embed(texts)),
                               mixed.probabilities(texts, embeddings), atol=1e-5)

