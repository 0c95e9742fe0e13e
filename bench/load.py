"""The load stage alone, this checkout against an older commit, on the same synthetic bank in one run.

    .venv/bin/python -m bench.load --customers 100000 --baseline-ref ff5bc61

Loads the bank into an empty embedded store (a full load), then the same files again
(every record unchanged), and prints wall and CPU seconds for each. With
`--baseline-ref`, the loader of that commit (from `git archive`) does the same in a
subprocess on the same files, and the ratios and whether the counts and the rejections
(file, line, field, reason) agree are printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from ingest.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent

# Runs in a subprocess whose sys.path starts at the checkout being measured.
MEASURE = """
import json, sys, tempfile, time
from pathlib import Path
from assistant.settings import Settings
from ingest.loader import load_directory
from retrieval.docstore import open_store
from retrieval.privacy import ErasureList

source = Path(sys.argv[1])
timings = []
with tempfile.TemporaryDirectory(prefix="fargo-bench-load-") as tmp:
    with open_store(Settings(data_dir=Path(tmp), source_dir=source)) as store:
        store.ensure_indexes()
        for _ in ("full", "unchanged"):
            wall, cpu = time.perf_counter(), time.process_time()
            summary = load_directory(store, source, erasures=ErasureList(store, None))
            counts = {name: [c.loaded, c.updated, c.unchanged, c.rejected] for name, c in summary.files.items()}
            timings.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "counts": counts,
                            "rejections": [str(rejection) for rejection in summary.rejections]})
print(json.dumps(timings))
"""


def measure(checkout: Path, source: Path) -> list[dict]:
    result = subprocess.run([sys.executable, "-c", MEASURE, str(source)], cwd=checkout, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def export(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def report(name: str, runs: list[dict]) -> None:
    for label, run in zip(("full load", "reload"), runs, strict=True):
        rows = sum(sum(counts[:3]) for counts in run["counts"].values())
        print(f"  {name:<9} {label:<10} {run['wall']:>8.1f} s wall {run['cpu']:>8.1f} s CPU "
              f"{rows / run['wall']:>10,.0f} records/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", type=Path, help="an existing source directory instead of a new synthetic bank")
    parser.add_argument("--baseline-ref", help="a git commit whose loader to measure on the same files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-load-") as tmp:
        source = args.source
        if source is None:
            source = Path(tmp) / "source"
            start = time.perf_counter()
            synthesize(source, customers=args.customers, seed=args.seed)
            print(f"synthesized {args.customers:,} customers in {time.perf_counter() - start:,.1f} s")
        runs = {}
        if args.baseline_ref:
            runs["baseline"] = measure(export(args.baseline_ref, Path(tmp) / "baseline"), source)
        runs["this"] = measure(ROOT, source)
        for name, measured in runs.items():
            report(name, measured)
        if "baseline" in runs:
            for index, label in enumerate(("full load", "reload")):
                old, new = runs["baseline"][index], runs["this"][index]
                same = "same counts" if old["counts"] == new["counts"] else "COUNTS DIFFER"
                same += (f", same {len(new['rejections'])} rejections" if old["rejections"] == new["rejections"]
                         else ", REJECTIONS DIFFER")
                print(f"{label}: {old['wall'] / new['wall']:.2f}x faster wall, {old['cpu'] / new['cpu']:.2f}x CPU ({same})")


if __name__ == "__main__":
    main()
