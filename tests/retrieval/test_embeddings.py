import ipaddress
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval import embeddings
from retrieval.embeddings import Embedder, get_embedder, load_embedder

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAVEL_CARD = "Voyager credit card: earn 3x points on flights and hotels, airport lounge access, no foreign fees."
MORTGAGE = "30-year fixed-rate mortgage for first-time home buyers with a 5% down payment."


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture(scope="module")
def loaded():
    """A fresh model load, with every non-loopback connection refused and recorded."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            attempts.append(address)
            raise OSError(f"test forbids network access to {address}")
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        embedder = load_embedder()
    return embedder, attempts


@pytest.fixture(scope="module")
def embedder(loaded) -> Embedder:
    return loaded[0]


def test_model_loads_from_bundled_files_without_network(loaded):
    embedder, attempts = loaded
    assert attempts == []
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert embedder.model_name == "all-MiniLM-L6-v2"
    assert embedder.dimension == 384


def test_embed_returns_normalised_float32_rows(embedder):
    vectors = embedder.embed(["savings account", "health savings account", "auto loan"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_same_text_gives_same_vector(embedder):
    texts = ["premium travel card", "student checking account"]
    np.testing.assert_array_equal(embedder.embed(texts), embedder.embed(texts))
    np.testing.assert_allclose(embedder.embed_one(texts[0]), embedder.embed(texts)[0], atol=1e-5)


def test_travel_query_is_closer_to_travel_card_than_to_mortgage(embedder):
    query = embedder.embed_one("travel rewards credit card")
    travel, mortgage = embedder.embed([TRAVEL_CARD, MORTGAGE])
    assert float(query @ travel) > float(query @ mortgage) + 0.1


def test_embed_of_nothing_is_an_empty_matrix(embedder):
    assert embedder.embed([]).shape == (0, 384)


def test_get_embedder_loads_once_across_threads(monkeypatch):
    loads = []

    def slow_load(setting=None):
        loads.append(setting)
        time.sleep(0.05)
        return object()

    monkeypatch.setattr(embeddings, "_embedders", {})
    monkeypatch.delenv("FARGO_ENCODER", raising=False)
    monkeypatch.setattr(embeddings, "load_embedder", slow_load)
    results = []
    threads = [threading.Thread(target=lambda: results.append(get_embedder())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["minilm"]
    assert len({id(result) for result in results}) == 1


def test_importing_the_module_loads_no_model():
    code = "import sys, retrieval.embeddings; print('sentence_transformers' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=REPO_ROOT
    )
    assert result.stdout.split() == ["False", "False"]


def test_concurrent_single_embeddings_match_one_by_one(embedder):
    texts = [TRAVEL_CARD, MORTGAGE, "hi", "what card suits my spending?", "any health plans for me?"] * 4
    alone = [embedder.embed_one(text) for text in texts]
    with ThreadPoolExecutor(len(texts)) as pool:
        together = list(pool.map(embedder.embed_one, texts))
    np.testing.assert_allclose(np.stack(together), np.stack(alone), atol=1e-5)


def test_the_traced_model_gives_encodes_vectors_for_batches_of_any_size_and_length(embedder):
    traced = embeddings.traced_encoder(embedder._model)
    assert traced is not None
    texts = ["hi", "what card suits my spending?", "what is a HELOC?",
             "how can I earn more interest on my savings while I keep the money at hand for the kids' school fees?"]
    for batch in (texts[:1], texts[1:3], texts, texts * 3):
        np.testing.assert_allclose(traced(batch), embedder._encode(batch, batch_size=len(batch)), atol=1e-5)


def test_the_traced_model_multiplies_by_row_major_copies_and_leaves_the_model_as_it_was(embedder):
    import torch

    bert = embedder._model[0].auto_model
    linears_before = [module for module in bert.modules() if type(module) is torch.nn.Linear]
    traced = embeddings.traced_encoder(embedder._model)
    assert [module for module in bert.modules() if type(module) is torch.nn.Linear] == linears_before
    graph = str(traced._module.graph)
    assert "aten::addmm" in graph and "aten::linear" not in graph


def test_a_row_major_linear_gives_the_linears_output_for_any_leading_shape():
    import torch

    torch.manual_seed(0)
    linear = torch.nn.Linear(12, 5)
    row_major = embeddings.row_major_linear_class()(linear)
    assert row_major.weight_t.is_contiguous() and row_major.weight_t.shape == (12, 5)
    for shape in [(3, 12), (2, 7, 12), (1, 1, 12)]:
        x = torch.randn(*shape)
        torch.testing.assert_close(row_major(x), linear(x), atol=1e-6, rtol=1e-6)
    parent = torch.nn.Sequential(linear, torch.nn.ReLU())
    with embeddings.row_major_linears(parent):
        assert type(parent[0]).__name__ == "RowMajorLinear"
    assert parent[0] is linear


def test_concurrent_single_embeddings_equal_the_batch_encoding(embedder):
    texts = [f"savings goal number {index} for a new car" for index in range(12)]
    with ThreadPoolExecutor(6) as pool:
        vectors = list(pool.map(embedder.embed_one, texts))
    np.testing.assert_allclose(np.stack(vectors), embedder._encode(texts), atol=1e-5)


def test_a_model_that_is_not_mean_pooled_bert_keeps_encode():
    class Other:
        tokenizer = None

        def __iter__(self):
            return iter([object()])

    assert embeddings.traced_encoder(Other()) is None


def test_a_text_embedded_again_gets_the_same_vector_without_a_model_call(embedder, monkeypatch):
    first = embedder.embed_one("what card suits my spending today?")
    calls = []
    monkeypatch.setattr(embedder._shared, "submit", lambda text: calls.append(text))
    again = embedder.embed_one("what card suits my spending today?")
    assert calls == []
    np.testing.assert_array_equal(again, first)
    again[:] = 0  # a caller's copy: changing it changes nothing kept
    np.testing.assert_array_equal(embedder.embed_one("what card suits my spending today?"), first)


def test_only_the_most_recent_texts_are_kept(embedder, monkeypatch):
    monkeypatch.setattr(embedder, "_keep", 2)
    for text in ("recent one", "recent two", "recent three"):
        embedder.embed_one(text)
    calls = []
    real_submit = embedder._shared.submit
    monkeypatch.setattr(embedder._shared, "submit", lambda text: calls.append(text) or real_submit(text))
    embedder.embed_one("recent three")
    embedder.embed_one("recent one")
    assert calls == ["recent one"]


def test_keep_recent_trims_the_kept_texts_and_zero_keeps_none(embedder, monkeypatch):
    embedder.keep_recent(2)
    for text in ("kept one", "kept two", "kept three"):
        embedder.embed_one(text)
    assert len(embedder._recent) == 2
    embedder.keep_recent(0)
    assert len(embedder._recent) == 0
    embedder.embed_one("kept one")
    assert len(embedder._recent) == 0
    embedder.keep_recent(embeddings.RECENT_TEXTS)
    with pytest.raises(ValueError, match="cannot be negative"):
        embedder.keep_recent(-1)


def test_with_no_kept_texts_every_message_is_embedded(embedder, monkeypatch):
    monkeypatch.setattr(embedder, "_keep", 0)
    calls = []
    real_submit = embedder._shared.submit
    monkeypatch.setattr(embedder._shared, "submit", lambda text: calls.append(text) or real_submit(text))
    first = embedder.embed_one("no cache here")
    np.testing.assert_array_equal(embedder.embed_one("no cache here"), first)
    assert calls == ["no cache here", "no cache here"]


def test_single_texts_are_counted_by_where_their_vector_came_from(embedder, monkeypatch):
    monkeypatch.setattr(embedder, "single_texts", {"cache": 0, "model": 0})
    embedder.embed_one("counted once from the model")
    embedder.embed_one("counted once from the model")
    embedder.embed_one("counted once from the model")
    assert embedder.single_texts == {"cache": 2, "model": 1}
    monkeypatch.setattr(embedder, "_keep", 0)
    embedder.embed_one("counted once from the model")
    assert embedder.single_texts == {"cache": 2, "model": 2}
