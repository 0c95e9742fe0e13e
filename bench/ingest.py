"""The nightly ingestion on a synthetic bank: throughput per stage, and the embedding
stage against the raw model throughput on the same texts in the same run.

    .venv/bin/python -m bench.ingest --customers 100000

Runs a full ingestion (load -> features -> indexes -> graph), then an incremental
one after 1% of customers changed, and prints records/s per stage. The index
stage's items/s divided by plain `Embedder.embed` of the same texts is the
embedding ratio (goal >= 0.7).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import orjson

from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.jobs import index_items
from ingest.synth import synthesize
from retrieval.docstore import open_store
from retrieval.embeddings import get_embedder
from retrieval.vectors import INDEX_NAMES


def print_run(title: str, run, seconds: float) -> None:
    print(f"{title}: {run.status} in {seconds:,.1f} s ({seconds / 60:.1f} min)")
    for name, stats in run.stages.items():
        print(f"  {name:<9} {stats.count:>12,} items {stats.seconds:>9.1f} s {stats.rate:>12,.0f} items/s")


def touch_customers(source_dir: Path, share: float, seed: int) -> int:
    """Change the city of `share` of the customers, as a day's updates would."""
    path = source_dir / "customers.jsonl"
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    chosen = random.Random(seed).sample(range(len(rows)), max(1, int(len(rows) * share)))
    for index in chosen:
        rows[index]["city"] = "Anchorage"
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-ingest-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", source_dir=root / "source")
        start = time.perf_counter()
        synthesize(settings.source_dir, customers=args.customers, seed=args.seed)
        print(f"synthesized {args.customers:,} customers in {time.perf_counter() - start:,.1f} s")
        get_embedder()  # the model load is start-up, not a stage

        start = time.perf_counter()
        full = run_ingest_now(settings, mode="full")
        print_run("full ingestion", full, time.perf_counter() - start)

        with open_store(settings) as store:
            texts = [item.text for name in INDEX_NAMES for item in index_items(name, store)]
        start = time.perf_counter()
        get_embedder().embed(texts)
        raw_rate = len(texts) / (time.perf_counter() - start)
        index_rate = full.stages["indexes"].rate
        print(f"raw embed   {len(texts):>12,} texts {raw_rate:>12,.0f} texts/s")
        print(f"index stage {full.stages['indexes'].count:>12,} items {index_rate:>12,.0f} items/s")
        print(f"embedding ratio index/raw: {index_rate / raw_rate:.2f} (goal >= 0.7)")

        changed = touch_customers(settings.source_dir, 0.01, args.seed)
        start = time.perf_counter()
        incremental = run_ingest_now(settings, mode="incremental")
        print(f"changed {changed:,} customers")
        print_run("incremental ingestion", incremental, time.perf_counter() - start)


if __name__ == "__main__":
    main()
