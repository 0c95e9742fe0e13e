"""Fee caps and rate type read with the words around them: what a customer rules out or caps, not what they name.

"NOT one with an annual fee", "not if there's an annual fee", "annual fee under 50 bucks", "can't swing more
than 5 bucks a month in fees" all mention a fee; whether it is ruled out (cap 0), capped at a sum, or only
mentioned depends on the negation or the comparison in the same clause. The same holds for rate types: "fixed,
not one of those adjustable ones" asks for a fixed rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE_END = re.compile(r"[.?!;]|\band\b(?=\s+(?:i|we|my|our)\b)", re.IGNORECASE)
_FEE = re.compile(r"\b(?:fees?|charges?)\b(?!\s+me\b)", re.IGNORECASE)
_FEE_ANNUAL = re.compile(r"\b(?:annual|yearly|anual|annually|year|yr|a year|per year)\W*$", re.IGNORECASE)
_FEE_MONTHLY = re.compile(r"(?:\bmonthly|\bmaintenance|\baccount|\bservice|\ba month(?: in)?|\bper month(?: in)?"
                          r"|/mo(?:nth)?(?: in)?|\bmonth(?:ly)? in)\W*$", re.IGNORECASE)
# fees that are not the product's price: "no foreign transaction fees" does not rule out an annual fee
_OTHER_FEE = re.compile(r"\b(?:foreign|transaction|overdraft|late|atm|wire|transfer|penalty|origination|closing|"
                        r"prepayment|early withdrawal|withdrawal|trading|commission|advisory|management)\W*$",
                        re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:no|not|none|without|never|avoid|hate|zero|free of|rather not|cannot|(?:do|does|did|ca|wo|would|"
                       r"should|is|are|ai|have|has)n'?t)\b|\$0\b",
                       re.IGNORECASE)
_PERMISSIVE = re.compile(r"\b(?:(?:do|would|does)n'?t mind|not against|no problem with|fine with|ok with|okay with)\b",
                         re.IGNORECASE)
_CAP = re.compile(r"\b(?:under|below|less than|at most|max(?:imum)?|up to|no more than|more than|cap(?:ped)? at|"
                  r"within|not over|lower than|cheaper than|<)\s*\$?\s*(?P<sum>\d+(?:\.\d+)?)", re.IGNORECASE)
_WITHOUT_AFTER = re.compile(r"\b(?:one|something|an? \w+)\s+without\b(?!\s+\w)", re.IGNORECASE)  # "..., I want one without"
_FEE_FREE = re.compile(r"\bfee[- ]?free\b|\bno[- ]fee\b|\bfees?\s+(?:are\s+)?(?:a\s+)?no[- ]go\b"
                       r"|\bfree (?:checking|account|card)\b", re.IGNORECASE)
_ANNUAL_FREE = re.compile(r"\b(?:annual|yearly)[- ]fee[- ]free\b|\bno[- ]annual[- ]fee\b", re.IGNORECASE)
_MONTHLY_FREE = re.compile(r"\bmonthly[- ]fee[- ]free\b|\bno[- ]monthly[- ]fee\b", re.IGNORECASE)
# what a customer will pay a month for a bank account is its monthly fee ("I won't pay over $25 a month for it"), for
# cover its premium (`tools.requests.model.MONTHLY_COSTS`); about borrowing the same words speak of a loan's payment,
# which depends on the sum borrowed and no fee cap describes
_PAY_A_MONTH = re.compile(r"\bpay(?:ing)?\s+(?P<cap>more than|over|above|up to|at most|no more than|max(?:imum)?)\s*\$?\s*"
                          r"(?P<sum>\d+(?:\.\d+)?)\s*(?:bucks|dollars)?\s*(?:a|per|/)\s*(?:month|mo)\b", re.IGNORECASE)
_BANK_ACCOUNT = re.compile(r"\b(?:checking|savings account|bank account|current account)\b", re.IGNORECASE)
_BORROWING = re.compile(r"\b(?:loans?|mortgages?|borrow\w*|financ\w*|lend\w*|repay\w*|payments?|installments?)\b",
                        re.IGNORECASE)
BEFORE = 45  # characters before a mention where its negation or cap is said
AFTER = 30  # ... and after it ("annual fee under 50 bucks")

_FIXED = re.compile(
    r"(?<!premiums )(?<!premium )(?<!premiums are )\bfixed(?:[- ]rate)?\b(?![- ]premiums?)|\block(?:ed)?[- ]in\b|\bsame (?:monthly )?payment\b|\bpredictable (?:monthly )?payments?\b"
    r"|\bstable (?:rate|payments?)\b|\bpayment to stay the same\b"
    r"|\brate (?:that )?(?:won'?t|doesn'?t|does not|can'?t|cannot|will not|never) (?:change|go up|move|jump)",
    re.IGNORECASE)
_VARIABLE = re.compile(r"\b(?:variable|adjustable|floating)(?:[- ]rate)?\b|\bteaser(?: rate)?\b|\bintro(?:ductory)? rate\b"
                       r"|\barms?\b(?=.*\b(?:mortgage|rate|loan)\b)|\brate that (?:jumps|goes up)\b", re.IGNORECASE)
RATE_BEFORE = 30


@dataclass(frozen=True)
class FeeCaps:
    annual: float | None = None
    monthly: float | None = None


def fee_caps(text: str) -> FeeCaps:
    """The highest annual and monthly fee `text` accepts (0: none), None where it sets no limit."""
    annual = 0.0 if _ANNUAL_FREE.search(text) else None
    monthly = 0.0 if _MONTHLY_FREE.search(text) else None
    for match in _FEE.finditer(text):
        before, after = _clause_before(text, match.start(), BEFORE), _clause_after(text, match.end(), AFTER)
        if _OTHER_FEE.search(before):
            continue
        cap = _cap(before, after)
        if cap is None:
            continue
        if _FEE_ANNUAL.search(before):
            annual = _lower(annual, cap)
        elif _FEE_MONTHLY.search(before):
            monthly = _lower(monthly, cap)
        else:
            annual, monthly = _lower(annual, cap), _lower(monthly, cap)
    if annual is None and monthly is None and _FEE_FREE.search(text):
        annual = monthly = 0.0
    if monthly is None and (_BANK_ACCOUNT.search(text) or not _BORROWING.search(text)):
        monthly = _monthly_pay_cap(text)
    return FeeCaps(annual, monthly)


def _monthly_pay_cap(text: str) -> float | None:
    """The most `text` will pay a month ("up to $30 a month"; "won't pay more than $15 a month": said with a no)."""
    for match in _PAY_A_MONTH.finditer(text):
        upper = match.group("cap").lower() in ("more than", "over", "above")
        if not upper or _negated(_clause_before(text, match.start(), BEFORE)):
            return float(match.group("sum"))
    return None


def _cap(before: str, after: str) -> float | None:
    """The cap a fee mention sets: a sum it is compared with, else 0 when it is negated, else none."""
    for window in (after, before):
        match = _CAP.search(window)
        if match:
            return float(match.group("sum"))
    return 0.0 if _negated(before) or _WITHOUT_AFTER.search(after) else None


def _negated(before: str) -> bool:
    return bool(_NEGATION.search(before)) and not _PERMISSIVE.search(before)


def _lower(current: float | None, cap: float) -> float:
    return cap if current is None else min(current, cap)


def rate_type(text: str) -> str | None:
    """"fixed" or "variable" when `text` asks for one (or rules the other out), else None."""
    wanted = set()
    for pattern, kind, other in ((_FIXED, "fixed", "variable"), (_VARIABLE, "variable", "fixed")):
        for match in pattern.finditer(text):
            negated = _negated(_clause_before(text, match.start(), RATE_BEFORE))
            wanted.add(other if negated else kind)
    return wanted.pop() if len(wanted) == 1 else None


def _clause_before(text: str, start: int, width: int) -> str:
    window = text[max(0, start - width):start]
    ends = list(_CLAUSE_END.finditer(window))
    return window[ends[-1].end():] if ends else window


def _clause_after(text: str, end: int, width: int) -> str:
    window = text[end:end + width]
    stop = _CLAUSE_END.search(window)
    return window[:stop.start()] if stop else window
