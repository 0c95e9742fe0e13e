"""The agent console's pages on a small ingested bank: sign-in, search, the customer page, chat, hand-offs, audit,
the supervisors' figures."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from ingested_bank import build_app

from assistant.api.app import create_app
from assistant.auth import create_key, mint_widget_token, revoke_key
from assistant.console.sessions import CONSOLE_SESSIONS, SESSION_COOKIE

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_FIELD = re.compile(r'name="session_id" value="([^"]*)"')
PAGES = ["/console/customers", "/console/customers/C0000001", "/console/handoffs", "/console/audit"]


@pytest.fixture(scope="module")
def app(bank):
    application = build_app(bank, requests_per_minute=10_000)
    with TestClient(application):  # runs the lifespan: the store stays open for every client below
        yield application


@pytest.fixture(scope="module")
def keys(app):
    return {role: create_key(app.state.store, role, f"{role.title()} Tester")[0]
            for role in ("developer", "agent", "supervisor", "admin")}


@pytest.fixture
def agent(app, keys) -> TestClient:
    return signed_in(app, keys["agent"])


@pytest.fixture
def admin(app, keys) -> TestClient:
    return signed_in(app, keys["admin"])


@pytest.fixture(scope="module")
def family_customer(bank) -> tuple[str, list]:
    """A customer with relatives of known age, one who consents to share and one who does not."""
    runtime = bank[1]
    for doc in runtime.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)]):
        relatives = runtime.engine.tools.relatives(runtime.ctx, doc["_id"])
        consents = {view.consent_to_share for view in relatives if view.age_band}
        if consents == {True, False}:
            return doc["_id"], relatives
    pytest.fail("the test bank has no customer with both a consenting and a non-consenting relative")


def browser(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    return CSRF_FIELD.search(html).group(1)


def sign_in_attempt(client: TestClient, credential: str, next_page: str = "/console/customers"):
    form = client.get("/console/login")
    return client.post("/console/login", data={"api_key": credential, "csrf_token": csrf_of(form.text),
                                               "next": next_page})


def signed_in(app, key: str) -> TestClient:
    client = browser(app)
    answer = sign_in_attempt(client, key)
    assert answer.status_code == 303, answer.text
    return client


def page_csrf(client: TestClient, path: str = "/console/customers") -> str:
    return csrf_of(client.get(path).text)


def first_customer(app) -> dict:
    return app.state.store["customers"].find({}, sort=[("_id", 1)], limit=1)[0]


# --- signing in ---------------------------------------------------------------------------------------------------------


def test_an_agent_key_signs_in_to_the_customer_search(app, keys):
    client = browser(app)
    answer = sign_in_attempt(client, keys["agent"])

    assert answer.status_code == 303 and answer.headers["location"] == "/console/customers"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    search = client.get("/console/customers")
    assert search.status_code == 200
    assert "Find a customer" in search.text and "Agent Tester" in search.text


def test_the_session_cookie_is_stored_only_as_its_hash_with_an_expiry(app, agent):
    token = agent.cookies[SESSION_COOKIE]
    stored = app.state.store[CONSOLE_SESSIONS].find_one({"_id": hashlib.sha256(token.encode()).hexdigest()})

    assert stored is not None and token not in str(stored)
    assert 8 * 3600 - 60 < stored["expires_at"] - stored["created_at"] <= 8 * 3600


def test_a_developer_key_is_refused_with_a_message(app, keys):
    client = browser(app)
    answer = sign_in_attempt(client, keys["developer"])

    assert answer.status_code == 403
    assert "A developer key cannot open the console" in answer.text
    assert client.get("/console/customers").status_code == 303


def test_a_customer_widget_token_cannot_open_the_console(app):
    token, _ = mint_widget_token(app.state.token_secret(), first_customer(app)["_id"], 600)
    client = browser(app)
    answer = sign_in_attempt(client, token)

    assert answer.status_code == 403
    assert "Customer tokens cannot open the console" in answer.text
    assert client.get("/console/customers").status_code == 303


def test_an_unknown_key_is_refused(app):
    answer = sign_in_attempt(browser(app), "fargo_not-a-real-key")

    assert answer.status_code == 401 and "not valid or has been revoked" in answer.text


def test_an_address_trying_many_bad_keys_gets_429_with_retry_after_even_for_a_good_key(bank, keys):
    settings, runtime = bank
    application = create_app(settings.model_copy(update={"auth_failure_limit": 3}), open_runtime=lambda _: runtime)
    with TestClient(application, follow_redirects=False) as guesser:
        refused = [sign_in_attempt(guesser, f"fargo_guess-{n}").status_code for n in range(3)]
        blocked = sign_in_attempt(guesser, keys["agent"])
        elsewhere = sign_in_attempt(TestClient(application, follow_redirects=False, client=("198.51.100.20", 40000)),
                                    keys["agent"])

    assert refused == [401, 401, 401]
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "Too many attempts" in blocked.text
    assert elsewhere.status_code == 303


def test_sign_in_attempts_over_the_request_rate_get_429_with_retry_after(bank, keys):
    with TestClient(build_app(bank, requests_per_minute=1, burst=1), follow_redirects=False) as client:
        first = sign_in_attempt(client, "fargo_typo")
        second = sign_in_attempt(client, keys["agent"])

    assert first.status_code == 401
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1


def test_a_sign_in_post_without_the_forms_token_is_refused(app, keys):
    answer = browser(app).post("/console/login", data={"api_key": keys["agent"]})

    assert answer.status_code == 403 and "expired" in answer.text


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_send_a_visitor_without_a_session_to_sign_in(app, path):
    answer = browser(app).get(path)

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=")


def test_after_sign_in_the_agent_lands_on_the_page_they_asked_for_but_never_off_the_console(app, keys):
    customer_id = first_customer(app)["_id"]
    assert sign_in_attempt(browser(app), keys["agent"], f"/console/customers/{customer_id}").headers["location"] == (
        f"/console/customers/{customer_id}")
    assert sign_in_attempt(browser(app), keys["agent"], "//evil.example/x").headers["location"] == "/console/customers"


def test_signing_out_ends_the_session(app, agent):
    cookie = agent.cookies[SESSION_COOKIE]
    assert agent.post("/console/logout", data={"csrf_token": page_csrf(agent)}).status_code == 303

    stale = browser(app)
    stale.cookies.set(SESSION_COOKIE, cookie, path="/console")
    assert stale.get("/console/customers").status_code == 303


def test_revoking_the_key_ends_its_console_session(app):
    key, record = create_key(app.state.store, "agent", "Soon Revoked")
    client = signed_in(app, key)
    assert client.get("/console/customers").status_code == 200

    revoke_key(app.state.store, record["_id"])
    assert client.get("/console/customers").status_code == 303


def test_a_session_past_its_eight_hours_sends_the_agent_back_to_sign_in(app, agent):
    hashed = hashlib.sha256(agent.cookies[SESSION_COOKIE].encode()).hexdigest()
    app.state.store[CONSOLE_SESSIONS].update_one({"_id": hashed}, {"$set": {"expires_at": 1.0}})

    assert agent.get("/console/customers").status_code == 303


def test_a_form_without_the_sessions_csrf_token_changes_nothing(app, agent):
    customer_id = first_customer(app)["_id"]
    before = app.state.store["sessions"].count_documents({})
    forged = agent.post(f"/console/customers/{customer_id}/chat", data={"message": "hello", "csrf_token": "forged"})

    assert forged.status_code == 403 and "security token" in forged.text
    assert app.state.store["sessions"].count_documents({}) == before
    assert agent.post("/console/logout", data={}).status_code == 403
    assert agent.get("/console/customers").status_code == 200  # still signed in


# --- search and the customer page -------------------------------------------------------------------------------------


def test_search_finds_customers_by_last_name_prefix_and_opens_an_exact_id(app, agent):
    customer = first_customer(app)
    found = agent.get("/console/customers", params={"q": customer["last_name"][:3].lower()})

    assert found.status_code == 200
    assert f'href="/console/customers/{customer["_id"]}"' in found.text
    both = agent.get("/console/customers", params={"q": f"{customer['first_name']} {customer['last_name'][:2]}"})
    assert f'/console/customers/{customer["_id"]}"' in both.text
    exact = agent.get("/console/customers", params={"q": customer["_id"].lower()})
    assert exact.status_code == 303 and exact.headers["location"] == f"/console/customers/{customer['_id']}"


def test_a_search_too_long_or_matching_nothing_says_so(agent):
    too_long = agent.get("/console/customers", params={"q": "x" * 101})
    assert too_long.status_code == 422 and "at most 100 characters" in too_long.text
    assert "No customer matches" in agent.get("/console/customers", params={"q": "Zzyzx"}).text


def test_the_customer_page_shows_profile_spending_chart_family_graph_and_recommendations(agent, family_customer):
    customer_id, relatives = family_customer
    page = agent.get(f"/console/customers/{customer_id}")

    assert page.status_code == 200
    html = page.text
    assert "Profile" in html and "year-old" in html  # the features' profile summary
    assert re.search(r'<svg role="img" aria-label="Spending by category per month, [A-Z][a-z]{2} \d\d to ', html)
    assert "<table>" in html and "12 months</th>" in html  # the chart's data as a table
    assert re.search(r'<svg role="img" aria-label="Family graph of ', html)
    for view in relatives:
        if view.age_band:
            assert f"{view.relation} · {view.age_band}</text>" in html  # a node label drawn as SVG text
    assert "consent to share: yes</text>" in html and "consent to share: no</text>" in html
    for title in ("For the customer", "For their family", "Healthcare"):
        assert f">{title}</h3>" in html
    assert html.count('<ul class="reasons">') >= 1


def test_an_unknown_customer_is_a_404_page_naming_the_id(agent):
    page = agent.get("/console/customers/C9999999")

    assert page.status_code == 404 and "There is no customer with id C9999999." in page.text


def test_customer_page_views_and_chats_are_in_the_audit_log_for_admins(app, agent, admin, family_customer):
    customer_id, _ = family_customer
    agent.get(f"/console/customers/{customer_id}")
    chat_page = agent.get(f"/console/customers/{customer_id}")
    agent.post(f"/console/customers/{customer_id}/chat",
               data={"message": "what should they get?", "session_id": "", "csrf_token": csrf_of(chat_page.text)})

    log = admin.get("/console/audit", params={"customer_id": customer_id})
    assert log.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", log.text, re.S)
    assert any("Agent Tester" in row and "console: customer page" in row for row in rows)
    assert any("Agent Tester" in row and "console: chat" in row for row in rows)


def consent_shown(page: str, name: str) -> str:
    """The value the customer page's consent form shows selected for one consent."""
    select = re.search(rf'<select id="consent-{name}" name="{name}">(.*?)</select>', page, re.DOTALL).group(1)
    return re.search(r'<option value="(\w+)" selected>', select).group(1)


