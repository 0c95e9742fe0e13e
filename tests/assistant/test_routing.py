"""Which intent a turn acts on when what it plainly asks for and the classifier disagree."""

from __future__ import annotations

from assistant.engine import routed_intent
from tools.requests.model import NeedHit, Request, StatedRelative

PRODUCTS = {"P022": {"category": "loan"}, "P045": {"category": "insurance"}, "P053": {"category": "healthcare"},
            "P013": {"category": "card"}, "P005": {"category": "deposit"}}


def asked(text: str, product: str = "P022", score: float = 0.95, **fields) -> Request:
    return Request(text=text, needs=(NeedHit(product, score, "x"),), **fields)


def test_a_plain_need_outweighs_a_health_guess_and_unsure_small_talk():
    bathroom = asked("We're redoing the bathroom, how do I pay for it?")
    assert routed_intent("healthcare", 0.89, bathroom, PRODUCTS)[0] == "personal_recommendation"
    kitten = asked("we got a kitten", "P045")
    assert routed_intent("out_of_scope", 0.4, kitten, PRODUCTS)[0] == "personal_recommendation"
    assert routed_intent("greeting", 0.95, kitten, PRODUCTS)[0] == "greeting"  # sure small talk stays


def test_a_request_for_a_person_is_never_overridden():
    assert routed_intent("talk_to_human", 0.3, asked("let me talk to someone about a loan"), PRODUCTS)[0] == "talk_to_human"


def test_servicing_with_a_problem_stays_servicing_and_a_product_request_does_not():
    roll = asked("I'd like to roll all my card balances into one", "P013")
    assert routed_intent("account_servicing", 0.92, roll, PRODUCTS)[0] == "personal_recommendation"
    declined = asked("my card was declined at the store", "P013")
    assert routed_intent("account_servicing", 0.92, declined, PRODUCTS)[0] == "account_servicing"


def test_care_named_by_kind_goes_to_healthcare_unless_the_question_is_how_to_pay():
    dentist = Request(text="is there a dentist near me?")
    assert routed_intent("personal_recommendation", 0.8, dentist, PRODUCTS, specialty="dentistry")[0] == "healthcare"
    braces = asked("the orthodontist wants 7 grand upfront, can we pay over time?", "P053", 0.8)
    assert routed_intent("healthcare", 0.9, braces, PRODUCTS, specialty="dentistry")[0] == "personal_recommendation"


def test_a_couples_own_need_is_not_a_family_question():
    wedding = asked("me and my fiance are paying for our own wedding", "P005",
                    relatives=(StatedRelative("spouse"),))
    assert routed_intent("family_recommendation", 0.99, wedding, PRODUCTS)[0] == "personal_recommendation"
    family = asked("what should I get for my family?", "P005")
    assert routed_intent("family_recommendation", 0.99, family, PRODUCTS)[0] == "family_recommendation"


def test_a_plain_product_ask_in_no_disputes_words_is_not_handed_off_as_fraud_but_a_dispute_stays():
    kitten = asked("the kids finally talked us into a kitten, how much would it cost to insure her?", "P045")
    assert routed_intent("dispute", 0.32, kitten, PRODUCTS)[0] == "personal_recommendation"
    charged = asked("I was charged twice for the same $80 payment, I want a card that doesn't do that", "P013")
    assert routed_intent("dispute", 0.6, charged, PRODUCTS)[0] == "dispute"
    stolen = asked("someone used my card, I need a new card", "P013")
    assert routed_intent("fraud", 0.9, stolen, PRODUCTS)[0] == "fraud"
    vague = asked("my savings got wiped out", "P005", score=0.5)  # no plain product need: the classifier stands
    assert routed_intent("fraud", 0.5, vague, PRODUCTS)[0] == "fraud"


def test_health_cover_for_another_adult_is_a_family_question_not_the_customers_own_health():
    dad = asked("my dad is 72, what health cover should he look at?", "P053", 0.5,
                relatives=(StatedRelative("parent", 72),))
    assert routed_intent("healthcare", 0.9, dad, PRODUCTS)[0] == "family_recommendation"
    son = asked("my son is 24, does he need his own health plan?", "P053", 0.5, relatives=(StatedRelative("child", 24),))
    assert routed_intent("healthcare", 0.9, son, PRODUCTS)[0] == "family_recommendation"
    toddler = asked("health cover for my 3 year old", "P053", 0.5, relatives=(StatedRelative("child", 3),))
    assert routed_intent("healthcare", 0.9, toddler, PRODUCTS)[0] == "healthcare"  # on the customer's own plan
    cardiologist = Request(text="my dad needs a cardiologist", relatives=(StatedRelative("parent"),))
    assert routed_intent("healthcare", 0.9, cardiologist, PRODUCTS, specialty="cardiology")[0] == "healthcare"
