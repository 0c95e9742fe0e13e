"""A customer asks the widget for a person; an agent picks it up in the console and replies; the widget shows it.

Two browsers at once: the customer's, on the demo bank's homepage, and the agent's, in the console.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

AGENT_REPLY = "Hello, this is Dana from the contact centre. I can help with that."
CUSTOMER_FOLLOW_UP = "Thanks! My card was declined at the shop today."


def sign_in_to_console(page, site) -> None:
    page.goto(site.base_url + "/console/login")
    page.get_by_label("Agent API key").fill(site.agent_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/console/login"))


def test_a_hand_off_from_the_widget_is_picked_up_in_the_console_and_the_reply_reaches_the_widget(
        demo_site, chromium, screenshots):
    customer_id = demo_site.demo_customer_id()
    customer = chromium.new_context(viewport={"width": 1280, "height": 860}).new_page()
    agent = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        customer.goto(demo_site.base_url + "/demo")
        customer.get_by_role("button", name="Open chat with Fargo").click()
        customer.get_by_role("button", name="Talk to a person").click()
        # the first request of this server opens its runtime (models, tool tables): slow on a busy machine
        expect(customer.get_by_role("status").filter(has_text="Waiting for a colleague")).to_be_visible(timeout=30_000)

        sign_in_to_console(agent, demo_site)
        agent.goto(demo_site.base_url + "/console/handoffs")
        row = agent.get_by_role("row").filter(has_text=customer_id).first
        expect(row).to_contain_text("waiting")
        row.get_by_role("button", name="Pick up").click()
        agent.get_by_label("Reply").fill(AGENT_REPLY)
        agent.get_by_role("button", name="Send reply").click()

        reply = customer.locator(".msg.agent .text")
        expect(reply).to_have_text(AGENT_REPLY, timeout=15_000)  # the widget polls the session every 2 s
        expect(customer.get_by_role("status").filter(has_text="You are chatting with")).to_be_visible()

        customer.get_by_label("Your message").fill(CUSTOMER_FOLLOW_UP)
        customer.get_by_role("button", name="Send", exact=True).click()
        expect(customer.locator(".msg.assistant .text").last).to_contain_text("will answer here")
        agent.reload()
        expect(agent.get_by_text(CUSTOMER_FOLLOW_UP)).to_be_visible()
        customer.screenshot(path=screenshots / "widget-agent-reply.png")
        agent.screenshot(path=screenshots / "console-handoff.png", full_page=True)

        customer.reload()  # the agent's reply is part of the history too
        customer.get_by_role("button", name="Open chat with Fargo").click()
        expect(customer.locator(".msg.agent .text").first).to_have_text(AGENT_REPLY)
    finally:
        customer.context.close()
        agent.context.close()


def wait_until_ready(site, timeout_s: float = 240.0) -> None:
    """Until the served app says it is ready (its runtime open, models loaded): slow on a busy machine."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(site.base_url + "/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the app did not get ready"
        time.sleep(0.5)


@pytest.mark.parametrize(("message", "kind", "urgent"), [
    ("I didn't make this payment of $80", "Possible fraud", True),
    ("I was charged twice for the same $80 payment", "Dispute", False),
])
def test_a_dispute_typed_in_the_widget_waits_in_the_console_queue_marked_as_one(
        demo_site, chromium, screenshots, message, kind, urgent):
    wait_until_ready(demo_site)
    customer = chromium.new_context(viewport={"width": 1280, "height": 860}).new_page()
    agent = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        customer.goto(demo_site.base_url + "/demo")
        customer.get_by_role("button", name="Open chat with Fargo").click()
        customer.get_by_label("Your message").fill(message)
        customer.get_by_role("button", name="Send", exact=True).click()
        expect(customer.get_by_role("status").filter(has_text="Waiting for a colleague")).to_be_visible(timeout=30_000)
        expect(customer.locator(".card")).to_have_count(0)  # no product offered

        sign_in_to_console(agent, demo_site)
        agent.goto(demo_site.base_url + "/console/handoffs")
        row = agent.get_by_role("row").filter(has_text=message)
        expect(row).to_have_count(1)
        expect(row.locator(".kind")).to_contain_text(kind)
        expect(row.locator(".kind .status-urgent")).to_have_count(1 if urgent else 0)
        expect(row).to_contain_text(demo_site.demo_customer_id())
        agent.screenshot(path=screenshots / f"console-queue-{kind.split()[-1].lower()}.png", full_page=True)
    finally:
        customer.context.close()
        agent.context.close()