def last_customer(app) -> str:
    return app.state.store["customers"].find({}, {"_id": 1}, sort=[("_id", -1)], limit=1)[0]["_id"]


def test_an_agent_changes_a_consent_on_the_customer_page_and_the_change_is_audited(app, agent, admin):
    customer_id = last_customer(app)
    store = app.state.store
    store["customers"].update_one({"_id": customer_id}, {"$set": {"consent.marketing": True, "consent.profiling": True}})
    page = agent.get(f"/console/customers/{customer_id}")
    assert consent_shown(page.text, "marketing") == "yes" and consent_shown(page.text, "profiling") == "yes"

    saved = agent.post(f"/console/customers/{customer_id}/consents",
                       data={"csrf_token": csrf_of(page.text), "marketing": "no", "profiling": "yes"})

    assert saved.status_code == 303 and saved.headers["location"].endswith("#consents")
    after = agent.get(f"/console/customers/{customer_id}")
    assert consent_shown(after.text, "marketing") == "no" and consent_shown(after.text, "profiling") == "yes"
    assert store["customers"].find_one({"_id": customer_id})["consent"]["marketing"] is False
    log = admin.get("/console/audit", params={"customer_id": customer_id}).text
    rows = re.findall(r"<tr>(.*?)</tr>", log, re.DOTALL)
    assert sum("Agent Tester" in row and "consent:marketing:withdrawn" in row for row in rows) == 1
    assert not any("consent:profiling" in row for row in rows)  # unchanged: nothing to audit


