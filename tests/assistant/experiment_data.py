"""An app on an empty store (no ingestion needed) with a ranking experiment on, and decisions and responses seeded
straight into the store: shared by the experiment's API and console tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.auth import create_key
from assistant.settings import Settings

EXPERIMENT = "spring-ranking"
# static: 8 offers, 2 taken up; adaptive: 4 offers, 2 taken up (rates 25% and 50%)
STATIC_RATE, ADAPTIVE_RATE = 0.25, 0.5


@contextmanager
def experiment_app(root: Path) -> Iterator[TestClient]:
    """The app with 50% of customers on adaptive ranking, its lifespan running, a key per staff role in
    `client.keys`."""
    settings = Settings(data_dir=root, mongodb_uri=None, adaptive_share=0.5, experiment=EXPERIMENT,
                        token_secret="t" * 40)
    with TestClient(create_app(settings, requests_per_minute=10_000), follow_redirects=False) as client:
        client.keys = {role: create_key(client.app.state.store, role, f"{role.title()} Tester")[0]
                       for role in ("developer", "agent", "supervisor", "admin")}
        yield client


def seed(store, now: datetime | None = None) -> None:
    """Decisions an hour old on each arm with their responses, one 40 days old and one made before arms existed."""
    now = now or datetime.now(UTC)
    recent = now - timedelta(hours=1)
    for number in range(4):
        _decision(store, f"s{number}", "static", recent)
    for number in range(2):
        _decision(store, f"a{number}", "adaptive", recent)
    _decision(store, "old", "adaptive", now - timedelta(days=40))
    _decision(store, "no-arm", None, recent)
    for decision_id, product_id, kind in [
        ("s0", "P1", "accepted"), ("s0", "P1", "opened"),  # one offer taken up twice counts once
        ("s1", "P2", "opened"), ("s2", "P1", "dismissed"), ("s3", "P2", "why_opened"),
        ("a0", "P1", "accepted"), ("a1", "P2", "accepted"),
        ("old", "P1", "accepted"), ("old", "P2", "accepted"), ("no-arm", "P1", "accepted"),
    ]:
        store["responses"].insert_one({"_id": f"{decision_id}-{product_id}-{kind}", "decision_id": decision_id,
                                       "product_id": product_id, "kind": kind, "customer_id": f"C-{decision_id}",
                                       "at": now.isoformat()})


def _decision(store, decision_id: str, arm: str | None, at: datetime) -> None:
    record = {"_id": decision_id, "customer_id": f"C-{decision_id}", "channel": "widget", "at": at.isoformat(),
              "offers": [{"product_id": "P1", "score": 0.9}, {"product_id": "P2", "score": 0.5}]}
    if arm is not None:
        record |= {"arm": arm, "segment": "mass", "experiment": EXPERIMENT}
    store["decisions"].insert_one(record)
