"""The parts of a request read from its words alone: constraints, relatives and their ages, life events, business.

Pure functions over the text; the catalogue match is `tools.requests.needs`.
Numbers ("$15k", "30 grand") come from `tools.requests.slots`; ages and counts
said in words ("in their eighties", "my two kids") are read here.
"""

from __future__ import annotations

import re

from tools.campaign import fired_rules
from tools.requests.limits import fee_caps, rate_type
from tools.requests.model import Constraints, StatedRelative
from tools.requests.slots import (
    find_amounts,
    find_product_categories,
    find_relations,
    relations_named,
    spoken_of_as_several,
)

_NO_RISK = re.compile(
    r"\b(?:no|zero|without(?: any)?)\s+risk\b|\brisk[- ]free\b|\bcan'?t (?:afford to )?lose\b|\bcannot (?:afford to )?lose\b"
    r"|\bnot (?:to )?lose (?:a (?:penny|cent|dime)|any)|\bfdic\b|\binsured deposits?\b|\bguaranteed\b|\bprotect(?:ed)? (?:my |the )?"
    r"(?:principal|capital)\b|\bdon'?t want to lose\b|\bzero chance of losing\b|\b(?:totally|completely|100%|perfectly|100 percent) safe\b"
    r"|\bno (?:stock )?market\b|\b(?:don'?t want|no|not) (?:any|even a little) risk\b",
    re.IGNORECASE)
_LOW_RISK = re.compile(
    r"\blow(?:er)?[- ]risk\b|\bless risk(?:y)?\b|\bminimal risk\b|\bwithout (?:much|too much|a lot of) risk\b|\bconservative\b"
    r"|\bsafe(?:r|st)?\b|\bnot (?:too |very |that )?risky\b|\bnothing (?:too )?risky\b|\bcautious\b|\brisk[- ]averse\b"
    r"|\bsteady\b|\blow volatility\b|\bsleep at night\b",
    re.IGNORECASE)
_MEDIUM_RISK = re.compile(r"\b(?:moderate|medium|some|a bit of)\s+risk\b|\bbalanced\b|\bmoderate(?:ly)?\b|\bmiddle of the road\b",
                          re.IGNORECASE)

_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "eighteen": 18, "twenty": 20,
                "thirty": 30}
_COUNT = r"(?P<count>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|eighteen|twenty|thirty)"
_TERM = re.compile(
    rf"\b(?:for|over|term of|lasting|lock(?:ed)? (?:it |in |up )?(?:for)?)\s+(?:about\s+|around\s+|roughly\s+)?{_COUNT}\s+"
    r"(?P<unit>years?|yrs?|months?)\b(?!\s+old)"
    rf"|\b(?P<count2>\d{{1,2}})[- ](?P<unit2>year|yr|month)(?![- ]olds?\b)\b(?!\s+old)",
    re.IGNORECASE)
_HORIZON = re.compile(
    rf"\b(?:in|within|by|after)\s+(?:the\s+)?(?:next\s+)?{_COUNT}\s+(?P<unit>years?|yrs?|months?)\b"
    r"|\bnext (?P<unit2>year|month|summer|spring|fall|autumn|winter)\b",
    re.IGNORECASE)
_SEASON_MONTHS = {"summer": 9, "spring": 6, "fall": 12, "autumn": 12, "winter": 12}

# "I hate the idea of paying interest for 30 years": a term the customer does not want is no term they ask for
_UNWANTED_TERM = re.compile(r"\b(?:hate|don'?t want|do not want|not|avoid|rather not|instead of|tired of|no more|sick of)\b",
                            re.IGNORECASE)
# a type named next to "only" ("only savings accounts", "I just want a card", "investments only"); not a "just" in
# "I just got a new job, I want to start investing"
_ONLY_CATEGORY = (re.compile(r"\b(?:only|just|nothing but|strictly)\s+(?P<what>(?:[\w'-]+\s+){0,3}[\w'()-]+)",
                             re.IGNORECASE),
                  re.compile(r"(?P<what>[\w'()-]+)\s+only\b", re.IGNORECASE))
