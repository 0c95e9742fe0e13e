"""A bank's rules for a conversation, on a small ingested bank: the assistant notice, disputes and complaints to a
person (fraud urgent), no doom loops, and no hand-off for a follow-up to a list (a product question's too)."""

from __future__ import annotations

import copy
import re

import pytest

from assistant import handoffs
from assistant.callers import Caller, Role
from assistant.engine import Plan
from assistant.escalation import ConversationRules, unserved_reason, worries_about_a_scam
from assistant.intents.classifier import IntentPrediction
from assistant.sessions import Session

DEVELOPER = Caller(role=Role.developer, customer_id=None)
OFF_TOPIC = ("what's the weather in Paris tomorrow?", "write me a poem about the sea", "who won the match yesterday?")


@pytest.fixture(scope="module")
def runtime(bank):
    return bank[1]  # a small ingested bank with an open Runtime (conftest)


@pytest.fixture(scope="module")
def customer(runtime) -> str:
    return runtime.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=1)[0]["_id"]


def engine_with(runtime, **rules):
    engine = copy.copy(runtime.engine)
    engine.rules = ConversationRules(**rules)
    return engine


def as_customer(customer_id: str) -> Caller:
    return Caller(role="customer", customer_id=customer_id)


# --- the assistant notice ----------------------------------------------------------------------------------------


def test_the_first_answer_says_it_is_an_automated_assistant_and_how_to_reach_a_person(runtime, customer):
    caller = as_customer(customer)
    first = runtime.engine.turn(caller, "what card suits my spending?")
    second = runtime.engine.turn(caller, "why?", session_id=first.session_id)

    assert first.answer.startswith("You're chatting with Fargo, an automated assistant, not a person.")
    assert "talk to a person" in first.answer
    assert first.recommendations[0]["name"] in first.answer  # the notice comes before the answer, not instead
    assert "automated assistant" not in second.answer


def test_the_notice_is_the_banks_own_wording(runtime, customer):
    wording = "Vous parlez avec un assistant automatique. Pour parler à un conseiller, écrivez « conseiller »."
    turn = engine_with(runtime, disclosure=wording).turn(as_customer(customer), "hello")

    assert turn.answer.startswith(wording)
    assert "You're chatting with Fargo" not in turn.answer


def test_a_blank_notice_is_refused_naming_the_variable():
    from assistant.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="FARGO_ASSISTANT_DISCLOSURE"):
        load_settings(assistant_disclosure="")


# --- disputes, complaints and fraud go to a person -----------------------------------------------------------------


@pytest.mark.parametrize(("message", "kind"), [
    ("I didn't make this payment", "fraud"),
    ("someone used my card", "fraud"),
    ("this fee is wrong", "dispute"),
    ("the restaurant charged me twice for one dinner", "dispute"),
    ("I want to complain", "complaint"),
])
def test_disputes_and_complaints_are_handed_to_a_person_without_a_product(runtime, customer, message, kind):
    turn = runtime.engine.turn(as_customer(customer), message)

    assert turn.handoff, turn.answer
    assert turn.explanation["handoff_kind"] == kind
    assert turn.recommendations == [] and turn.explanation["tool_calls"] == []
    assert not any(product["name"] in turn.answer for product in runtime.ctx.products.values())


def test_a_dispute_after_recommendations_is_not_read_as_a_why_follow_up(runtime, customer):
    caller = as_customer(customer)
    first = runtime.engine.turn(caller, "which credit card should I get?")
    assert first.recommendations
    dispute = runtime.engine.turn(caller, "why was I charged twice for the same purchase?", session_id=first.session_id)

    assert dispute.intent in {"dispute", "fraud"}
    assert dispute.handoff and dispute.recommendations == []


@pytest.mark.parametrize("message, worried", [
    ("my mom just turned 80 and keeps getting scam calls, is there anything to protect her money?", True),
    ("a phishing text asked for my login, what should I set up?", True),
    ("does the Voyager card have fraud protection?", False),  # a feature asked about
    ("which card is best for travel?", False),
])
def test_a_scam_feared_is_told_apart_from_a_fraud_feature_asked_about(message, worried):
    assert worries_about_a_scam(message) is worried


def test_a_recommendation_for_a_parent_getting_scam_calls_says_how_to_reach_a_person_now(runtime, customer):
    turn = runtime.engine.turn(as_customer(customer),
                               "my mom just turned 80 and keeps getting scam calls, is there anything to protect her money?")
    assert not turn.handoff
    # was a list of what parents of 80 hold, with nothing on the scam
    assert 'trying to scam you or your family, say "talk to a person"' in turn.answer, turn.answer
    assert "We never ask for a PIN" in turn.answer


def test_fraud_waits_first_in_the_agents_queue(runtime, customer):
    store, sessions = runtime.store, runtime.engine.sessions
    opened = []
    for kind in ("asked", "complaint", "fraud", "servicing"):
        session = Session(f"queue-{kind}", f"customer:{customer}", customer)
        sessions.save(session)
        opened.append(handoffs.request_handoff(store, session, f"reason {kind}", kind))
    try:
        ours = [row for row in handoffs.queue(store) if row["_id"].startswith("queue-")]
        assert [row["kind"] for row in ours] == ["fraud", "complaint", "asked", "servicing"]
        assert [row["priority"] for row in ours] == ["urgent", "high", "normal", "normal"]
    finally:
        store[handoffs.HANDOFFS].delete_many({"_id": {"$in": [row["_id"] for row in opened]}})


