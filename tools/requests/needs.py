"""Which catalogue products a request asks for: its one embedding and its words against each product's purpose.

A product's purpose is its name and need statements (the catalogue's words for
what it is for) and its indexed text (name, description and needs). Three
signals, each in [0, 1]:

- meaning: the cosine of the request's embedding with the closest of those,
  rescaled between NEED_FLOOR (says nothing) and NEED_FULL (plainly the same need);
- life events: a keyword rule the request fires ("we got a kitten" fires pet)
  stands for a plain statement of its need, matched the same way, discounted;
- words: BM25 over the same texts, relative to the best product, for the
  rare terms a sentence model blurs ("HELOC", "Coverdell", "529").

A product's need score is the strongest meaning or life-event match, lifted by
its word match; every product scoring MIN_NEED or more is one of the request's needs (the tools keep those
within `tools.requests.fit.NEED_MARGIN` of the best they can offer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from retrieval.lexical import BM25
from tools.campaign import fired_rules, statement_vectors
from tools.requests.model import NeedHit

if TYPE_CHECKING:
    from tools.context import ToolContext

NEED_FLOOR = 0.30  # MiniLM cosine at or below which a request says nothing about a product
NEED_FULL = 0.8  # ... at or above which it plainly states the product's need
TEXT_DISCOUNT = 0.9  # the whole indexed text is diluted by its description: its match counts a little less
RULE_DISCOUNT = 0.8  # a life-event keyword is weaker than the request's own wording
COMPLEMENT_DISCOUNT = 0.85  # ... and what goes with the event weaker than what it asks for
WORD_WEIGHT = 0.25  # how much the word match lifts a product's meaning match
MIN_NEED = 0.3  # a need score below this is no need at all
# MiniLM cosine below which a need statement is too far from the request's words to quote back as what was asked
# ("roll over my old 401(k)" for "I want to retire in 10 years, am I on track?"): the product's name stands instead
QUOTE_FLOOR = 0.5
TOP_QUOTE_FLOOR = 0.4  # ... for the product the request asks for most: a long message dilutes even its plain need
# MiniLM cosine from which a need statement says what a life event the request tells of means ("life insurance for
# new parents" for "we're having a baby"), quoted when none of the request's own words are close enough
EVENT_QUOTE_FLOOR = 0.75
MAX_NEEDS = 12
LEXICON_KEY = "tools.requests.lexicon"
PURPOSES_KEY = "tools.requests.purposes"


def purpose_texts(product: Mapping) -> list[str]:
    return [product["name"], *(product.get("need_statements") or ())]


def match_needs(ctx: ToolContext, text: str, embedding) -> tuple[NeedHit, ...]:
    """The products `text` asks for, best first (at most MAX_NEEDS); empty without an embedder or a need."""
    if embedding is None or ctx.embedder is None or not ctx.products:
        return ()
    table = purposes(ctx)
    query = _unit(np.asarray(embedding, dtype=np.float32).reshape(-1))
    meaning = _meaning(ctx, table, query)
    events = _life_events(ctx, table, text)
    words = _words(ctx, text, table.ids)
    scores = np.maximum(meaning.scores, events.scores) * (1.0 + WORD_WEIGHT * words)
    scores = np.clip(scores, 0.0, 1.0)
    best = float(scores.max(initial=0.0))
    if best < MIN_NEED:
        return ()
    order = np.argsort(-scores, kind="stable")
    floors = np.full(len(table.ids), QUOTE_FLOOR)
    floors[order[0]] = TOP_QUOTE_FLOOR
    phrases = [said if said_close >= floor else event if event_close >= EVENT_QUOTE_FLOOR
               else ctx.products[product_id]["name"]
               for (said, said_close), (event, event_close), floor, product_id
               in zip(meaning.quotes, events.quotes, floors, table.ids, strict=True)]
    return tuple(NeedHit(table.ids[j], round(float(scores[j]), 4), phrases[j]) for j in order[:MAX_NEEDS]
                 if scores[j] >= MIN_NEED)


@dataclass(frozen=True)
class _Signal:
    """Per product: how plainly a signal states its need, and its closest need statement with that one's cosine."""

    scores: np.ndarray
    quotes: list[tuple[str, float]]


