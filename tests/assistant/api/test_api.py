"""The HTTP API on a small ingested bank: auth, who may read whom, the audit log, SSE, OpenAI compatibility."""

from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient
from ingested_bank import bearer, build_app

from assistant.api.app import create_app
from assistant.api.observability import JsonFormatter
from assistant.auth import create_key, mint_widget_token, revoke_key, token_secret
from assistant.settings import Settings
from retrieval.graph import build_graph
from retrieval.neighbourhoods import StoredGraph
from tools.context import ToolContext


@pytest.fixture(scope="module")
def customers(client) -> list[str]:
    return [doc["_id"] for doc in client.app.state.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=2)]


def widget_token(client, keys, customer_id: str) -> dict[str, str]:
    minted = client.post("/v1/widget/tokens", json={"customer_id": customer_id, "ttl_s": 600},
                         headers=bearer(keys["developer"]))
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["token"])


def audit_entries(client, keys, **query) -> list[dict]:
    answer = client.get("/v1/audit", params=query, headers=bearer(keys["admin"]))
    assert answer.status_code == 200, answer.text
    return answer.json()["entries"]


def sse_events(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# --- ops --------------------------------------------------------------------------------------------------------------


def test_health_readiness_and_metrics_answer_without_a_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = client.get("/metrics").text
    assert 'fargo_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics


def message_embeddings(client) -> dict[str, float]:
    lines = client.get("/metrics").text.splitlines()
    prefix = "fargo_message_embeddings_total{source="
    return {line[len(prefix) + 1:].split('"')[0]: float(line.split()[-1]) for line in lines if line.startswith(prefix)}


def test_metrics_count_message_embeddings_from_the_cache_and_from_the_model(client, keys):
    client.post("/v1/chat", json={"message": "what is a HELOC?"}, headers=bearer(keys["developer"]))
    before = message_embeddings(client)
    for _ in range(2):
        answer = client.post("/v1/chat", json={"message": "what is the wire transfer fee, counted?"},
                             headers=bearer(keys["developer"]))
        assert answer.status_code == 200, answer.text
    after = message_embeddings(client)
    assert after == {"cache": before["cache"] + 1, "model": before["model"] + 1}


def test_before_any_ingestion_health_is_ok_and_data_routes_say_run_ingest(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as empty:
        key, _ = create_key(empty.app.state.store, "developer", "dev")
        assert empty.get("/healthz").status_code == 200
        assert empty.get("/readyz").status_code == 503
        answer = empty.post("/v1/chat", json={"message": "what is a HELOC?"}, headers=bearer(key))
    assert answer.status_code == 503
    assert answer.json()["error"]["message"] == "no data yet: run fargo ingest"


# --- chat -------------------------------------------------------------------------------------------------------------


def test_a_customer_chats_and_continues_the_session(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    first = client.post("/v1/chat", json={"message": "what should I get?"}, headers=me)
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) >= {"session_id", "answer", "recommendations", "explanation"}
    assert body["explanation"]["intent"]

    why = client.post("/v1/chat", json={"message": "why?", "session_id": body["session_id"]}, headers=me)
    assert why.json()["session_id"] == body["session_id"]
    history = client.get(f"/v1/sessions/{body['session_id']}", headers=me).json()
    assert [turn["role"] for turn in history["turns"]] == ["user", "assistant", "user", "assistant"]
    assert history["turns"][2]["text"] == "why?"


def test_a_chat_answer_is_the_documented_chat_response_as_json(client, keys, customers):
    from assistant.api.chat import ChatResponse

    answer = client.post("/v1/chat", json={"message": "what card suits my spending?"},
                         headers=widget_token(client, keys, customers[0]))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    documented = ChatResponse.model_validate_json(answer.content)
    assert answer.content == documented.model_dump_json().encode()
    assert documented.recommendations and documented.explanation["recommendations"]


def test_each_request_writes_an_access_log_line_without_personal_data(client, keys, customers, caplog):
    with caplog.at_level(logging.INFO, logger="fargo.access"):
        client.get(f"/v1/customers/{customers[0]}/recommendations", headers=bearer(keys["agent"]))
    lines = [record for record in caplog.records if record.name == "fargo.access"]
    assert len(lines) == 1 and customers[0] not in lines[0].getMessage()
    assert lines[0].fields["route"] == "/v1/customers/{customer_id}/recommendations"
    assert lines[0].fields["status"] == 200 and lines[0].fields["role"] == "agent"


def test_streaming_chat_sends_tokens_then_recommendations_explanation_done(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    answer = client.post("/v1/chat", json={"message": "recommend something for me", "stream": True}, headers=me)

    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse_events(answer.text)
    names = [name for name, _ in events]
    tokens = names.count("token")
    assert tokens >= 2 and names == ["token"] * tokens + ["recommendations", "explanation", "done"]
    session_id = events[-1][1]["session_id"]
    said = "".join(data["text"] for name, data in events if name == "token")
    stored = client.get(f"/v1/sessions/{session_id}", headers=me).json()["turns"][-1]["text"]
    assert said == stored


def test_accept_event_stream_also_streams(client, keys):
    answer = client.post("/v1/chat", json={"message": "what is a HELOC?"},
                         headers=bearer(keys["developer"]) | {"Accept": "text/event-stream"})
    assert [name for name, _ in sse_events(answer.text)][-1] == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"message": "x" * 2001}, "message"), ({}, "message"), ({"message": "hi", "colour": "red"}, "colour"),
     ({"message": "hi", "customer_id": "C1; drop"}, "customer_id"), ({"message": "   "}, "message")],
)
def test_a_bad_chat_request_is_422_naming_the_field(client, keys, body, field):
    answer = client.post("/v1/chat", json=body, headers=bearer(keys["agent"]))
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("category", ["", "cards"])
def test_a_search_in_an_unknown_category_is_422_naming_it(client, keys, category):
    answer = client.get("/v1/products/search", params={"q": "loan", "category": category},
                        headers=bearer(keys["developer"]))
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "category"


