"""The benchmarks' command lines refuse a share out of range before any work, naming the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("arguments, named", [
    (["--changed", "0.01", "--taking-up", "2"], "--taking-up"),
    (["--changed", "0.01", "--taking-up", "-0.1"], "--taking-up"),
    (["--changed", "0"], "--changed"),
])
def test_bench_ingest_refuses_a_share_out_of_range(arguments, named):
    done = subprocess.run([sys.executable, "-m", "bench.ingest", "--customers", "10", *arguments], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"{named} must be a share" in done.stderr