@dataclass(frozen=True)
class _Purposes:
    """Every product's purpose texts as unit vectors, one row per text; `columns[row]` is its product's position."""

    ids: list[str]
    columns: np.ndarray
    phrases: list[str]
    vectors: np.ndarray
    names: np.ndarray  # per row: whether the text is the product's name, which a reason never quotes

    indexed: np.ndarray  # the products vector index's unit rows, in `ids` order (zero rows for products not in it)

    def best_per_product(self, scores: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Per product, its best-scoring text's score and the text (the first among equals)."""
        best = np.full(len(self.ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, self.columns, scores)
        winners = np.flatnonzero(scores >= best[self.columns])
        phrase = [""] * len(self.ids)
        for row in winners[::-1]:  # the earliest winning row of a product is written last
            phrase[self.columns[row]] = self.phrases[row]
        return np.maximum(best, 0.0), phrase

    def closest_statements(self, similarity: np.ndarray) -> list[tuple[str, float]]:
        """Per product, its need statement (never its name) closest by `similarity`, and that cosine."""
        closeness, phrases = self.best_per_product(np.where(self.names, -1.0, similarity))
        return list(zip(phrases, closeness.tolist(), strict=True))


def purposes(ctx: ToolContext) -> _Purposes:
    def build() -> _Purposes:
        ids = sorted(ctx.products)
        owners = [(column, phrase) for column, product_id in enumerate(ids)
                  for phrase in purpose_texts(ctx.products[product_id])]
        vectors = unit_rows(statement_vectors(ctx.embedder, [phrase for _, phrase in owners]))
        indexed = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        if ctx.vectors is not None:
            index_ids, matrix = ctx.index_vectors("products")
            column = {product_id: j for j, product_id in enumerate(ids)}
            for k, product_id in enumerate(index_ids):
                if product_id in column:
                    indexed[column[product_id]] = matrix[k]
        names = np.array([phrase == ctx.products[ids[column]]["name"] for column, phrase in owners])
        return _Purposes(ids, np.array([column for column, _ in owners]), [phrase for _, phrase in owners], vectors,
                         names, unit_rows(indexed) * TEXT_DISCOUNT)
    return ctx.memo(PURPOSES_KEY, build)


def _meaning(ctx: ToolContext, table: _Purposes, query: np.ndarray) -> _Signal:
    """Per product: how plainly the query states its need (its name counts) and its closest need statement: when
    the name is closest ("Can she refinance her student loans?"), a statement may still be close enough to quote."""
    scores = table.vectors @ query
    similarity, _ = table.best_per_product(scores)
    return _Signal(_rescaled(np.maximum(similarity, table.indexed @ query)), table.closest_statements(scores))


def _life_events(ctx: ToolContext, table: _Purposes, text: str) -> _Signal:
    """Per product, how plainly a life event `text` tells of states its need: what goes with the event (insurance
    for a home bought) less plainly than what it asks for (the mortgage)."""
    fired = [(statement, COMPLEMENT_DISCOUNT if statement == rule.goes_with else 1.0)
             for rule in fired_rules(text) for statement in rule.statements]
    if not fired:
        return _Signal(np.zeros(len(table.ids), dtype=np.float32), [("", 0.0)] * len(table.ids))
    rules = unit_rows(statement_vectors(ctx.embedder, [statement for statement, _ in fired]))
    weights = np.array([weight for _, weight in fired], dtype=np.float32)
    similarity = table.vectors @ rules.T
    best, _ = table.best_per_product((_rescaled(similarity) * weights).max(axis=1))
    return _Signal(best * RULE_DISCOUNT, table.closest_statements(similarity.max(axis=1)))


def _words(ctx: ToolContext, text: str, ids: Sequence[str]) -> np.ndarray:
    scores = lexicon(ctx).scores(text)
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return np.zeros(len(ids), dtype=np.float32)
    return np.array([scores.get(product_id, 0.0) / top for product_id in ids], dtype=np.float32)


def lexicon(ctx: ToolContext) -> BM25:
    """BM25 over each product's name, description and need statements, built once per context."""
    return ctx.memo(LEXICON_KEY, lambda: BM25({
        product_id: " ".join([*purpose_texts(product), product.get("description", "")])
        for product_id, product in sorted(ctx.products.items())
    }))


def _rescaled(similarity: np.ndarray) -> np.ndarray:
    return np.clip((similarity - NEED_FLOOR) / (NEED_FULL - NEED_FLOOR), 0.0, 1.0)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
