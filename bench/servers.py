"""Servers on loopback for benchmarks and tests: Redis (`redis-server`) and a Chroma server (`chroma run`), each on
a free port, stopped when the block ends."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

CHROMA = Path(sys.executable).with_name("chroma")
START_TIMEOUT_S = 60.0


class ServerDidNotStart(RuntimeError):
    pass


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


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, what: str,
               timeout_s: float = START_TIMEOUT_S) -> None:
    """Until `ready()`; ServerDidNotStart (the process stopped) if it exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"{what} exited with code {process.returncode}")
        with suppress(OSError, httpx.TransportError):
            if ready():
                return
        time.sleep(0.1)
    stop(process)
    raise ServerDidNotStart(f"{what} did not answer within {timeout_s:.0f} s")


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
