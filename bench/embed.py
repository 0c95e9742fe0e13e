"""Encoder serving cost: each encoder x backend, as ratios to plain torch MiniLM, in one run.

    .venv/bin/python -m bench.embed [--encoders minilm mpnet] [--texts 256] [--queries 50]

Backends: `torch` (SentenceTransformer.encode), `torchscript` (the traced model the service uses for chat
turns), `onnx-fp32` and `onnx-int8` (onnxruntime; int8 = dynamic per-channel int8 weights). Every backend but
torch is first checked against encode() on the probe texts (TorchScript and fp32 to 1e-5, int8 to a cosine of
0.99); one that fails is reported with the figure it reached and not timed. Throughput: sentences/s embedding
Fargo's shipped intent examples in batches of 32 with 2 threads; latency: the median of single-sentence calls
with 1 thread (as the service's shared batches run). Encoders not installed are skipped, saying so.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.intents.examples import TRAINING_DATA_PATH, load_examples
from retrieval.embeddings import load_embedder, traced_encoder
from retrieval.encoders import EncoderError
from retrieval.onnx_encoder import OnnxCheckError, onnx_encoder

BATCH = 32
BACKENDS = ("torch", "torchscript", "onnx-fp32", "onnx-int8")


def backend_call(name: str, embedder, folder: Path):
    """(callable texts -> vectors, note); the callable is None when the backend was refused."""
    model = embedder._model
    if name == "torch":
        return (lambda texts: model.encode(texts, batch_size=BATCH, convert_to_numpy=True, normalize_embeddings=True,
                                           show_progress_bar=False)), ""
    if name == "torchscript":
        traced = traced_encoder(model)
        return (None, "refused: does not trace") if traced is None else (traced, "")
    precision = name.removeprefix("onnx-")
    try:
        encoder, found = onnx_encoder(model, folder / embedder.model_name, precision, threads=2)
    except OnnxCheckError as exc:
        return None, str(exc)
    return encoder, f"max |diff| {found.max_abs_difference:.1e}, min cosine {found.min_cosine:.4f}"


def throughput(call, texts: list[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        call(texts[start:start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def latency_ms(call, queries: list[str]) -> float:
    import torch

    torch.set_num_threads(1)
    try:
        call(queries[:1])  # warm
        times = []
        for query in queries:
            started = time.perf_counter()
            call([query])
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)
    finally:
        torch.set_num_threads(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--texts", type=int, default=256, help="sentences embedded for the throughput figure")
    parser.add_argument("--queries", type=int, default=50, help="single-sentence calls for the latency figure")
    args = parser.parse_args()
    if args.texts < BATCH or args.queries < 1:
        parser.error(f"--texts must be {BATCH} or more and --queries 1 or more")
    import torch

    torch.set_num_threads(2)
    texts = [text for text, _ in load_examples(TRAINING_DATA_PATH)]
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), size=args.texts, replace=len(texts) < args.texts)]
    queries = sample[: args.queries]
    rows, baseline = [], None
    with tempfile.TemporaryDirectory(prefix="fargo-onnx-") as scratch:
        for setting in args.encoders:
            try:
                embedder = load_embedder(setting)
            except EncoderError as exc:
                print(f"{setting}: skipped: {exc}")
                continue
            for backend in BACKENDS:
                call, note = backend_call(backend, embedder, Path(scratch))
                if call is None:
                    rows.append((embedder.model_name, backend, None, None, note))
                    continue
                call(sample[:BATCH])  # warm
                figures = (throughput(call, sample), latency_ms(call, queries))
                baseline = baseline or figures
                rows.append((embedder.model_name, backend, *figures, note))
    print(f"{'encoder':<20} {'backend':<12} {'sentences/s':>12} {'x torch MiniLM':>15} {'latency ms':>11} "
          f"{'x torch MiniLM':>15}  check")
    for model_name, backend, rate, latency, note in rows:
        if rate is None:
            print(f"{model_name:<20} {backend:<12} {'-':>12} {'-':>15} {'-':>11} {'-':>15}  {note}")
            continue
        print(f"{model_name:<20} {backend:<12} {rate:12.1f} {rate / baseline[0]:15.2f} {latency:11.2f} "
              f"{latency / baseline[1]:15.2f}  {note}")


if __name__ == "__main__":
    main()
