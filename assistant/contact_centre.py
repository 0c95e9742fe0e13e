"""The figures a contact centre watches over a period, from the session, hand-off and rating records.

- conversations: sessions opened in the period by customers or the bank's backend (a session staff open in the
  console already has a person in it, so it is left out of every figure here);
- containment: the share of those conversations never handed to a person;
- hand-offs requested in the period, and the wait from queued to picked up (median, and p90 by nearest rank);
- satisfaction: the 1-5 ratings customers gave in the period after a hand-off closed;
- top intents and the messages Fargo could not serve (out of scope, low confidence, nothing found), from the turns
  taken in the period. A turn records why it was not served since the figures began; an older out-of-scope turn
  counts as out of scope.

A hand-off document is per session, so a conversation handed off twice counts (and waits) once: its latest.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from assistant.auth import API_KEYS
from assistant.callers import STAFF_ROLES
from assistant.engine import InputError
from assistant.handoffs import HANDOFFS, WAITING
from assistant.redaction import redact

PRESET_DAYS = (1, 7, 30)
MAX_PERIOD_DAYS = 366
TOP_INTENTS = 10
UNSERVED_SHOWN = 50
UNSERVED_REASONS = ("out_of_scope", "low_confidence", "nothing_found")
SATISFIED = (4, 5)
# upper bounds in seconds of the waiting-time bands; a hand-off nobody has picked up yet is "still waiting"
WAIT_BANDS = ((60, "under 1 min"), (300, "1-5 min"), (900, "5-15 min"), (3600, "15-60 min"), (math.inf, "over 1 h"))
STILL_WAITING = "still waiting"
NOT_FARGO = ("handoff:relayed",)  # turns that only say a person has the conversation


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive
    preset: int | None = None  # the number of days when the period is a preset ending now

    def holds(self, iso_or_epoch: str | float | None) -> bool:
        if iso_or_epoch is None:
            return False
        if isinstance(iso_or_epoch, str):
            return self.start.isoformat() <= iso_or_epoch < self.end.isoformat()
        return self.start.timestamp() <= iso_or_epoch < self.end.timestamp()

    def days(self) -> list[date]:
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def period_from(days: str = "", first: str = "", last: str = "", now: datetime | None = None) -> Period:
    """The period a page asked for: `first`..`last` as whole UTC days (YYYY-MM-DD, both included), else the last
    `days` (1, 7 or 30) up to now; 7 days when nothing is given. InputError naming the field that is wrong."""
    now = now or datetime.now(UTC)  # to the microsecond: a session opened earlier in this second is in the period
    if first or last:
        if days:
            raise InputError("give either days or from and to, not both", field="days")
        start, finish = _day(first, "from"), _day(last, "to")
        if finish < start:
            raise InputError(f"to ({last}) is before from ({first})", field="to")
        if (finish - start).days + 1 > MAX_PERIOD_DAYS:
            raise InputError(f"the period is {(finish - start).days + 1} days; the longest is {MAX_PERIOD_DAYS}",
                             field="to")
        return Period(_midnight(start), _midnight(finish + timedelta(days=1)))
    count = _preset(days or "7")
    return Period(now - timedelta(days=count), now, preset=count)


def _day(text: str, name: str) -> date:
    if not text:
        raise InputError(f"{name} is missing: give both from and to as YYYY-MM-DD", field=name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} {text[:20]!r} is not a date: write it as YYYY-MM-DD", field=name) from None


def _preset(text: str) -> int:
    if text not in {str(days) for days in PRESET_DAYS}:
        raise InputError(f"days must be one of {', '.join(map(str, PRESET_DAYS))}, not {text[:20]!r}", field="days")
    return int(text)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Wait:
    requested: int
    picked_up: int
    still_waiting: int
    median_s: float | None
    p90_s: float | None
    bands: dict[str, int]  # WAIT_BANDS' labels and STILL_WAITING -> hand-offs
    by_kind: list[dict]  # {kind, requested, picked_up, median_s, p90_s}, most requested first


@dataclass(frozen=True)
class Figures:
    period: Period
    conversations: int
    handed_off: int
    by_day: list[dict]  # {day, conversations, handed_off}
    handoffs: Wait
    ratings: dict[int, int]  # score 1-5 -> how many
    intents: list[tuple[str, int]]  # most frequent first
    unserved: dict[str, int]  # reason -> turns
    unserved_messages: list[dict]  # {at, reason, intent, text} newest first, personal data redacted

    @property
    def containment(self) -> float | None:
        return None if not self.conversations else (self.conversations - self.handed_off) / self.conversations

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def average_rating(self) -> float | None:
        return sum(score * count for score, count in self.ratings.items()) / self.rated if self.rated else None

    @property
    def satisfied_share(self) -> float | None:
        return sum(self.ratings[score] for score in SATISFIED) / self.rated if self.rated else None


def figures(store, period: Period) -> Figures:
    sessions = _customer_sessions(store, period)
    opened = [session for session in sessions if period.holds(session["created_at"])]
    handed = {doc["_id"] for doc in store[HANDOFFS].find({"_id": {"$in": [s["_id"] for s in opened]}}, {"_id": 1})}
    turns = [turn for session in sessions for turn in _fargo_turns(session["turns"]) if period.holds(turn[1]["at"])]
    unserved = sorted(((asked, answer) for asked, answer in turns if _why_unserved(answer)), key=lambda t: t[0]["at"])
    return Figures(
        period=period,
        conversations=len(opened),
        handed_off=len(handed),
        by_day=_by_day(period, opened, handed),
        handoffs=_wait(store, period),
        ratings=_ratings(store, period),
        intents=Counter(answer["intent"] for _, answer in turns).most_common(TOP_INTENTS),
        unserved=dict(Counter(_why_unserved(answer) for _, answer in unserved)),
        unserved_messages=[_unserved_row(asked, answer) for asked, answer in reversed(unserved[-UNSERVED_SHOWN:])],
    )


def _customer_sessions(store, period: Period) -> list[dict]:
    """Sessions with a turn or an opening in the period, but for those staff opened."""
    found = store["sessions"].find(
        {"updated_at": {"$gte": period.start.isoformat()}, "created_at": {"$lt": period.end.isoformat()}},
        {"owner": 1, "created_at": 1, "turns": 1}, sort=[("created_at", 1)])
    key_ids = sorted({s["owner"].removeprefix("key:") for s in found if s["owner"].startswith("key:")})
    staff = {doc["_id"] for doc in store[API_KEYS].find({"_id": {"$in": key_ids}}, {"role": 1})
             if doc["role"] in STAFF_ROLES}
    return [session for session in found if session["owner"].removeprefix("key:") not in staff]


def _fargo_turns(turns: list[dict]) -> list[tuple[dict, dict]]:
    """(the customer's message, Fargo's answer) pairs; agents' replies and relay notes are not Fargo's."""
    return [(asked, answer) for asked, answer in itertools.pairwise(turns)
            if asked.get("role") == "user" and answer.get("role") == "assistant" and answer.get("intent")
            and answer["intent"] not in NOT_FARGO]


def _why_unserved(answer: dict) -> str | None:
    return answer.get("unserved") or ("out_of_scope" if answer["intent"] == "out_of_scope" else None)


def _unserved_row(asked: dict, answer: dict) -> dict:
    return {"at": datetime.fromtimestamp(asked["at"], UTC).isoformat(timespec="seconds"),
            "reason": _why_unserved(answer), "intent": answer["intent"], "text": redact(asked.get("text", "")).text}


def _by_day(period: Period, opened: list[dict], handed: set[str]) -> list[dict]:
    days = {day.isoformat(): {"day": day.isoformat(), "conversations": 0, "handed_off": 0} for day in period.days()}
    for session in opened:
        row = days[session["created_at"][:10]]
        row["conversations"] += 1
        row["handed_off"] += session["_id"] in handed
    return list(days.values())


def _wait(store, period: Period) -> Wait:
    requested = store[HANDOFFS].find(
        {"requested_at": {"$gte": period.start.isoformat(), "$lt": period.end.isoformat()}},
        {"kind": 1, "status": 1, "requested_at": 1, "picked_at": 1})
    waits = [(doc.get("kind") or "asked", _waited_s(doc)) for doc in requested]
    picked = [seconds for _, seconds in waits if seconds is not None]
    bands = {label: 0 for _, label in WAIT_BANDS} | {STILL_WAITING: 0}
    for seconds in picked:
        bands[next(label for bound, label in WAIT_BANDS if seconds < bound)] += 1
    bands[STILL_WAITING] = sum(doc["status"] == WAITING for doc in requested)
    kinds = Counter(kind for kind, _ in waits)
    by_kind = [_kind_row(kind, count, [s for k, s in waits if k == kind and s is not None])
               for kind, count in kinds.most_common()]
    return Wait(len(requested), len(picked), bands[STILL_WAITING], _median(picked), _p90(picked), bands, by_kind)


def _kind_row(kind: str, requested: int, picked: list[float]) -> dict:
    return {"kind": kind, "requested": requested, "picked_up": len(picked), "median_s": _median(picked),
            "p90_s": _p90(picked)}


def _waited_s(handoff: dict) -> float | None:
    if not handoff.get("picked_at"):
        return None
    return (datetime.fromisoformat(handoff["picked_at"]) - datetime.fromisoformat(handoff["requested_at"])).total_seconds()


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _p90(values: list[float]) -> float | None:
    """Nearest rank: the smallest value that at least 90% of the values are at or under."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1] if values else None


def _ratings(store, period: Period) -> dict[int, int]:
    rated = store["sessions"].find(
        {"rating.at": {"$gte": period.start.isoformat(), "$lt": period.end.isoformat()}}, {"rating": 1})
    counts = Counter(doc["rating"]["score"] for doc in rated)
    return {score: counts.get(score, 0) for score in range(1, 6)}
