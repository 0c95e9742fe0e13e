"""Shared fixtures.

Document store: `store` is an open `DocumentStore`, once on embedded NeoSQLite
in a tmp dir and once through pymongo on a MongoDB wire-protocol server
(nx-27017) this session starts on loopback; `store_settings` is the Settings
behind it. Neither backend is ever skipped: if the server cannot start, the
tests using it fail.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from assistant.settings import Settings
from retrieval.docstore import DocumentStore, open_store

pytest_plugins = ["live_app"]  # the served app and Chromium for the browser tests

SERVER_START_TIMEOUT_S = 20.0
STORE_BACKENDS = ("neosqlite", "mongodb")


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers_ping(uri: str) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _wait_until_serving(uri: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nx-27017 exited with code {process.returncode}:\n{log_path.read_text()[-2000:]}")
        if _answers_ping(uri):
            return
        time.sleep(0.1)
    log_tail = log_path.read_text()[-2000:]
    pytest.fail(f"nx-27017 did not answer a ping within {SERVER_START_TIMEOUT_S:.0f} s:\n{log_tail}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    return free_loopback_port()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of an nx-27017 server on a free loopback port, one SQLite file per database."""
    with nx_server(tmp_path_factory.mktemp("nx-27017"), free_loopback_port()) as uri:
        yield uri


@contextmanager
def nx_server(directory: Path, port: int) -> Iterator[str]:
    """Serve the databases in `directory` on `port` until the block ends; started again on the same directory and
    port, the server has the same data (tests stop and restart it mid-run)."""
    (directory / "data").mkdir(exist_ok=True)
    log_path = directory / "server.log"
    command = [
        # the server runs on NeoSQLite: it compares strings as MongoDB does only with Fargo's fix applied
        sys.executable, "-c", "import runpy, sys; from retrieval.mongo_compat import strings_compare_as_strings; "
        "strings_compare_as_strings(); sys.argv[0] = 'nx-27017'; runpy.run_module('nx_27017.nx_27017', run_name='__main__')",
        "--data-dir", str(directory / "data"),
        "--host", "127.0.0.1", "-p", str(port),
        "--log-file", str(directory / "nx.log"), "--pid-file", str(directory / "nx.pid"),
    ]
    with log_path.open("a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            uri = f"mongodb://127.0.0.1:{port}"
            _wait_until_serving(uri, process, log_path)
            yield uri
        finally:
            _stop(process)


class RestartableServer:
    """An nx-27017 server of one test's own, which the test stops and starts again (same port, same data)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.uri = f"mongodb://127.0.0.1:{port}"
        self._running: ExitStack | None = None

    def start(self) -> None:
        self._running = ExitStack()
        self._running.enter_context(nx_server(self.directory, self.port))

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None


@pytest.fixture
def restartable_mongo(tmp_path: Path) -> Iterator[RestartableServer]:
    server = RestartableServer(tmp_path / "nx-27017", free_loopback_port())
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=STORE_BACKENDS)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty store on each backend."""
    if request.param == "neosqlite":
        yield Settings(data_dir=tmp_path, mongodb_uri=None)
        return
    uri = request.getfixturevalue("mongo_server")
    database_name = f"test_{uuid.uuid4().hex[:12]}"
    yield Settings(data_dir=tmp_path, mongodb_uri=uri, database_name=database_name)
    client = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(database_name)
    finally:
        client.close()


@pytest.fixture
def store(store_settings: Settings) -> Iterator[DocumentStore]:
    """An open, empty document store; closed after the test."""
    with open_store(store_settings) as opened:
        yield opened
