"""The supervisors' figures, computed on a seeded week of conversations, on both store backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assistant.auth import create_key
from assistant.contact_centre import Period, figures, period_from
from assistant.engine import InputError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WEEK = period_from("7", now=NOW)  # 3 Mar 12:00 up to 10 Mar 12:00


def at(days_ago: float, minutes: float = 0) -> datetime:
    return NOW - timedelta(days=days_ago) + timedelta(minutes=minutes)


def turn_pair(when: datetime, text: str, intent: str, unserved: str | None = None) -> list[dict]:
    return [{"role": "user", "text": text, "at": when.timestamp()},
            {"role": "assistant", "text": "...", "at": when.timestamp(), "intent": intent, "recommendations": [],
             "handoff": False, "unserved": unserved}]


def session(store, session_id: str, owner: str, opened: datetime, turns: list[dict], rating: dict | None = None):
    store["sessions"].insert_one({"_id": session_id, "owner": owner, "customer_id": "C1", "turns": turns, "state": {},
                                  "created_at": opened.isoformat(),
                                  "updated_at": datetime.fromtimestamp(turns[-1]["at"], UTC).isoformat(),
                                  "rating": rating})


def handoff(store, session_id: str, kind: str, requested: datetime, waited_min: float | None):
    picked = None if waited_min is None else (requested + timedelta(minutes=waited_min)).isoformat()
    store["handoffs"].insert_one({"_id": session_id, "kind": kind, "status": "waiting" if picked is None else "closed",
                                  "requested_at": requested.isoformat(), "picked_at": picked})


@pytest.fixture
def seeded(store):
    """Six customer conversations in the week (three handed off), one before it, and one an agent had."""
    _, agent = create_key(store, "agent", "Dana")
    session(store, "s1", "customer:C1", at(6), turn_pair(at(6), "a card with no fee", "personal_recommendation"))
    session(store, "s2", "customer:C2", at(5), [
        *turn_pair(at(5), "what's the weather", "out_of_scope", "out_of_scope"),
        *turn_pair(at(5, 1), "hmm blorp my thing", "out_of_scope", "low_confidence"),
        {"role": "user", "text": "hello?", "at": at(5, 2).timestamp()},
        {"role": "assistant", "text": "A person has it", "at": at(5, 2).timestamp(), "intent": "handoff:relayed"},
        {"role": "agent", "text": "Hi, Dana here", "at": at(5, 3).timestamp()}],
        rating={"score": 5, "at": at(4).isoformat(), "handoff_closed_at": at(4).isoformat()})
    handoff(store, "s2", "unserved", at(5, 1), waited_min=2)
    session(store, "s3", "customer:C3", at(3), turn_pair(at(3), "email me at jo@example.com about a pet plan",
                                                         "personal_recommendation", "nothing_found"),
            rating={"score": 2, "at": at(2).isoformat(), "handoff_closed_at": at(2).isoformat()})
    handoff(store, "s3", "fraud", at(3), waited_min=30)
    session(store, "s4", "customer:C4", at(1), turn_pair(at(1), "someone used my card", "fraud"))
    handoff(store, "s4", "fraud", at(1), waited_min=None)
    session(store, "s5", "key:developer-backend", at(1), turn_pair(at(1), "mortgage rates", "product_question"))
    session(store, "s6", "customer:C6", at(0.5), turn_pair(at(0.5), "cards for travel", "personal_recommendation"))
    session(store, "old", "customer:C7", at(9), [*turn_pair(at(9), "old question", "out_of_scope"),
                                                 *turn_pair(at(6), "and now?", "out_of_scope")])
    handoff(store, "old", "asked", at(9), waited_min=1)
    session(store, "staff", f"key:{agent['_id']}", at(2), turn_pair(at(2), "gibberish", "out_of_scope", "out_of_scope"))
    handoff(store, "staff", "asked", at(2), waited_min=4)
    return store


def test_conversations_and_containment_count_customer_sessions_opened_in_the_period(seeded):
    shown = figures(seeded, WEEK)

    assert shown.conversations == 6  # s1-s6: a backend's (developer key's) session counts, an agent's does not
    assert shown.handed_off == 3 and shown.containment == 0.5
    by_day = {row["day"]: row for row in shown.by_day}
    assert len(by_day) == 8 and by_day["2026-03-05"] == {"day": "2026-03-05", "conversations": 1, "handed_off": 1}
    assert sum(row["conversations"] for row in shown.by_day) == shown.conversations


def test_hand_off_waits_are_median_and_p90_of_those_picked_up_in_the_period(seeded):
    wait = figures(seeded, WEEK).handoffs

    assert (wait.requested, wait.picked_up, wait.still_waiting) == (4, 3, 1)  # the staff session's hand-off counts
    assert wait.median_s == 240 and wait.p90_s == 1800  # waits of 2, 4 and 30 minutes
    assert wait.bands == {"under 1 min": 0, "1-5 min": 2, "5-15 min": 0, "15-60 min": 1, "over 1 h": 0,
                          "still waiting": 1}
    fraud = next(row for row in wait.by_kind if row["kind"] == "fraud")
    assert fraud == {"kind": "fraud", "requested": 2, "picked_up": 1, "median_s": 1800, "p90_s": 1800}


def test_satisfaction_counts_the_ratings_given_in_the_period(seeded):
    shown = figures(seeded, WEEK)

    assert shown.ratings == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert shown.average_rating == 3.5 and shown.satisfied_share == 0.5
    assert figures(seeded, period_from("1", now=NOW)).rated == 0


def test_intents_and_unserved_messages_come_from_the_turns_taken_in_the_period(seeded):
    shown = figures(seeded, WEEK)

    assert dict(shown.intents) == {"personal_recommendation": 3, "out_of_scope": 3, "fraud": 1, "product_question": 1}
    assert shown.unserved == {"out_of_scope": 2, "low_confidence": 1, "nothing_found": 1}
    newest = shown.unserved_messages[0]
    assert newest["reason"] == "nothing_found" and "jo@example.com" not in newest["text"]
    assert "pet plan" in newest["text"] and newest["at"] == "2026-03-07T12:00:00+00:00"
    assert [row["text"] for row in shown.unserved_messages[1:]] == ["hmm blorp my thing", "what's the weather",
                                                                   "and now?"]
    assert "gibberish" not in str(shown.unserved_messages)  # an agent's own session is not the customers'


def test_an_empty_period_has_no_containment_or_wait_rather_than_zero(store):
    shown = figures(store, WEEK)

    assert shown.conversations == 0 and shown.containment is None
    assert shown.handoffs.median_s is None and shown.average_rating is None


def test_a_session_opened_earlier_in_the_same_second_as_now_is_in_the_last_day():
    now = datetime(2026, 3, 10, 12, 0, 5, 900_000, tzinfo=UTC)
    assert period_from("1", now=now).holds((now - timedelta(milliseconds=400)).isoformat())


def test_a_period_of_whole_days_includes_its_last_day():
    period = period_from(first="2026-03-01", last="2026-03-03")

    assert period == Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    assert len(period.days()) == 3


@pytest.mark.parametrize(("query", "names"), [
    ({"days": "14"}, "days must be one of 1, 7, 30"),
    ({"first": "2026-03-01"}, "to is missing"),
    ({"first": "2026-03-05", "last": "2026-03-01"}, "to (2026-03-01) is before from (2026-03-05)"),
    ({"first": "March 1st", "last": "2026-03-01"}, "from 'March 1st' is not a date"),
    ({"first": "2024-01-01", "last": "2026-03-01"}, "the longest is 366"),
    ({"days": "7", "first": "2026-03-01", "last": "2026-03-02"}, "either days or from and to"),
])
def test_a_bad_period_is_refused_naming_what_to_fix(query, names):
    with pytest.raises(InputError) as refused:
        period_from(**query, now=NOW)
    assert names in str(refused.value)
