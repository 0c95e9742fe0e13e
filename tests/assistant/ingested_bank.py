"""A small synthetic bank, fully ingested, and apps built on it: shared by the API tests (fixture `bank`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from live_app import make_bank

from assistant.api.app import create_app
from assistant.runtime import Runtime
from assistant.settings import Settings

CUSTOMERS = 120
SEED = 5


class SharedRuntime:
    """One Runtime handed to several apps; only its owner closes it."""

    def __init__(self, runtime):
        self._runtime = runtime

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def close(self) -> None:
        pass


@contextmanager
def ingested_bank(root: Path) -> Iterator[tuple[Settings, SharedRuntime]]:
    """Synthesize and ingest a bank under root; yield its settings and an open Runtime on it."""
    settings = make_bank(root, customers=CUSTOMERS, seed=SEED)
    with Runtime.open(settings) as runtime:
        yield settings, SharedRuntime(runtime)


def build_app(bank, **options):
    """An app serving the bank's shared Runtime (create_app options pass through)."""
    settings, runtime = bank
    return create_app(settings, open_runtime=lambda _: runtime, **options)


def bearer(credential: str) -> dict[str, str]:
    """The Authorization header for an API key or a widget token."""
    return {"Authorization": f"Bearer {credential}"}
