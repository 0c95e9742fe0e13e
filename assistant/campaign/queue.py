"""The durable campaign-event queue: one SQLite table of events and their status.

The campaign server writes validated events here before it answers 202; the
batch worker claims them in batches, processes them and marks them done. An
event's life: pending -> claimed (by one worker, for a lease) -> done, or back
to pending when its batch failed, or failed (dead letter) after too many tries.
A worker that dies mid-batch leaves its rows claimed; once the lease runs out
another worker claims them again, and processing is idempotent, so every event
takes effect exactly once.

SQLite runs in WAL mode (the server writes while workers read and claim) with
synchronous=FULL: a 202 is a promise the sender relies on (it drops the event),
so the write must survive a power cut, not only a process crash, which is all
NORMAL guarantees in WAL mode. FULL costs one WAL fsync per commit, and a
request commits its whole batch of events at once, so the cost is per request.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from retrieval.errors import FargoError

QUEUE_FILE_NAME = "campaign_queue.db"
DEFAULT_LIMIT = 100_000
DEFAULT_LEASE_S = 60.0
DEFAULT_MAX_ATTEMPTS = 5
MAX_RETRY_DELAY_S = 300.0
BUSY_TIMEOUT_S = 10.0

PENDING, CLAIMED, DONE, FAILED = "pending", "claimed", "done", "failed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    available_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_at REAL,
    finished_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS events_by_status ON events (status, seq);
"""


class QueueFull(FargoError, RuntimeError):
    """The queue holds as many unprocessed events as it may; the sender should retry later."""

    status = 429
    kind = "queue_full"

    def __init__(self, depth: int, limit: int, retry_after_s: int):
        super().__init__(f"the campaign queue is full ({depth:,} of {limit:,} events waiting); "
                         f"retry after {retry_after_s} s")
        self.depth = depth
        self.limit = limit
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class EnqueueResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    event_id: str
    source: str
    event: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Claim:
    """A batch one worker holds; `token` fences its completion against a later claimant."""

    token: str
    events: list[QueuedEvent]

    @property
    def seqs(self) -> list[int]:
        return [event.seq for event in self.events]


def retry_delay(attempts: int) -> float:
    """Back-off before a failed batch's events are tried again: 2, 4, 8, ... seconds, capped."""
    return min(2.0**attempts, MAX_RETRY_DELAY_S)


