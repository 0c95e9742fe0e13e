"""The agent console in a real browser (Debian's Chromium under Playwright) against a served, ingested bank.

Screenshots of the pages go to test-artifacts/screenshots.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from live_app import make_bank, serve
from playwright.sync_api import expect

from assistant.auth import create_key, mint_widget_token

XSS_POST = ('I travel a lot and want travel rewards with no foreign transaction fees '
            '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>')
XSS_PRODUCT_SUFFIX = ' <img src=x onerror="window.__xss=2">'
XSS_CUSTOMER = "C0000001"


def sign_in(page, site, credential: str) -> None:
    page.goto(f"{site.base_url}/console/login")
    page.get_by_label("Agent API key").fill(credential)
    page.get_by_role("button", name="Sign in").click()


def customer_with_relatives(site) -> dict:
    first = site.store["relationships"].find({}, {"customer_id": 1}, sort=[("customer_id", 1)], limit=1)[0]
    return site.store["customers"].find_one({"_id": first["customer_id"]})


def test_an_agent_finds_a_customer_sees_spending_and_family_and_asks_fargo(page, demo_site, screenshots):
    customer = customer_with_relatives(demo_site)
    sign_in(page, demo_site, demo_site.agent_key)
    page.get_by_label("Name or customer id").fill(customer["last_name"])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("row").filter(has_text=customer["_id"]).get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{customer['first_name']} {customer['last_name']}")
    chart = page.get_by_role("img", name=re.compile("Spending by category per month"))
    expect(chart).to_be_visible()
    assert chart.evaluate("element => element.tagName") == "svg"
    family = page.get_by_role("img", name=re.compile("Family graph of"))
    expect(family).to_be_visible()
    expect(family).to_contain_text(re.compile(r"(spouse|child|parent|sibling) · (\d+-\d+|65\+)"))
    expect(family).to_contain_text("consent to share: yes")

    page.get_by_label("Your question").fill("what card suits their spending?")
    page.get_by_role("button", name="Ask Fargo").click()
    answer = page.locator(".turn-assistant .text")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(re.compile(r"\w+ \w+"))
    expect(page.locator(".turn-user .text")).to_have_text("what card suits their spending?")
    page.screenshot(path=screenshots / "console-customer.png", full_page=True)
    assert page.console_errors == []


def test_the_customer_page_fits_a_phone_screen(page, demo_site, screenshots):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, demo_site, demo_site.agent_key)
    page.goto(f"{demo_site.base_url}/console/customers/{customer_with_relatives(demo_site)['_id']}")

    expect(page.get_by_role("img", name=re.compile("Family graph of"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=screenshots / "console-customer-phone.png", full_page=True)


def test_a_customer_widget_token_typed_into_the_sign_in_form_is_refused(page, demo_site, screenshots):
    token, _ = mint_widget_token(demo_site.app.state.token_secret(), demo_site.first_customer_id(), 600)
    sign_in(page, demo_site, token)

    expect(page.get_by_role("alert")).to_have_text(
        "Customer tokens cannot open the console: sign in with an agent API key.")
    page.screenshot(path=screenshots / "console-login-refused.png")
    page.goto(f"{demo_site.base_url}/console/customers")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def customer_asks_for_a_person(site, reason: str) -> str:
    """The customer's side over the HTTP API on loopback: a chat, then "talk to a person"; returns the session id.

    Not the demo page's customer: the widget's own hand-off test looks for that customer's row in the queue.
    """
    demo_customer = site.demo_customer_id()
    someone_else = next(doc["_id"] for doc in site.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=2)
                        if doc["_id"] != demo_customer)
    token, _ = mint_widget_token(site.app.state.token_secret(), someone_else, 600)
    me = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=site.base_url, headers=me, timeout=60) as api:
        session_id = api.post("/v1/chat", json={"message": "hello"}).json()["session_id"]
        assert api.post("/v1/handoffs", json={"session_id": session_id, "reason": reason}).status_code == 201
    return session_id


def test_an_agent_picks_up_a_hand_off_from_the_queue_and_replies(page, demo_site, screenshots):
    session_id = customer_asks_for_a_person(demo_site, "I'd like to talk about my mortgage payments")
    sign_in(page, demo_site, demo_site.agent_key)
    page.get_by_role("link", name=re.compile("Hand-offs")).click()

    row = page.get_by_role("row").filter(has_text="talk about my mortgage payments")
    expect(row).to_contain_text("waiting")
    page.screenshot(path=screenshots / "console-handoffs.png", full_page=True)
    row.get_by_role("button", name="Pick up").click()
    page.get_by_label("Reply").fill("Hello, this is your agent. Let's look at your mortgage together.")
    page.get_by_role("button", name="Send reply").click()

    expect(page.locator(".turn-agent .text")).to_have_text(
        "Hello, this is your agent. Let's look at your mortgage together.")
    page.screenshot(path=screenshots / "console-handoff-conversation.png", full_page=True)
    page.get_by_role("button", name="Close hand-off").click()
    expect(page.get_by_role("row").filter(has_text="talk about my mortgage payments")).to_have_count(0)
    assert page.console_errors == []


def test_a_supervisor_sees_the_days_conversations_and_hand_offs_as_charts(page, demo_site, screenshots):
    customer_asks_for_a_person(demo_site, "A question about my statement")
    supervisor_key, _ = create_key(demo_site.store, "supervisor", "Sam Supervisor")
    sign_in(page, demo_site, supervisor_key)
    page.get_by_role("link", name="Figures").click()
    page.get_by_role("link", name="1 day").click()

    for name in ("Conversations per day", "Hand-offs by time waited", "Top intents"):
        chart = page.get_by_role("img", name=re.compile(name))
        expect(chart).to_be_visible()
        assert chart.evaluate("element => element.tagName") == "svg"
    conversations = page.locator("dt", has_text="Conversations").locator("xpath=following-sibling::dd")
    assert int(conversations.inner_text()) >= 1
    expect(page.locator("dd", has_text="waiting)")).to_contain_text(re.compile(r"[1-9]\d* waiting"))
    page.screenshot(path=screenshots / "console-figures.png", full_page=True)
    assert page.console_errors == []


def serious_accessibility_violations(page) -> list[tuple[str, str]]:
    from axe_playwright_python.sync_playwright import Axe

    page.locator("details").evaluate_all("elements => elements.forEach(element => element.open = true)")
    results = Axe().run(page)
    return [(violation["id"], violation["help"]) for violation in results.response["violations"]
            if violation["impact"] in ("serious", "critical")]


def test_console_pages_have_no_serious_accessibility_violations(page, demo_site):
    session_id = customer_asks_for_a_person(demo_site, "Please check my accessibility")
    page.goto(f"{demo_site.base_url}/console/login")
    found = {"login": serious_accessibility_violations(page)}
    sign_in(page, demo_site, demo_site.admin_key)
    page.goto(f"{demo_site.base_url}/console/customers/{customer_with_relatives(demo_site)['_id']}")
    page.get_by_label("Your question").fill("what could help their family?")
    page.get_by_role("button", name="Ask Fargo").click()
    expect(page.locator(".turn-assistant")).to_have_count(1)
    found["customer"] = serious_accessibility_violations(page)
    for name, path in (("queue", "/console/handoffs"), ("conversation", f"/console/handoffs/{session_id}"),
                       ("audit", "/console/audit"), ("figures", "/console/figures?days=1")):
        page.goto(demo_site.base_url + path)
        found[name] = serious_accessibility_violations(page)
    page.goto(f"{demo_site.base_url}/console/handoffs/{session_id}")
    page.get_by_role("button", name="Pick up").click()
    page.get_by_role("button", name="Close hand-off").click()
    assert {name: violations for name, violations in found.items() if violations} == {}


def add_xss_payloads(source_dir) -> None:
    """A campaign post and a product name carrying markup, in the bank's own source files."""
    products = source_dir / "products.jsonl"
    rows = [json.loads(line) for line in products.read_text().splitlines() if line.strip()]
    for row in rows:
        if row["product_id"] == "P010":  # the travel card the post asks for
            row["name"] += XSS_PRODUCT_SUFFIX
    products.write_text("".join(json.dumps(row) + "\n" for row in rows))
    event = {"event_id": "EXSS0001", "campaign_id": "CMP01", "platform": "instagram", "author_handle": "xss.tester",
             "customer_id": XSS_CUSTOMER, "type": "post", "text": XSS_POST, "timestamp": "2026-06-01T10:00:00"}
    with (source_dir / "campaign_events.jsonl").open("a") as events:
        events.write(json.dumps(event) + "\n")


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory):
    with serve(make_bank(tmp_path_factory.mktemp("console-xss"), edit_sources=add_xss_payloads)) as site:
        yield site


def test_markup_in_a_campaign_post_and_a_product_name_shows_as_text_and_never_runs(page, xss_site, screenshots):
    sign_in(page, xss_site, xss_site.agent_key)
    page.goto(f"{xss_site.base_url}/console/customers/{XSS_CUSTOMER}")

    lead = page.locator(".lead").filter(has_text="Fly Further with Voyager")
    expect(lead).to_contain_text('<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>')
    expect(lead.get_by_role("heading")).to_contain_text(f"Voyager Travel Rewards Card{XSS_PRODUCT_SUFFIX}")
    assert page.evaluate("window.__xss") is None
    assert page.locator(".lead img, .lead script").count() == 0
    page.locator("#leads-heading").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "console-xss-as-text.png", full_page=True)
