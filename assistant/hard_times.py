"""Customers going through a hard time: a death in the family, a lost job, money trouble, a serious illness.

What a bank owes a customer in vulnerable circumstances, every time, whatever else the turn does:
- the answer first acknowledges what they said, then names the team trained for it and how to reach a person;
- someone bereaved, who has lost their income or is struggling to pay is shown no new credit (cards, loans,
  mortgages and home equity lines), unless they ask for that kind of product by name ("can a personal loan tide me
  over?"): a house to sell after a mother's death is money to place, not equity to borrow against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.campaign import RELATIVE
from tools.requests.slots import find_product_categories

CREDIT = frozenset({"card", "loan", "mortgage"})
HARD_TIME_STATE = "hard_time"  # the session state key: the hard time told earlier in the conversation


@dataclass(frozen=True)
class HardTime:
    kind: str
    pattern: re.Pattern
    acknowledgement: str
    team: str
    no_new_credit: bool


HARD_TIMES = (
    HardTime("bereavement", re.compile(
        rf"\b(?:{RELATIVE}(?:'s| has| had)? (?:just |recently )?(?:passed away|passed|died|was killed)"
        rf"|lost my {RELATIVE}|my late {RELATIVE}|(?:death|loss) of my {RELATIVE}|my {RELATIVE}'s death"
        rf"|buried my {RELATIVE}|{RELATIVE}'s funeral (?:was|is|last|this|yesterday|today|on)"
        r"|passed away (?:last|this|on|in|recently)|widow(?:ed|er)?|bereave\w*)\b", re.IGNORECASE),
        "I'm so sorry for your loss.", "our bereavement team", no_new_credit=True),
    HardTime("job_loss", re.compile(
        r"\b(?:lost (?:my|our|his|her) (?:job|income)|(?:been |got |was |were )?laid off|made redundant|redundancy"
        r"|unemployed|out of work|between jobs|(?:got|been|was) fired|(?:got|been|was) let go"
        r"|(?:job|contract|position) (?:was|has been|got) (?:terminated|cut|made redundant))\b", re.IGNORECASE),
        "I'm sorry to hear about your job.", "our financial support team", no_new_credit=True),
    HardTime("money_trouble", re.compile(
        r"\b(?:(?:can'?t|cannot|could ?n'?t) (?:afford|pay|make|keep up with) (?:my|the|our) (?:credit |car |student )?"
        r"(?:bills?|rent|mortgage|payments?|repayments?|loan|card)|missed (?:my |our |a |two |several )?(?:\w+ )?"
        r"(?:payments?|repayments?)|behind on (?:my |our |the )?(?:\w+ ){0,2}(?:payments|repayments|bills|rent|mortgage)"
        r"|struggling (?:to pay|with (?:money|bills|debt))|(?:i'?m|i am|we'?re|we are|been|drowning|head)"
        r"(?: deep| badly| heavily| so| really)? in debt|(?:going|gone) bankrupt|bankruptcy)\b", re.IGNORECASE),
        "That sounds really hard.", "our financial support team", no_new_credit=True),
    HardTime("illness", re.compile(
        r"\b(?:diagnosed with|(?:have|has|got) cancer|terminal(?:ly)? ill|chemo\w*|seriously ill|hospice|palliative"
        r"|(?:had|has|suffered) a (?:stroke|heart attack))\b", re.IGNORECASE),
        "I'm sorry to hear that.", "our specialist support team", no_new_credit=False),
)


def hard_time_in(message: str) -> HardTime | None:
    """The hard time the message tells of, if any (the first that matches)."""
    message = _straight(message)
    return next((hard for hard in HARD_TIMES if hard.pattern.search(message)), None)


def without_the_loss(hard: HardTime | None, message: str) -> str:
    """What the message asks for with a death in the family taken out: "my dad passed away and left me some money"
    asks about the money, not for products for the one who died (long-term care for a father)."""
    if hard is None or hard.kind != "bereavement":
        return message
    return " ".join(hard.pattern.sub(" ", _straight(message)).split()) or message


def _straight(message: str) -> str:
    return message.replace("\u2019", "'")  # phones type a curly apostrophe: "can\u2019t", "dad\u2019s"


def care_note(hard: HardTime, handed_off: bool) -> str:
    """What the answer opens with; when the turn already goes to a person, only the acknowledgement."""
    if handed_off:
        return hard.acknowledgement
    return (f"{hard.acknowledgement} If you'd like to talk it through, {hard.team} can help: say \"talk to a "
            "person\" at any time.")


def without_new_credit(hard: HardTime | None, message: str, recommendations: list[dict]) -> list[dict]:
    """The recommendations fit to show: no new credit for someone bereaved, who lost their income or struggles to
    pay, unless the message asks for that kind by name."""
    if hard is None or not hard.no_new_credit or CREDIT & set(find_product_categories(message)):
        return recommendations
    return [rec for rec in recommendations if rec.get("category") not in CREDIT]


def hard_time_named(kind: str | None) -> HardTime | None:
    return next((hard for hard in HARD_TIMES if hard.kind == kind), None)