@pytest.mark.parametrize(("form", "message"), [
    ({"marketing": "maybe"}, "marketing: choose yes or no, not &#39;maybe&#39;"),
    ({}, "choose yes or no for at least one consent"),
])
def test_a_consent_form_with_a_bad_value_is_a_422_page_saying_what_to_fix(app, agent, form, message):
    customer_id = last_customer(app)
    before = app.state.store["customers"].find_one({"_id": customer_id})["consent"]
    page = agent.get(f"/console/customers/{customer_id}")

    refused = agent.post(f"/console/customers/{customer_id}/consents", data={"csrf_token": csrf_of(page.text), **form})

    assert refused.status_code == 422 and message in refused.text
    assert app.state.store["customers"].find_one({"_id": customer_id})["consent"] == before


def test_a_consent_form_without_the_sessions_token_changes_nothing(app, agent):
    customer_id = last_customer(app)
    before = app.state.store["customers"].find_one({"_id": customer_id})["consent"]

    refused = agent.post(f"/console/customers/{customer_id}/consents", data={"csrf_token": "forged", "marketing": "no",
                                                                             "profiling": "no"})

    assert refused.status_code == 403
    assert app.state.store["customers"].find_one({"_id": customer_id})["consent"] == before


def test_the_audit_log_is_for_admins_only(agent):
    page = agent.get("/console/audit")

    assert page.status_code == 403 and "The audit log is for admins" in page.text
    assert 'href="/console/audit"' not in page.text  # not offered in the agent's nav either


