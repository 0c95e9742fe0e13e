"""TextVectors: the tools' one text->vector cache per context."""

from __future__ import annotations

from datetime import date

import networkx as nx
import numpy as np

from retrieval.graph import graph_tfidf
from tools.context import ToolContext
from tools.text_vectors import TextVectors, text_vectors


class CountingEmbedder:
    """A vector per text from its length, remembering every batch it was asked to embed."""

    dimension = 2

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed(self, texts):
        self.batches.append(list(texts))
        return np.array([[len(text), 1.0] for text in texts], dtype=np.float32)


def test_only_texts_not_kept_are_embedded_in_one_batch_and_rows_follow_the_order_asked():
    embedder, vectors = CountingEmbedder(), TextVectors()
    vectors.embed(embedder, ["rent", "travel"])
    rows = vectors.embed(embedder, ["travel", "a new car", "rent", "a new car"])
    assert embedder.batches == [["rent", "travel"], ["a new car"]]
    assert rows[:, 0].tolist() == [6, 9, 4, 9]


def test_the_least_recently_used_text_goes_first_when_the_limit_is_reached():
    embedder, vectors = CountingEmbedder(), TextVectors(limit=2)
    vectors.embed(embedder, ["one", "two"])
    vectors.embed(embedder, ["one"])  # "two" is now the least recently used
    vectors.embed(embedder, ["three"])
    embedder.batches.clear()
    vectors.embed(embedder, ["one", "two", "three"])
    assert embedder.batches == [["two"]]


def test_no_texts_give_an_empty_matrix_without_a_model_call():
    embedder = CountingEmbedder()
    assert TextVectors().embed(embedder, []).shape == (0, 2)
    assert embedder.batches == []


def test_a_context_hands_every_tool_the_same_cache_and_another_context_its_own():
    graph = nx.MultiDiGraph()
    one, other = (ToolContext(None, None, None, graph, graph_tfidf(graph, date(2026, 9, 30)), "run-1")
                  for _ in range(2))
    assert text_vectors(one) is text_vectors(one)
    assert text_vectors(one) is not text_vectors(other)
