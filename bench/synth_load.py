"""Synthesize and load a bank, against a raw insert_many of the same documents in the same run.

    .venv/bin/python -m bench.synth_load --customers 100000

Prints records/s for synthesis and for `fargo data load` (validation, references,
upserts, transaction buckets), then the same documents inserted with plain
`insert_many` into a fresh store of the same kind; the ratio load/raw is the figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from assistant.settings import Settings
from ingest.loader import batched, load_directory
from ingest.synth import synthesize
from retrieval.docstore import open_store


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def raw_insert(settings: Settings, collections: dict[str, list[dict]]) -> int:
    with open_store(settings) as store:
        for name, documents in collections.items():
            for batch in batched(documents, 1000):
                store[name].insert_many(batch, ordered=False)
    return sum(len(documents) for documents in collections.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-") as tmp:
        root = Path(tmp)
        summary, synth_s = timed(lambda: synthesize(root / "bank", customers=args.customers, seed=args.seed))
        records = sum(summary.counts.values())
        print(f"synthesize  {args.customers:>9,} customers  {records:>11,} records  {synth_s:8.1f} s  {records / synth_s:>10,.0f} records/s")

        loaded_settings = Settings(data_dir=root / "loaded")
        with open_store(loaded_settings) as store:
            store.ensure_indexes()
            load, load_s = timed(lambda: load_directory(store, root / "bank"))
            stored = {name: list(store[name].find({})) for name in store.list_collection_names()}
        source_records = load.total("loaded")
        documents = sum(len(docs) for docs in stored.values())
        print(f"load        {source_records:>11,} records -> {documents:,} documents  {load_s:8.1f} s  {source_records / load_s:>10,.0f} records/s  {documents / load_s:>10,.0f} docs/s")

        raw_settings = Settings(data_dir=root / "raw")
        with open_store(raw_settings) as store:
            store.ensure_indexes()
        inserted, raw_s = timed(lambda: raw_insert(raw_settings, stored))
        print(f"raw insert  {inserted:>11,} documents  {raw_s:8.1f} s  {inserted / raw_s:>10,.0f} docs/s")
        print(f"ratio load/raw (documents/s): {(documents / load_s) / (inserted / raw_s):.2f}")


if __name__ == "__main__":
    main()