def test_the_chat_panel_asks_fargo_and_keeps_the_conversation(agent, family_customer):
    customer_id, _ = family_customer
    page = agent.get(f"/console/customers/{customer_id}")
    asked = agent.post(f"/console/customers/{customer_id}/chat", follow_redirects=True,
                       data={"message": "what card suits their spending?", "session_id": "",
                             "csrf_token": csrf_of(page.text)})

    assert asked.status_code == 200
    session_id = SESSION_FIELD.search(asked.text).group(1)
    assert session_id and "what card suits their spending?" in asked.text
    assert asked.text.count('class="turn turn-assistant"') == 1
    again = agent.post(f"/console/customers/{customer_id}/chat", follow_redirects=True,
                       data={"message": "why?", "session_id": session_id, "csrf_token": csrf_of(asked.text)})
    assert SESSION_FIELD.search(again.text).group(1) == session_id
    assert again.text.count('class="turn turn-assistant"') == 2


def test_the_chat_panel_cannot_move_another_customers_conversation_to_this_customer(app, agent, family_customer):
    customer_id, _ = family_customer
    other = next(doc["_id"] for doc in app.state.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)])
                 if doc["_id"] != customer_id)
    page = agent.get(f"/console/customers/{other}")
    asked = agent.post(f"/console/customers/{other}/chat", follow_redirects=True,
                       data={"message": "what card suits their spending?", "session_id": "",
                             "csrf_token": csrf_of(page.text)})
    session_id = SESSION_FIELD.search(asked.text).group(1)

    moved = agent.post(f"/console/customers/{customer_id}/chat",
                       data={"message": "why?", "session_id": session_id, "csrf_token": csrf_of(asked.text)})

    assert moved.status_code == 409 and "start a new session" in moved.text
    assert SESSION_FIELD.search(moved.text).group(1) == ""  # the next question starts this customer's own session
    stored = app.state.store["sessions"].find_one({"_id": session_id})
    assert stored["customer_id"] == other and len(stored["turns"]) == 2


def test_an_empty_chat_question_is_a_message_on_the_page(agent, family_customer):
    customer_id, _ = family_customer
    page = agent.get(f"/console/customers/{customer_id}")
    asked = agent.post(f"/console/customers/{customer_id}/chat",
                       data={"message": "  ", "session_id": "", "csrf_token": csrf_of(page.text)})

    assert asked.status_code == 422 and "message is empty" in asked.text


def test_campaign_posts_product_names_and_questions_are_shown_as_text(app, agent):
    customer_id = first_customer(app)["_id"]
    app.state.store["leads"].insert_one({
        "_id": f"{customer_id}:PXSS:CMPXSS", "customer_id": customer_id, "product_id": "PXSS",
        "campaign_id": "CMPXSS", "product_name": "<img src=x onerror=alert(1)> Card", "campaign_name": "Spring",
        "score": 0.9, "reason": 'Wrote on twitter: "<script>alert(2)</script> need a card"',
        "opening_line": "Hi there", "marketing_consent": True,
    })
    page = agent.get(f"/console/customers/{customer_id}")
    asked = agent.post(f"/console/customers/{customer_id}/chat", follow_redirects=True,
                       data={"message": "<script>alert(3)</script>", "session_id": "",
                             "csrf_token": csrf_of(page.text)})

    for html in (page.text, asked.text):
        assert "&lt;img src=x onerror=alert(1)&gt; Card" in html
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
        assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in asked.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all