# ... or standing for the type named before it ("lost my health insurance. I just need something cheap")
_ONLY_THAT = re.compile(r"\b(?:only|just)\s+(?:need|want|looking for)\s+(?:something|one|that|it)\b", re.IGNORECASE)
_NOT_CATEGORY = {
    "investment": re.compile(r"\b(?:no|not|nothing|don'?t want|without|avoid)\b[^.?!]{0,25}\b(?:invest\w*|stocks?|the market|"
                             r"brokerage)\b", re.IGNORECASE),
    "card": re.compile(r"\b(?:no|not|don'?t want|without|avoid)\b[^.?!]{0,12}\b(?<!debit )(?:credit )?cards?\b", re.IGNORECASE),
    "loan": re.compile(r"\b(?:no|not|don'?t want|without|avoid)\b[^.?!]{0,12}\b(?:loans?|debt|borrow\w*)\b", re.IGNORECASE),
    "insurance": re.compile(r"\b(?:no|not|don'?t want|without)\b[^.?!]{0,12}\binsurance\b", re.IGNORECASE),
    "deposit": re.compile(r"\b(?:not|don'?t want)\b(?: just)?(?: an?| another)?\s+(?:(?:savings|checking|bank) account|debit card)",
                          re.IGNORECASE),
    "mortgage": re.compile(r"\b(?:not|no|don'?t want)\b(?: an?| another| a new)?\s+mortgage", re.IGNORECASE),
}

_ALREADY = re.compile(r"\balready (?:have|has|hold|own|got|use|max(?:ed)? out|maxing out|pay into|contribute to|put money in)"
                      r"\b(?P<what>[^.?!]{0,40})", re.IGNORECASE)

_DECADES = {"twenties": 25, "thirties": 35, "forties": 45, "fifties": 55, "sixties": 65, "seventies": 75,
            "eighties": 82, "nineties": 92, "teens": 15}
_RELATIVE_WORD = (r"(?:son|sons|daughter|daughters|kid|kids|child|children|boy|girl|baby|toddler|teen|teenager|"
                  r"(?:mother|father|parents|brother|sister)[- ]in[- ]law|in-laws|"
                  r"mom|mum|mother|dad|father|parents?|mama|papa|wife|husband|spouse|partner|brother|sister|"
                  r"grandson|granddaughter|grandkids?|grandchild(?:ren)?|twins|stepson|stepdaughter|niece|nephew)")
_AGE_BEFORE = re.compile(rf"\b(?P<age>\d{{1,3}})[- ](?:years?|yrs?|yo)[- ]?olds?(?:\s+(?P<who>{_RELATIVE_WORD})\b)?",
                         re.IGNORECASE)
# what may follow a number for it to be an age: not "12k", "5%", "3 months", "10 years" (but "10 years old")
_AN_AGE_ENDS = r"\b(?!\s*(?:k|grand|%|dollars|bucks|months?|weeks?|\$)|[- ]?(?:years?|yrs?)\b(?![- ]?olds?\b))"
# an age goes to the nearest relative before it: "my mom and my son, he's 12" is the son's age, not the mom's
_AGE_AFTER = re.compile(
    rf"\b(?P<who>{_RELATIVE_WORD})\b(?:(?!\b{_RELATIVE_WORD}\b)[^.?!\d]){{0,30}}?\b(?:is|are|turns?|turning|aged?|who'?s|who are|,)?\s*"
    r"(?:just\s+|about\s+|nearly\s+|almost\s+|only\s+)?(?P<age>\d{1,3})" + _AN_AGE_ENDS, re.IGNORECASE)
# "our daughter starts university in september, she's 18": an age said of the one relative named, further on
_PRONOUN_AGE = re.compile(
    r"\b(?:she|he)(?:'s|’s|\s+is|\s+just\s+turned|\s+turned|\s+turns)\s+(?:just\s+|only\s+|nearly\s+|almost\s+|about\s+)?"
    r"(?P<age>\d{1,3})" + _AN_AGE_ENDS, re.IGNORECASE)
_DECADE = re.compile(r"\b(?:in|into)\s+(?:his|her|their|my|the)\s+(?:early\s+|mid[- ]|late\s+)?"
                     r"(?P<decade>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|teens|[2-9]0s)\b", re.IGNORECASE)