def test_a_completion_whose_text_part_is_not_text_is_400_naming_it_as_openai_does(client, keys):
    content = [{"type": "text", "text": 5}]
    answer = client.post("/v1/chat/completions", json={"model": "fargo", "messages": [
        {"role": "user", "content": content}]}, headers=bearer(keys["developer"]))
    assert answer.status_code == 400 and answer.json()["error"]["param"].startswith("messages.0.content")


def test_an_unknown_session_is_404(client, keys):
    answer = client.post("/v1/chat", json={"message": "why?", "session_id": "nope"}, headers=bearer(keys["agent"]))
    assert answer.status_code == 404 and "nope" in answer.json()["error"]["message"]


def test_a_body_over_64_kib_is_413(client, keys):
    answer = client.post("/v1/chat", content=b'{"message": "' + b"a" * 70_000 + b'"}',
                         headers=bearer(keys["agent"]) | {"Content-Type": "application/json"})
    assert answer.status_code == 413


# --- who may read whom ------------------------------------------------------------------------------------------------


def test_a_customer_cannot_read_another_customers_session_and_the_attempt_is_audited(client, keys, customers):
    mine, theirs = customers
    their_session = client.post("/v1/chat", json={"message": "hello"}, headers=widget_token(client, keys, theirs))
    session_id = their_session.json()["session_id"]

    answer = client.get(f"/v1/sessions/{session_id}", headers=widget_token(client, keys, mine))

    assert answer.status_code == 403
    denied = audit_entries(client, keys, customer_id=theirs, allowed=False)
    assert any(entry["who"] == f"customer:{mine}" and "sessions" in entry["action"] for entry in denied)