# --- hand-offs ----------------------------------------------------------------------------------------------------------


def customer_asks_for_a_person(app, keys, reason: str) -> tuple[str, dict]:
    """A customer's widget conversation handed to the queue over the API: (session id, their headers)."""
    api = TestClient(app)
    minted = api.post("/v1/widget/tokens", json={"customer_id": first_customer(app)["_id"], "ttl_s": 600},
                      headers={"Authorization": f"Bearer {keys['developer']}"})
    me = {"Authorization": f"Bearer {minted.json()['token']}"}
    session_id = api.post("/v1/chat", json={"message": "hello"}, headers=me).json()["session_id"]
    asked = api.post("/v1/handoffs", json={"session_id": session_id, "reason": reason}, headers=me)
    assert asked.status_code == 201, asked.text
    return session_id, me


def test_a_fraud_report_typed_in_chat_heads_the_queue_marked_urgent(app, keys, agent):
    customer_asks_for_a_person(app, keys, "a question about my statement")
    api = TestClient(app)
    minted = api.post("/v1/widget/tokens", json={"customer_id": first_customer(app)["_id"], "ttl_s": 600},
                      headers={"Authorization": f"Bearer {keys['developer']}"})
    told = api.post("/v1/chat", json={"message": "someone used my card to buy things online"},
                    headers={"Authorization": f"Bearer {minted.json()['token']}"})
    assert told.json()["handoff"] is True and told.json()["recommendations"] == []

    rows = re.findall(r"<tr( class=\"urgent\")?>\s*<td>.*?</td>\s*<td class=\"kind\">(.*?)</td>\s*<td class=\"reason\">(.*?)</td>",
                      agent.get("/console/handoffs").text, re.DOTALL)
    assert rows[0] == (' class="urgent"', '<strong class="status status-urgent">Urgent</strong> Possible fraud',
                       "someone used my card to buy things online")
    assert ("", "Asked for a person", "a question about my statement") in rows


def test_an_agent_picks_up_a_hand_off_and_the_reply_reaches_the_customers_session(app, keys, agent):
    session_id, me = customer_asks_for_a_person(app, keys, "I need help with a <b>payment</b>")
    queue = agent.get("/console/handoffs")
    assert "I need help with a &lt;b&gt;payment&lt;/b&gt;" in queue.text and ">Pick up</button>" in queue.text

    picked = agent.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": csrf_of(queue.text)})
    assert picked.status_code == 303 and picked.headers["location"] == f"/console/handoffs/{session_id}"
    conversation = agent.get(f"/console/handoffs/{session_id}")
    assert '<label for="reply-text">Reply</label>' in conversation.text and ">Send reply</button>" in conversation.text
    replied = agent.post(f"/console/handoffs/{session_id}/reply",
                         data={"reply": "Hi, I'm Agent Tester: how can I help?", "csrf_token": csrf_of(conversation.text)})
    assert replied.status_code == 303

    turns = TestClient(app).get(f"/v1/sessions/{session_id}", headers=me).json()["turns"]
    assert turns[-1] | {"at": None} == {"role": "agent", "text": "Hi, I'm Agent Tester: how can I help?",
                                         "agent": "Agent Tester", "at": None, "intent": None,
                                         "recommendations": [], "handoff": False}
    assert "Hi, I&#39;m Agent Tester: how can I help?" in agent.get(f"/console/handoffs/{session_id}").text


def test_a_hand_off_another_agent_has_cannot_be_picked_up_and_says_so(app, keys, agent, admin):
    session_id, _ = customer_asks_for_a_person(app, keys, "card stolen")
    assert admin.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": page_csrf(admin)}).status_code == 303

    late = agent.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": page_csrf(agent)})
    assert late.status_code == 409 and "can no longer be picked up" in late.text
    assert "Admin Tester is handling this conversation" in agent.get(f"/console/handoffs/{session_id}").text


def test_closing_a_hand_off_takes_it_off_the_queue(app, keys, agent):
    session_id, _ = customer_asks_for_a_person(app, keys, "close me")
    agent.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": page_csrf(agent)})
    closed = agent.post(f"/console/handoffs/{session_id}/close", data={"csrf_token": page_csrf(agent)})

    assert closed.status_code == 303
    assert f"/console/handoffs/{session_id}" not in agent.get("/console/handoffs").text


