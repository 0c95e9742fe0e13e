"""Engine turn latency without an LLM, against one query embedding plus one vector query in the same run.

    .venv/bin/python bench/turn.py --customers 2000 --turns 200

Builds and ingests a synthetic bank in a temp dir, then times `Engine.turn` over a
mix of customer questions and follow-ups. The baseline is the unavoidable cost of
a turn: embedding the message once and one Chroma query. Goal: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.engine import Caller  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ingest.scheduler import run_ingest_now  # noqa: E402
from ingest.synth import synthesize  # noqa: E402

QUESTIONS = [
    ("what card suits my spending?", None),
    ("why?", "follow"),
    ("how can I earn more interest on my savings?", None),
    ("tell me more about the second one", "follow"),
    ("what could help my family?", None),
    ("what is the annual fee on the travel card?", None),
    ("any health plans for me?", None),
    ("anything cheaper?", "follow"),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-turn-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", source_dir=Path(tmp) / "source")
        synthesize(settings.source_dir, customers=args.customers, seed=7)
        run_ingest_now(settings, mode="full")
        with Runtime.open(settings) as runtime:
            customers = [doc["_id"] for doc in runtime.store["customers"].find({}, {"_id": 1})]
            turn_ms, base_ms, session = [], [], None
            for index in range(args.turns):
                message, kind = QUESTIONS[index % len(QUESTIONS)]
                caller = Caller(role="customer", customer_id=customers[(index // len(QUESTIONS)) % len(customers)])
                session = session if kind == "follow" else None
                started = time.perf_counter()
                result = runtime.engine.turn(caller, message, session_id=session)
                turn_ms.append((time.perf_counter() - started) * 1000)
                session = result.session_id

                started = time.perf_counter()
                runtime.vectors.query("products", embedding=runtime.embedder.embed_one(message), k=5)
                base_ms.append((time.perf_counter() - started) * 1000)

    turn_median, base_median = statistics.median(turn_ms), statistics.median(base_ms)
    print(f"bank: {args.customers:,} customers, {args.turns} turns")
    print(f"engine turn         median {turn_median:7.1f} ms  p95 {percentile(turn_ms, 0.95):7.1f} ms")
    print(f"embed + vector query median {base_median:7.1f} ms  p95 {percentile(base_ms, 0.95):7.1f} ms")
    print(f"ratio turn/baseline (medians): {turn_median / base_median:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