def test_a_customer_cannot_get_another_customers_recommendations_or_chat_about_them(client, keys, customers):
    mine, theirs = customers
    me = widget_token(client, keys, mine)

    recs = client.get(f"/v1/customers/{theirs}/recommendations", headers=me)
    chat = client.post("/v1/chat", json={"message": "what should I get?", "customer_id": theirs}, headers=me)
    named = client.post("/v1/chat", json={"message": f"what should {theirs} get?"}, headers=me)

    assert recs.status_code == 403 and chat.status_code == 403 and named.status_code == 403
    denied = audit_entries(client, keys, customer_id=theirs, allowed=False)
    denied = [entry for entry in denied if entry["who"] == f"customer:{mine}"]
    assert [entry["action"].split()[0] for entry in denied].count("POST") >= 2
    assert "GET" in {entry["action"].split()[0] for entry in denied}


def test_a_customer_reads_their_own_recommendations_of_each_kind(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    for kind in ("personal", "family", "healthcare"):
        answer = client.get(f"/v1/customers/{customers[0]}/recommendations", params={"kind": kind}, headers=me)
        assert answer.status_code == 200, answer.text
        assert answer.json()["kind"] == kind
        for rec in answer.json()["recommendations"]:
            assert rec["reasons"] and rec["evidence"]


def test_agent_access_to_a_customer_is_audited(client, keys, customers):
    customer = customers[1]
    recs = client.get(f"/v1/customers/{customer}/recommendations", headers=bearer(keys["agent"]))
    chat = client.post("/v1/chat", json={"message": "what should I offer?", "customer_id": customer},
                       headers=bearer(keys["agent"]))

    assert recs.status_code == 200 and chat.status_code == 200, chat.text
    allowed = [e for e in audit_entries(client, keys, customer_id=customer, allowed=True) if e["role"] == "agent"]
    assert {entry["action"] for entry in allowed} >= {"recommendations:personal", "chat"}


def test_developers_get_product_search_but_no_customer_data(client, keys, customers):
    dev = bearer(keys["developer"])
    search = client.get("/v1/products/search", params={"q": "travel credit card"}, headers=dev)
    assert search.status_code == 200 and search.json()["hits"]
    assert client.get(f"/v1/customers/{customers[0]}/recommendations", headers=dev).status_code == 403
    assert client.get("/v1/audit", headers=bearer(keys["agent"])).status_code == 403


def test_feedback_on_an_own_answer_is_stored(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    session_id = client.post("/v1/chat", json={"message": "hello"}, headers=me).json()["session_id"]

    answer = client.post("/v1/feedback", json={"session_id": session_id, "rating": "up"}, headers=me)

    assert answer.status_code == 201
    stored = client.app.state.store["feedback"].find_one({"session_id": session_id})
    assert stored["rating"] == "up" and stored["customer_id"] == customers[0]


# --- a session keeps its customer -------------------------------------------------------------------------------------


def completion_body(message: str) -> dict:
    return {"model": "fargo", "messages": [{"role": "user", "content": message}]}


@pytest.mark.parametrize(("path", "body"), [("/v1/chat", {"message": "what should I get?"}),
                                            ("/v1/chat/completions", completion_body("what should I get?"))])
def test_an_agent_cannot_move_a_customers_session_to_another_customer(client, keys, customers, path, body):
    mine, other = customers
    me = widget_token(client, keys, mine)
    session_id = client.post("/v1/chat", json={"message": "what card suits my spending?"}, headers=me).json()["session_id"]
    before = client.get(f"/v1/sessions/{session_id}", headers=me).json()

    moved = client.post(path, json=body | {"session_id": session_id, "customer_id": other}, headers=bearer(keys["agent"]))

    assert moved.status_code == 409
    error = moved.json()["error"]  # the OpenAI route says "conflict" as its code
    assert "conflict" in (error["type"], error.get("code")) and "start a new session" in error["message"]
    assert client.get(f"/v1/sessions/{session_id}", headers=me).json() == before
    assert client.get(f"/v1/sessions/{session_id}", headers=widget_token(client, keys, other)).status_code == 403
    handed = client.post("/v1/handoffs", json={"session_id": session_id}, headers=me)
    assert handed.status_code == 201 and client.app.state.store["handoffs"].find_one({"_id": session_id})[
        "customer_id"] == mine


def test_an_agents_session_about_one_customer_is_never_readable_by_anothers_token(client, keys, customers):
    first, second = customers
    agent = bearer(keys["agent"])
    opened = client.post("/v1/chat", json={"message": "what card suits their spending?", "customer_id": first},
                         headers=agent)
    session_id = opened.json()["session_id"]

    why = client.post("/v1/chat", json={"message": "why?", "session_id": session_id, "customer_id": second},
                      headers=agent)

    assert why.status_code == 409
    theirs = widget_token(client, keys, second)
    assert client.get(f"/v1/sessions/{session_id}", headers=theirs).status_code == 403
    assert client.post("/v1/feedback", json={"session_id": session_id, "rating": "up"}, headers=theirs).status_code == 403
    history = client.get(f"/v1/sessions/{session_id}", headers=agent).json()
    assert history["customer_id"] == first and len(history["turns"]) == 2


def test_a_developer_key_cannot_read_its_session_once_an_agent_asked_about_a_customer_in_it(client, keys, customers):
    developer = bearer(keys["developer"])
    session_id = client.post("/v1/chat", json={"message": "what is a HELOC?"}, headers=developer).json()["session_id"]
    assert client.get(f"/v1/sessions/{session_id}", headers=developer).status_code == 200

    named = client.post("/v1/chat", json={"message": f"recommend something for {customers[0]}",
                                          "session_id": session_id}, headers=bearer(keys["agent"]))

    assert named.status_code == 200
    assert named.json()["explanation"]["tool_calls"][0]["arguments"]["customer_id"] == customers[0]
    assert client.get(f"/v1/sessions/{session_id}", headers=developer).status_code == 403
    continued = client.post("/v1/chat", json={"message": "why?", "session_id": session_id}, headers=developer)
    assert continued.status_code == 403
    rated = client.post("/v1/feedback", json={"session_id": session_id, "rating": "down"}, headers=developer)
    assert rated.status_code == 403


# --- what a customer sees of their relatives -------------------------------------------------------------------------


RELATIVE_ID = re.compile(r"\b[CR]\d{7}\b")


@pytest.fixture(scope="module")
def family(bank) -> tuple[str, set[str], set[str]]:
    """(customer, ids of relatives who do not share with them, ids of those who do), for a customer whose family
    recommendations include a relative who banks here and does not share with them."""
    runtime = bank[1]
    for doc in runtime.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)]):
        views = runtime.engine.tools.relatives(runtime.ctx, doc["_id"])
        recommended = {rec.for_person for rec in runtime.engine.tools.call("recommend_family", runtime.ctx, doc["_id"])}
        if any(v.relative_id in recommended and v.is_customer and not v.consent_to_share for v in views):
            return (doc["_id"], {v.relative_id for v in views if not v.consent_to_share},
                    {v.relative_id for v in views if v.consent_to_share})
    pytest.fail("the test bank has no customer with family recommendations for a relative who does not share")