def test_an_empty_reply_is_a_message_on_the_conversation_page(app, keys, agent):
    session_id, _ = customer_asks_for_a_person(app, keys, "empty reply")
    agent.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": page_csrf(agent)})
    empty = agent.post(f"/console/handoffs/{session_id}/reply", data={"reply": " ", "csrf_token": page_csrf(agent)})

    assert empty.status_code == 422 and "reply is empty" in empty.text


def test_an_unknown_hand_off_is_a_404_page(agent):
    page = agent.get("/console/handoffs/nope")

    assert page.status_code == 404 and "There is no hand-off for conversation nope." in page.text


# --- hostile text -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "code_point"), [("%F4%8F%BF%BF", "U+10FFFF"), ("Wri%EF%BF%BE", "U+FFFE"),
                                                   ("Wri%00", "U+0000"), ("%ED%A0%BD%F4%8F%BF%BF", "U+10FFFF")])
def test_a_search_for_noncharacters_or_controls_is_a_422_page_naming_them(agent, query, code_point):
    page = agent.get(f"/console/customers?q={query}")

    assert page.status_code == 422 and "Please check what you entered" in page.text
    assert "q contains a " in page.text and code_point in page.text


def test_a_chat_panel_question_with_a_noncharacter_is_refused_and_nothing_is_stored(app, agent, family_customer):
    customer_id, _ = family_customer
    page = agent.get(f"/console/customers/{customer_id}")
    before = app.state.store["sessions"].count_documents({})

    asked = agent.post(f"/console/customers/{customer_id}/chat",
                       data={"message": "what card \uffff?", "session_id": "", "csrf_token": csrf_of(page.text)})

    assert asked.status_code == 422
    assert "message contains a noncharacter (U+FFFF) at position 10: remove it" in asked.text
    assert app.state.store["sessions"].count_documents({}) == before


def test_a_sign_in_with_a_control_character_is_refused_naming_the_field(app):
    page = sign_in_attempt(browser(app), "fargo_\x1bkey")

    assert page.status_code == 422 and "api_key contains a control character (U+001B) at position 6" in page.text


def test_a_hand_off_reply_with_a_nul_is_refused_and_not_sent(app, keys, agent):
    session_id, me = customer_asks_for_a_person(app, keys, "help please")
    queue = agent.get("/console/handoffs")
    agent.post(f"/console/handoffs/{session_id}/pick-up", data={"csrf_token": csrf_of(queue.text)})
    conversation = agent.get(f"/console/handoffs/{session_id}")

    replied = agent.post(f"/console/handoffs/{session_id}/reply",
                         data={"reply": "Hi\x00there", "csrf_token": csrf_of(conversation.text)})

    assert replied.status_code == 422 and "reply contains a control character (U+0000) at position 2" in replied.text
    turns = TestClient(app).get(f"/v1/sessions/{session_id}", headers=me).json()["turns"]
    assert all(turn["role"] != "agent" for turn in turns)


def test_pages_show_a_conversation_stored_with_a_lone_surrogate_with_a_replacement_character(app, bank, agent):
    """Text stored before input was checked: the customer, hand-off queue and conversation pages still show."""
    from assistant import handoffs
    from assistant.sessions import Session

    customer_id = first_customer(app)["_id"]
    session = Session("consolestoredbeforecheck", f"customer:{customer_id}", customer_id,
                      created_at="2026-01-01T00:00:00")
    session.turns.append({"role": "user", "text": "hello \ud83d there", "at": 1.0})
    bank[1].engine.sessions.save(session)
    handoffs.request_handoff(app.state.store, session, "hello \ud83d there")

    pages = [agent.get(f"/console/customers/{customer_id}?session=consolestoredbeforecheck"),
             agent.get("/console/handoffs"), agent.get("/console/handoffs/consolestoredbeforecheck")]

    for page in pages:
        assert page.status_code == 200 and "hello \ufffd there" in page.text


# --- the supervisors' figures -------------------------------------------------------------------------------------------

FIGURES_DAY = {"from": "2020-02-03", "to": "2020-02-03"}  # a day no other test has conversations on


