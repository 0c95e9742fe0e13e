"""The widget on the demo bank's homepage, driven in Debian's Chromium: what a customer sees and does."""

from __future__ import annotations

import json

import pytest
from live_app import make_bank, serve
from playwright.sync_api import expect

QUESTION = "what card suits my spending?"
XSS_NAME_SUFFIX = ' <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

# Counts how the newest assistant message grows while it streams, and whether the typing indicator showed.
WATCH_STREAM = """() => {
  const root = document.querySelector('#fargo-widget').shadowRoot;
  window.__lengths = []; window.__typingSeen = false;
  new MutationObserver(() => {
    const texts = root.querySelectorAll('.msg.assistant .text');
    window.__lengths.push(texts.length ? texts[texts.length - 1].textContent.length : 0);
    if (!root.querySelector('.typing').hidden) { window.__typingSeen = true; }
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def open_widget(page, base_url: str):
    page.goto(base_url + "/demo")
    page.get_by_role("button", name="Open chat with Fargo").click()
    expect(page.get_by_role("dialog", name="Ask Fargo")).to_be_visible()


def ask(page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def wait_for_answer(page) -> None:
    """Until the turn is over: streamed text painted and cards laid out."""
    expect(page.get_by_role("dialog", name="Ask Fargo")).to_have_attribute("aria-busy", "false", timeout=30_000)


def session_id(page, customer_id: str) -> str:
    return page.evaluate(f"localStorage.getItem('fargo.session.{customer_id}')")


def dollars(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def stored_value(store, evidence: dict):
    value = store[evidence["collection"]].find_one({"_id": evidence["record_id"]})
    for part in evidence["field"].split("."):
        value = value[part]
    return value


def shown_turns(site, sid: str) -> list[dict]:
    import httpx

    answer = httpx.get(f"{site.base_url}/v1/sessions/{sid}", headers={"Authorization": f"Bearer {site.agent_key}"})
    answer.raise_for_status()
    return answer.json()["turns"]


def test_the_widget_says_it_is_an_automated_assistant_before_the_first_message(demo_site, page):
    open_widget(page, demo_site.base_url)

    notice = page.locator(".msg.assistant .text").first
    expect(notice).to_contain_text("You're chatting with Fargo, an automated assistant, not a person.")
    expect(notice).to_contain_text('press "Talk to a person"')
    expect(page.locator(".msg.user")).to_have_count(0)


def test_a_customer_asks_sees_a_streamed_answer_a_card_and_its_reasons_and_history_survives_a_reload(
        demo_site, page, screenshots):
    customer_id = demo_site.demo_customer_id()
    open_widget(page, demo_site.base_url)
    page.evaluate(WATCH_STREAM)
    ask(page, QUESTION)

    cards = page.locator(".card")
    expect(cards.first).to_be_visible(timeout=30_000)
    answer = page.locator(".msg.assistant .text").last.text_content()
    lengths = page.evaluate("window.__lengths")
    assert len({n for n in lengths if 0 < n < len(answer)}) >= 2, "the answer should arrive in pieces"
    assert page.evaluate("window.__typingSeen"), "a typing indicator shows while waiting"

    turns = shown_turns(demo_site, session_id(page, customer_id))
    shown = turns[-1]["recommendations"]
    expect(page.locator(".card-name")).to_have_text([rec["name"] for rec in shown])
    valued = next(i for i, rec in enumerate(shown) if rec["estimated_annual_value"])  # a card priced on their spending
    card, rec = cards.nth(valued), shown[valued]
    expect(card.locator(".card-value")).to_contain_text(f"${round(rec['estimated_annual_value']):,}")
    for i, other in enumerate(shown):
        if other["estimated_annual_value"] is None:  # no figure without the reason that explains it
            expect(cards.nth(i).locator(".card-value")).to_have_count(0)
    card.get_by_role("button", name="Why?").click()
    expect(card.locator(".reasons li")).to_have_text(rec["reasons"])
    assert f"about ${round(rec['estimated_annual_value']):,} a year" in rec["reasons"][0]  # the figure's reason leads
    own = [item for item in rec["evidence"] if item["kind"] == "transaction_aggregate"]
    assert own, "a card's value rests on the customer's own spending"
    for item in own:
        assert stored_value(demo_site.store, item) == item["value"]  # the figure is the customer's stored one
        assert customer_id in item["record_id"]
    shown_values = card.locator(".evidence-value").all_text_contents()
    assert {dollars(item["value"]) for item in own} <= set(shown_values)
    page.screenshot(path=screenshots / "widget-answer-why.png")

    page.reload()
    page.get_by_role("button", name="Open chat with Fargo").click()
    expect(page.locator(".msg.user .text").first).to_have_text(QUESTION)
    expect(page.locator(".msg.assistant .text").last).to_have_text(answer)
    expect(page.locator(".card-name")).to_have_text([rec["name"] for rec in shown])
    assert page.console_errors == []


def test_the_host_pages_styles_do_not_reach_the_widget(demo_site, page):
    page.goto(demo_site.base_url + "/demo")
    launcher = page.get_by_role("button", name="Open chat with Fargo")
    host_button = page.get_by_role("button", name="Open an account")
    assert host_button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(140, 29, 24)"
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 79, 143)"
    assert launcher.evaluate("b => getComputedStyle(b).borderRadius") == "50%"


def test_the_widget_works_from_the_keyboard(demo_site, page):
    page.goto(demo_site.base_url + "/demo")
    launcher = page.get_by_role("button", name="Open chat with Fargo")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.querySelector('#fargo-widget').shadowRoot.activeElement.id") == "fargo-input"
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.assistant .text").last).not_to_have_text("", timeout=30_000)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Ask Fargo")).to_be_hidden()
    assert page.evaluate("document.querySelector('#fargo-widget').shadowRoot.activeElement.className") == "launcher"


def test_on_a_phone_the_chat_fills_the_screen(demo_site, chromium, screenshots):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        open_widget(page, demo_site.base_url)
        box = page.get_by_role("dialog", name="Ask Fargo").bounding_box()
        assert (box["width"], box["height"]) == (390, 844)
        page.get_by_role("button", name="Ideas for my family").click()
        wait_for_answer(page)
        expect(page.locator(".card").first).to_be_visible()
        expect(page.get_by_role("button", name="Close chat")).to_be_visible()
        page.screenshot(path=screenshots / "widget-phone.png")
    finally:
        context.close()


def test_the_demo_exists_only_in_demo_mode(demo_site):
    import httpx

    assert httpx.get(demo_site.base_url + "/demo").status_code == 200
    demo_site.app.state.settings = demo_site.settings.model_copy(update={"mongodb_uri": "mongodb://db.invalid"})
    try:
        assert httpx.get(demo_site.base_url + "/demo").status_code == 404
        assert httpx.post(demo_site.base_url + "/demo/token").status_code == 404
    finally:
        demo_site.app.state.settings = demo_site.settings


# --- untrusted text -------------------------------------------------------------------------------------------------


def poison_card_names(source_dir) -> None:
    path = source_dir / "products.jsonl"
    products = [json.loads(line) for line in path.read_text().splitlines()]
    for product in products:
        if product["category"] == "card":
            product["name"] += XSS_NAME_SUFFIX
    path.write_text("".join(json.dumps(product) + "\n" for product in products))


@pytest.fixture(scope="module")
def poisoned_site(tmp_path_factory):
    settings = make_bank(tmp_path_factory.mktemp("xss-bank"), edit_sources=poison_card_names)
    with serve(settings) as site:
        yield site


def test_a_product_name_with_markup_is_shown_as_text_and_runs_nothing(poisoned_site, page, screenshots):
    open_widget(page, poisoned_site.base_url)
    ask(page, QUESTION)
    name = page.locator(".card-name").first
    expect(name).to_contain_text(XSS_NAME_SUFFIX.strip(), timeout=30_000)
    expect(page.locator(".msg.assistant .text").last).to_contain_text("<img src=x")
    cards_markup = page.evaluate("document.querySelector('#fargo-widget').shadowRoot.querySelectorAll('img, script').length")
    assert cards_markup == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=screenshots / "widget-xss-as-text.png")


# --- accessibility --------------------------------------------------------------------------------------------------


def test_the_open_widget_with_an_answer_has_no_serious_accessibility_violations(demo_site, page):
    from axe_playwright_python.sync_playwright import Axe

    open_widget(page, demo_site.base_url)
    ask(page, QUESTION)
    wait_for_answer(page)
    page.locator(".card").first.get_by_role("button", name="Why?").click()
    results = Axe().run(page, context={"include": [["#fargo-widget"]]})
    serious = [(v["id"], v["help"], len(v["nodes"])) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == []
