"""Engine turn latency without an LLM, against one query embedding plus one vector query in the same run.

    .venv/bin/python -m bench.turn --customers 2000 --turns 200

Builds and ingests a synthetic bank in a temp dir (`--bank-dir` keeps it for the
next run, as bench/chat_load.py's does), then times `Engine.turn` over the
conversations bench/chat_load.py sends (seeded, `--seed`: opening questions and
follow-ups in the same session), each with the next customer. The baseline is
the unavoidable cost of a turn: embedding the message once (never from the
embedding cache) and one Chroma query. Goal: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from assistant.callers import Caller
from assistant.runtime import Runtime
from bench.chat_load import Traffic, make_bank


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7, help="seed of the conversations")
    parser.add_argument("--bank-dir", type=Path, help="build the bank here and reuse it on later runs (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-turn-") as tmp:
        settings = make_bank(args.bank_dir or Path(tmp), args.customers)
        with Runtime.open(settings) as runtime:
            customers = [doc["_id"] for doc in runtime.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)])]
            turns = (
                (customer, session_start, message)
                for customer, conversation in zip(itertools.cycle(customers), Traffic(args.seed).conversations("turn"))
                for session_start, message in zip(itertools.chain([True], itertools.repeat(False)), conversation)
            )
            turn_ms, base_ms, session = [], [], None
            for customer, session_start, message in itertools.islice(turns, args.turns):
                caller = Caller(role="customer", customer_id=customer)
                started = time.perf_counter()
                result = runtime.engine.turn(caller, message, session_id=None if session_start else session)
                turn_ms.append((time.perf_counter() - started) * 1000)
                session = result.session_id

                started = time.perf_counter()
                runtime.vectors.query("products", embedding=runtime.embedder.embed([message])[0], k=5)
                base_ms.append((time.perf_counter() - started) * 1000)

    turn_median, base_median = statistics.median(turn_ms), statistics.median(base_ms)
    print(f"bank: {args.customers:,} customers, {args.turns} turns")
    print(f"engine turn         median {turn_median:7.1f} ms  p95 {percentile(turn_ms, 0.95):7.1f} ms")
    print(f"embed + vector query median {base_median:7.1f} ms  p95 {percentile(base_ms, 0.95):7.1f} ms")
    print(f"ratio turn/baseline (medians): {turn_median / base_median:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