_SITUATION_AGES = (
    (re.compile(r"\bnewborn\b|\bbaby\b|\bon the way\b|\bexpecting\b|\bjust born\b", re.IGNORECASE), "child", 0),
    (re.compile(r"\btoddler\b", re.IGNORECASE), "child", 2),
    (re.compile(r"\bteen(?:ager)?s?\b|\bhigh school\b|\blearning to drive\b|\bdriver'?s licen[cs]e\b", re.IGNORECASE), "child", 16),
    (re.compile(r"\b(?:starting|off to|going to|heading to|in|at) (?:college|uni|university)\b|\bfreshman\b", re.IGNORECASE), "child", 18),
    (re.compile(r"\bgrand(?:son|daughter|kids?|child(?:ren)?)\b", re.IGNORECASE), "child", 8),
)
# kin read as a child though not the customer's own ("my grandson is turning 1"): the answer names them by this word
_OTHER_KIN = re.compile(r"\bgrand(?:son|daughter|kid|child)(?:ren|s)?\b|\b(?:niece|nephew|step(?:son|daughter))s?\b",
                        re.IGNORECASE)
_COUNTED = re.compile(rf"\b{_COUNT}\s+(?:\w+\s+)?(?:kids|children|sons|daughters|boys|girls|grandkids|grandchildren)\b", re.IGNORECASE)
_BUSINESS = re.compile(
    r"\b(?:(?:my|our|her|his|their)(?:\s+own)?|(?:start|starting|run|running|open|opening|owns?)\s+an?)\s+(?:small\s+)?"
    r"(?!(?:old|former|previous|last|current|dad'?s|mom'?s|husband'?s|wife'?s)\b)\w+\s+"
    r"(?:business|company|startup)\b"
    r"|\b(?:my|our|her|his|their|own)\s+(?:own\s+|small\s+|little\s+)?(?:business|company|shop|store|llc|firm|practice|"
    r"startup|start-up|bakery|restaurant|salon|cafe|café|studio|agency|consultancy|food truck)\b"
    r"|\b(?:the|a|new)\s+(?:small\s+)?(?:\w+\s+)?(?:business|llc|startup|start-up|food truck)\b"
    r"|\bfor the (?:shop|store|salon|restaurant|bakery|cafe|café|studio|practice)\b|\bself[- ]employed\b|\bfreelanc\w*"
    r"|\b(?:hired|hiring|hire|took on|taking on)\s+(?:my\s+|our\s+)?(?:first\s+)?(?:\w+\s+)?(?:employees?|staff|workers)\b"
    r"|\bsole (?:proprietor|trader)\w*\b|\bside (?:hustle|business|gig)\b|\bmy employees\b|\bpayroll\b|\binvoic\w+\b"
    r"|\bbusiness (?:account|card|expenses?|loan|checking|owner)\b|\b1099\b|\b(?:i'?m|i am|as|an?) (?:independent |self-employed )?contractor\b|\bgig work\b|\bgig\b",
    re.IGNORECASE)


def constraints_in(text: str, categories: tuple[str, ...] = ()) -> Constraints:
    """The hard limits `text` states; `categories` are the product types it names (for "only savings accounts")."""
    excluded = excluded_categories(text)
    wanted = tuple(category for category in categories if category not in excluded)
    fees = fee_caps(text)
    capped = {fees.annual, fees.monthly} - {None, 0.0}
    return Constraints(
        max_annual_fee=fees.annual,
        max_monthly_fee=fees.monthly,
        rate_type=rate_type(text),
        max_risk=_risk(text),
        term_months=_term_months(text),
        amount=_amount(text, capped),
        horizon_months=_horizon_months(text),
        categories=wanted if wanted and (_only_a_type(text) or excluded) else (),
        excluded_categories=excluded,
    )


def _only_a_type(text: str) -> bool:
    return bool(_ONLY_THAT.search(text)) or any(find_product_categories(match.group("what"))
                                                for pattern in _ONLY_CATEGORY for match in pattern.finditer(text))


def excluded_categories(text: str) -> tuple[str, ...]:
    """The product types `text` rules out ("not investments", "not another credit card") or says it already has
    ("I already max out my 401k and IRA")."""
    ruled_out = [category for category, pattern in _NOT_CATEGORY.items() if pattern.search(text)]
    for clause in _ALREADY.finditer(text):
        ruled_out += [category for category in find_product_categories(clause.group("what")) if category not in ruled_out]
    return tuple(ruled_out)


def _risk(text: str) -> str | None:
    if _NO_RISK.search(text):
        return "none"
    if _LOW_RISK.search(text):
        return "low"
    if _MEDIUM_RISK.search(text):
        return "medium"
    return None


def _count(raw: str) -> int:
    raw = raw.lower()
    return int(raw) if raw.isdigit() else _COUNT_WORDS.get(raw, 1)


