"""The ONNX serving path against encode(): float32 agrees to 1e-5; an int8 model that drifts is refused."""

from pathlib import Path

import numpy as np
import pytest

from retrieval.embeddings import get_embedder
from retrieval.onnx_encoder import (
    INT8_MIN_COSINE,
    Agreement,
    OnnxCheckError,
    check,
    onnx_encoder,
)

pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx extra: pip install -e '.[onnx]'")


@pytest.fixture(scope="module")
def minilm():
    return get_embedder("minilm")


@pytest.fixture(scope="module")
def fp32(minilm, tmp_path_factory):
    return onnx_encoder(minilm._model, tmp_path_factory.mktemp("onnx"), "fp32")


def test_fp32_onnx_gives_encodes_vectors_for_new_texts(minilm, fp32):
    encoder, found = fp32
    texts = ["a mortgage with a low rate", "can my son get a debit card?", "ok"]
    np.testing.assert_allclose(encoder(texts), minilm.embed(texts * 3)[:3], atol=1e-5)
    assert found.max_abs_difference <= 1e-5 and found.min_cosine > 0.9999


def test_an_int8_model_below_the_cosine_floor_is_refused_with_the_figure():
    with pytest.raises(OnnxCheckError, match=r"cosine of only 0\.9616 .* under 0\.99: refused"):
        check(Agreement(max_abs_difference=0.05, min_cosine=0.9616), "int8")
    check(Agreement(max_abs_difference=0.05, min_cosine=INT8_MIN_COSINE), "int8")


def test_fp32_drift_beyond_the_tolerance_is_refused():
    with pytest.raises(OnnxCheckError, match="differ from encode.. by up to 0.0001"):
        check(Agreement(max_abs_difference=1e-4, min_cosine=1.0), "fp32")


def test_an_unknown_precision_is_named(minilm, tmp_path: Path):
    with pytest.raises(ValueError, match="fp32, int8, not 'fp16'"):
        onnx_encoder(minilm._model, tmp_path, "fp16")
