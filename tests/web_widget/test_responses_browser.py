"""A customer says "Not for me" to a card in the widget: the product stays out of the next answer, and the agent's
console shows the offer with the customer's response. Two browsers: the customer's and the agent's."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from test_handoff_browser import sign_in_to_console
from test_widget_browser import ask, open_widget, wait_for_answer

QUESTION = "what should I get?"  # several products across categories


def test_a_dismissed_card_does_not_come_back_and_the_console_shows_the_response(demo_site, chromium, screenshots):
    customer_id = demo_site.demo_customer_id()
    customer = chromium.new_context(viewport={"width": 1280, "height": 860}).new_page()
    agent = chromium.new_context(viewport={"width": 1280, "height": 1200}).new_page()
    try:
        open_widget(customer, demo_site.base_url)
        ask(customer, QUESTION)
        # the first turn of this server may wait for its runtime to open and warm up: slow on a busy machine
        expect(customer.get_by_role("dialog", name="Ask Fargo")).to_have_attribute("aria-busy", "false",
                                                                                  timeout=120_000)
        first_answer = customer.locator(".msg.assistant").last
        card = first_answer.locator(".card").first
        name = card.locator(".card-name").text_content()
        offered = first_answer.locator(".card-name").all_text_contents()
        assert len(offered) >= 2

        card.get_by_role("button", name="Not for me").click()
        expect(first_answer.get_by_role("status")).to_have_text(f"Got it: we won't suggest {name} for now.")
        ask(customer, QUESTION)
        wait_for_answer(customer)

        shown_again = customer.locator(".msg.assistant").last.locator(".card-name").all_text_contents()
        assert name not in shown_again
        assert shown_again[:len(offered) - 1] == offered[1:]  # the others keep their order
        customer.screenshot(path=screenshots / "widget-dismissed.png")

        sign_in_to_console(agent, demo_site)
        agent.goto(f"{demo_site.base_url}/console/customers/{customer_id}")
        history = agent.get_by_role("table").filter(has_text="what Fargo offered this customer")
        dismissed_row = history.get_by_role("row").filter(has_text=name).filter(has_text="not for me")
        expect(dismissed_row).to_have_count(1)
        expect(dismissed_row).to_contain_text(QUESTION)
        expect(history).to_contain_text(re.compile(rf"held back: {re.escape(name)} \(dismissed: "))
        agent.screenshot(path=screenshots / "console-decisions.png", full_page=True)
    finally:
        demo_site.store["responses"].delete_many({"customer_id": customer_id})  # later tests see the cards again
        customer.context.close()
        agent.context.close()
