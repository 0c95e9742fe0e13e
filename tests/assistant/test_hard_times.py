"""Customers going through a hard time: recognised in their words, never sold new credit while short of money."""

from __future__ import annotations

import pytest

from assistant.hard_times import care_note, hard_time_in, without_new_credit, without_the_loss


@pytest.mark.parametrize("message, kind", [
    ("I just lost my job, what can I do to get by for a few months?", "job_loss"),
    ("I was let go last week", "job_loss"),
    ("got laid off and have a severance payment, how should I handle it", "job_loss"),
    ("my husband passed away last month and I don't know what to do with the money", "bereavement"),
    ("my dad died in March and left me his house", "bereavement"),
    ("I'm behind on my mortgage payments", "money_trouble"),
    ("we can't afford our bills this month", "money_trouble"),
    ("my mum was diagnosed with cancer, what cover does she have", "illness"),
    ("my dad's funeral was last week", "bereavement"),
    ("my dad\u2019s funeral was last week", "bereavement"),
    ("my late husband left me some savings", "bereavement"),
    ("we buried my mother on Friday", "bereavement"),
    ("I can\u2019t pay my credit card this month", "money_trouble"),
    ("I'm behind on my car loan payments", "money_trouble"),
    ("I missed two payments on my loan", "money_trouble"),
    ("I'm deep in debt", "money_trouble"),
    ("my contract was terminated", "job_loss"),
    ("I'm between jobs right now", "job_loss"),
    ("my mum is in hospice care", "illness"),
])
def test_a_hard_time_is_recognised_in_the_customers_words(message, kind):
    assert hard_time_in(message).kind == kind


@pytest.mark.parametrize("message", [
    "life insurance in case I die", "what happens to my family if I die?", "I lost my card", "my phone died",
    "I started a new job", "we want to plan our funeral costs", "a funeral plan for my parents",
    "who pays for my dad's funeral when he dies", "I'm interested in debt consolidation", "a loan to pay off debt",
])
def test_ordinary_requests_are_no_hard_time(message):
    assert hard_time_in(message) is None


RECS = [{"product_id": "P1", "category": "card"}, {"product_id": "P2", "category": "deposit"},
        {"product_id": "P3", "category": "loan"}, {"product_id": "P4", "category": "mortgage"}]


def test_no_new_credit_for_someone_who_lost_their_income_or_a_relative_unless_they_ask_for_it():
    lost_job = hard_time_in("I lost my job")
    assert without_new_credit(lost_job, "I lost my job, what now?", RECS) == [RECS[1]]
    asked = "I lost my job, could a personal loan tide me over?"
    assert without_new_credit(lost_job, asked, RECS) == RECS
    loss = hard_time_in("my wife passed away")
    assert without_new_credit(loss, "my wife passed away, I have her house to sell", RECS) == [RECS[1]]
    assert without_new_credit(loss, "my wife passed away, can I get a mortgage on a smaller place?", RECS) == RECS
    assert without_new_credit(hard_time_in("my mum was diagnosed with cancer"), "what cover?", RECS) == RECS
    assert without_new_credit(None, "what now?", RECS) == RECS


def test_needs_are_matched_without_the_death_told_of():
    message = "my dad\u2019s funeral was last week and he left me some money, what should I do with it?"
    asked = without_the_loss(hard_time_in(message), message)
    assert "dad" not in asked and "funeral" not in asked
    assert asked.endswith("last week and he left me some money, what should I do with it?")
    lost_job = "I lost my job, what should I open next?"
    assert without_the_loss(hard_time_in(lost_job), lost_job) == lost_job  # the job is the need's context and stays
    assert without_the_loss(None, "a card for my dad") == "a card for my dad"


def test_the_note_names_the_team_and_the_way_to_a_person_unless_a_person_is_already_coming():
    loss = hard_time_in("my father passed away")
    assert "bereavement team" in care_note(loss, handed_off=False)
    assert "talk to a person" in care_note(loss, handed_off=False)
    assert care_note(loss, handed_off=True) == loss.acknowledgement
