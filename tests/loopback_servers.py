"""Real servers on loopback for the replica tests: Redis and a Chroma server (from bench.servers), and API
processes (uvicorn running `assistant.api.app:from_environment`, as `fargo up --workers N` does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from bench.servers import (
    CHROMA,
    chroma_server,
    free_port,
    redis_server,
    stop,
    wait_until,
)

__all__ = ["api_processes", "chroma_server", "fargo_environment", "needs_chroma", "needs_redis", "redis_server"]
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed "
                                 "(bash .ci/install.sh --test installs it)")
needs_chroma = pytest.mark.skipif(not CHROMA.exists(), reason=f"{CHROMA} (chromadb's server) is not installed")


def fargo_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any FARGO_ setting of the developer's, plus `settings`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("FARGO_") and name != "PROMETHEUS_MULTIPROC_DIR"}
    return env | settings


@contextmanager
def api_processes(count: int, env: dict[str, str]) -> Iterator[list[str]]:
    """`count` API processes, each on its own free port, started together; yields their base URLs once each
    answers /healthz (an API process imports torch and FastAPI: seconds, longer on a busy machine)."""
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
