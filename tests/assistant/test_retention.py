"""Retention: with the clock fixed, records past their period are purged (from Chroma too) and recent ones kept;
ingestion does not bring back a campaign post past retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from assistant.audit import AUDIT
from assistant.retention import keep_since, purge
from assistant.settings import Settings
from ingest.loader import load_directory
from retrieval.vectors import IndexItem, VectorIndexes, open_client

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class FixedEmbedder:
    dimension = 8

    def embed(self, texts, batch_size: int = 64) -> np.ndarray:
        return np.ones((len(texts), self.dimension), dtype=np.float32) / np.sqrt(self.dimension)


def days_ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture
def settings(store_settings) -> Settings:
    return store_settings.model_copy(update={"session_retention_days": 90, "audit_retention_days": 760,
                                             "campaign_post_retention_days": 365})


@pytest.fixture
def vectors(settings):
    with VectorIndexes.open(settings, FixedEmbedder()) as opened:
        yield opened


def post(event_id: str, posted: str) -> dict:
    return {"_id": event_id, "event_id": event_id, "campaign_id": "CMP1", "platform": "instagram",
            "author_handle": "ann", "customer_id": None, "type": "post", "text": f"post {event_id}",
            "timestamp": posted}


def index_posts(vectors, posts: list[dict], run_id: str) -> None:
    vectors.build("campaign_posts", run_id, [IndexItem(p["_id"], p["text"], {"type": "post"}, None) for p in posts])
    vectors.publish(run_id, ["campaign_posts"])


def test_sessions_past_retention_are_purged_unless_a_person_is_still_on_them(store, vectors, settings):
    store["sessions"].insert_many([
        {"_id": "old", "customer_id": "C1", "updated_at": days_ago(91)},
        {"_id": "old-waiting", "customer_id": "C1", "updated_at": days_ago(200)},
        {"_id": "recent", "customer_id": "C1", "updated_at": days_ago(89)},
    ])
    store["handoffs"].insert_many([{"_id": "old", "status": "closed"}, {"_id": "old-waiting", "status": "waiting"}])

    report = purge(store, vectors, settings, now=NOW)

    assert sorted(doc["_id"] for doc in store["sessions"].find({})) == ["old-waiting", "recent"]
    assert [doc["_id"] for doc in store["handoffs"].find({})] == ["old-waiting"]
    assert (report.sessions, report.handoffs) == (1, 1)


def test_audit_entries_are_kept_25_months_then_purged(store, vectors, settings):
    store[AUDIT].insert_many([{"who": "key:a", "action": "chat", "at": days_ago(days)} for days in (761, 759, 1)])

    report = purge(store, vectors, settings, now=NOW)

    assert report.audit == 1
    assert sorted(doc["at"] for doc in store[AUDIT].find({})) == sorted([days_ago(759), days_ago(1)])


def test_campaign_posts_past_retention_leave_the_store_every_index_version_and_their_leads(store, vectors, settings):
    old, recent = post("EV-OLD", days_ago(400)), post("EV-NEW", days_ago(30))
    store["campaign_events"].insert_many([old, recent])
    index_posts(vectors, [old, recent], "20261001T000000-aaaaaa")
    index_posts(vectors, [old, recent], "20261101T000000-bbbbbb")  # the live one; the first is kept for rollback
    store["leads"].insert_many([{"_id": "C1:P1:CMP1", "customer_id": "C1", "last_signal_at": days_ago(400)},
                                {"_id": "C2:P1:CMP1", "customer_id": "C2", "last_signal_at": days_ago(30)}])

    report = purge(store, vectors, settings, now=NOW)

    assert [doc["_id"] for doc in store["campaign_events"].find({})] == ["EV-NEW"]
    for version in ("20261001T000000-aaaaaa", "20261101T000000-bbbbbb"):
        held = open_client(settings).get_collection(f"campaign_posts__{version}").get()["ids"]
        assert held == ["EV-NEW"], version
    assert [doc["_id"] for doc in store["leads"].find({})] == ["C2:P1:CMP1"]
    assert (report.campaign_events, report.campaign_vectors, report.leads) == (1, 1, 1)


def test_a_second_purge_finds_nothing_more(store, vectors, settings):
    store[AUDIT].insert_one({"who": "key:a", "action": "chat", "at": days_ago(800)})
    purge(store, vectors, settings, now=NOW)

    again = purge(store, vectors, settings, now=NOW)

    assert set(again.as_dict().values()) == {0}


def test_ingestion_does_not_load_a_campaign_post_already_past_retention(store, settings, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "campaigns.jsonl").write_text(json.dumps({
        "campaign_id": "CMP1", "name": "Fly", "platform": "instagram", "product_ids": [],
        "starts_at": "2025-01-01", "ends_at": "2026-12-31"}) + "\n")
    events = [{key: value for key, value in post(event_id, days_ago(days)).items() if key != "_id"}
              for event_id, days in (("EV-OLD", 400), ("EV-NEW", 30))]
    (source / "campaign_events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in events))

    summary = load_directory(store, source, keep_since=keep_since(settings, now=NOW))

    assert [doc["_id"] for doc in store["campaign_events"].find({})] == ["EV-NEW"]
    assert summary.files["campaign_events.jsonl"].expired == 1


def test_the_worker_purges_daily_after_the_nightly_ingestion(store, settings):
    from assistant.worker import make_huey

    queue = make_huey(settings)
    queue.immediate = True
    now = datetime.now(UTC)
    store[AUDIT].insert_many([{"who": "key:a", "action": "chat", "at": (now - timedelta(days=d)).isoformat()}
                              for d in (1000, 1)])

    due = [task for task in queue.read_periodic(datetime(2026, 12, 1, 3, 30)) if task.name == "purge_expired"]
    queue.execute(due[0])

    assert len(due) == 1
    assert "purge_expired" not in {task.name for task in queue.read_periodic(datetime(2026, 12, 1, 2, 0))}
    assert len(store[AUDIT].find({})) == 1


def test_decision_records_are_kept_their_period_then_purged_with_the_responses_to_them(store, vectors, settings):
    from assistant.decisions import DECISIONS
    from assistant.responses import RESPONSES

    kept_for = settings.decision_retention_days
    store[DECISIONS].insert_many([{"_id": "old", "customer_id": "C1", "at": days_ago(kept_for + 1), "offers": []},
                                  {"_id": "recent", "customer_id": "C1", "at": days_ago(kept_for - 1), "offers": []}])
    store[RESPONSES].insert_many([{"decision_id": "old", "kind": "dismissed", "at": days_ago(kept_for)},
                                  {"decision_id": "recent", "kind": "accepted", "at": days_ago(1)}])

    report = purge(store, vectors, settings, now=NOW)

    assert [doc["_id"] for doc in store[DECISIONS].find({})] == ["recent"]
    assert [doc["decision_id"] for doc in store[RESPONSES].find({})] == ["recent"]
    assert (report.decisions, report.responses) == (1, 1)


def test_decision_records_are_kept_25_months_by_default():
    assert Settings().decision_retention_days == 760  # 25 months, as the audit log: US Regulation B record keeping
