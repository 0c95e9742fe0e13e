"""Customers going through a hard time: a death in the family, a lost job, money trouble, a serious illness.

What a bank owes a customer in vulnerable circumstances, every time, whatever else the turn does:
- the answer first acknowledges what they said, then names the team trained for it and how to reach a person;
- someone who has lost their income or is struggling to pay is shown no new credit (cards, loans), unless they
  ask for that kind of product by name ("can a personal loan tide me over?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.requests.slots import find_product_categories

CREDIT = frozenset({"card", "loan"})
HARD_TIME_STATE = "hard_time"  # the session state key: the hard time told earlier in the conversation
_RELATIVE = (r"(?:husband|wife|partner|spouse|mother|father|mom|mum|dad|son|daughter|brother|sister|child|baby"
             r"|grand(?:ma|pa|mother|father|mom|dad))")


@dataclass(frozen=True)
class HardTime:
    kind: str
    pattern: re.Pattern
    acknowledgement: str
    team: str
    no_new_credit: bool


HARD_TIMES = (
    HardTime("bereavement", re.compile(
        rf"\b(?:{_RELATIVE} (?:has |had |just |recently )?(?:passed away|passed|died)|lost my {_RELATIVE}"
        r"|passed away (?:last|this|on|in|recently)|widow(?:ed|er)?|bereave\w*)\b", re.IGNORECASE),
        "I'm so sorry for your loss.", "our bereavement team", no_new_credit=False),
    HardTime("job_loss", re.compile(
        r"\b(?:lost (?:my|our|his|her) (?:job|income)|(?:been |got |was |were )?laid off|made redundant|redundancy"
        r"|unemployed|out of work|(?:got|been|was) fired|(?:got|been|was) let go)\b", re.IGNORECASE),
        "I'm sorry to hear about your job.", "our financial support team", no_new_credit=True),
    HardTime("money_trouble", re.compile(
        r"\b(?:(?:can'?t|cannot|could ?n'?t) (?:afford|pay|make) (?:my|the|our) (?:bills?|rent|mortgage|payments?|loan|card)"
        r"|behind on (?:my |our |the )?(?:payments|bills|rent|mortgage)|struggling (?:to pay|with (?:money|bills|debt))"
        r"|drowning in debt|over my head in debt|(?:going|gone) bankrupt|bankruptcy)\b", re.IGNORECASE),
        "That sounds really hard.", "our financial support team", no_new_credit=True),
    HardTime("illness", re.compile(
        r"\b(?:diagnosed with|(?:have|has|got) cancer|terminal(?:ly)? ill|chemo\w*|seriously ill)\b", re.IGNORECASE),
        "I'm sorry to hear that.", "our specialist support team", no_new_credit=False),
)


def hard_time_in(message: str) -> HardTime | None:
    """The hard time the message tells of, if any (the first that matches)."""
    return next((hard for hard in HARD_TIMES if hard.pattern.search(message)), None)


def care_note(hard: HardTime, handed_off: bool) -> str:
    """What the answer opens with; when the turn already goes to a person, only the acknowledgement."""
    if handed_off:
        return hard.acknowledgement
    return (f"{hard.acknowledgement} If you'd like to talk it through, {hard.team} can help: say \"talk to a "
            "person\" at any time.")


def without_new_credit(hard: HardTime | None, message: str, recommendations: list[dict]) -> list[dict]:
    """The recommendations fit to show: no card or loan for someone who lost their income or struggles to pay,
    unless the message asks for one by name."""
    if hard is None or not hard.no_new_credit or CREDIT & set(find_product_categories(message)):
        return recommendations
    return [rec for rec in recommendations if rec.get("category") not in CREDIT]


def hard_time_named(kind: str | None) -> HardTime | None:
    return next((hard for hard in HARD_TIMES if hard.kind == kind), None)
