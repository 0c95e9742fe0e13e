"""all-mpnet-base-v2, once installed (`bash .ci/install.sh --mpnet`): loads offline with its weights checked, and
the TorchScript path the chat turns use gives encode()'s vectors for a model without token types."""

import numpy as np
import pytest

from retrieval.embeddings import (
    get_embedder,
    reference_vectors,
    traced_encoder,
)
from retrieval.encoders import MPNET_NAME, EncoderError, resolve_encoder

try:
    resolve_encoder("mpnet")
except EncoderError as missing:
    pytest.skip(f"all-mpnet-base-v2 is not installed ({missing})", allow_module_level=True)


@pytest.fixture(scope="module")
def mpnet():
    return get_embedder("mpnet")


def test_mpnet_loads_with_its_name_and_768_dimensions(mpnet):
    assert mpnet.model_name == MPNET_NAME and mpnet.dimension == 768
    vectors = mpnet.embed(["card with travel rewards", "Voyager credit card: points on flights and hotels",
                           "30-year fixed-rate mortgage for first-time home buyers"])
    assert vectors.shape == (3, 768) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_the_traced_mpnet_gives_encodes_vectors(mpnet):
    traced = traced_encoder(mpnet._model)
    assert traced is not None  # it checked itself on PROBE_TEXTS: None had they differed
    texts = ["a savings account for my son", "ok"]
    np.testing.assert_allclose(traced(texts), reference_vectors(mpnet._model, texts), atol=1e-5)
