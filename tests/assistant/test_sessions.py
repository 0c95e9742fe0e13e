"""Sessions in the document store: a recommendations list shown again is stored once and read back whole."""

from __future__ import annotations

import copy

import pytest

from assistant import sessions
from assistant.sessions import SAME_AS_TURN, Session, SessionStore
from assistant.settings import Settings
from retrieval.docstore import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(Settings(data_dir=tmp_path)) as opened:
        yield opened


def recommendation(product_id: str) -> dict:
    return {"product_id": product_id, "name": f"Product {product_id}", "reasons": [f"why {product_id}"],
            "evidence": [{"kind": "graph_edge", "record_id": "L1", "value": True}], "components": {"tf": 0.5}}


def session_with_a_why(shown: list[dict]) -> Session:
    """Recommendations, then "why?" showing the same list, with the follow-up state holding it too (as the
    engine leaves them)."""
    turns = [
        {"role": "user", "text": "what card suits me?", "at": 1.0},
        {"role": "assistant", "text": "These.", "at": 1.0, "intent": "personal_recommendation",
         "recommendations": shown, "handoff": False},
        {"role": "user", "text": "why?", "at": 2.0},
        {"role": "assistant", "text": "Because.", "at": 2.0, "intent": "followup:why", "recommendations": shown,
         "handoff": False},
    ]
    state = {"intent": "personal_recommendation", "template": "personal_recommendation", "tool": "recommend_personal",
             "arguments": {"customer_id": "C0000001"}, "recommendations": shown, "handoff": False}
    return Session("s1", "customer:C0000001", "C0000001", turns, state, "2026-01-01T00:00:00+00:00")


def test_recommendations_shown_again_are_stored_once_and_read_back_whole(store):
    shown = [recommendation("P001"), recommendation("P002")]
    session = session_with_a_why(shown)
    expected_turns, expected_state = copy.deepcopy(session.turns), copy.deepcopy(session.state)
    SessionStore(store).save(session)

    stored = store["sessions"].find_one({"_id": "s1"})
    assert stored["turns"][1]["recommendations"] == expected_turns[1]["recommendations"]
    assert "recommendations" not in stored["turns"][3] and stored["turns"][3][SAME_AS_TURN] == 1
    assert "recommendations" not in stored["state"] and stored["state"][SAME_AS_TURN] == 1
    assert list(stored["turns"][3]) == ["role", "text", "at", "intent", SAME_AS_TURN, "handoff"]
    assert session.turns == expected_turns and session.state == expected_state  # the session itself is unchanged

    read = SessionStore(store).get("s1")
    assert read.turns == expected_turns and read.state == expected_state
    assert list(read.turns[3]) == list(expected_turns[3]) and list(read.state) == list(expected_state)
    assert read.turns[3]["recommendations"] is read.turns[1]["recommendations"] is read.state["recommendations"]


def test_equal_but_separate_lists_are_each_stored_and_sessions_stored_in_full_still_read(store):
    session = session_with_a_why([recommendation("P001")])
    session.turns[3]["recommendations"] = [recommendation("P001")]  # equal, another list: kept as it is
    session.state["recommendations"] = [recommendation("P003")]
    SessionStore(store).save(session)
    stored = store["sessions"].find_one({"_id": "s1"})
    assert SAME_AS_TURN not in stored["turns"][3] and SAME_AS_TURN not in stored["state"]
    assert SessionStore(store).get("s1").state["recommendations"] == [recommendation("P003")]


def test_a_list_first_held_by_a_turn_no_longer_kept_is_stored_by_the_first_kept_one(store, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_TURNS_KEPT", 2)  # keeps "why?" and its answer
    shown = [recommendation("P009")]
    session = session_with_a_why(shown)
    SessionStore(store).save(session)
    stored = store["sessions"].find_one({"_id": "s1"})
    assert [turn.get("recommendations") for turn in stored["turns"]] == [None, shown]
    assert stored["state"][SAME_AS_TURN] == 1
    read = SessionStore(store).get("s1")
    assert read.state["recommendations"] == shown and read.turns[1]["recommendations"] is read.state["recommendations"]
