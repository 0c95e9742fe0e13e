"""Lexical scoring (Okapi BM25) and reciprocal rank fusion, for hybrid search.

Vectors find passages that mean the same as a query; they miss exact terms a
sentence model has never seen or folds into something else: a product code
("P038"), a brand ("Coverdell"), an acronym ("HELOC"). BM25 rewards exactly
those rare terms, so the two rankings are fused with reciprocal rank fusion
(Cormack, Clarke and Büttcher, SIGIR 2009): each list contributes
1 / (k + rank), which needs no calibration between cosine and BM25 scores.

Everything here is pure and in memory; an index over a catalogue of a few
thousand passages builds in milliseconds, so callers build it once per
catalogue version and keep it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

RRF_K = 60  # the constant of the RRF paper; larger values flatten the head of each list
BM25_K1 = 1.2  # term-frequency saturation
BM25_B = 0.75  # length normalisation

_TOKEN = re.compile(r"[a-z0-9]+")
_PARENTHESISED_SUFFIX = re.compile(r"(\d)\((\w)\)")  # 401(k) and 401k are one term
_STOPWORDS = frozenset(
    "a about all also am an and any are as at be been but by can could do does for from get has have how i if "
    "in into is it its me my no not of on or our so than that the their them then there these they this to "
    "up us was we what when where which who why will with you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case word terms without stop words; a trailing plural "s" is dropped ("fees" = "fee")."""
    text = _PARENTHESISED_SUFFIX.sub(r"\1\2", text.lower().replace("'", "").replace("\u2019", ""))
    return [_singular(token) for token in _TOKEN.findall(text) if token not in _STOPWORDS]


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


class BM25:
    """An Okapi BM25 index over a fixed set of passages, keyed by any hashable id."""

    def __init__(self, passages: Mapping[Key, str] | Iterable[tuple[Key, str]], k1: float = BM25_K1,
                 b: float = BM25_B) -> None:
        items = list(passages.items() if isinstance(passages, Mapping) else passages)
        self.keys: list[Key] = [key for key, _ in items]
        self._k1, self._b = k1, b
        lengths = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for position, (_, text) in enumerate(items):
            terms = Counter(tokenize(text))
            lengths.append(sum(terms.values()))
            for term, count in terms.items():
                self._postings.setdefault(term, []).append((position, count))
        self._lengths = lengths
        self._average_length = (sum(lengths) / len(lengths)) if lengths else 0.0

    def __len__(self) -> int:
        return len(self.keys)

    def idf(self, term: str) -> float:
        """Lucene's BM25 idf: always positive, highest for the rarest terms."""
        df = len(self._postings.get(term, ()))
        return math.log(1.0 + (len(self.keys) - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[Key, float]:
        """BM25 score of every passage sharing at least one term with `query`."""
        totals: dict[int, float] = {}
        for term in set(tokenize(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            weight = self.idf(term)
            for position, count in postings:
                norm = self._k1 * (1.0 - self._b + self._b * self._lengths[position] / self._average_length)
                totals[position] = totals.get(position, 0.0) + weight * count * (self._k1 + 1.0) / (count + norm)
        return {self.keys[position]: score for position, score in totals.items()}

    def rank(self, query: str, k: int | None = None) -> list[tuple[Key, float]]:
        """Matching passages, best first (ties in index order), at most `k` of them."""
        order = {key: position for position, key in enumerate(self.keys)}
        ranked = sorted(self.scores(query).items(), key=lambda item: (-item[1], order[item[0]]))
        return ranked if k is None else ranked[:k]


def reciprocal_rank_fusion(rankings: Iterable[Sequence[Key]], k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> list[tuple[Key, float]]:
    """Fuse rankings (each best first) into one: score = sum of weight / (k + rank), rank from 1.

    An item missing from a list gets nothing from it. Ties go to the item with the
    better best rank, then to the one seen first.
    """
    rankings = [list(ranking) for ranking in rankings]
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    if k < 0:
        raise ValueError("k must not be negative")
    scores: dict[Key, float] = {}
    best_rank: dict[Key, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(dict.fromkeys(ranking), start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            best_rank[key] = min(best_rank.get(key, rank), rank)
    seen = {key: position for position, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], seen[item[0]]))