def test_family_recommendations_name_no_relative_id_the_relative_did_not_share_with_the_customer(client, keys, family):
    customer, private, sharing = family
    me = widget_token(client, keys, customer)

    listed = client.get(f"/v1/customers/{customer}/recommendations", params={"kind": "family"}, headers=me)
    chat = client.post("/v1/chat", json={"message": "what should I get for my family?"}, headers=me)

    assert listed.status_code == 200 and chat.status_code == 200, chat.text
    assert chat.json()["explanation"]["intent"] == "family_recommendation"
    for answer in (listed, chat):
        recommendations = answer.json()["recommendations"]
        assert not private & set(RELATIVE_ID.findall(answer.text))
        assert {rec["for_person"] for rec in recommendations} <= sharing | {None}
        assert recommendations and all(rec["relation"] and rec["age_band"] for rec in recommendations)
    session_id = chat.json()["session_id"]
    assert not private & set(RELATIVE_ID.findall(client.get(f"/v1/sessions/{session_id}", headers=me).text))


def test_a_family_question_is_answered_reading_only_that_customers_people_from_the_store(bank, client, keys, family,
                                                                                         monkeypatch):
    settings, runtime = bank
    customer = family[0]
    in_memory = ToolContext(runtime.store, None, None, graph_as_ingestion_builds_it(runtime.store),
                            runtime.ctx.graph_stats, runtime.ctx.run_id)
    recommend = runtime.engine.tools.functions["recommend_family"]
    assert recommend(runtime.ctx, customer) == recommend(in_memory, customer)  # the same answer as from memory
    read = []
    document = StoredGraph._document
    monkeypatch.setattr(StoredGraph, "_document", lambda graph, person_id: read.append(person_id) or document(
        graph, person_id))

    chat = client.post("/v1/chat", json={"message": "what should I get for my family?"},
                       headers=widget_token(client, keys, customer))

    assert chat.status_code == 200, chat.text
    assert chat.json()["explanation"]["intent"] == "family_recommendation" and chat.json()["recommendations"]
    assert isinstance(runtime.ctx.graph, StoredGraph) and not (settings.data_dir / "graph").exists()
    assert set(read) == {customer}  # that customer's document, not the bank's graph


