"""Servers that fail: every `fargo` command answers a store it cannot reach with exit code 3 and one line naming
it; /readyz follows a store going away and coming back without a restart."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from fastapi.testclient import TestClient
from tiny_encoder import TinyEncoder
from typer.testing import CliRunner

from assistant.api.app import create_app
from assistant.cli import app
from assistant.settings import Settings
from retrieval.docstore import open_store

runner = CliRunner()
QUICK_SELECTION = "serverSelectionTimeoutMS=300&connectTimeoutMS=300"

# Each command that reaches a store, with the arguments that take it there.
STORE_COMMANDS = {
    "data load": ["data", "load", "{tmp}"],
    "data import-berka": ["data", "import-berka", "{tmp}", "--out", "{tmp}/berka-bank"],
    "ingest": ["ingest"],
    "jobs": ["jobs"],
    "worker": ["worker"],
    "campaign-server": ["campaign-server"],
    "campaign-worker": ["campaign-worker"],
    "up": ["up"],
    "keys create": ["keys", "create", "--role", "agent"],
    "keys revoke": ["keys", "revoke", "0123456789ab"],
    "keys list": ["keys", "list"],
    "customer export": ["customer", "export", "C1"],
    "customer erase": ["customer", "erase", "C1", "--yes"],
    "eval requests": ["eval", "requests", "--reuse"],
    "eval fairness": ["eval", "fairness", "--reuse"],
}
# Commands that never open the configured stores (files, models, or stores of their own in a temporary folder).
STORE_FREE_COMMANDS = {"data synth", "train intents", "eval recommend", "eval intents", "eval disputes",
                       "encoder install", "encoder show"}


def command_paths(group, prefix: str = "") -> set[str]:
    paths = set()
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        paths |= command_paths(command, path + " ") if hasattr(command, "commands") else {path}
    return paths


def test_every_command_is_known_to_reach_a_store_or_not():
    assert command_paths(typer.main.get_command(app)) == set(STORE_COMMANDS) | STORE_FREE_COMMANDS


@pytest.fixture
def nothing_listening(tmp_path: Path, monkeypatch, unused_port: int) -> str:
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FARGO_MONGODB_URI", f"mongodb://127.0.0.1:{unused_port}/?{QUICK_SELECTION}")
    # import-berka's own work is not the point: an empty import, then its load meets the store
    monkeypatch.setattr("ingest.berka.import_berka",
                        lambda *_a, **_k: SimpleNamespace(written={}, unmapped=[], rejected=[]))
    return f"127.0.0.1:{unused_port}"


@pytest.mark.parametrize("name", sorted(STORE_COMMANDS))
def test_a_command_whose_document_store_is_unreachable_exits_3_with_one_line_naming_it(
        name: str, nothing_listening: str, tmp_path: Path):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in STORE_COMMANDS[name]]

    started = time.monotonic()
    result = runner.invoke(app, args)

    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: document store: MongoDB at " + nothing_listening + " is unreachable")
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 8


def test_ingest_against_an_unreachable_chroma_server_exits_3_naming_its_url(tmp_path: Path, monkeypatch,
                                                                         unused_port: int):
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FARGO_MONGODB_URI", raising=False)
    monkeypatch.setenv("FARGO_CHROMA_URL", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setattr("retrieval.embeddings.get_embedder", lambda *_a, **_k: TinyEncoder())

    result = runner.invoke(app, ["ingest"])

    assert result.exit_code == 3, result.output
    assert result.output.strip().splitlines()[-1].startswith(
        f"error: vector store: cannot reach Chroma at http://127.0.0.1:{unused_port}")


def fake_runtime(_settings):
    return SimpleNamespace(ctx=SimpleNamespace(run_id="run-1"), close=lambda: None)


def readyz_until(client: TestClient, status: int, within_s: float):
    deadline = time.monotonic() + within_s
    while True:
        answer = client.get("/readyz")
        if answer.status_code == status or time.monotonic() > deadline:
            return answer, time.monotonic()
        time.sleep(0.2)


def test_readyz_turns_503_when_mongodb_goes_away_and_200_when_it_returns(restartable_mongo, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, mongodb_uri=f"{restartable_mongo.uri}/?{QUICK_SELECTION}")
    with open_store(settings) as store:
        store["meta"].replace_one({"_id": "live"}, {"_id": "live", "run_id": "run-1", "graph_file": "g"}, upsert=True)

    with TestClient(create_app(settings, open_runtime=fake_runtime)) as client:
        before, _ = readyz_until(client, 200, within_s=5)
        restartable_mongo.stop()
        stopped_at = time.monotonic()
        down, down_at = readyz_until(client, 503, within_s=10)
        restartable_mongo.start()
        restarted_at = time.monotonic()
        back, back_at = readyz_until(client, 200, within_s=10)

    assert before.status_code == 200
    assert down.status_code == 503 and down_at - stopped_at < 5
    assert down.json()["checks"]["store"].startswith(f"unavailable: MongoDB at 127.0.0.1:{restartable_mongo.port}")
    assert back.status_code == 200 and back_at - restarted_at < 5
    assert back.json()["checks"]["store"] == "ok"
