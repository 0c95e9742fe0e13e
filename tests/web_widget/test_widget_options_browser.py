"""What a bank's web team can set on the widget, seen in Debian's Chromium: theme, inline mode, locale and RTL, the
transcript download and the rating after a hand-off.

Each page here is a bank page made up by the test (served at the demo site's origin by Playwright's router), with the
widget's script tag carrying the attributes under test; the widget and its token endpoint are the real ones.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from assistant import handoffs
from assistant.auth import key_id
from assistant.callers import Caller

PURPLE = "rgb(123, 31, 162)"
GREEN = "#0b6e4f"
DEFAULT_ACCENT = "rgb(10, 79, 143)"
ICON = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E%3Ccircle cx='4' cy='4' r='4'/%3E%3C/svg%3E"
AGENT_REPLY = "Hello, Dana here. Your card is unblocked."
ARABIC_TITLE = "اسأل فارغو"
pages = itertools.count()


def bank_page(page, site, attributes: str, head: str = "", body: str = "") -> None:
    """Open a made-up bank page on the site's origin that embeds the widget with `attributes` on its script tag."""
    url = f"{site.base_url}/bank-page-{next(pages)}"
    html = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Bank</title>{head}</head><body>{body}"
            f"<script src='/widget.js' data-token-url='/demo/token' {attributes}></script></body></html>")
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(url)


def css(locator, prop: str) -> str:
    return locator.evaluate("(node, prop) => getComputedStyle(node)[prop]", prop)


def wait_for_answer(page, panel) -> None:
    """Until the turn is over; the module's first turn opens the server's runtime (models, tool tables): slow."""
    expect(panel).to_have_attribute("aria-busy", "false", timeout=60_000)


@pytest.fixture
def warnings(page):
    seen = []
    page.on("console", lambda message: message.type == "warning" and seen.append(message.text))
    return seen


def test_a_colour_set_by_the_page_and_the_theme_attributes_reach_the_shadow_dom(demo_site, page, warnings):
    bank_page(page, demo_site, f'data-font="Georgia, serif" data-radius="4px" data-position="left" '
                               f'data-launcher-icon="{ICON}"',
              head=f"<style>#fargo-widget {{ --fargo-accent: {PURPLE}; }}</style>")
    launcher = page.get_by_role("button", name="Open chat with Fargo")
    assert css(launcher, "backgroundColor") == PURPLE
    assert launcher.bounding_box()["x"] < 40, "data-position=left puts the launcher at the bottom left"
    assert launcher.locator("img").get_attribute("src") == ICON
    launcher.click()
    panel = page.get_by_role("dialog", name="Ask Fargo")
    assert panel.bounding_box()["x"] < 40
    assert css(panel, "borderTopLeftRadius") == "4px"
    assert css(page.locator(".title"), "fontFamily") == "Georgia, serif"
    assert css(page.locator(".header"), "backgroundColor") == PURPLE
    assert css(page.get_by_role("button", name="Send", exact=True), "backgroundColor") == PURPLE

    bank_page(page, demo_site, f'data-primary-color="{GREEN}"', head=f"<style>#fargo-widget {{ --fargo-accent: {PURPLE}; }}</style>")
    launcher = page.get_by_role("button", name="Open chat with Fargo")
    assert css(launcher, "backgroundColor") == "rgb(11, 110, 79)", "the script tag's colour wins over the page's"
    assert launcher.bounding_box()["x"] > 1000, "the launcher stays at the bottom right by default"

    bank_page(page, demo_site, 'data-primary-color="not a colour" data-radius="round"')
    assert css(page.get_by_role("button", name="Open chat with Fargo"), "backgroundColor") == DEFAULT_ACCENT
    assert any('data-primary-color "not a colour" is not a valid color' in text for text in warnings), warnings
    assert any('data-radius "round" is not a valid border-radius' in text for text in warnings), warnings


def test_inline_mode_renders_the_chat_in_the_named_element_without_a_launcher(demo_site, page, screenshots):
    chat_box = "<main style='padding: 30px'><h1>Help</h1><div id='chat' style='width: 460px; height: 540px'></div></main>"
    bank_page(page, demo_site, 'data-mode="inline" data-target="#chat"', body=chat_box)
    chat = page.get_by_role("region", name="Ask Fargo")
    expect(chat).to_be_visible()
    expect(page.get_by_role("button", name="Open chat with Fargo")).to_have_count(0)
    expect(page.get_by_role("button", name="Close chat")).to_have_count(0)
    assert chat.bounding_box() == page.locator("#chat").bounding_box()
    assert page.evaluate("document.querySelector('#chat > #fargo-widget') !== null")

    expect(page.locator(".msg.assistant .text").first).to_contain_text("Hi! I can suggest products")
    page.get_by_label("Your message").focus()
    page.keyboard.press("Escape")  # closes the floating chat; the inline one stays
    expect(chat).to_be_visible()
    page.screenshot(path=screenshots / "widget-inline.png")
    assert page.console_errors == []

    bank_page(page, demo_site, 'data-mode="inline" data-target="#nowhere"')
    expect(page.locator("#fargo-widget")).to_have_count(0)
    assert any('"#nowhere" names none' in text for text in page.console_errors), page.console_errors