def graph_as_ingestion_builds_it(store):
    """The whole graph in memory, built from the store's records as the ingestion run does."""
    holdings = {doc["customer_id"]: doc["products_held"] for doc in store["features"].find({}, {"customer_id": 1,
                                                                                                  "products_held": 1})}
    return build_graph(store["customers"].find({}), store["relationships"].find({}), holdings)


def test_an_agent_sees_which_relative_each_family_recommendation_is_for(client, keys, family):
    customer, private, _ = family
    listed = client.get(f"/v1/customers/{customer}/recommendations", params={"kind": "family"},
                        headers=bearer(keys["agent"]))

    assert private & {rec["for_person"] for rec in listed.json()["recommendations"]}


# --- credentials ------------------------------------------------------------------------------------------------------


def test_a_revoked_key_gets_401(client):
    key, record = create_key(client.app.state.store, "agent", "leaver")
    assert client.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key)).status_code == 200

    revoke_key(client.app.state.store, record["_id"])

    answer = client.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key))
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_an_expired_widget_token_gets_401(client, customers):
    secret = token_secret(client.app.state.settings)
    token, _ = mint_widget_token(secret, customers[0], ttl_s=60, now=time.time() - 120)

    answer = client.post("/v1/chat", json={"message": "hello"}, headers=bearer(token))

    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_widget_tokens_are_for_the_banks_backend_only_and_at_most_an_hour(client, keys, customers):
    asked = {"customer_id": customers[0], "ttl_s": 600}
    assert client.post("/v1/widget/tokens", json=asked, headers=bearer(keys["agent"])).status_code == 403
    too_long = client.post("/v1/widget/tokens", json=asked | {"ttl_s": 7200}, headers=bearer(keys["admin"]))
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "ttl_s"
    unknown = client.post("/v1/widget/tokens", json=asked | {"customer_id": "C9999999"}, headers=bearer(keys["admin"]))
    assert unknown.status_code == 404


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(bank, keys):
    with TestClient(build_app(bank, requests_per_minute=1, burst=1)) as limited:
        first = limited.get("/v1/audit", headers=bearer(keys["admin"]))
        second = limited.get("/v1/audit", headers=bearer(keys["admin"]))
    assert first.status_code == 200
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1


