"""The sentence encoder exported to ONNX and run with onnxruntime, in float32 or with dynamic int8 weights.

The exported graph is the whole of `encode`: transformer, mean pooling, L2 normalisation (the same module the
TorchScript path traces). Before use, an exported encoder is checked on `PROBE_TEXTS` against `encode()`:
float32 must agree element by element to `FP32_TOLERANCE`, int8 must keep every probe's cosine to the reference
at `INT8_MIN_COSINE` or more; one that does not is refused (`OnnxCheckError`, with the figure it reached).
int8 quantises only the weight matrices (MatMul, one scale per output channel): activations stay float32.
Needs the `onnx` package (`pip install -e ".[onnx]"`) to export; onnxruntime comes with chromadb.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.embeddings import (
    PROBE_TEXTS,
    mean_pooled_module,
    model_inputs,
    reference_vectors,
)
from retrieval.errors import FargoError

PRECISIONS = ("fp32", "int8")
FP32_TOLERANCE = 1e-5
INT8_MIN_COSINE = 0.99
OPSET = 17


class OnnxCheckError(FargoError):
    """An exported encoder does not give `encode()`'s vectors closely enough, or cannot be exported."""


@dataclass(frozen=True)
class Agreement:
    """How close an exported encoder's probe vectors came to `encode()`'s."""

    max_abs_difference: float
    min_cosine: float


class OnnxEncoder:
    """Texts in, unit-length float32 vectors out, through one onnxruntime session."""

    def __init__(self, model, path: Path, token_types: bool, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length
        self._names = ["input_ids", "attention_mask", "token_type_ids"][: 3 if token_types else 2]
        self.path = path

    def __call__(self, texts: list[str]) -> np.ndarray:
        features = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_length,
                                   return_tensors="np")
        feeds = {name: np.asarray(features[name], dtype=np.int64) for name in self._names}
        return self._session.run(None, feeds)[0].astype(np.float32, copy=False)


def export_fp32(model, path: Path) -> bool:
    """Write the model's whole `encode` as an ONNX graph; returns whether it takes token type ids."""
    import torch

    pooled = mean_pooled_module(model)
    if pooled is None:
        raise OnnxCheckError("only mean-pooled, normalised sentence-transformers models are exported")
    module, token_types = pooled
    example = model.tokenizer(["a question", "a longer question than that"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"][: 3 if token_types else 2]
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"embedding": {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes: the check on the probes is what counts
        torch.onnx.export(module, model_inputs(example, token_types), str(path), dynamo=False, opset_version=OPSET,
                          input_names=names, output_names=["embedding"], dynamic_axes=axes)
    return token_types


def quantize_int8(fp32_path: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(path), op_types_to_quantize=["MatMul"], per_channel=True,
                     weight_type=QuantType.QInt8)


def agreement(encoder, model) -> Agreement:
    expected = reference_vectors(model, PROBE_TEXTS)
    got = encoder(list(PROBE_TEXTS))
    return Agreement(float(np.abs(got - expected).max()), float((got * expected).sum(axis=1).min()))


def check(found: Agreement, precision: str) -> None:
    """Raise OnnxCheckError unless `found` is close enough for `precision`."""
    if precision == "fp32" and found.max_abs_difference > FP32_TOLERANCE:
        raise OnnxCheckError(f"the fp32 ONNX vectors differ from encode() by up to {found.max_abs_difference:.2g}, "
                             f"more than {FP32_TOLERANCE:g}: refused")
    if precision == "int8" and found.min_cosine < INT8_MIN_COSINE:
        raise OnnxCheckError(f"the int8 ONNX vectors reach a cosine of only {found.min_cosine:.4f} to encode()'s "
                             f"on the probe texts, under {INT8_MIN_COSINE}: refused")


def onnx_encoder(model, folder: Path, precision: str = "fp32", threads: int = 1) -> tuple[OnnxEncoder, Agreement]:
    """Export (and quantise) the model under `folder`, check it against `encode()`, and return it with the figures.

    Raises OnnxCheckError when it does not agree closely enough for `precision`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    fp32 = folder / "encoder-fp32.onnx"
    try:
        token_types = export_fp32(model, fp32)
        path = fp32
        if precision == "int8":
            path = folder / "encoder-int8.onnx"
            quantize_int8(fp32, path)
    except ImportError as exc:
        raise OnnxCheckError(f"exporting to ONNX needs the onnx package ({exc}): pip install -e '.[onnx]'") from None
    encoder = OnnxEncoder(model, path, token_types, threads)
    found = agreement(encoder, model)
    check(found, precision)
    return encoder, found
