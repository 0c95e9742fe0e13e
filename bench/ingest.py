"""The nightly ingestion on a synthetic bank: throughput per stage, and the embedding
stage against the raw model throughput on the same texts in the same run.

    .venv/bin/python -m bench.ingest --customers 100000

Runs a full ingestion (load -> features -> indexes -> graph), then an incremental
one after 1% of customers changed, and prints records/s per stage. The index
stage's items/s divided by plain `Embedder.embed` of the same texts is the
embedding ratio (goal >= 0.7).

    .venv/bin/python -m bench.ingest --customers 100000 --compare-features [--bank-dir DIR]

Loads the bank once, then runs only the features stage with the old record-by-record
path (FARGO_FEATURE_ENGINE=python) and with the engine (duckdb, or --engine spark),
each in a fresh process, and prints the time ratio and each one's peak memory
(ru_maxrss). `--bank-dir` keeps the loaded bank for the next run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path

import orjson

from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.jobs import IngestJob, index_items
from ingest.loader import load_directory
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


def features_stage(data_dir: Path, engine: str, run_id: str, results) -> None:
    """In a fresh process: one features stage over the loaded bank; sends seconds, documents and peak MiB."""
    with open_store(Settings(data_dir=data_dir)) as store:
        start = time.perf_counter()
        computed = IngestJob(store, None, data_dir / "graph", feature_engine=engine).build_features(run_id)
        seconds = time.perf_counter() - start
        store["features"].delete_many({"run_id": run_id})
    results.put((seconds, computed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def timed_features(data_dir: Path, engine: str) -> tuple[float, int, float]:
    spawn = multiprocessing.get_context("spawn")  # a clean process: its peak memory is the stage's own
    results = spawn.Queue()
    child = spawn.Process(target=features_stage, args=(data_dir, engine, f"bench-{engine}", results))
    child.start()
    outcome = results.get()
    child.join()
    return outcome


def loaded_bank(root: Path, customers: int, seed: int) -> Path:
    """A synthetic bank loaded into the embedded store under `root` (reused when already there)."""
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    if (settings.data_dir / "fargo.db").exists():
        print(f"reusing the bank in {root}")
        return settings.data_dir
    start = time.perf_counter()
    synthesize(settings.source_dir, customers=customers, seed=seed)
    print(f"synthesized {customers:,} customers in {time.perf_counter() - start:,.1f} s")
    with open_store(settings) as store:
        store.ensure_indexes()
        start = time.perf_counter()
        load_directory(store, settings.source_dir)
    print(f"loaded in {time.perf_counter() - start:,.1f} s")
    return settings.data_dir


def compare_features(root: Path, customers: int, seed: int, engine: str) -> None:
    data_dir = loaded_bank(root, customers, seed)
    figures = {name: timed_features(data_dir, name) for name in (engine, "python")}
    for name, (seconds, computed, peak) in figures.items():
        print(f"features {name:<7} {computed:>10,} customers {seconds:>9.1f} s {computed / seconds:>9,.0f}/s "
              f"peak {peak:>7,.0f} MiB")
    print(f"features ratio python/{engine}: {figures['python'][0] / figures[engine][0]:.1f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare-features", action="store_true",
                        help="only the features stage: the old python path against the engine, on one loaded bank")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--bank-dir", type=Path, help="with --compare-features: load the bank here and reuse it")
    args = parser.parse_args()
    if args.compare_features:
        if args.bank_dir:
            compare_features(args.bank_dir, args.customers, args.seed, args.engine)
        else:
            with tempfile.TemporaryDirectory(prefix="fargo-bench-features-") as tmp:
                compare_features(Path(tmp), args.customers, args.seed, args.engine)
        return

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
