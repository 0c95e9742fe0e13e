"""TF-IDF rows from a fitted scikit-learn TfidfVectorizer, without its per-call overhead.

`TfidfVectorizer.transform` validates its input and parameters on every call,
which for the one short message of a chat turn costs several times the
arithmetic. `tfidf_rows` does the same arithmetic, in the same order (counts ->
log(count) + 1 -> x idf -> divided by the row's L2 norm, summed left to right
over sorted columns as scikit-learn's Cython does), so the matrix is equal to
the last bit. Settings it does not cover go to scikit-learn unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer


def tfidf_rows(vectorizer: TfidfVectorizer, texts: Sequence[str], analyze=None) -> sparse.csr_matrix:
    """The same matrix as `vectorizer.transform(texts)` (float64, sorted column indices).

    `analyze` is `vectorizer.build_analyzer()`, for callers that keep it between calls.
    """
    if vectorizer.binary or not vectorizer.sublinear_tf or vectorizer.norm != "l2" or vectorizer.dtype != np.float64:
        return sparse.csr_matrix(vectorizer.transform(texts))
    analyze = analyze or vectorizer.build_analyzer()
    vocabulary = getattr(vectorizer, "vocabulary_", None) or vectorizer.vocabulary  # a loaded model has only the latter
    indptr, indices, data = [0], [], []
    for text in texts:
        columns, values = _row(text, analyze, vocabulary, vectorizer.idf_)
        indices.extend(columns)
        data.extend(values)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
        shape=(len(texts), len(vocabulary)),
    )


def _row(text: str, analyze, vocabulary: dict[str, int], idf: np.ndarray) -> tuple[list[int], list[float]]:
    counts: dict[int, int] = {}
    for feature in analyze(text):
        column = vocabulary.get(feature)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    columns = sorted(counts)
    values = np.log(np.asarray([counts[column] for column in columns], dtype=np.float64))
    values += 1.0
    values *= idf[columns]
    squares = 0.0
    for value in values.tolist():
        squares += value * value
    if squares:
        values /= math.sqrt(squares)
    return columns, values.tolist()

