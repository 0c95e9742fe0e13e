"""The benchmarks: command lines refuse a share out of range before any work; a child run that dies is an error."""

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


def test_a_bank_changed_twice_changes_other_customers_with_new_ids(tmp_path):
    import csv

    import orjson

    from bench.ingest import MOVED_TO, change_customers
    from ingest.synth import synthesize

    synthesize(tmp_path, customers=60, seed=3)

    def moved() -> set[str]:
        return {row["customer_id"] for row in map(orjson.loads, (tmp_path / "customers.jsonl").read_bytes().splitlines())
                if row["city"] == MOVED_TO}

    assert change_customers(tmp_path, 0.1, seed=7, taking_up=1.0) == 6
    first = moved()
    assert change_customers(tmp_path, 0.1, seed=7, taking_up=1.0) == 6
    assert len(moved()) == 12 and first < moved()  # six more, not the same six again
    for name, key in (("accounts.jsonl", "account_id"), ("relationships.jsonl", "relationship_id")):
        ids = [orjson.loads(line)[key] for line in (tmp_path / name).read_bytes().splitlines()]
        assert len(ids) == len(set(ids)), name
    with (tmp_path / "transactions.csv").open(newline="") as handle:
        ids = [row["transaction_id"] for row in csv.DictReader(handle)]
    assert len(ids) == len(set(ids)) and sum(each.startswith("T9") for each in ids) >= 12


def test_a_child_that_dies_before_reporting_is_an_error_not_a_wait_for_ever(tmp_path):
    from bench.ingest import features_stage, in_child

    not_a_directory = tmp_path / "a file"
    not_a_directory.write_text("the store cannot live here")
    with pytest.raises(SystemExit, match="features_stage ended with exit code 1 before reporting"):
        in_child(features_stage, not_a_directory, "duckdb", "bench-duckdb")  # it waited for ever before
