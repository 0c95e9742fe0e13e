"""Retention: conversations, audit entries, campaign posts and decision records are kept for a set time, then purged.

The periods are settings (FARGO_SESSION_RETENTION_DAYS, FARGO_AUDIT_RETENTION_DAYS,
FARGO_CAMPAIGN_POST_RETENTION_DAYS, FARGO_DECISION_RETENTION_DAYS); the worker runs `purge` daily.
A decision record goes with the responses to its offers. A session
is aged by its last turn and kept while its hand-off is open; a campaign post
by when it was posted, and it leaves the vector index (every version) with it,
as do the outreach leads whose every post is past it. `oldest_kept` also tells
ingestion which source records are already past retention, so a nightly load
does not bring purged posts back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from assistant.audit import AUDIT
from assistant.decisions import DECISIONS
from assistant.handoffs import HANDOFFS, OPEN_STATES
from assistant.responses import RESPONSES
from retrieval.leads import LEADS

CAMPAIGN_INDEX = "campaign_posts"
PURGE_BATCH = 1000


@dataclass
class PurgeReport:
    sessions: int = 0
    handoffs: int = 0
    audit: int = 0
    campaign_events: int = 0
    campaign_vectors: int = 0
    leads: int = 0
    decisions: int = 0
    responses: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _iso(moment: datetime) -> str:
    # the stores hold ISO text; "T" sorts above " ", so cutting at seconds compares both "Z" and "+00:00" forms
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def oldest_kept(settings, now: datetime | None = None) -> dict[str, str]:
    """What each retention keeps, as the oldest ISO time still kept: sessions, audit, campaign_events, decisions."""
    now = now or datetime.now(UTC)
    return {
        "sessions": _iso(now - timedelta(days=settings.session_retention_days)),
        "audit": _iso(now - timedelta(days=settings.audit_retention_days)),
        "campaign_events": _iso(now - timedelta(days=settings.campaign_post_retention_days)),
        "decisions": _iso(now - timedelta(days=settings.decision_retention_days)),
    }


def purge(store, vectors, settings, now: datetime | None = None) -> PurgeReport:
    """Delete what is past its retention; `vectors` (the Chroma indexes) may be None where there are none."""
    cutoffs = oldest_kept(settings, now)
    report = PurgeReport()
    report.sessions, report.handoffs = _purge_sessions(store, cutoffs["sessions"])
    report.audit = store[AUDIT].delete_many({"at": {"$lt": cutoffs["audit"]}}).deleted_count
    report.campaign_events, report.campaign_vectors = _purge_posts(store, vectors, cutoffs["campaign_events"])
    report.leads = store[LEADS].delete_many({"last_signal_at": {"$lt": cutoffs["campaign_events"]}}).deleted_count
    report.decisions, report.responses = _purge_decisions(store, cutoffs["decisions"])
    return report


def _purge_sessions(store, oldest: str) -> tuple[int, int]:
    expired = [doc["_id"] for doc in store["sessions"].find({"updated_at": {"$lt": oldest}}, {"_id": 1})]
    waiting = {doc["_id"] for doc in store[HANDOFFS].find({"_id": {"$in": expired},
                                                           "status": {"$in": list(OPEN_STATES)}}, {"_id": 1})}
    sessions = handoffs = 0
    for start in range(0, len(expired), PURGE_BATCH):
        batch = [session_id for session_id in expired[start:start + PURGE_BATCH] if session_id not in waiting]
        sessions += store["sessions"].delete_many({"_id": {"$in": batch}}).deleted_count
        handoffs += store[HANDOFFS].delete_many({"_id": {"$in": batch}}).deleted_count
    return sessions, handoffs


def _purge_decisions(store, oldest: str) -> tuple[int, int]:
    expired = [doc["_id"] for doc in store[DECISIONS].find({"at": {"$lt": oldest}}, {"_id": 1})]
    decisions = responses = 0
    for start in range(0, len(expired), PURGE_BATCH):
        batch = expired[start:start + PURGE_BATCH]
        decisions += store[DECISIONS].delete_many({"_id": {"$in": batch}}).deleted_count
        responses += store[RESPONSES].delete_many({"decision_id": {"$in": batch}}).deleted_count
    return decisions, responses


def _purge_posts(store, vectors, oldest: str) -> tuple[int, int]:
    expired = [doc["_id"] for doc in store["campaign_events"].find({"timestamp": {"$lt": oldest}}, {"_id": 1})]
    if not expired:
        return 0, 0
    deleted = store["campaign_events"].delete_many({"_id": {"$in": expired}}).deleted_count
    forgotten = len(expired) if vectors is not None and vectors.forget(CAMPAIGN_INDEX, expired) else 0
    return deleted, forgotten


def keep_since(settings, now: datetime | None = None) -> dict[str, tuple[str, str]]:
    """For ingestion: source records already past retention, by collection (time field, oldest kept)."""
    return {"campaign_events": ("timestamp", oldest_kept(settings, now)["campaign_events"])}


def run_purge_now(settings, now: datetime | None = None) -> PurgeReport:
    """Open the stores, purge what is past retention, close them (the worker's daily task)."""
    from retrieval.docstore import open_store
    from retrieval.vectors import VectorIndexes

    with open_store(settings) as store, VectorIndexes.open(settings, None) as vectors:
        return purge(store, vectors, settings, now)
