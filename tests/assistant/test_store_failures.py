"""Servers that fail: every `fargo` command answers a store it cannot reach with exit code 3 and one line naming
it; /readyz follows a store going away and coming back without a restart."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import typer
from fastapi.testclient import TestClient
from huey.consumer import Worker
from tiny_encoder import TinyEncoder
from typer.testing import CliRunner

from assistant.api.app import create_app
from assistant.campaign.worker import open_campaign_worker
from assistant.cli import app
from assistant.outages import skipped_while_stores_fail
from assistant.settings import Settings
from assistant.worker import make_huey, start_consumer
from retrieval.docstore import open_store
from retrieval.vectors import VectorIndexes

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
    "eval adaptive": ["eval", "adaptive", "--reuse"],
    "eval disputes": ["eval", "disputes"],  # routes with the loaded bank's catalogue
}
# Commands that never open the configured stores (files, models, or stores of their own in a temporary folder).
STORE_FREE_COMMANDS = {"data synth", "train intents", "eval recommend", "eval intents",
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


def test_the_worker_whose_redis_queue_is_unreachable_exits_3_naming_it(tmp_path: Path, monkeypatch,
                                                                      unused_port: int):
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FARGO_MONGODB_URI", raising=False)
    monkeypatch.setenv("FARGO_REDIS_URL", f"redis://:hunter2@127.0.0.1:{unused_port}/0")

    result = runner.invoke(app, ["worker"])

    assert result.exit_code == 3, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: job queue (FARGO_REDIS_URL): ") and f"127.0.0.1:{unused_port}" in line
    assert "hunter2" not in result.output


def start_redis(port: int) -> subprocess.Popen:
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    pytest.fail("redis-server did not listen within 10 s")


def test_the_worker_rides_out_redis_going_away_and_runs_queued_tasks_once_it_is_back(tmp_path: Path,
                                                                                     unused_port: int, caplog):
    settings = Settings(data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{unused_port}/0")
    queue = start_consumer(make_huey(settings)).huey
    worker = Worker(queue, threading.Event(), default_delay=0.01, max_delay=0.05, backoff=2)
    echo = queue.task(name="echo")(lambda text: text)
    server = start_redis(unused_port)
    try:
        stop(server)
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                worker.loop()
        server = start_redis(unused_port)
        result = echo("back")
        worker.loop()
        answered = result.get(blocking=True, timeout=5)
    finally:
        stop(server)

    lines = [record.getMessage() for record in caplog.records if record.name.startswith("huey.consumer")]
    assert len(lines) == 2 and all(line.startswith("Error reading from queue: job queue (FARGO_REDIS_URL): ")
                                   and f"127.0.0.1:{unused_port}" in line for line in lines)
    assert no_tracebacks(caplog.records)
    assert answered == "back"


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


def no_tracebacks(records: list[logging.LogRecord]) -> bool:
    return not any(record.exc_info for record in records)


def test_a_queued_ingestion_whose_store_is_down_is_tried_again_later_each_time_with_one_line_per_try(
        tmp_path: Path, unused_port: int, caplog):
    settings = Settings(data_dir=tmp_path, mongodb_uri=f"mongodb://127.0.0.1:{unused_port}/?{QUICK_SELECTION}")
    queue = make_huey(settings)
    queue.immediate = True  # tasks run as they are queued; retries wait in the schedule
    waits = []
    with caplog.at_level(logging.INFO):
        queue.fargo_ingest("incremental")
        for _ in range(3):
            (retry,) = queue.scheduled()
            waits.append(round((retry.eta - datetime.now(UTC).replace(tzinfo=None)).total_seconds()))
            (due,) = queue.read_schedule(retry.eta)
            queue.execute(due, retry.eta)  # as if the wait had passed

    tries = [record.getMessage() for record in caplog.records if record.name == "fargo.scheduler"]
    assert waits == [5, 10, 20]
    assert len(tries) == 4 and all(f"MongoDB at 127.0.0.1:{unused_port} is unreachable" in line for line in tries)
    assert tries[0].startswith("ingest: document store:") and tries[-1].endswith("try 4 failed, next in 40 s")
    assert no_tracebacks(caplog.records)


def test_a_minute_task_whose_store_is_down_skips_more_minutes_after_each_failed_try(tmp_path: Path,
                                                                                   unused_port: int, caplog):
    settings = Settings(data_dir=tmp_path, mongodb_uri=f"mongodb://127.0.0.1:{unused_port}/?{QUICK_SELECTION}")
    minute = [0]

    @skipped_while_stores_fail(period_s=60.0, clock=lambda: minute[0] * 60.0)
    def drain():
        with open_store(settings):
            return "drained"

    with caplog.at_level(logging.INFO):
        for minute[0] in range(8):
            assert drain() is None

    tries = [record.getMessage() for record in caplog.records if record.name == "fargo.scheduler"]
    assert [line.rsplit("; ", 1)[1] for line in tries] == [  # tried at minutes 0, 1, 3 and 7
        "try 1 failed, next in 60 s", "try 2 failed, next in 120 s", "try 3 failed, next in 240 s",
        "try 4 failed, next in 300 s"]  # at most 5 min
    assert all(line.startswith("drain: document store: MongoDB at") for line in tries)
    assert no_tracebacks(caplog.records)


def campaign_event(number: int) -> dict:
    return {"event_id": f"EV{number:05d}", "campaign_id": "CMP01", "platform": "instagram",
            "author_handle": "someone", "customer_id": None, "type": "comment", "text": "off to Lisbon soon",
            "timestamp": "2026-05-01T10:00:00.000000Z"}


def test_the_campaign_worker_rides_out_mongodb_going_away_one_line_per_try_and_no_try_spent(
        restartable_mongo, tmp_path: Path, caplog):
    settings = Settings(data_dir=tmp_path, mongodb_uri=f"{restartable_mongo.uri}/?{QUICK_SELECTION}")
    with open_campaign_worker(settings, embedder=TinyEncoder(), batch_window_s=0.01) as worker:
        worker.outage.first_s = 1.0
        worker.queue.max_attempts = 1  # a batch that failed once would be dead-lettered
        worker.queue.put_many("test", [campaign_event(n) for n in range(3)])
        restartable_mongo.stop()
        with caplog.at_level(logging.INFO):
            processed_while_down = worker.drain(until=worker.clock() + 2.4, poll_s=0.05)
        restartable_mongo.start()
        processed_after = worker.drain(until=worker.clock() + 6, poll_s=0.05, exit_when_idle=True)
        counts = worker.queue.counts()

    failed_tries = [r.getMessage() for r in caplog.records if r.name == "fargo.campaign_worker"]
    assert processed_while_down == 0 and processed_after == 3
    assert counts["done"] == 3 and counts["failed"] == 0
    assert [line.rsplit("; ", 1)[1] for line in failed_tries] == ["try 1 failed, next in 1 s",
                                                                 "try 2 failed, next in 2 s"]
    assert all(f"MongoDB at 127.0.0.1:{restartable_mongo.port} is unreachable" in line for line in failed_tries)
    assert no_tracebacks(caplog.records)


CHROMA_START_S = 20.0


def start_chroma(directory: Path, port: int) -> subprocess.Popen:
    """`chroma run` on loopback (the server chromadb ships), once it answers its heartbeat."""
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(directory),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + CHROMA_START_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"chroma run did not answer within {CHROMA_START_S:.0f} s")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=10)


def test_readyz_turns_503_when_the_chroma_server_goes_away(tmp_path: Path, unused_port: int):
    """Coming back is the same per-probe heartbeat; not restarted here, as `chroma run` takes 4-6 s to start."""
    settings = Settings(data_dir=tmp_path, chroma_url=f"http://127.0.0.1:{unused_port}")
    with open_store(settings) as store:
        store["meta"].replace_one({"_id": "live"}, {"_id": "live", "run_id": "run-1", "graph_file": "g"}, upsert=True)
    server = start_chroma(tmp_path / "chroma-server", unused_port)
    try:
        vectors = VectorIndexes.open(settings, TinyEncoder())
        runtime = SimpleNamespace(ctx=SimpleNamespace(run_id="run-1"), vectors=vectors, close=vectors.close)
        with TestClient(create_app(settings, open_runtime=lambda _settings: runtime)) as client:
            before, _ = readyz_until(client, 200, within_s=5)
            stop(server)
            stopped_at = time.monotonic()
            down, down_at = readyz_until(client, 503, within_s=10)
    finally:
        stop(server)

    assert before.status_code == 200 and before.json()["checks"]["vectors"] == "ok"
    assert down.status_code == 503 and down_at - stopped_at < 5
    assert down.json()["checks"]["vectors"].startswith(f"unavailable: Chroma at http://127.0.0.1:{unused_port}")
