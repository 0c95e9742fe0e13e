"""Follow-ups read from the message and the last answer: which one, compare which, something else, refine."""

from __future__ import annotations

import pytest

from assistant.followups import FollowUp, detect_followup

LISTED = {"intent": "personal_recommendation", "tool": "recommend_personal", "recommendations": [{"product_id": p} for p in ("A", "B", "C")]}


@pytest.mark.parametrize("message, expected", [
    ("why the third one?", FollowUp("why", 3)),
    ("Why number 2", FollowUp("why", 2)),
    ("why?", FollowUp("why")),
    ("compare the first two", FollowUp("compare", positions=(1, 2))),
    ("what's the difference between the first and the third", FollowUp("compare", positions=(1, 3))),
    ("anything else?", FollowUp("else")),
    ("show me other options", FollowUp("else")),
    ("none of those", FollowUp("else")),
    ("which one is cheapest?", FollowUp("cheapest")),
    ("ok which of them costs the least", FollowUp("cheapest")),
    ("what one has the lowest premium?", FollowUp("cheapest")),
    ("anything cheaper?", FollowUp("cheaper")),
    ("which one pays the most interest?", FollowUp("rate", rate="earn")),
    ("what earns the highest APY", FollowUp("rate", rate="earn")),
    ("which has the lowest rate?", FollowUp("rate", rate="borrow")),
    ("which one charges the least interest", FollowUp("rate", rate="borrow")),
    ("what one has the best rate", FollowUp("rate", rate="best")),
    ("what would the monthly payment be on 300k?", FollowUp("payment")),
    ("how much a month on $25,000 over 5 years?", FollowUp("payment")),
])
def test_a_follow_up_names_what_it_is_about(message, expected):
    assert detect_followup(message, LISTED, []) == expected


def test_a_constraint_after_a_list_refines_it():
    assert detect_followup("only ones without an annual fee", LISTED, [], refines=True) == FollowUp("refine")
    assert detect_followup("I won't pay more than 50 a month", LISTED, [], refines=True) == FollowUp("refine")
    assert detect_followup("only ones without an annual fee", LISTED, [], refines=False) != FollowUp("refine")


def test_anything_else_after_an_answer_with_nothing_is_no_goodbye():
    nothing = {"intent": "personal_recommendation", "tool": None, "recommendations": []}
    assert detect_followup("anything else?", nothing, []) == FollowUp("nothing_else")
    assert detect_followup("anything else?", {**nothing, "intent": "greeting"}, []) is None


def test_nothing_listed_means_no_follow_up():
    assert detect_followup("compare the first two", {"intent": "greeting", "recommendations": []}, []) is None
    assert detect_followup("anything else?", {}, []) is None


def test_after_a_payment_a_new_sum_or_term_asks_it_again():
    assert detect_followup("and over 15 years?", {**LISTED, "payment": {"amount": 300000.0}}, []) == FollowUp("payment")
    assert detect_followup("what about 250k", {**LISTED, "payment": {"amount": 300000.0}}, []) == FollowUp("payment")
    assert detect_followup("and over 15 years?", LISTED, []) != FollowUp("payment")
    assert detect_followup("and over 15 years?", {**LISTED, "payment": {"amount": 300000.0}}, [], refines=True) == \
        FollowUp("payment")  # a term, which is also a constraint


def test_a_monthly_payment_repays_the_sum_over_the_term():
    from assistant.followups import monthly_payment

    assert round(monthly_payment(300_000, 0.065, 360), 2) == 1896.20  # a 30-year mortgage at 6.5%
    assert round(monthly_payment(25_000, 0.0649, 60), 2) == 489.04
    assert monthly_payment(12_000, 0.0, 12) == 1000.0