def _term_months(text: str) -> int | None:
    match = next((found for found in _TERM.finditer(text) if not _UNWANTED_TERM.search(_clause_before(text, found.start()))),
                 None)
    if match is None:
        return None
    count = _count(match.group("count") or match.group("count2"))
    unit = (match.group("unit") or match.group("unit2")).lower()
    months = count * (12 if unit.startswith(("year", "yr")) else 1)
    return months if 0 < months <= 600 else None


def _clause_before(text: str, end: int) -> str:
    start = max(text.rfind(mark, 0, end) for mark in ".,!?;")
    return text[start + 1:end]


def _horizon_months(text: str) -> float | None:
    match = _HORIZON.search(text)
    if match is None:
        return None
    season = (match.group("unit2") or "").lower()
    if season:
        return {"year": 12.0, "month": 1.0}.get(season, float(_SEASON_MONTHS.get(season, 12)))
    count = _count(match.group("count"))
    return float(count * (12 if match.group("unit").lower().startswith(("year", "yr")) else 1))


def _amount(text: str, fee_caps: set) -> float | None:
    """The largest sum `text` names, apart from those it sets as a fee cap ("annual fee under 50 bucks")."""
    sums = [amount for amount in find_amounts(text) if amount.per is None and amount.value not in fee_caps]
    return max((amount.value for amount in sums), default=None)


def relatives_in(text: str) -> tuple[StatedRelative, ...]:
    """The relatives `text` is about, with the age and count it states ("my 12-year-old" -> child aged 12)."""
    named = relations_named(text)
    ages = _stated_ages(text, list(named))
    counted = _stated_count(text)
    found: dict[str, StatedRelative] = {}
    for relation in [*named, *ages]:
        words = named.get(relation, [])
        count = counted if relation == "child" and counted > 1 else 2 if spoken_of_as_several(words) else 1
        kin = _OTHER_KIN.search(text) if relation == "child" and not words else None
        word = next(iter(words), "") or (kin.group(0).lower() if kin else "")
        found.setdefault(relation, StatedRelative(relation, ages.get(relation), count, word=word))
    return tuple(found.values())


def _stated_ages(text: str, relations: list[str]) -> dict[str, int]:
    """The ages `text` states, by relation; `relations` are those it names (`find_relations`)."""
    ages: dict[str, int] = {}
    for match in _AGE_BEFORE.finditer(text):
        relation = _relation_of(match.group("who")) or "child"
        ages.setdefault(relation, int(match.group("age")))
    for match in _AGE_AFTER.finditer(text):
        relation = _relation_of(match.group("who"))
        age = int(match.group("age"))
        if relation and age <= 110:
            ages.setdefault(relation, age)
    pronoun = _PRONOUN_AGE.search(text)
    if pronoun and len(set(relations)) == 1 and int(pronoun.group("age")) <= 110:
        ages.setdefault(relations[0], int(pronoun.group("age")))
    decade = _DECADE.search(text)
    if decade:
        word = decade.group("decade").lower()
        age = _DECADES.get(word) or int(word[0]) * 10 + 2
        relation = next(iter(relations), "parent")
        ages.setdefault(relation, age)
    for pattern, relation, age in _SITUATION_AGES:
        if pattern.search(text) and (relation in relations or pattern.pattern.startswith(r"\bgrand")):
            ages.setdefault(relation, age)
    return ages


def is_other_kin(word: str) -> bool:
    """Whether the customer's word for a relative read as a child names kin who is not their own child ("grandson")."""
    return bool(_OTHER_KIN.fullmatch(word))


def _relation_of(word: str | None) -> str | None:
    if not word:
        return None
    lowered = word.lower()
    if lowered.startswith("grand") or lowered in ("niece", "nephew", "twins", "boy", "girl"):
        return "child"
    found = find_relations(lowered)
    return found[0] if found else None


def _stated_count(text: str) -> int:
    if re.search(r"\btwins\b", text, re.IGNORECASE):
        return 2
    match = _COUNTED.search(text)
    return max(1, _count(match.group("count"))) if match else 1


def life_events_in(text: str) -> tuple[str, ...]:
    """The life events `text` tells of, as need-rule names ("we got a kitten" -> pet)."""
    return tuple(rule.name for rule in fired_rules(text))


def about_business(text: str) -> bool:
    return bool(_BUSINESS.search(text))