def seed_figures_day(app) -> None:
    """Two customer conversations on FIGURES_DAY: one Fargo served, one it could not, handed off and rated 4."""
    from assistant.sessions import Session

    sessions, store = app.state.runtime.engine.sessions, app.state.store
    for number, (intent, unserved) in enumerate([("personal_recommendation", None), ("out_of_scope", "out_of_scope")]):
        session = Session(f"figures{number}", f"customer:C{number}", f"C{number}",
                          created_at=f"2020-02-03T10:0{number}:00+00:00")
        at = 1580724000.0 + number * 60  # 2020-02-03 10:00 UTC
        session.turns = [{"role": "user", "text": f"question {number} from sam@example.com", "at": at},
                         {"role": "assistant", "text": "...", "at": at, "intent": intent, "unserved": unserved}]
        sessions.save(session)
    store["handoffs"].insert_one({"_id": "figures1", "kind": "unserved", "status": "closed",
                                  "requested_at": "2020-02-03T10:01:00+00:00", "picked_at": "2020-02-03T10:04:00+00:00"})
    store["sessions"].update_one({"_id": "figures1"}, {"$set": {"rating": {"score": 4, "at": "2020-02-03T11:00:00+00:00"}}})


def signed_in_supervisor(app, keys) -> TestClient:
    return signed_in(app, keys["supervisor"])


def test_a_supervisor_sees_each_figure_as_a_chart_with_its_table(app, keys):
    seed_figures_day(app)
    page = signed_in_supervisor(app, keys).get("/console/figures", params=FIGURES_DAY)

    assert page.status_code == 200
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page.text))
    assert facts["Conversations"] == "2" and facts["Handled without a person"] == "50%"
    assert facts["Wait: median / p90"] == "3 min / 3 min" and facts["Satisfaction"] == "4.0 / 5 (1 rated)"
    assert page.text.count('<svg role="img"') == 5 and page.text.count("<table>") == 6
    assert "question 1 from [EMAIL_1]" in page.text and "sam@example.com" not in page.text
    assert 'href="/console/figures"' in page.text  # offered in the supervisor's nav


def test_a_customer_chat_counts_at_once_and_an_agents_own_chat_does_not(app, keys, agent, family_customer):
    supervisor = signed_in_supervisor(app, keys)

    def conversations() -> int:
        return int(re.search(r"<dt>Conversations</dt><dd>(\d+)</dd>", supervisor.get("/console/figures?days=1").text)[1])

    before = conversations()
    token, _ = mint_widget_token(app.state.token_secret(), family_customer[0], 600)
    api = TestClient(app)
    said = api.post("/v1/chat", json={"message": "hello"}, headers={"Authorization": f"Bearer {token}"})
    assert said.status_code == 200, said.text
    chat_page = agent.get(f"/console/customers/{family_customer[0]}")
    agent.post(f"/console/customers/{family_customer[0]}/chat",
               data={"message": "hello", "session_id": "", "csrf_token": csrf_of(chat_page.text)})

    assert conversations() == before + 1


def test_an_empty_period_says_so_instead_of_drawing_charts(app, keys):
    page = signed_in_supervisor(app, keys).get("/console/figures", params={"from": "2019-05-01", "to": "2019-05-02"})

    assert page.status_code == 200 and "<svg" not in page.text
    assert "No conversations in this period." in page.text and "Every message in this period was served." in page.text


def test_figures_are_refused_to_agents_and_the_refusal_is_audited(app, agent, admin):
    page = agent.get("/console/figures")

    assert page.status_code == 403 and "for supervisors and admins" in page.text
    assert 'href="/console/figures"' not in page.text
    assert admin.get("/console/figures?days=30").status_code == 200
    log = admin.get("/console/audit", params={"allowed": "no"})
    assert "console: /console/figures" in log.text


@pytest.mark.parametrize(("query", "message"), [
    ("days=90", "days must be one of 1, 7, 30, not &#39;90&#39;"),
    ("from=2026-02-10&to=2026-02-01", "to (2026-02-01) is before from (2026-02-10)"),
    ("from=yesterday&to=2026-02-01", "from &#39;yesterday&#39; is not a date: write it as YYYY-MM-DD"),
])
def test_a_bad_period_is_a_422_page_saying_what_to_fix(app, keys, query, message):
    page = signed_in_supervisor(app, keys).get(f"/console/figures?{query}")

    assert page.status_code == 422 and message in page.text
