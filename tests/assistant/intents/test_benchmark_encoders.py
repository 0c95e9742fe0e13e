"""`fargo eval intents --encoder A --encoder B`: one benchmark, several encoders, side by side, cached per encoder."""

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_encoder import TinyEncoder

from assistant.intents.benchmarks import ensemble_weight, evaluate, side_by_side

INTENTS = {
    "balance": ["what is my balance", "how much money do i have", "show my account balance", "balance please"],
    "transfer": ["send money to my brother", "transfer funds to savings", "move cash to checking", "wire money"],
    "card_lost": ["i lost my card", "my card is missing", "card was stolen", "cannot find my debit card"],
}
OUT_OF_SCOPE = ["what is the weather", "tell me a joke", "who won the game", "play some music"]


@pytest.fixture
def clinc_root(tmp_path: Path) -> Path:
    """A made-up CLINC150 'full' file: the same shape (train/val/test plus their oos parts), a few lines each."""
    def rows(offset: int, repeat: int) -> list:
        return [[f"{text} {'now ' * ((i + offset) % 3)}".strip(), label]
                for label, texts in INTENTS.items() for _ in range(repeat) for i, text in enumerate(texts)]

    def oos(repeat: int) -> list:
        return [[f"{text} {'today ' * i}".strip(), "oos"] for i in range(repeat) for text in OUT_OF_SCOPE]

    data = {"train": rows(0, 3), "oos_train": oos(2), "val": rows(1, 2), "oos_val": oos(3),
            "test": rows(2, 1), "oos_test": oos(1)}
    (tmp_path / "clinc150").mkdir()
    (tmp_path / "clinc150" / "data_full.json").write_text(json.dumps(data))
    return tmp_path


def test_each_encoder_is_reported_in_its_own_column_with_its_embedding_cost(clinc_root: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    encoders = [TinyEncoder("tiny-a", dimension=64), TinyEncoder("tiny-b", dimension=16)]
    results = [evaluate("clinc150", clinc_root, embedder=encoder, cache_dir=cache) for encoder in encoders]

    table = side_by_side(results)
    lines = {line[:30].strip(): line[30:].split() for line in table.splitlines()}
    assert lines["encoder"] == ["tiny-a", "tiny-b"]
    for row in ("in-scope accuracy", "out-of-scope recall"):
        assert all(0 <= float(value) <= 100 for value in lines[row])
    assert [r["encoder"] for r in results] == ["tiny-a", "tiny-b"]
    assert {path.name.split("-")[1] for path in cache.glob("*.npy")} == {"a", "b"}  # one cache per encoder


def test_a_rerun_from_the_cache_still_reports_what_embedding_cost(clinc_root: Path, tmp_path: Path):
    encoder = TinyEncoder("tiny-a")
    first = evaluate("clinc150", clinc_root, embedder=encoder, cache_dir=tmp_path / "cache")
    embedded = encoder.embedded
    again = evaluate("clinc150", clinc_root, embedder=encoder, cache_dir=tmp_path / "cache")

    assert encoder.embedded == embedded and again["embeddings_cached"] and not first["embeddings_cached"]
    assert again["embedding_cost"] == first["embedding_cost"]
    data = json.loads((clinc_root / "clinc150" / "data_full.json").read_text())
    assert again["embedding_cost"]["texts"] == first["train_examples"] + len(data["val"]) + len(data["oos_val"])
    assert "s CPU)" in side_by_side([again])


def test_cli_names_an_encoder_that_is_not_installed(clinc_root: Path, tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app

    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["eval", "intents", "--dataset", "clinc150", "--data-root", str(clinc_root),
                                      "--encoder", str(tmp_path / "no-model")])
    assert result.exit_code == 2
    assert "--encoder" in result.output and "neither minilm, mpnet nor a sentence-transformers" in " ".join(
        result.output.split())


def test_a_stopped_embedding_run_resumes_from_its_kept_chunks(tmp_path: Path, monkeypatch):
    from assistant.intents import benchmarks

    monkeypatch.setattr(benchmarks, "CACHE_CHUNK", 4)
    texts = [f"question number {n}" for n in range(10)]

    class StopsAfterTwoChunks(TinyEncoder):
        def embed(self, texts, batch_size=64):
            if self.embedded >= 8:
                raise KeyboardInterrupt  # the run is stopped
            return super().embed(texts)

    stopping = StopsAfterTwoChunks("tiny-a")
    with pytest.raises(KeyboardInterrupt):
        benchmarks.cached_embeddings(texts, stopping, tmp_path)
    resumed = TinyEncoder("tiny-a")
    vectors, cached = benchmarks.cached_embeddings(texts, resumed, tmp_path)

    assert resumed.embedded == 2 and not cached  # only the last chunk's two texts were left
    np.testing.assert_array_equal(vectors, TinyEncoder("tiny-a").embed(texts))
    assert [path.name for path in tmp_path.iterdir() if "chunk" in path.name] == []
    _, cached = benchmarks.cached_embeddings(texts, TinyEncoder("tiny-a"), tmp_path)
    assert cached and benchmarks.embedding_cost(texts, resumed, tmp_path)["texts"] == 10


def test_the_ensemble_weight_follows_the_model_that_is_right_on_validation():
    labels = ("balance", "out_of_scope", "transfer")
    truth = np.asarray(["balance", "transfer", "balance", "out_of_scope"], dtype=object)
    right = np.asarray([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1], [0.4, 0.2, 0.4]])
    wrong = right[:, ::-1].copy()  # swaps balance and transfer

    assert ensemble_weight(labels, right, wrong, truth)[0] > 0.5
    assert ensemble_weight(labels, wrong, right, truth)[0] < 0.5
    weight, threshold, figures = ensemble_weight(labels, right, wrong, truth)
    assert figures["in_scope_accuracy"] == 1.0 and figures["out_of_scope_recall"] == 1.0 and 0 < threshold < 1


def test_an_ensemble_reports_both_models_and_one_threshold(clinc_root: Path, tmp_path: Path):
    from assistant.intents.finetune import FinetuneConfig

    result = evaluate("clinc150", clinc_root, embedder=TinyEncoder("tiny-a"), cache_dir=tmp_path / "cache",
                      finetune=FinetuneConfig(epochs=1, batch_size=8, threads=1), ensemble=True)

    chosen = result["ensemble"]
    assert 0 <= chosen["frozen_weight"] <= 1 and chosen["finetuned_encoder"].startswith("all-MiniLM-L6-v2+finetuned")
    alone = [chosen["frozen_alone"]["in_scope_accuracy"], chosen["finetuned_alone"]["in_scope_accuracy"]]
    assert result["calibration"]["in_scope_accuracy"] >= max(alone)  # each model alone is one of the weights
    assert result["encoder"] == "tiny-a" and result["finetune"]["config"]["epochs"] == 1
    assert {"in_scope_accuracy", "out_of_scope_recall"} <= set(result["test"])


def test_an_ensemble_needs_a_validation_split(tmp_path: Path):
    from typer.testing import CliRunner

    from assistant.cli import app

    (tmp_path / "banking77").mkdir()
    result = CliRunner().invoke(app, ["eval", "intents", "--dataset", "banking77", "--data-root", str(tmp_path),
                                      "--ensemble"])
    assert result.exit_code == 2 and "validation split" in result.output
