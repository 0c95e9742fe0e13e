"""Champion/challenger: sticky arms by customer, and each arm's take-up with its interval."""

from __future__ import annotations

import pytest

from assistant.decisions import DECISIONS
from assistant.experiment import Arm, Split, report, wilson
from assistant.responses import RESPONSES

CUSTOMERS = [f"C{n:07d}" for n in range(4000)]


def test_a_customer_keeps_their_arm_on_every_turn_replica_and_restart():
    first = [Split(0.5, "ranking").arm(customer) for customer in CUSTOMERS]
    again = [Split(0.5, "ranking").arm(customer) for customer in CUSTOMERS]

    assert first == again


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_the_share_of_customers_on_the_adaptive_arm_follows_the_setting(share):
    on_adaptive = sum(Split(share).arm(customer) is Arm.adaptive for customer in CUSTOMERS) / len(CUSTOMERS)

    assert abs(on_adaptive - share) < 0.03


def test_no_one_is_on_the_adaptive_arm_at_share_0_and_everyone_at_1():
    assert {Split(0.0).arm(customer) for customer in CUSTOMERS} == {Arm.static}
    assert {Split(1.0).arm(customer) for customer in CUSTOMERS} == {Arm.adaptive}


def test_a_new_experiment_name_deals_the_customers_again():
    old = [Split(0.5, "ranking").arm(customer) for customer in CUSTOMERS]
    new = [Split(0.5, "ranking-2").arm(customer) for customer in CUSTOMERS]

    assert 0.4 < sum(a != b for a, b in zip(old, new, strict=True)) / len(CUSTOMERS) < 0.6


def test_the_wilson_interval_holds_the_rate_and_narrows_with_more_offers():
    low, high = wilson(10, 100)
    wide = wilson(1, 10)

    assert low < 0.10 < high and high - low < wide[1] - wide[0]
    assert wilson(0, 0) == (None, None) and wilson(0, 50)[0] == 0.0


def test_the_report_counts_offers_and_take_ups_per_arm_once_per_offer(store):
    def made(decision_id: str, at: str, arm: str, products: list[str], experiment: str = "ranking") -> dict:
        return {"_id": decision_id, "at": at, "arm": arm, "experiment": experiment,
                "offers": [{"product_id": product} for product in products]}

    store[DECISIONS].insert_many([
        made("S1", "2026-11-10T10:00:00+00:00", "static", ["P1", "P2"]),
        made("A1", "2026-11-10T11:00:00+00:00", "adaptive", ["P1"]),
        made("A2", "2026-11-11T11:00:00+00:00", "adaptive", ["P3"]),
        made("OLD", "2026-10-01T11:00:00+00:00", "adaptive", ["P3"]),
        made("X1", "2026-11-10T10:00:00+00:00", "static", ["P1"], experiment="another"),  # dealt by an earlier name
    ])
    store[RESPONSES].insert_many([
        {"decision_id": "A1", "product_id": "P1", "kind": "accepted", "at": "2026-11-10T11:01:00+00:00"},
        {"decision_id": "A1", "product_id": "P1", "kind": "opened", "at": "2026-11-12T00:00:00+00:00"},
        {"decision_id": "S1", "product_id": "P2", "kind": "dismissed", "at": "2026-11-10T10:01:00+00:00"},
        {"decision_id": "OLD", "product_id": "P3", "kind": "accepted", "at": "2026-10-01T11:01:00+00:00"},
    ])

    found = report(store, "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00", Split(0.5))

    arms = {row["arm"]: row for row in found["arms"]}
    assert (arms["static"]["decisions"], arms["static"]["offers"], arms["static"]["taken_up"]) == (1, 2, 0)
    assert (arms["adaptive"]["decisions"], arms["adaptive"]["offers"], arms["adaptive"]["taken_up"]) == (2, 2, 1)
    assert arms["adaptive"]["rate"] == 0.5 and arms["adaptive"]["low"] < 0.5 < arms["adaptive"]["high"]
    assert found["ratio"] is None  # the static arm took nothing up: no ratio to give