def test_an_address_sending_many_bad_credentials_gets_429_even_with_a_good_one_until_the_window_passes(bank, keys,
                                                                                                     customers):
    settings, runtime = bank
    app = create_app(settings.model_copy(update={"auth_failure_limit": 4, "auth_failure_window_s": 1.5}),
                     open_runtime=lambda _: runtime)
    forged, _ = mint_widget_token(b"not the bank's secret, 32 bytes!", customers[0], 600)
    guesses = [bearer("fargo_guessed-key"), bearer(forged), bearer("nonsense"), {"Authorization": "Bearer "}]
    search = "/v1/products/search?q=loan"
    with TestClient(app) as attacker:
        someone_else = TestClient(app, client=("198.51.100.20", 40000))
        anonymous = [attacker.get(search).status_code for _ in range(6)]  # no credential at all: not a failure
        refused = [attacker.get(search, headers=headers).status_code for headers in guesses]
        blocked = attacker.get(search, headers=bearer(keys["agent"]))
        elsewhere = someone_else.get(search, headers=bearer(keys["agent"]))
        time.sleep(1.6)
        later = attacker.get(search, headers=bearer(keys["agent"]))

    assert anonymous == [401] * 6 and refused == [401] * 4
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 2
    assert blocked.json()["error"]["type"] == "rate_limited"
    assert "failed credentials from this address" in blocked.json()["error"]["message"]
    assert elsewhere.status_code == 200 and later.status_code == 200


def test_json_logs_redact_personal_data():
    record = logging.LogRecord("fargo.access", logging.INFO, __file__, 1, "GET %s by %s", (
        "/v1/customers/C0000042/recommendations", "jane.doe@example.com"), None)
    line = json.loads(JsonFormatter().format(record))
    assert "C0000042" not in line["message"] and "jane.doe@example.com" not in line["message"]


# --- hostile text -----------------------------------------------------------------------------------------------------


def post_raw_json(client, path: str, body: dict, headers: dict[str, str]):
    """The body as json.dumps writes it: a lone surrogate travels as its \\u escape, as an attacker would send it."""
    return client.post(path, content=json.dumps(body), headers=headers | {"Content-Type": "application/json"})


def completion_asking(content) -> dict:
    return {"model": "fargo", "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    ("path", "body", "field", "problem"),
    [("/v1/chat", {"message": "hello \ud83d"}, "message", "lone surrogate (U+D83D) at position 6"),
     ("/v1/chat", {"message": "hello \uffff"}, "message", "noncharacter (U+FFFF) at position 6"),
     ("/v1/chat", {"message": "hello \U0010ffff"}, "message", "noncharacter (U+10FFFF) at position 6"),
     ("/v1/chat", {"message": "hello\x00"}, "message", "control character (U+0000) at position 5"),
     ("/v1/chat/completions", completion_asking("hello \ud83d"), "messages.0.content.string",
      "lone surrogate (U+D83D) at position 6"),
     ("/v1/chat/completions", completion_asking([{"type": "text", "text": "hi \udc00"}]),
      "messages.0.content.parts.0.text", "lone surrogate (U+DC00) at position 3"),
     ("/v1/handoffs", {"reason": "urgent \ud83d"}, "reason", "lone surrogate (U+D83D) at position 7"),
     ("/v1/feedback", {"session_id": "abc", "rating": "down", "comment": "bad \ud83d"}, "comment",
      "lone surrogate (U+D83D) at position 4")],
)
def test_text_that_is_not_valid_unicode_is_422_naming_the_field_and_the_code_point(client, keys, customers, path,
                                                                                    body, field, problem):
    answer = post_raw_json(client, path, body, widget_token(client, keys, customers[0]))

    error = answer.json()["error"]
    if path == "/v1/chat/completions":  # in OpenAI's status and shape there
        assert answer.status_code == 400 and error["type"] == "invalid_request_error" and error["param"] == field
    else:
        assert answer.status_code == 422 and error["type"] == "invalid_request" and error["field"] == field
    assert error["message"].startswith(f"{field}: contains a {problem}: ")