def test_an_arabic_locale_lays_the_widget_out_right_to_left_with_its_bundled_strings(demo_site, page, screenshots):
    bank_page(page, demo_site, 'data-locale="ar"')
    page.get_by_role("button", name="افتح المحادثة مع فارغو").click()
    panel = page.get_by_role("dialog", name=ARABIC_TITLE)
    expect(panel).to_have_attribute("dir", "rtl")
    assert css(panel, "direction") == "rtl"
    expect(page.locator(".subtitle")).to_have_text("مساعد مصرفك")
    expect(page.get_by_label("رسالتك")).to_have_attribute("placeholder", "اكتب سؤالك...")
    expect(page.locator(".msg.assistant .text").first).to_contain_text("مرحبًا")
    shown = panel.evaluate("""p => [p.innerText, ...[...p.querySelectorAll('[aria-label], [placeholder], [title]')]
        .flatMap(n => [n.getAttribute('aria-label'), n.getAttribute('placeholder'), n.getAttribute('title')])]
        .filter(Boolean).join(' | ')""")
    assert not re.search(r"[A-Za-z]", shown), f"an English string is left in the Arabic widget: {shown}"

    log = page.locator(".log").bounding_box()
    welcome = page.locator(".msg.assistant").first.bounding_box()
    assert (log["x"] + log["width"]) - (welcome["x"] + welcome["width"]) < 20, "the assistant's message starts at the right"
    assert welcome["x"] - log["x"] > 20, "and leaves room at the left, where the customer's own messages go"
    page.screenshot(path=screenshots / "widget-rtl-arabic.png")

    bank_page(page, demo_site, 'data-locale="tlh"')
    page.get_by_role("button", name="Open chat with Fargo").click()
    expect(page.get_by_role("dialog", name="Ask Fargo")).to_have_attribute("dir", "ltr")
    expect(page.locator(".msg.assistant .text").first).to_contain_text("Hi! I can suggest products")


@pytest.fixture
def agent(demo_site):
    return Caller(role="agent", key_id=key_id(demo_site.agent_key))


def test_the_transcript_download_says_who_said_what_and_when_in_the_customers_time(demo_site, chromium, agent):
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, timezone_id="Asia/Kolkata")
    page = context.new_page()
    customer_id = demo_site.demo_customer_id()
    try:
        page.goto(demo_site.base_url + "/demo")
        page.get_by_role("button", name="Open chat with Fargo").click()
        download_button = page.get_by_role("button", name="Download the conversation")
        expect(download_button).to_be_hidden()  # nothing to download before the first turn
        page.get_by_label("Your message").fill("what card suits my spending?")
        page.get_by_role("button", name="Send", exact=True).click()
        wait_for_answer(page, page.get_by_role("dialog", name="Ask Fargo"))
        answer = page.locator(".msg.assistant .text").last.text_content()
        cards = page.locator(".card-name").all_text_contents()
        session_id = page.evaluate(f"localStorage.getItem('fargo.session.{customer_id}')")
        agent_replies(demo_site, session_id, agent)

        with page.expect_download() as download:
            download_button.click()
        text = download.value.path().read_text(encoding="utf-8")
    finally:
        context.close()

    turns = demo_site.app.state.runtime.engine.sessions.get(session_id).turns
    at = [datetime.fromtimestamp(turn["at"], ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S") for turn in turns]
    assert download.value.suggested_filename == f"fargo-conversation-{at[0][:10]}.txt"
    heading, said = text.split("\n\n", 1)
    assert heading.split("\n")[:2] == ["Ask Fargo: conversation transcript", f"Conversation: {session_id}"]
    assert re.fullmatch(r"Saved: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(times are UTC\+05:30\)", heading.split("\n")[2])
    assert said == "\n".join([f"[{at[0]}] You: what card suits my spending?", f"[{at[1]}] Fargo: {answer}",
                              *[f"    - {name}" for name in cards], f"[{at[2]}] Dana (agent): {AGENT_REPLY}", ""])


def agent_replies(site, session_id: str, agent: Caller) -> None:
    """An agent takes the conversation, answers and closes it, as the console does."""
    sessions = site.app.state.runtime.engine.sessions
    handoffs.request_handoff(site.store, sessions.get(session_id), "test")
    handoffs.pick_up(site.store, session_id, agent, "Dana")
    handoffs.reply(site.store, sessions, session_id, agent, AGENT_REPLY)
    handoffs.close(site.store, session_id, agent)


def test_after_the_agent_closes_the_hand_off_the_customer_rates_it_once(demo_site, page, agent, screenshots):
    customer_id = demo_site.demo_customer_id()
    page.goto(demo_site.base_url + "/demo")
    page.get_by_role("button", name="Open chat with Fargo").click()
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.get_by_role("status").filter(has_text="Waiting for a colleague")).to_be_visible(timeout=60_000)
    rating = page.get_by_role("group", name="How satisfied are you with the help you got from our colleague?")
    expect(rating).to_be_hidden()
    session_id = page.evaluate(f"localStorage.getItem('fargo.session.{customer_id}')")
    try:
        handoffs.pick_up(demo_site.store, session_id, agent, "Dana")
        handoffs.reply(demo_site.store, demo_site.app.state.runtime.engine.sessions, session_id, agent, AGENT_REPLY)
    finally:
        handoffs.close(demo_site.store, session_id, agent)  # an open hand-off would stay in other tests' queue

    expect(page.locator(".msg.agent .text")).to_have_text(AGENT_REPLY, timeout=15_000)  # the widget polls every 2 s
    expect(rating).to_be_visible(timeout=15_000)
    page.screenshot(path=screenshots / "widget-rating.png")
    rating.get_by_role("button", name="4 out of 5").click()
    expect(page.get_by_role("status").filter(has_text="Thank you for your rating.")).to_be_visible()
    stored = demo_site.store["sessions"].find_one({"_id": session_id})["rating"]
    assert stored["score"] == 4

    page.reload()
    page.get_by_role("button", name="Open chat with Fargo").click()
    expect(page.locator(".msg.agent .text")).to_have_text(AGENT_REPLY)
    expect(rating).to_be_hidden()
    assert page.console_errors == []