# --- no doom loops -------------------------------------------------------------------------------------------------


def test_two_turns_not_served_offer_a_person_and_a_third_hands_off(runtime, customer):
    caller, engine = as_customer(customer), runtime.engine
    first = engine.turn(caller, OFF_TOPIC[0])
    second = engine.turn(caller, OFF_TOPIC[1], session_id=first.session_id)
    third = engine.turn(caller, OFF_TOPIC[2], session_id=first.session_id)

    assert not first.handoff and "talk to a person?" not in first.answer
    assert not second.handoff and "yes" in second.answer.lower() and "person" in second.answer
    assert third.handoff and third.explanation["handoff_kind"] == "unserved"
    assert engine.sessions.get(first.session_id).state["handoff"] is True


def test_yes_to_the_offer_hands_off(runtime, customer):
    caller, engine = as_customer(customer), runtime.engine
    session_id = engine.turn(caller, OFF_TOPIC[0]).session_id
    engine.turn(caller, OFF_TOPIC[1], session_id=session_id)
    yes = engine.turn(caller, "yes please", session_id=session_id)

    assert yes.handoff and yes.explanation["handoff_kind"] == "unserved"


def test_a_served_turn_in_between_starts_the_count_again(runtime, customer):
    caller, engine = as_customer(customer), runtime.engine
    session_id = engine.turn(caller, OFF_TOPIC[0]).session_id
    served = engine.turn(caller, "which savings account suits me?", session_id=session_id)
    again = engine.turn(caller, OFF_TOPIC[1], session_id=session_id)

    assert served.recommendations and not served.handoff
    assert not again.handoff and "person" not in again.answer


class FixedPrediction:
    """A classifier that says the same of every message."""

    def __init__(self, prediction: IntentPrediction):
        self.prediction = prediction

    def predict(self, message, embedding=None) -> IntentPrediction:
        return self.prediction


@pytest.mark.parametrize(("best_label", "reason"), [("out_of_scope", "out_of_scope"),
                                                    ("product_question", "low_confidence")])
def test_a_turn_not_served_records_why_for_the_supervisors_figures(runtime, customer, best_label, reason):
    """Out of scope by the classifier's own class, or because no intent reached its threshold (low confidence)."""
    engine = copy.copy(runtime.engine)
    scores = ((best_label, 0.4), ({"out_of_scope": "greeting"}.get(best_label, "out_of_scope"), 0.3))
    engine.classifier = FixedPrediction(IntentPrediction("out_of_scope", 0.6, scores, True))
    turn = engine.turn(as_customer(customer), "blorp the frobnicator")

    answer = engine.sessions.get(turn.session_id).turns[-1]
    assert answer["intent"] == "out_of_scope" and answer["unserved"] == reason


def test_a_served_turn_records_nothing_unserved_and_an_empty_list_records_nothing_found(runtime, customer):
    served = runtime.engine.turn(as_customer(customer), "which savings account suits me?")

    assert served.recommendations
    assert runtime.engine.sessions.get(served.session_id).turns[-1]["unserved"] is None
    assert unserved_reason("personal_recommendation", Plan("personal_recommendation")) == "nothing_found"
    assert unserved_reason("product_question", Plan("product_question", {"hits": []})) == "nothing_found"


def test_the_number_of_turns_before_the_offer_is_the_banks_setting(runtime, customer):
    engine = engine_with(runtime, offer_person_after=1)
    caller = as_customer(customer)
    first = engine.turn(caller, OFF_TOPIC[0])
    second = engine.turn(caller, OFF_TOPIC[1], session_id=first.session_id)

    assert not first.handoff and "person" in first.answer.split("\n\n")[-1]
    assert second.handoff


# --- a product question's list, and a developer's question ----------------------------------------------------


def _numbered(answer: str) -> dict[int, str]:
    return {int(number): name for number, name in re.findall(r"^(\d)\. ([^:]+):", answer, flags=re.MULTILINE)}


def test_a_developer_asking_for_a_recommendation_gets_the_catalogues_answer_not_a_sign_in(runtime):
    turn = runtime.engine.turn(DEVELOPER, "which credit card is best for travel?")
    assert "sign in" not in turn.answer
    assert "Voyager Travel Rewards Card" in turn.answer


def test_tell_me_more_about_the_second_one_after_a_product_question_means_the_second_product_listed(runtime):
    first = runtime.engine.turn(DEVELOPER, "which credit card is best for travel?")
    listed = _numbered(first.answer)
    assert len(listed) >= 2, first.answer

    more = runtime.engine.turn(DEVELOPER, "tell me more about the second one", session_id=first.session_id)

    assert more.intent == "followup:details"
    assert more.answer.startswith(listed[2]) and listed[1] not in more.answer


def test_the_second_one_with_nothing_listed_says_so_and_is_no_dispute(runtime):
    turn = runtime.engine.turn(DEVELOPER, "tell me more about the second one")
    assert turn.intent == "followup:details" and not turn.handoff
    assert "haven't shown you a list" in turn.answer