class CampaignQueue:
    """The queue in one SQLite file; safe to share between threads and processes."""

    def __init__(
        self,
        path: Path,
        *,
        limit: int = DEFAULT_LIMIT,
        retry_after_s: int = 5,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock=time.time,
    ):
        self.path = Path(path)
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.max_attempts = max_attempts
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(
            str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.executescript(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path, **options: Any) -> CampaignQueue:
        """The queue file under the data dir."""
        return cls(Path(data_dir) / QUEUE_FILE_NAME, **options)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> CampaignQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a check and the write after it are atomic
        # across processes (a plain BEGIN could fail to upgrade its read lock halfway).
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    # --- the server's side -----------------------------------------------------------------------

    def put_many(self, source: str, events: Sequence[dict[str, Any]]) -> EnqueueResult:
        """Store events durably; an event id seen before is a duplicate and is not stored again.

        Raises QueueFull, storing nothing, when the events would take the queue past its limit.
        """
        if not events:
            return EnqueueResult(0, 0)
        now = self._clock()
        rows = [(event["event_id"], source, orjson.dumps(event).decode(), now, now) for event in events]
        with self._transaction() as connection:
            depth = self._depth(connection)
            if depth + len(rows) > self.limit:
                raise QueueFull(depth, self.limit, self.retry_after_s)
            before = connection.total_changes
            connection.executemany(
                "INSERT OR IGNORE INTO events (event_id, source, payload, received_at, available_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            accepted = connection.total_changes - before
        return EnqueueResult(accepted, len(rows) - accepted)

    @staticmethod
    def _depth(connection: sqlite3.Connection) -> int:
        (count,) = connection.execute(
            "SELECT count(*) FROM events WHERE status IN (?, ?)", (PENDING, CLAIMED)
        ).fetchone()
        return int(count)

    def depth(self) -> int:
        """Events accepted and not yet processed (pending or claimed)."""
        with self._lock:
            return self._depth(self._connection)

    # --- the worker's side -----------------------------------------------------------------------

    def ready(self, batch_size: int, window_s: float, lease_s: float = DEFAULT_LEASE_S) -> bool:
        """A batch is due: `batch_size` events wait, the oldest has waited `window_s`, or a lease ran out."""
        now = self._clock()
        waiting = self._read(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE status = ? AND available_at <= ? LIMIT ?)",
            (PENDING, now, batch_size),
        )[0][0]
        if waiting >= batch_size:
            return True
        oldest = self._read(
            "SELECT received_at FROM events WHERE status = ? AND available_at <= ? ORDER BY seq LIMIT 1",
            (PENDING, now),
        )
        if oldest and oldest[0][0] <= now - window_s:
            return True
        return bool(self._expired_claims(now, lease_s, 1))

    def _expired_claims(self, now: float, lease_s: float, limit: int) -> list[tuple]:
        return self._read(
            "SELECT seq FROM events WHERE status = ? AND claimed_at <= ? ORDER BY seq LIMIT ?",
            (CLAIMED, now - lease_s, limit),
        )

    def claim(self, batch_size: int, lease_s: float = DEFAULT_LEASE_S) -> Claim | None:
        """Take up to `batch_size` events for one worker: first those whose lease ran out, then pending ones."""
        now = self._clock()
        token = uuid.uuid4().hex
        with self._transaction() as connection:
            # An event whose workers keep dying (a poison pill) is dead-lettered rather than claimed forever.
            connection.execute(
                "UPDATE events SET status = ?, finished_at = ?, error = ?, claimed_by = NULL"
                " WHERE status = ? AND claimed_at <= ? AND attempts >= ?",
                (FAILED, now, "its worker stopped before finishing, too many times", CLAIMED, now - lease_s,
                 self.max_attempts),
            )
            expired = connection.execute(
                "SELECT seq FROM events WHERE status = ? AND claimed_at <= ? ORDER BY seq LIMIT ?",
                (CLAIMED, now - lease_s, batch_size),
            ).fetchall()
            pending = connection.execute(
                "SELECT seq FROM events WHERE status = ? AND available_at <= ? ORDER BY seq LIMIT ?",
                (PENDING, now, batch_size - len(expired)),
            ).fetchall()
            seqs = [row[0] for row in expired + pending]
            if not seqs:
                return None
            marks = ",".join("?" * len(seqs))
            connection.execute(
                f"UPDATE events SET status = ?, claimed_by = ?, claimed_at = ?, attempts = attempts + 1"
                f" WHERE seq IN ({marks})",
                (CLAIMED, token, now, *seqs),
            )
            rows = connection.execute(
                f"SELECT seq, event_id, source, payload, attempts FROM events WHERE seq IN ({marks}) ORDER BY seq",
                seqs,
            ).fetchall()
        events = [QueuedEvent(seq, event_id, source, orjson.loads(payload), attempts)
                  for seq, event_id, source, payload, attempts in rows]
        return Claim(token, events)

    def complete(self, claim: Claim) -> int:
        """Mark a claimed batch processed; rows another worker has claimed since are left to it."""
        return self._finish(claim, claim.seqs, DONE, None)

    def release(self, claim: Claim, error: str) -> int:
        """Give a failed batch back: retried after a back-off, or dead-lettered after max_attempts tries."""
        retry = [event for event in claim.events if event.attempts < self.max_attempts]
        give_up = [event.seq for event in claim.events if event.attempts >= self.max_attempts]
        released = self._finish(claim, give_up, FAILED, error) if give_up else 0
        if retry:
            available_at = self._clock() + retry_delay(max(event.attempts for event in retry))
            released += self._finish(claim, [event.seq for event in retry], PENDING, error, available_at)
        return released

    def postpone(self, claim: Claim, error: str, delay_s: float) -> int:
        """Give a batch back untried, to be claimed again in `delay_s`: a store outage spends none of its tries."""
        marks = ",".join("?" * len(claim.seqs))
        with self._transaction() as connection:
            cursor = connection.execute(
                f"UPDATE events SET status = ?, error = ?, claimed_by = NULL, available_at = ?,"
                f" attempts = attempts - 1 WHERE status = ? AND claimed_by = ? AND seq IN ({marks})",
                (PENDING, error, self._clock() + delay_s, CLAIMED, claim.token, *claim.seqs),
            )
            return cursor.rowcount

    def _finish(
        self, claim: Claim, seqs: list[int], status: str, error: str | None, available_at: float | None = None
    ) -> int:
        now = self._clock()
        marks = ",".join("?" * len(seqs))
        with self._transaction() as connection:
            cursor = connection.execute(
                f"UPDATE events SET status = ?, finished_at = ?, error = ?, claimed_by = NULL,"
                f" available_at = coalesce(?, available_at)"
                f" WHERE status = ? AND claimed_by = ? AND seq IN ({marks})",
                (status, now, error, available_at, CLAIMED, claim.token, *seqs),
            )
            return cursor.rowcount

    # --- operations ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Events by status."""
        rows = self._read("SELECT status, count(*) FROM events GROUP BY status")
        return {PENDING: 0, CLAIMED: 0, DONE: 0, FAILED: 0} | {status: count for status, count in rows}

    def status_of(self, event_id: str) -> str | None:
        rows = self._read("SELECT status FROM events WHERE event_id = ?", (event_id,))
        return rows[0][0] if rows else None

    def requeue_failed(self) -> int:
        """Give dead-lettered events another round of attempts (after the cause is fixed)."""
        with self._transaction() as connection:
            cursor = connection.execute(
                "UPDATE events SET status = ?, attempts = 0, available_at = ? WHERE status = ?",
                (PENDING, self._clock(), FAILED),
            )
            return cursor.rowcount

    def prune(self, older_than_s: float) -> int:
        """Forget processed events finished more than `older_than_s` ago.

        A pruned event id sent again is accepted again; processing is idempotent, so it still counts once.
        """
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM events WHERE status = ? AND finished_at < ?", (DONE, self._clock() - older_than_s)
            )
            return cursor.rowcount
