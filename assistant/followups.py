"""Follow-up turns resolved from session state: "why?", "what about for my wife?",
"tell me more about the second one", "anything cheaper?".

Pure functions: the message and the previous turn's state in, a `FollowUp` out
(or None when the message stands on its own and goes to the classifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RECOMMENDING_INTENTS = {"personal_recommendation", "family_recommendation", "healthcare", "campaign_insight"}

_WHY = re.compile(
    r"^\W*(?:(?:and|so|ok|okay|but|hmm)\W+)?(why|how come|explain|what makes (it|them|that|those|this|the \w+(?: one)?|#\d|number \d)"
    r"|on what basis|reasons?)\b", re.IGNORECASE)
_SHORT_WHY = re.compile(r"^\W*(why( (that|this|those|these|them|it)( one)?)?|how come|explain( (that|this|it))?|reasons?)\W*$", re.IGNORECASE)
_ABOUT_RELATIVE = re.compile(r"^\W*(and |ok,? |okay,? )?(what|how) about\b|^\W*and (for )?(my|our)\b|\bfor my\b.*\?\s*$", re.IGNORECASE)
_MORE_ABOUT = re.compile(r"\b(tell me more|more (details|info|information)|details|more about|what is|what's|explain)\b", re.IGNORECASE)
_CHEAPER = re.compile(
    r"\b(anything|something|any|one|options?|cards?|products?)\s+(cheaper|less expensive|more affordable)\b"
    r"|\bcheaper\b|\b(lower|smaller|no) (annual )?fees?\b|\bwithout (an |the )?(annual )?fee\b",
    re.IGNORECASE,
)
ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3, "three": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}
_ORDINAL = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|that one|this one|it)\b", re.IGNORECASE)
_NUMBER_REF = re.compile(r"\b(?:number|no\.?|#)\s*(\d)\b|\boption\s+(\d)\b", re.IGNORECASE)


_LEAST_COST = re.compile(  # which of those shown costs least: a question about the list, not a new one
    r"\b(?:which|what)\b.{0,30}\b(?:cheapest|least expensive|most affordable|costs? (?:the )?least"
    r"|lowest (?:annual |monthly )?(?:fees?|cost|premiums?|price))\b", re.IGNORECASE)
_RATE = re.compile(  # which of those shown earns the most, or charges the least, interest
    r"\b(?:which|what)\b.{0,30}(?:\b(?P<earn>(?:pays?|earns?|gives?|gets?|offers?|has|have)\b.{0,12}\b(?:most|more|best|"
    r"highest|top|biggest) (?:interest|rate|apy|yield|return)|(?:highest|most|biggest) (?:interest|apy|yield|return)"
    r"|earns? (?:me |you )?(?:the )?most\b)"
    r"|\b(?P<borrow>(?:lowest|cheapest|smallest|least) (?:interest|rate|apr)|charges? (?:the )?(?:least|lowest) interest)"
    r"|\b(?:best|top|better) (?:interest(?: rate)?|rate|deal on (?:the )?rate))\b", re.IGNORECASE)
_PAYMENT = re.compile(  # what a shown loan would cost a month: "what would the monthly payment be on 300k?"
    r"\b(?:monthly )?payments?\b|\b(?:pay|owe|cost)\b.{0,25}\b(?:a|per|each|every) month\b|\bmonthly\b.{0,20}\b(?:be|cost)\b"
    r"|\bhow much (?:a|per) month\b", re.IGNORECASE)
# a cap on what they pay a month is a constraint on the list, not a question of what a loan would cost
_MONTHLY_CAP = re.compile(r"\b(?:more than|over|above|under|below|less than|at most|max(?:imum)?(?: of)?|up to)\s+"
                          r"\$?\s?\d[\d,.]*\s?(?:k|dollars|bucks)?\s*(?:a|per|each|every|/)\s*(?:month|mo)\b", re.IGNORECASE)
_SUM_OR_TERM = re.compile(r"\b\d+\s*(?:-\s*)?(?:years?|yrs?|months?)\b|\$\s?\d|\b\d+(?:\.\d+)?\s?(?:k|grand|thousand)\b"
                          r"|\b\d{1,3}(?:,\d{3})+\b", re.IGNORECASE)
_COMPARE = re.compile(r"\b(compare|comparison|side by side|side-by-side|difference between|differ|versus|vs\.?)\b", re.IGNORECASE)
_ELSE = re.compile(
    r"^\W*(?:(?:and|ok|okay|hmm|so|well)\W+)?(?:(?:anything|something|what) else\b|(?:show me |any |got any |are there |"
    r"give me )?(?:other|more|different) (?:options|ones|choices|products|suggestions|ideas|cards|accounts)\b"
    r"|show me (?:some )?(?:more|others|something different)\b|none of (?:these|those|them)\b|not (?:these|those)\b)",
    re.IGNORECASE)
_EXPLICIT_ORDINAL = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\b|(?:\b(?:number|no\.?|option)|#)\s*(\d)\b",
                               re.IGNORECASE)
# "and insurance for it?": the thing the last request was about, not a new need
_BACK_REFERENCE = re.compile(r"\b(?:for|on|cover(?:ing)?|insur(?:e|ing)|protect(?:ing)?|financ(?:e|ing)|pay(?:ing)? for)\s+"
                             r"(?:it|that|this|the same)\b", re.IGNORECASE)
_FIRST_N = re.compile(r"\b(?:first|top)\s+(two|three|2|3)\b", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUp:
    kind: str  # "why" | "relative" | "details" | "cheaper" | "cheapest" | "rate" | "payment" | "compare" | "else" |
    # "refine" | "nothing_else"
    position: int | None = None  # 1-based, for "details" and an ordinal "why"; -1 means the last one shown
    positions: tuple[int, ...] = ()  # for "compare"
    rate: str | None = None  # for "rate": "earn" (highest APY first), "borrow" (lowest APR first), "best" (either)


def detect_followup(message: str, state: dict, relations: list[str], refines: bool = False) -> FollowUp | None:
    """Read `message` as a follow-up to the last turn, or return None; `refines` says the message states a
    constraint ("only ones without an annual fee", "something lower risk")."""
    shown = state.get("recommendations") or []
    text = message.strip()
    short = len(text.split()) <= 12
    position = ordinal_reference(text)
    if not shown and position is not None and _MORE_ABOUT.search(text) and short:  # the answer says none was shown
        return FollowUp("details", position)
    if not state.get("intent"):
        return None
    if not shown and state["intent"] in RECOMMENDING_INTENTS and _ELSE.search(text) and short:
        return FollowUp("nothing_else")  # "anything else?" after an answer that had nothing: no goodbye
    if shown and (_SHORT_WHY.match(text) or (_WHY.match(text) and len(text.split()) <= 8)):
        return FollowUp("why", explicit_ordinals(text)[0] if explicit_ordinals(text) else None)
    if shown and _COMPARE.search(text) and short:
        return FollowUp("compare", positions=compared_positions(text))
    if shown and (_PAYMENT.search(text) or (state.get("payment") and _SUM_OR_TERM.search(text))) and short \
            and not _CHEAPER.search(text) and not _MONTHLY_CAP.search(text):
        # after a payment, "and over 15 years?" asks it again
        return FollowUp("payment")
    if shown and (rate := _RATE.search(text)) and short:
        return FollowUp("rate", rate="earn" if rate.group("earn") else "borrow" if rate.group("borrow") else "best")
    if shown and _LEAST_COST.search(text) and short:
        return FollowUp("cheapest")
    if relations and _ABOUT_RELATIVE.search(text) and len(text.split()) <= 14:
        return FollowUp("relative")
    ranked = bool(shown) and bool(state.get("tool"))  # a product question's list is not ranked again
    if ranked and _ELSE.search(text) and short:
        return FollowUp("else")
    if ranked and refines and short:
        return FollowUp("refine")
    if ranked and _CHEAPER.search(text) and len(text.split()) <= 10:
        return FollowUp("cheaper")
    if shown and position is not None and _MORE_ABOUT.search(text):
        return FollowUp("details", position)
    return None


def refers_back(text: str) -> bool:
    """Whether `text` asks for something for what the last request was about ("ok and insurance for it?")."""
    return bool(_BACK_REFERENCE.search(text))


def explicit_ordinals(text: str) -> list[int]:
    """The positions `text` names outright ("the first and the third" -> [1, 3]; "number 2" -> [2])."""
    found = []
    for match in _EXPLICIT_ORDINAL.finditer(text):
        word = (match.group(1) or "").lower()
        found.append(-1 if word == "last" else ORDINALS[word] if word else int(match.group(2)))
    return list(dict.fromkeys(found))


def compared_positions(text: str) -> tuple[int, ...]:
    """Which shown items to compare: "the first two" -> (1, 2), "1 and 3" -> (1, 3); the first two by default."""
    first_n = _FIRST_N.search(text)
    if first_n:
        return tuple(range(1, ORDINALS.get(first_n.group(1).lower(), int(first_n.group(1)) if first_n.group(1).isdigit() else 2) + 1))
    named = explicit_ordinals(text) or [int(d) for d in re.findall(r"\b([1-5])\b", text)]
    return tuple(named) if len(named) >= 2 else (1, 2)


def ordinal_reference(text: str) -> int | None:
    """'the second one' -> 2, 'number 3' -> 3, 'the last one' -> -1, 'it' -> 1."""
    numbered = _NUMBER_REF.search(text)
    if numbered:
        return int(numbered.group(1) or numbered.group(2))
    match = _ORDINAL.search(text)
    if not match:
        return None
    word = match.group(1).lower()
    if word == "last":
        return -1
    return ORDINALS.get(word, 1)


def pick_shown(shown: list[dict], position: int) -> dict | None:
    if not shown:
        return None
    if position == -1:
        return shown[-1]
    return shown[position - 1] if 1 <= position <= len(shown) else None


def by_rate(products: list[dict], rate: str) -> tuple[str, list[int]]:
    """The positions of `products` ordered by their rate: for "earn", APY highest first; for "borrow", APR lowest
    first; for "best", whichever of the two more of them carry. Those without that rate keep their order, last.
    Returns ("apy" or "apr", positions)."""
    terms = [product.get("terms") or {} for product in products]
    if rate == "best":
        rate = "earn" if sum(t.get("apy") is not None for t in terms) >= sum(t.get("apr") is not None for t in terms) \
            else "borrow"
    field, sign = ("apy", -1) if rate == "earn" else ("apr", 1)
    order = sorted(range(len(products)), key=lambda i: (terms[i].get(field) is None, sign * (terms[i].get(field) or 0), i))
    return field, order


def monthly_payment(amount: float, apr: float, months: int) -> float:
    """The level monthly payment (principal and interest) that repays `amount` over `months` at `apr`."""
    rate = apr / 12
    return amount / months if rate == 0 else amount * rate / (1 - (1 + rate) ** -months)


def yearly_cost(product: dict) -> float:
    """What a product costs a year in fees and premiums, for "anything cheaper?"."""
    terms = product.get("terms") or {}
    return (
        (terms.get("annual_fee") or 0)
        + 12 * (terms.get("monthly_fee") or 0)
        + 12 * (terms.get("premium_monthly") or 0)
    )
