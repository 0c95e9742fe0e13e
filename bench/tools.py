"""Latency of one tool call per tool on a synthetic bank, against a raw-store baseline in the same run.

    .venv/bin/python -m bench.tools --customers 100000

Synthesizes the bank, runs a full ingestion into a temporary data dir (at 100k
customers the load stage alone takes 10+ minutes on a busy 2-core machine; pick a
smaller `--customers` to finish sooner: the output names the size measured), then
times each tool for `--calls` seeded customers and prints median and p95 per tool.
Baseline: one raw Chroma query (by a precomputed vector) plus one features
`find_one`, the least a tool call can read; the ratio is tool median / baseline median.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.synth import synthesize
from retrieval.docstore import open_store
from retrieval.embeddings import get_embedder
from retrieval.vectors import VectorIndexes
from tools.campaign import campaign_insights
from tools.context import ToolContext
from tools.family import recommend_family
from tools.healthcare import recommend_healthcare
from tools.personal import recommend_personal
from tools.search import search_products

QUERIES = ("which card is best for travel?", "how do I save for my kid's college", "cheap personal loan",
           "what is a HELOC?", "health savings account", "retirement account with employer match")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed(call: Callable[[str, int], object], customers: list[str]) -> list[float]:
    seconds = []
    for index, customer_id in enumerate(customers):
        start = time.perf_counter()
        call(customer_id, index)
        seconds.append(time.perf_counter() - start)
    return seconds


def calls(ctx: ToolContext) -> dict[str, Callable[[str, int], object]]:
    embedder = get_embedder()
    vectors = {query: embedder.embed_one(query) for query in QUERIES}

    def baseline(customer_id: str, index: int) -> None:
        ctx.vectors.query("products", embedding=vectors[QUERIES[index % len(QUERIES)]], k=10)
        ctx.store["features"].find_one({"_id": f"{ctx.run_id}:{customer_id}"})

    return {
        "baseline (1 Chroma query + 1 find_one)": baseline,
        "recommend_personal": lambda cid, i: recommend_personal(ctx, cid, k=5),
        "recommend_family": lambda cid, i: recommend_family(ctx, cid, k=3),
        "recommend_healthcare": lambda cid, i: recommend_healthcare(ctx, cid, k=5),
        "search_products (query text)": lambda cid, i: search_products(ctx, QUERIES[i % len(QUERIES)], cid, k=5),
        "search_products (query vector)": lambda cid, i: search_products(
            ctx, QUERIES[i % len(QUERIES)], cid, k=5, query_embedding=vectors[QUERIES[i % len(QUERIES)]]),
        "campaign_insights": lambda cid, i: campaign_insights(ctx, cid, k=3),
    }


def measure(settings: Settings, count: int, seed: int) -> None:
    with open_store(settings) as store, VectorIndexes.open(settings, get_embedder()) as vectors:
        ctx = ToolContext.open(store, vectors, get_embedder())
        everyone = sorted(doc["_id"] for doc in store["customers"].find({}, projection={"_id": 1}))
        sample = random.Random(seed).sample(everyone, min(count, len(everyone)))
        warm = sample[: min(5, len(sample))]
        print(f"{'call':<40} {'median ms':>10} {'p95 ms':>10} {'x baseline':>11}")
        base_median = None
        for name, call in calls(ctx).items():
            timed(call, warm)  # first calls build per-context caches; a server pays that once
            seconds = timed(call, sample)
            median = statistics.median(seconds)
            base_median = base_median or median
            print(f"{name:<40} {median * 1e3:>10.1f} {percentile(seconds, 0.95) * 1e3:>10.1f} "
                  f"{median / base_median:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200, help="customers timed per tool")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-tools-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", source_dir=root / "source")
        start = time.perf_counter()
        synthesize(settings.source_dir, customers=args.customers, seed=args.seed)
        print(f"synthesized {args.customers:,} customers in {time.perf_counter() - start:,.1f} s")
        start = time.perf_counter()
        run = run_ingest_now(settings, mode="full")
        print(f"full ingestion {run.status} in {time.perf_counter() - start:,.1f} s")
        print(f"tool latency at {args.customers:,} customers, {args.calls} calls per tool:")
        measure(settings, args.calls, args.seed)


if __name__ == "__main__":
    main()
