"""Real servers on loopback for the replica tests: Redis, a Chroma server (`chroma run`) and API processes
(uvicorn running `assistant.api.app:from_environment`, as `fargo up --workers N` does)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

CHROMA = Path(sys.executable).with_name("chroma")
START_TIMEOUT_S = 60.0  # an API process imports torch and FastAPI: seconds, longer on a busy machine
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed "
                                 "(bash .ci/install.sh --test installs it)")
needs_chroma = pytest.mark.skipif(not CHROMA.exists(), reason=f"{CHROMA} (chromadb's server) is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listens(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    process.kill()  # nothing, if it has exited
    process.wait(timeout=5)


def wait_until(ready, process: subprocess.Popen, what: str, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode}")
        try:
            if ready():
                return
        except (OSError, httpx.TransportError):
            pass
        time.sleep(0.1)
    stop(process)
    pytest.fail(f"{what} did not answer within {timeout_s:.0f} s")


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis with nothing saved to disk; yields its URL."""
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: listens(port), server, "redis-server", 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server)


@contextmanager
def chroma_server(directory: Path) -> Iterator[str]:
    """`chroma run` on a free port, its data in `directory`; yields its URL once it answers its heartbeat."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(CHROMA), "run", "--path", str(directory), "--host", "127.0.0.1", "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200, server, "chroma run")
        yield url
    finally:
        stop(server)


def fargo_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any FARGO_ setting of the developer's, plus `settings`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("FARGO_") and name != "PROMETHEUS_MULTIPROC_DIR"}
    return env | settings


@contextmanager
def api_processes(count: int, env: dict[str, str]) -> Iterator[list[str]]:
    """`count` API processes, each on its own free port, started together; yields their base URLs once each
    answers /healthz."""
    with ExitStack() as stack:
        urls, processes = [], []
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                        "assistant.api.app:from_environment", "--host", "127.0.0.1", "--port",
                                        str(port), "--log-level", "warning", "--no-access-log"],
                                       env=env, stdin=subprocess.DEVNULL)
            stack.callback(stop, process)
            urls.append(f"http://127.0.0.1:{port}")
            processes.append(process)
        for url, process in zip(urls, processes, strict=True):
            wait_until(lambda url=url: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, process,
                       f"the API process at {url}")
        yield urls
