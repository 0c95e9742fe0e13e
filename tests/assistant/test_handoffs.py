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
