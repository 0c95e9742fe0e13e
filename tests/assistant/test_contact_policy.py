"""The contact policy: dismissal suppression, the weekly cap on campaign outreach, and just-opened products."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assistant.contact_policy import (
    ContactPolicy,
    ContactRules,
    dismissal_holds,
    proactive_room,
)
from assistant.decisions import DECISIONS
from assistant.responses import RESPONSES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TWICE_IN_30 = ContactRules(dismissals=2, dismissal_window_days=30, suppress_days=60, just_opened_days=30,
                           weekly_proactive_offers=2)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def response(product: str, kind: str, days: float, customer: str = "C1") -> dict:
    return {"decision_id": "D1", "product_id": product, "customer_id": customer, "kind": kind, "reason": None,
            "channel": "widget", "who": f"customer:{customer}", "at": ago(days).isoformat()}


def test_a_product_dismissed_n_times_within_the_window_is_suppressed_until_s_days_after_the_last():
    held = dismissal_holds({"P1": [ago(20), ago(5)]}, TWICE_IN_30, NOW)

    assert held["P1"].rule == "dismissed"
    assert (ago(5) + timedelta(days=60)).date().isoformat() in held["P1"].detail


@pytest.mark.parametrize("moments", [
    [ago(5)],  # once: fewer than N
    [ago(50), ago(10)],  # twice, but 40 days apart: not within D
    [ago(100), ago(90)],  # twice within D, but the suppression ran out 30 days ago
])
def test_dismissals_short_of_the_rule_or_past_the_suppression_hold_nothing(moments):
    assert dismissal_holds({"P1": moments}, TWICE_IN_30, NOW) == {}


def test_the_weekly_cap_counts_distinct_products_and_lets_one_already_offered_this_week_through():
    allowed, capped = proactive_room({"P1"}, ["P1", "P2", "P3", "P4"], TWICE_IN_30)

    assert allowed == ["P1", "P2"]
    assert capped == ["P3", "P4"]


def test_held_back_reads_dismissals_and_a_just_opened_product_from_the_store(store):
    store[RESPONSES].insert_many([
        response("P1", "dismissed", 20), response("P1", "dismissed", 3),  # suppressed
        response("P2", "dismissed", 3),  # once only
        response("P3", "accepted", 10),  # applied for lately
        response("P4", "opened", 45),  # opened, but longer ago than just_opened_days
        response("P5", "dismissed", 1, customer="C2"), response("P5", "dismissed", 2, customer="C2"),  # someone else
    ])

    held = ContactPolicy(store, TWICE_IN_30).held_back("C1", now=NOW)

    assert {product: item.rule for product, item in held.items()} == {"P1": "dismissed", "P3": "just_opened"}
    assert "applied for it on " + ago(10).date().isoformat() in held["P3"].detail


def test_the_cap_counts_only_proactive_offers_on_the_same_channel_in_the_last_seven_days(store):
    def decision(decision_id, products, days, channel="console", proactive=True):
        return {"_id": decision_id, "customer_id": "C1", "channel": channel, "at": ago(days).isoformat(),
                "proactive": proactive, "offers": [{"product_id": product} for product in products]}

    store[DECISIONS].insert_many([
        decision("D1", ["P1"], 2), decision("D2", ["P2"], 8),  # P2: more than a week ago
        decision("D3", ["P3"], 1, channel="agent_api"), decision("D4", ["P4"], 1, proactive=False),
    ])

    allowed, capped = ContactPolicy(store, TWICE_IN_30).capped("C1", "console", ["P2", "P3", "P4", "P1"], now=NOW)

    assert allowed == ["P2", "P1"]  # one new offer left after P1; P1 was already made this week
    assert [item.product_id for item in capped] == ["P3", "P4"]
    assert all(item.rule == "weekly_cap" for item in capped)
