"""Follow-up turns resolved from session state: "why?", "what about for my wife?",
"tell me more about the second one", "anything cheaper?".

Pure functions: the message and the previous turn's state in, a `FollowUp` out
(or None when the message stands on its own and goes to the classifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RECOMMENDING_INTENTS = {"personal_recommendation", "family_recommendation", "healthcare", "campaign_insight"}

_WHY = re.compile(r"^\W*(why|how come|explain|what makes (it|them|that|those)|on what basis|reasons?)\b", re.I)
_SHORT_WHY = re.compile(r"^\W*(why( (that|this|those|these|them|it)( one)?)?|how come|explain( (that|this|it))?|reasons?)\W*$", re.I)
_ABOUT_RELATIVE = re.compile(r"^\W*(and |ok,? |okay,? )?(what|how) about\b|^\W*and (for )?(my|our)\b|\bfor my\b.*\?\s*$", re.I)
_MORE_ABOUT = re.compile(r"\b(tell me more|more (details|info|information)|details|more about|what is|what's|explain)\b", re.I)
_CHEAPER = re.compile(
    r"\b(anything|something|any|one|options?|cards?|products?)\s+(cheaper|less expensive|more affordable)\b"
    r"|\bcheaper\b|\b(lower|smaller|no) (annual )?fees?\b|\bwithout (an |the )?(annual )?fee\b",
    re.I,
)
ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3, "three": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}
_ORDINAL = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|that one|this one|it)\b", re.I)
_NUMBER_REF = re.compile(r"\b(?:number|no\.?|#)\s*(\d)\b|\boption\s+(\d)\b", re.I)


@dataclass(frozen=True)
class FollowUp:
    kind: str  # "why" | "relative" | "details" | "cheaper"
    position: int | None = None  # 1-based, for "details"; -1 means the last one shown


def detect_followup(message: str, state: dict, relations: list[str]) -> FollowUp | None:
    """Read `message` as a follow-up to the last turn, or return None."""
    shown = state.get("recommendations") or []
    if not state.get("intent"):
        return None
    text = message.strip()
    if shown and (_SHORT_WHY.match(text) or (_WHY.match(text) and len(text.split()) <= 8)):
        return FollowUp("why")
    if relations and _ABOUT_RELATIVE.search(text) and len(text.split()) <= 10:
        return FollowUp("relative")
    if shown and _CHEAPER.search(text) and len(text.split()) <= 10:
        return FollowUp("cheaper")
    position = ordinal_reference(text)
    if shown and position is not None and _MORE_ABOUT.search(text):
        return FollowUp("details", position)
    return None


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


def yearly_cost(product: dict) -> float:
    """What a product costs a year in fees and premiums, for "anything cheaper?"."""
    terms = product.get("terms") or {}
    return (
        (terms.get("annual_fee") or 0)
        + 12 * (terms.get("monthly_fee") or 0)
        + 12 * (terms.get("premium_monthly") or 0)
    )
