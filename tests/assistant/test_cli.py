"""The `fargo` CLI: clear exits and messages for operators."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FARGO_MONGODB_URI", raising=False)
    return tmp_path


def test_synth_then_load_reports_counts(env: Path):
    bank = env / "bank"
    made = runner.invoke(app, ["data", "synth", "--customers", "40", "--seed", "3", "--out", str(bank)])
    assert made.exit_code == 0, made.output
    assert (bank / "customers.jsonl").is_file()

    loaded = runner.invoke(app, ["data", "load", str(bank)])
    assert loaded.exit_code == 0, loaded.output
    assert "rejected 0" in loaded.output
    customers_line = next(line for line in loaded.output.splitlines() if line.startswith("customers.jsonl"))
    assert customers_line.split()[1] == "40"


def test_load_reports_each_bad_row_with_file_line_field_and_reason(env: Path):
    bank = env / "bank"
    bank.mkdir()
    good = {"customer_id": "C1", "first_name": "A", "last_name": "B", "date_of_birth": "1980-01-01",
            "city": "Austin", "annual_income": 1000, "marital_status": "single"}
    bad = good | {"customer_id": "C2", "annual_income": -1}
    (bank / "customers.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")

    result = runner.invoke(app, ["data", "load", str(bank)])

    assert result.exit_code == 0
    assert "rejected customers.jsonl:2: annual_income: Input should be greater than or equal to 0" in result.output
    assert "loaded 1, updated 0, rejected 1" in result.output


def test_load_of_an_unreadable_file_exits_2_and_says_what_to_fix(env: Path):
    bank = env / "bank"
    bank.mkdir()
    (bank / "customers.jsonl").write_bytes(b"\xff\xfe garbage")

    result = runner.invoke(app, ["data", "load", str(bank)])

    assert result.exit_code == 2
    assert "customers.jsonl: not UTF-8 text" in result.output
    assert "Nothing was loaded" in result.output


def test_a_bad_setting_exits_2_naming_the_variable(env: Path, monkeypatch):
    monkeypatch.setenv("FARGO_MONGODB_URI", "postgres://nope")

    result = runner.invoke(app, ["data", "load", str(env)])

    assert result.exit_code == 2
    assert "FARGO_MONGODB_URI" in result.output


@pytest.mark.parametrize("command", [["train", "intents"], ["eval", "intents", "--dataset", "banking77"]])
def test_a_negative_number_of_fine_tuning_epochs_exits_2_naming_the_option(env: Path, command):
    result = runner.invoke(app, [*command, "--finetune-epochs", "-1"])

    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())  # the error box wraps its lines
    assert "Invalid value for '--finetune-epochs'" in said and "greater than or equal to 0" in said


@pytest.mark.parametrize("flag", [["--tfidf-weight", "-0.5"], ["--finetune-epochs", "-1"], ["--threads", "0"],
                                  ["--finetune-lr", "0"]])
def test_intent_benchmark_refuses_bad_fine_tuning_options_naming_them(tmp_path: Path, flag):
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "bench.intents", "--dataset", "banking77", "--cache-dir", str(tmp_path),
                             *flag], capture_output=True, text=True, timeout=120, cwd=root)

    assert result.returncode == 2
    assert flag[0] in result.stderr and "--tfidf-weight 0 or more" in result.stderr
    assert not any(tmp_path.iterdir())  # refused before any work


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fargo_up_makes_a_demo_bank_and_answers_healthz(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "FARGO_DATA_DIR": str(tmp_path / "data"), "FARGO_DEMO_CUSTOMERS": "30"}
    env.pop("FARGO_MONGODB_URI", None)
    fargo = Path(sys.executable).parent / "fargo"
    process = subprocess.Popen(
        [str(fargo), "up", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        body = wait_for_json(f"http://127.0.0.1:{port}/healthz", process, timeout=180)
        assert body == {"status": "ok"}
        assert (tmp_path / "data" / "demo-bank" / "customers.jsonl").is_file()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/demo", timeout=5) as response:
            assert '<script src="/widget.js" data-token-url="/demo/token"' in response.read().decode()
        token_request = urllib.request.Request(f"http://127.0.0.1:{port}/demo/token", method="POST")
        with urllib.request.urlopen(token_request, timeout=5) as response:
            assert json.loads(response.read())["token"].startswith("fwt.")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_json(url: str, process: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"fargo up exited early:\n{process.stdout.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_a_key_name_that_is_not_valid_unicode_exits_2_naming_the_option(env: Path):
    # bytes a terminal sends that are not UTF-8 reach Python as lone surrogates (surrogateescape)
    made = runner.invoke(app, ["keys", "create", "--role", "agent", "--name", "desk\udcff"])

    said = " ".join(made.output.split())
    assert made.exit_code == 2 and "--name contains a lone surrogate (U+DCFF) at position 4: send valid Unicode" in said
    assert "fargo_" not in made.output


def test_eval_requests_with_an_unknown_split_exits_2_and_names_the_choices(env: Path):
    result = runner.invoke(app, ["eval", "requests", "--split", "prod"])
    assert result.exit_code == 2
    assert "--split must be dev, test or all" in result.output


def test_a_live_run_whose_graph_is_not_in_the_store_is_ingested_again_at_start(tmp_path: Path):
    from assistant.cli import needs_first_ingest
    from assistant.settings import Settings
    from retrieval.docstore import LIVE_POINTER, open_store

    settings = Settings(data_dir=tmp_path)
    assert needs_first_ingest(settings)  # nothing live yet
    with open_store(settings) as store:  # a run from the release that kept its graph in a file
        store["meta"].insert_one({"_id": LIVE_POINTER, "run_id": "r1", "graph_file": "graph-r1"})
    assert needs_first_ingest(settings)
    with open_store(settings) as store:
        store["graph_stats"].insert_one({"_id": "graph-r1"})
    assert not needs_first_ingest(settings)
