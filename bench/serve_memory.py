"""Memory of one API process at two bank sizes, and what that extrapolates to per million customers.

    .venv/bin/python -m bench.serve_memory --customers 2000 20000 [50000 ...] --turns 200 [--bank-dir DIR] [--against DIR]

For each size (two or more): a synthetic bank, ingested (`--bank-dir DIR` keeps one per size under DIR for the next run, as
bench/chat_load.py's does), then the app started as bench/chat_load.py serves it (create_app and uvicorn in its
own process, warm-up included), and once `/readyz` says ready its memory from /proc: `VmRSS` (ready) and `VmHWM`
(the peak so far: warming up). Then `--turns` chat turns over HTTP, each for the next customer (an agent asking
in turn for a card, for their spouse and for their children), and VmRSS and VmHWM again. The per-million column
is a linear extrapolation, the least-squares line through the sizes (through the two points for two sizes: what
grows between them, times the customers, plus what does not), not a measurement.

`--against DIR` serves the same banks from another checkout too (e.g. `git worktree add /tmp/old <commit>`), one
after the other in the same run, and prints this checkout's figures over those: a ratio against a baseline
measured beside it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from bench.chat_load import free_port, make_bank, staff_keys, wait_until_serving
from retrieval.docstore import open_store

QUESTIONS = ("which credit card suits my spending?", "what about for my wife?", "a savings account for my kids")
MILLION = 1_000_000
GIB = 2**30


@dataclass(frozen=True)
class Memory:
    """Bytes of one API process: ready (after warm-up), the peak while warming up, and after the turns."""

    ready: int
    warm_peak: int
    after_turns: int
    peak: int


def status_bytes(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def measure(code_dir: Path, bank_root: Path, customers: int, turns: int) -> Memory:
    """Serve the bank from the checkout at `code_dir` and read its memory when ready and after `turns` turns."""
    settings = make_bank(bank_root, customers)
    _, agent_key = staff_keys(settings)
    with open_store(settings) as store:
        people = [doc["_id"] for doc in store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=turns)]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.chat_load", "--serve", str(settings.data_dir), str(settings.source_dir),
               str(port)]
    env = {**os.environ, "PYTHONPATH": str(code_dir)}
    with subprocess.Popen(command, cwd=code_dir, env=env, stdin=subprocess.DEVNULL) as server:
        try:
            wait_until_serving(base_url, server)
            ready = status_bytes(server.pid)
            with httpx.Client(base_url=base_url, timeout=300, headers={"Authorization": f"Bearer {agent_key}"}) as http:
                for customer_id, message in zip(itertools.cycle(people), itertools.islice(
                        itertools.cycle(QUESTIONS), turns)):
                    answer = http.post("/v1/chat", json={"message": message, "customer_id": customer_id})
                    if answer.status_code != 200:
                        raise SystemExit(f"chat answered {answer.status_code}: {answer.text[:300]}")
            after = status_bytes(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return Memory(ready["VmRSS"], ready["VmHWM"], after["VmRSS"], after["VmHWM"])


def per_million(sizes: list[int], values: list[int]) -> tuple[float, float]:
    """Bytes at a million customers on the least-squares line through (customers, bytes), and bytes a customer."""
    slope, intercept = np.polyfit(np.array(sizes, dtype=float), np.array(values, dtype=float), 1)
    return intercept + slope * MILLION, slope


def report(label: str, sizes: list[int], measured: list[Memory]) -> dict[str, float]:
    """Print one checkout's rows; the per-million figure of each row, in bytes."""
    rows = {"ready (VmRSS)": "ready", "peak warming up (VmHWM)": "warm_peak",
            "after the turns (VmRSS)": "after_turns", "peak after the turns (VmHWM)": "peak"}
    print(f"\n{label}")
    print(f"  {'':30}" + "".join(f"{n:>12,}" for n in sizes) + f"{'per million':>14}  (GiB; per million extrapolated)")
    extrapolated = {}
    for title, name in rows.items():
        values = [getattr(memory, name) for memory in measured]
        extrapolated[name], slope = per_million(sizes, values)
        print(f"  {title:30}" + "".join(f"{value / GIB:12.2f}" for value in values)
              + f"{extrapolated[name] / GIB:14.1f}  ({slope * 1000 / 2**20:+.2f} MiB a thousand customers)")
    return extrapolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 20000], help="two or more bank sizes")
    parser.add_argument("--turns", type=int, default=200, help="chat turns after ready, each for the next customer")
    parser.add_argument("--bank-dir", type=Path, help="keep the banks here (one per size) for later runs")
    parser.add_argument("--against", type=Path, help="another checkout to serve the same banks from, as a baseline")
    args = parser.parse_args()
    sizes = sorted(set(args.customers))
    if len(sizes) < 2:
        parser.error("--customers needs two sizes or more to extrapolate")
    here = Path(__file__).resolve().parent.parent

    with tempfile.TemporaryDirectory(prefix="fargo-bench-memory-") as tmp:
        root = args.bank_dir or Path(tmp)
        checkouts = {"this checkout": here, **({f"baseline {args.against}": args.against} if args.against else {})}
        measured = {label: [measure(code, root / f"bank-{size}", size, args.turns) for size in sizes]
                    for label, code in checkouts.items()}
    extrapolated = {label: report(label, sizes, rows) for label, rows in measured.items()}
    if args.against:
        mine, baseline = extrapolated.values()
        print("\nthis checkout / baseline, per million: " + ", ".join(
            f"{name} {mine[name] / baseline[name]:.2f}" for name in mine))
    mine = next(iter(extrapolated.values()))
    print(f"goal <= 4 GiB at a million customers: ready {mine['ready'] / GIB:.1f} GiB, "
          f"peak {max(mine['warm_peak'], mine['peak']) / GIB:.1f} GiB")


if __name__ == "__main__":
    main()