def test_emoji_and_any_script_chat_and_come_back_exactly_in_the_history(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    message = "\U0001F600 \U0001F44D\U0001F3FD 你好 שלום مرحبا 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"

    answer = post_raw_json(client, "/v1/chat", {"message": message}, me)

    assert answer.status_code == 200, answer.text
    history = client.get(f"/v1/sessions/{answer.json()['session_id']}", headers=me).json()
    assert history["turns"][0]["text"] == message


@pytest.mark.parametrize(("query", "code_point"), [("%F4%8F%BF%BF", "U+10FFFF"), ("loan%00", "U+0000"),
                                                   ("%EF%BF%BE", "U+FFFE")])
def test_a_search_for_noncharacters_or_controls_is_422_naming_q(client, keys, query, code_point):
    answer = client.get(f"/v1/products/search?q={query}", headers=bearer(keys["developer"]))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "q" and code_point in answer.json()["error"]["message"]


def test_an_audit_filter_with_a_control_character_is_422_naming_it(client, keys):
    answer = client.get("/v1/audit?customer_id=C1%07", headers=bearer(keys["admin"]))
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "customer_id"


def test_a_refused_message_to_a_handed_off_conversation_is_not_stored(client, keys, customers):
    me = widget_token(client, keys, customers[0])
    session_id = client.post("/v1/handoffs", json={}, headers=me).json()["session_id"]
    before = client.get(f"/v1/sessions/{session_id}", headers=me).json()["turns"]

    answer = post_raw_json(client, "/v1/chat/completions", completion_asking("still there? \ud83d") | {
        "session_id": session_id}, me)

    assert answer.status_code == 400
    after = client.get(f"/v1/sessions/{session_id}", headers=me)
    assert after.status_code == 200 and after.json()["turns"] == before


def test_a_session_and_hand_off_stored_with_a_lone_surrogate_read_back_with_a_replacement_character(bank, client,
                                                                                                   keys, customers):
    """Text stored before input was checked: the history and the queue show U+FFFD in its place instead of a 500."""
    from assistant import handoffs
    from assistant.sessions import Session

    sessions = bank[1].engine.sessions
    session = Session("storedbeforecheck", f"customer:{customers[0]}", customers[0], created_at="2026-01-01T00:00:00")
    session.turns.append({"role": "user", "text": "hello \ud83d", "at": 1.0})
    sessions.save(session)
    handoffs.request_handoff(client.app.state.store, session, "hello \ud83d")

    history = client.get("/v1/sessions/storedbeforecheck", headers=widget_token(client, keys, customers[0]))
    queue = client.get("/v1/handoffs", headers=bearer(keys["agent"]))

    assert history.status_code == 200 and history.json()["turns"][0]["text"] == "hello \ufffd"
    assert queue.status_code == 200
    assert {"session_id": "storedbeforecheck", "reason": "hello \ufffd"}.items() <= next(
        row for row in queue.json()["handoffs"] if row["session_id"] == "storedbeforecheck").items()


@pytest.mark.parametrize("authorization", [b"Bearer fwt.xx.\xff", b"Bearer fwt.\xff\xfe.c2ln", b"Bearer fargo_\xff",
                                           b"Bearer \xc3\xa9t\xc3\xa9", b"Bearer fwt.e30.\xe9\xe9\xe9"])
def test_a_credential_with_non_ascii_bytes_gets_401(client, authorization):
    answer = client.get("/v1/products/search", params={"q": "loan"}, headers={"Authorization": authorization})

    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["type"] == "unauthorized" and answer.headers["WWW-Authenticate"] == "Bearer"


# --- OpenAI compatibility ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(bank):
    """The app on a free loopback port, served by uvicorn in a thread."""
    config = uvicorn.Config(build_app(bank, requests_per_minute=10_000), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    key, _ = create_key(server.config.app.state.store, "agent", "openai client")
    yield f"http://127.0.0.1:{port}/v1", key
    server.should_exit = True
    thread.join(timeout=10)


def test_the_openai_client_gets_a_completion_with_the_explanation(served, customers):
    from openai import OpenAI

    base_url, key = served
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0)
    completion = client.chat.completions.create(
        model="fargo", messages=[{"role": "user", "content": "what should I offer this customer?"}],
        extra_body={"customer_id": customers[0]},
    )
    assert completion.choices[0].message.content
    assert completion.model_extra["fargo_explanation"]["intent"]
    assert completion.model_extra["fargo_session_id"]


def test_the_openai_client_streams_chunks_that_join_to_the_answer(served):
    from openai import OpenAI

    base_url, key = served
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="fargo", messages=[{"role": "user", "content": "what is a HELOC?"}], stream=True,
    ))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["fargo_explanation"]["intent"]


