"""Fixtures for the API tests: the app on the module's small ingested bank, and a key per staff role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from ingested_bank import build_app

from assistant.auth import create_key


@pytest.fixture(scope="module")
def client(bank):
    with TestClient(build_app(bank, requests_per_minute=10_000)) as opened:
        yield opened


@pytest.fixture(scope="module")
def keys(client):
    store = client.app.state.store
    return {role: create_key(store, role, f"test {role}")[0] for role in ("developer", "agent", "admin")}
