"""A real Fargo served on loopback and a real Chromium to drive it: fixtures for the browser tests.

`demo_site` is a synthetic bank, ingested, served by uvicorn in a thread in
demo mode (so /demo and its token endpoint exist), with an agent and an admin
key. `chromium` is Debian's Chromium under Playwright. Screenshots go to
<repo>/test-artifacts/screenshots, which is kept after the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from assistant.api.app import create_app
from assistant.auth import create_key, demo_customer_id
from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.synth import synthesize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 300.0  # the warm-up (encoder, intent model, a first conversation) on a busy 2-core machine


@dataclass
class Site:
    base_url: str
    settings: Settings
    app: object
    agent_key: str
    admin_key: str
    developer_key: str

    @property
    def store(self):
        return self.app.state.store

    def first_customer_id(self) -> str:
        return self.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=1)[0]["_id"]

    def demo_customer_id(self) -> str:
        """The customer the demo page's token endpoint signs in."""
        return demo_customer_id(self.store)


def make_bank(root: Path, customers: int = 120, seed: int = 5,
              edit_sources: Callable[[Path], None] | None = None) -> Settings:
    """A synthetic bank's source files, optionally edited by the test, fully ingested."""
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    synthesize(settings.source_dir, customers=customers, seed=seed)
    if edit_sources is not None:
        edit_sources(settings.source_dir)
    run_ingest_now(settings, mode="full")
    return settings


@contextmanager
def serve_app(app) -> Iterator[str]:
    """`app` on a free loopback port, served by uvicorn in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start serving the app")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_until_ready(base_url: str) -> None:
    """Wait for /readyz, as a load balancer does before it sends anyone: a browser's first page must not wait
    for the warm-up within its own 30 s timeout (it took 67 s beside a million-customer load)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while httpx.get(f"{base_url}/readyz", timeout=30).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"the app was not ready within {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.5)


@contextmanager
def serve(settings: Settings) -> Iterator[Site]:
    """The app on a free loopback port, served by uvicorn in a thread, with staff keys."""
    app = create_app(settings, requests_per_minute=10_000)
    with serve_app(app) as base_url:
        wait_until_ready(base_url)
        keys = {role: create_key(app.state.store, role, f"browser test {role}")[0]
                for role in ("agent", "admin", "developer")}
        yield Site(base_url, settings, app, keys["agent"], keys["admin"], keys["developer"])


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> Iterator[Site]:
    settings = make_bank(tmp_path_factory.mktemp("demo-site"))
    with serve(settings) as site:
        yield site


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, driven by Playwright (which cannot download its own browser here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
                    ".ci/install.sh --test does this as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context (no cookies, no storage) and page; console errors are collected on it."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.console_errors = []
    opened.on("console", lambda message: message.type == "error" and opened.console_errors.append(message.text))
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
