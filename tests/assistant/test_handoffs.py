"""Hand-offs: a customer asks for a person, an agent picks the conversation up and replies, over the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from live_app import make_bank

from assistant import handoffs
from assistant.api.app import create_app
from assistant.auth import create_key, mint_widget_token
from assistant.callers import Caller


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = make_bank(tmp_path_factory.mktemp("handoffs"), customers=40, seed=3)
    with TestClient(create_app(settings, requests_per_minute=10_000)) as opened:
        yield opened


@pytest.fixture(scope="module")
def agent(client):
    key, record = create_key(client.app.state.store, "agent", "Dana")
    return {"Authorization": f"Bearer {key}"}, Caller(role="agent", key_id=record["_id"])


def customer(client, number: int) -> dict[str, str]:
    ids = [doc["_id"] for doc in client.app.state.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=2)]
    token, _ = mint_widget_token(client.app.state.token_secret(), ids[number], 600)
    return {"Authorization": f"Bearer {token}"}


def sessions(client):
    return client.app.state.runtime.engine.sessions


def test_asking_for_a_person_queues_the_conversation_for_agents(client, agent):
    me = customer(client, 0)
    asked = client.post("/v1/handoffs", json={"reason": "my card was stolen"}, headers=me)
    assert asked.status_code == 201, asked.text
    session_id = asked.json()["session_id"]
    assert asked.json()["status"] == "waiting" and "colleague" in asked.json()["answer"]

    queue = client.get("/v1/handoffs", headers=agent[0]).json()["handoffs"]
    assert [(h["session_id"], h["reason"], h["status"]) for h in queue if h["session_id"] == session_id] == [
        (session_id, "my card was stolen", "waiting")]
    history = client.get(f"/v1/sessions/{session_id}", headers=me).json()
    assert history["handoff_status"] == "waiting"
    assert client.get("/v1/handoffs", headers=me).status_code == 403


def test_after_pick_up_the_customers_messages_go_to_the_agent_and_the_reply_comes_back(client, agent):
    me = customer(client, 0)
    session_id = client.post("/v1/handoffs", json={}, headers=me).json()["session_id"]
    store = client.app.state.store
    handoffs.pick_up(store, session_id, agent[1], "Dana")

    relayed = client.post("/v1/chat", json={"message": "are you there?", "session_id": session_id}, headers=me)
    assert relayed.status_code == 200
    assert relayed.json()["answer"] == "Your message is with Dana; they will answer here."
    assert relayed.json()["explanation"]["tool_calls"] == []  # the assistant did not answer for the person
    handoffs.reply(store, sessions(client), session_id, agent[1], "Yes, I'm here. How can I help?")

    turns = client.get(f"/v1/sessions/{session_id}", headers=me).json()["turns"]
    assert [(t["role"], t["text"]) for t in turns[-3:]] == [
        ("user", "are you there?"), ("assistant", "Your message is with Dana; they will answer here."),
        ("agent", "Yes, I'm here. How can I help?")]
    assert turns[-1]["agent"] == "Dana"


def test_a_second_agent_cannot_take_or_answer_a_picked_up_conversation(client, agent):
    session_id = client.post("/v1/handoffs", json={}, headers=customer(client, 0)).json()["session_id"]
    store = client.app.state.store
    handoffs.pick_up(store, session_id, agent[1], "Dana")
    other = Caller(role="agent", key_id="someone-else")
    with pytest.raises(handoffs.HandoffConflict):
        handoffs.pick_up(store, session_id, other, "Sam")
    with pytest.raises(handoffs.HandoffConflict):
        handoffs.reply(store, sessions(client), session_id, other, "hello")
    with pytest.raises(Exception, match="empty"):
        handoffs.reply(store, sessions(client), session_id, agent[1], "   ")


def test_a_customer_cannot_hand_over_someone_elses_conversation(client):
    session_id = client.post("/v1/handoffs", json={}, headers=customer(client, 0)).json()["session_id"]
    answer = client.post("/v1/handoffs", json={"session_id": session_id}, headers=customer(client, 1))
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "permission_denied"


def test_saying_you_want_a_person_in_the_chat_queues_it_too(client, agent):
    me = customer(client, 1)
    answer = client.post("/v1/chat", json={"message": "I want to talk to a real person"}, headers=me).json()
    assert answer["handoff"] is True
    assert handoffs.get(client.app.state.store, answer["session_id"])["status"] == "waiting"


def test_an_unknown_session_gets_a_clear_404(client):
    answer = client.post("/v1/handoffs", json={"session_id": "nosuchsession"}, headers=customer(client, 0))
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "no session 'nosuchsession'"


def test_a_developer_key_cannot_open_a_hand_off(client):
    key, _ = create_key(client.app.state.store, "developer", "backend")
    answer = client.post("/v1/handoffs", json={}, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 403
    assert "widget token" in answer.json()["error"]["message"]


# --- the customer's rating once the hand-off closes -----------------------------------------------------------------


def closed_handoff(client, agent, me: dict[str, str]) -> str:
    session_id = client.post("/v1/handoffs", json={}, headers=me).json()["session_id"]
    handoffs.pick_up(client.app.state.store, session_id, agent[1], "Dana")
    handoffs.close(client.app.state.store, session_id, agent[1])
    return session_id


def test_after_the_hand_off_closes_the_customer_rates_it_and_the_score_is_kept_with_the_session(client, agent):
    me = customer(client, 0)
    session_id = closed_handoff(client, agent, me)
    assert client.get(f"/v1/sessions/{session_id}", headers=me).json()["rating"] is None

    rated = client.post(f"/v1/sessions/{session_id}/rating", json={"score": 4}, headers=me)
    assert rated.status_code == 200, rated.text
    assert (rated.json()["session_id"], rated.json()["score"]) == (session_id, 4)
    stored = client.app.state.store["sessions"].find_one({"_id": session_id})["rating"]
    assert stored["score"] == 4
    assert stored["handoff_closed_at"] == handoffs.get(client.app.state.store, session_id)["closed_at"]
    assert client.get(f"/v1/sessions/{session_id}", headers=me).json()["rating"] == 4

    client.post(f"/v1/sessions/{session_id}/rating", json={"score": 2}, headers=me)  # a change of mind replaces it
    assert client.app.state.store["sessions"].find_one({"_id": session_id})["rating"]["score"] == 2


def test_a_rating_survives_the_next_turn_and_a_new_hand_off_asks_again(client, agent):
    me = customer(client, 1)
    session_id = closed_handoff(client, agent, me)
    client.post(f"/v1/sessions/{session_id}/rating", json={"score": 5}, headers=me)
    client.post("/v1/chat", json={"message": "what card suits my spending?", "session_id": session_id}, headers=me)
    assert client.get(f"/v1/sessions/{session_id}", headers=me).json()["rating"] == 5

    client.post("/v1/handoffs", json={"session_id": session_id}, headers=me)
    handoffs.pick_up(client.app.state.store, session_id, agent[1], "Dana")
    handoffs.close(client.app.state.store, session_id, agent[1])
    assert client.get(f"/v1/sessions/{session_id}", headers=me).json()["rating"] is None


def test_an_open_or_absent_hand_off_cannot_be_rated(client, agent):
    me = customer(client, 0)
    waiting = client.post("/v1/handoffs", json={}, headers=me).json()["session_id"]
    answer = client.post(f"/v1/sessions/{waiting}/rating", json={"score": 3}, headers=me)
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == "the conversation is still waiting: rate it after the hand-off closes"

    chatted = client.post("/v1/chat", json={"message": "hello"}, headers=me).json()["session_id"]
    answer = client.post(f"/v1/sessions/{chatted}/rating", json={"score": 3}, headers=me)
    assert answer.status_code == 409
    assert "never handed to a person" in answer.json()["error"]["message"]
    assert client.app.state.store["sessions"].find_one({"_id": waiting})["rating"] is None


@pytest.mark.parametrize("body, problem", [
    ({"score": 0}, "greater than or equal to 1"), ({"score": 6}, "less than or equal to 5"),
    ({"score": "4"}, "valid integer"), ({"score": 4.5}, "valid integer"), ({}, "required"),
])
def test_a_score_outside_1_to_5_is_refused_with_422_naming_the_field(client, agent, body, problem):
    me = customer(client, 0)
    session_id = closed_handoff(client, agent, me)
    answer = client.post(f"/v1/sessions/{session_id}/rating", json=body, headers=me)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "score"
    assert problem in answer.json()["error"]["message"]
    assert client.app.state.store["sessions"].find_one({"_id": session_id})["rating"] is None


def test_only_the_sessions_own_customer_may_rate_it(client, agent):
    session_id = closed_handoff(client, agent, customer(client, 0))
    key, _ = create_key(client.app.state.store, "developer", "backend")
    for who in (customer(client, 1), agent[0], {"Authorization": f"Bearer {key}"}):
        answer = client.post(f"/v1/sessions/{session_id}/rating", json={"score": 5}, headers=who)
        assert answer.status_code == 403, who
    assert client.post(f"/v1/sessions/{session_id}/rating", json={"score": 5}).status_code == 401
    assert client.app.state.store["sessions"].find_one({"_id": session_id})["rating"] is None


def test_the_first_answer_of_every_conversation_says_it_is_an_automated_assistant(client):
    me = customer(client, 1)
    first = client.post("/v1/chat", json={"message": "which savings account suits me?"}, headers=me).json()
    second = client.post("/v1/chat", json={"message": "why?", "session_id": first["session_id"]}, headers=me).json()
    completion = client.post("/v1/chat/completions", headers=me, json={
        "model": "fargo", "messages": [{"role": "user", "content": "which savings account suits me?"}]}).json()

    notice = "You're chatting with Fargo, an automated assistant, not a person. To reach a person at any time"
    assert first["answer"].startswith(notice)
    assert completion["choices"][0]["message"]["content"].startswith(notice)
    assert notice not in second["answer"]


def test_a_dispute_in_chat_is_queued_for_an_agent_as_a_dispute_with_the_message(client, agent):
    me = customer(client, 1)
    told = client.post("/v1/chat", json={"message": "this overdraft fee is wrong, I was never overdrawn"}, headers=me)
    session_id = told.json()["session_id"]

    assert told.json()["handoff"] is True and told.json()["recommendations"] == []
    queued = next(h for h in client.get("/v1/handoffs", headers=agent[0]).json()["handoffs"]
                  if h["session_id"] == session_id)
    assert (queued["kind"], queued["priority"], queued["status"]) == ("dispute", "high", "waiting")
    assert queued["reason"] == "this overdraft fee is wrong, I was never overdrawn"
