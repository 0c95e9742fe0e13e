"""The first chat turn after start-up against a warm turn, over HTTP on loopback.

    .venv/bin/python -m bench.first_turn --customers 500 --warm-turns 20

Synthesizes and ingests a fresh bank (the demo bank's size by default) in a temp
dir (`--bank-dir` keeps it for the next run), makes an agent key, then starts
the app in a subprocess with uvicorn on 127.0.0.1 as `fargo up` serves it and
waits for `/readyz` to say ready. It times the first `POST /v1/chat` (an
agent asking for one customer), then `--warm-turns` more, each a new
conversation with the next customer and a question not asked before (so none
comes from the embedding cache), and prints the first turn, the median warm
turn and their ratio. Goal: ratio <= 2.

Against another checkout (e.g. `git worktree add /tmp/old <commit>`): copy this file to its bench/ and run it there,
so the server subprocess runs that code too:

    cd /tmp/old && PYTHONPATH=/tmp/old /path/to/.venv/bin/python -m bench.first_turn
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.chat_load import Traffic, free_port, make_bank, staff_keys
from retrieval.docstore import open_store

READY_TIMEOUT_S = 300.0
GOAL_RATIO = 2.0


def start_server(settings, port: int) -> subprocess.Popen:
    """The app as bench/chat_load.py serves it (create_app + uvicorn.run), in its own process."""
    command = [sys.executable, "-m", "bench.chat_load", "--serve", str(settings.data_dir), str(settings.source_dir),
               str(port)]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def wait_until_ready(base_url: str, server: subprocess.Popen) -> float:
    """Seconds from now until /readyz answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")


def timed_turn(http: httpx.Client, message: str, customer_id: str) -> float:
    """Milliseconds for one whole chat turn (JSON answer received)."""
    started = time.perf_counter()
    answer = http.post("/v1/chat", json={"message": message, "customer_id": customer_id})
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"chat answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def questions(seed: int) -> list[str]:
    """Distinct opening questions, in a seeded order."""
    traffic, rng = Traffic(seed), random.Random(seed)
    return list(dict.fromkeys(traffic.opening(rng) for _ in range(400)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=500, help="size of the synthetic bank (the demo bank's)")
    parser.add_argument("--warm-turns", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11, help="seed of the questions")
    parser.add_argument("--bank-dir", type=Path, help="build the bank here and reuse it on later runs (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-first-") as tmp:
        settings = make_bank(args.bank_dir or Path(tmp), args.customers)
        _, agent_key = staff_keys(settings)
        with open_store(settings) as store:
            customers = [doc["_id"] for doc in store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)])]
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = start_server(settings, port)
        try:
            ready_s = wait_until_ready(base_url, server)
            asked = iter(questions(args.seed))
            people = itertools.cycle(customers)
            with httpx.Client(base_url=base_url, timeout=120,
                              headers={"Authorization": f"Bearer {agent_key}"}) as http:
                first_ms = timed_turn(http, next(asked), next(people))
                warm_ms = [timed_turn(http, next(asked), next(people)) for _ in range(args.warm_turns)]
        finally:
            server.terminate()
            server.wait(timeout=30)

    warm = statistics.median(warm_ms)
    print(f"bank: {args.customers:,} customers; ready after {ready_s:.1f} s")
    print(f"first turn after ready   {first_ms:8.1f} ms")
    print(f"warm turn (median of {args.warm_turns}) {warm:8.1f} ms  (max {max(warm_ms):.1f} ms)")
    print(f"ratio first/warm: {first_ms / warm:.2f} (goal <= {GOAL_RATIO:g}) -> "
          f"{'met' if first_ms / warm <= GOAL_RATIO else 'not met'}")


if __name__ == "__main__":
    main()