def test_uvicorn_answers_a_widget_token_with_a_non_ascii_signature_with_401(served):
    import http.client

    base_url, _ = served
    connection = http.client.HTTPConnection(base_url.split("/")[2], timeout=10)
    connection.putrequest("GET", "/v1/products/search?q=loan")
    connection.putheader("Authorization", b"Bearer fwt.xx.\xff")
    connection.endheaders()
    answer = connection.getresponse()

    assert answer.status == 401 and b"unauthorized" in answer.read()
    connection.close()


# --- failures ---------------------------------------------------------------------------------------------------------


def go_live(store, run_id: str) -> None:
    """Publish a live pointer as a completed ingestion run would."""
    store["meta"].replace_one({"_id": "live"}, {"_id": "live", "run_id": run_id, "graph_file": "g"}, upsert=True)


def failing_app(tmp_path, problem: Exception):
    def open_runtime(_settings):
        raise problem

    return TestClient(create_app(Settings(data_dir=tmp_path), open_runtime=open_runtime), raise_server_exceptions=False)


def test_a_store_failure_is_503_with_its_message(tmp_path):
    from retrieval.errors import StoreUnavailable

    with failing_app(tmp_path, StoreUnavailable("MongoDB at db1:27017 is unreachable")) as app:
        key, _ = create_key(app.app.state.store, "developer", "dev")
        go_live(app.app.state.store, "run-1")
        answer = app.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key))
    assert answer.status_code == 503
    assert "MongoDB at db1:27017 is unreachable" in answer.json()["error"]["message"]


def test_an_unexpected_error_is_500_without_a_trace_or_its_message(tmp_path):
    with failing_app(tmp_path, RuntimeError("secret internals")) as app:
        key, _ = create_key(app.app.state.store, "developer", "dev")
        go_live(app.app.state.store, "run-1")
        answer = app.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key))
    assert answer.status_code == 500
    assert "secret internals" not in answer.text and "Traceback" not in answer.text


def test_a_staff_follow_up_without_a_tool_call_is_still_audited(client, keys, customers):
    customer = customers[1]
    agent = bearer(keys["agent"])
    first = client.post("/v1/chat", json={"message": "recommend something", "customer_id": customer}, headers=agent)
    before = len(audit_entries(client, keys, customer_id=customer, allowed=True, limit=1000))

    client.post("/v1/chat", json={"message": "why?", "session_id": first.json()["session_id"]}, headers=agent)

    assert len(audit_entries(client, keys, customer_id=customer, allowed=True, limit=1000)) == before + 1


def test_a_newer_ingestion_run_going_live_is_picked_up_by_the_next_request(tmp_path):
    from types import SimpleNamespace

    opened: list[SimpleNamespace] = []

    def open_runtime(settings):
        pointer = app.state.store["meta"].find_one({"_id": "live"})
        runtime = SimpleNamespace(ctx=SimpleNamespace(run_id=pointer["run_id"]), closed=False,
                                  engine=SimpleNamespace(tools=SimpleNamespace(call=lambda *a, **k: [])))
        runtime.close = lambda: setattr(runtime, "closed", True)
        opened.append(runtime)
        return runtime

    app = create_app(Settings(data_dir=tmp_path), live_check_interval_s=0, open_runtime=open_runtime)
    with TestClient(app) as served:
        key, _ = create_key(app.state.store, "developer", "dev")
        go_live(app.state.store, "run-1")
        for _ in range(2):
            assert served.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key)).status_code == 200
        go_live(app.state.store, "run-2")
        served.get("/v1/products/search", params={"q": "loan"}, headers=bearer(key))

        assert [runtime.ctx.run_id for runtime in opened] == ["run-1", "run-2"]
        assert app.state.runtime is opened[1] and not opened[0].closed
    assert all(runtime.closed for runtime in opened)
