"""Slot extraction: the facts a turn's words carry, as pure functions over text.

Each `find_*` function reads one kind of slot; `extract_slots` runs them all.
Values use Fargo's own vocabularies: relations are `retrieval.records.Relation`
values and product categories are `retrieval.records.ProductCategory` values, so a
slot can be handed to a tool without translation.

The rules lean towards missing a slot rather than inventing one: a bare number
is not an amount ("my 16 year old", "transfer 500"), a bare "first" is not a
reference to a listed option ("my first job").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.lexical import tokenize
from retrieval.records import ProductCategory, Relation

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18,
    "twenty": 20, "thirty": 30, "couple": 2, "a couple of": 2, "few": 3, "a few": 3,
}

_RELATION_WORDS: dict[str, tuple[str, ...]] = {
    Relation.spouse: (
        "wife", "husband", "spouse", "partner", "fiance", "fiancé", "fiancee", "fiancée",
        "girlfriend", "boyfriend", "hubby", "missus",
    ),
    Relation.parent: (
        "mom", "mum", "mother", "mommy", "mummy", "dad", "father", "daddy", "parent", "parents",
        "mama", "papa", "stepmom", "stepmother", "stepdad", "stepfather",
        "in-laws", "mother-in-law", "father-in-law", "parents-in-law", "mother in law", "father in law",
    ),
    Relation.child: (
        "son", "sons", "daughter", "daughters", "kid", "kids", "child", "children", "childrens",
        "baby", "newborn", "toddler", "teenager", "teen", "stepson", "stepdaughter", "twins",
    ),
    Relation.sibling: ("brother", "brothers", "sister", "sisters", "sibling", "siblings", "brother-in-law",
                       "sister-in-law", "brother in law", "sister in law"),
}
_RELATION_BY_WORD = {word: relation for relation, words in _RELATION_WORDS.items() for word in words}
# "partner" is also the bank's word for a provider it works with ("partner clinics").
_NOT_A_RELATIVE = r"(?!\s+(?:hospitals?|clinics?|providers?|network|banks?|doctors?|dentists?|programs?|offers?))"
_RELATION_PATTERN = re.compile(
    r"(?<!business )\b("
    + "|".join(sorted(map(re.escape, _RELATION_BY_WORD), key=len, reverse=True))
    + r")(?:'s|s')?\b"
    + _NOT_A_RELATIVE,
    re.IGNORECASE,
)

# Order matters: a specific phrase claims its words before a general one can
# ("health insurance" is healthcare, not insurance; "home loan" is a mortgage).
_CATEGORY_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        ProductCategory.healthcare,
        r"(?:health\w*|medical|dental)(?:\s+(?:insurance|plans?|savings(?:\s+accounts?)?|coverage|cover|financing"
        r"|loans?|bills?|expenses))?|hsas?|fsas?|hospital\w*|dentist|surgery|doctors?|clinics?",
    ),
    (
        ProductCategory.education_savings,
        r"529s?(?:\s+plans?)?|(?:education|college|tuition)\s+(?:funds?|savings?)(?:\s+(?:accounts?|plans?))?",
    ),
    (
        ProductCategory.retirement,
        r"retire\w*(?:\s+(?:savings|accounts?|plans?|funds?))?|pensions?|roth|ira|401\(?k\)?|403\(?b\)?",
    ),
    (
        ProductCategory.mortgage,
        # refinancing is a mortgage's unless what is refinanced is named as another debt ("my student loans")
        r"mortgages?|home loans?|(?:refinanc\w*|refi)(?!(?:\s+\w+){0,2}\s+(?:student|college|grad|car|auto|truck|vehicle"
        r"|personal|business|credit)\b)|home equity(?:\s+(?:lines?\s+of\s+credit|loans?))?|helocs?",
    ),
    (ProductCategory.card, r"(?:credit|debit|rewards?|cash ?back|travel|prepaid) cards?|cards?|visa|mastercard"),
    (ProductCategory.investment, r"invest\w*|brokerage|stocks?|etfs?|mutual funds?|portfolio|bonds?"),
    # money a policy paid out ("a life insurance check") is a sum to place, not insurance asked for
    (ProductCategory.insurance, (r"insurance(?!\s+(?:check|cheque|payout|pay-?out|paid|money|proceeds|settlement|claim))"
                                 r"|insured|life cover|annuit(?:y|ies)")),
    (
        ProductCategory.loan,
        r"(?:personal|auto|car|student|business) loans?|loans?|lines? of credit|borrow\w*|financing|financ(?:e|ed) (?:a|an|my|our|the) (?:new |used )?(?:car|truck|suv|van|vehicle|motorbike|motorcycle|boat)",
    ),
    (
        ProductCategory.deposit,
        r"savings(?:\s+accounts?)?|saving\s+accounts?|deposits?|cds?|certificates? of deposit|checking(?: accounts?)?"
        r"|current accounts?|money market|emergency fund|bank accounts?",
    ),
)
_CATEGORY_REGEXES = tuple((category, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)) for category, pattern in _CATEGORY_PATTERNS)

_SCALE = {"k": 1_000, "thousand": 1_000, "grand": 1_000, "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000}
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE_WORD = r"k|m|mm|thousand|grand|million"
_PER = r"(?:\s*(?:/|per|a|an|each)\s*(?P<per>day|week|month|mo|year|yr|annum))?"
_AMOUNT_PATTERNS = (
    # $5k, $ 5,000, USD 300, $1.2 million
    re.compile(
        rf"(?:\$|\busd\s?)\s?(?P<number>{_NUMBER})\s?(?P<scale>{_SCALE_WORD})?\b{_PER}", re.IGNORECASE
    ),
    # 5,000 dollars, 5k dollars, 300 bucks, 2 grand
    re.compile(
        rf"\b(?P<number>{_NUMBER})\s?(?P<scale>{_SCALE_WORD})?\s?(?:dollars|bucks|usd)\b{_PER}", re.IGNORECASE
    ),
    # 80k, 2 grand; a 401k is a retirement plan, not a sum
    re.compile(rf"\b(?!40[13]\s?k\b)(?P<number>{_NUMBER})\s?(?P<scale>k|grand)\b{_PER}", re.IGNORECASE),
)
_PER_UNIT = {"day": "day", "week": "week", "month": "month", "mo": "month", "year": "year", "yr": "year", "annum": "year"}

_UNIT = r"(?P<unit>days?|weeks?|months?|years?|yrs?)"
_COUNT = r"(?P<count>\d+|a couple of|a few|couple|few|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|eighteen|twenty|thirty)"
_PERIOD_PATTERNS = (
    re.compile(rf"\b(?:in|within|over|for|after)\s+(?:the\s+)?(?:next\s+)?{_COUNT}\s+{_UNIT}\b", re.IGNORECASE),
    re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+from\s+now\b", re.IGNORECASE),
    re.compile(r"\b(?:next|the\s+coming)\s+(?P<unit>week|month|year)\b", re.IGNORECASE),
)
_UNIT_MONTHS = {"day": 1 / 30, "week": 12 / 52, "month": 1.0, "year": 12.0}

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "last": -1,
}
_OPTION_NOUNS = (
    r"one|option|choice|recommendation|suggestion|product|card|account|loan|plan|offer|item|result|lead"
)
_ORDINAL = rf"(?P<ordinal>{'|'.join(_ORDINAL_WORDS)}|\d+(?:st|nd|rd|th))"
_ORDINAL_PATTERNS = (
    # "the second one", "that 3rd card", "tell me about the first." -- but not "the first time buyer"
    re.compile(
        rf"\b(?:the|that)\s+{_ORDINAL}(?:\s+(?:{_OPTION_NOUNS})\b|\s*(?=[.,!?;:]|$))", re.IGNORECASE
    ),
    re.compile(rf"\b{_ORDINAL}\s+one\b", re.IGNORECASE),
    re.compile(r"\b(?:option|number|choice|no\.)\s*#?\s*(?P<ordinal>\d{1,2})\b|#(?P<hash>\d{1,2})\b", re.IGNORECASE),
)

CUSTOMER_ID_PATTERN = re.compile(r"\b[Cc]\d{7}\b")


@dataclass(frozen=True)
class Amount:
    """A sum of money in dollars; `per` is "day", "week", "month" or "year" for a rate ("$640/month")."""

    value: float
    text: str
    per: str | None = None


@dataclass(frozen=True)
class TimePeriod:
    """A span of time from now: `count` `unit`s ("in 6 months" is 6 "month")."""

    count: int
    unit: str
    text: str

    @property
    def months(self) -> float:
        return self.count * _UNIT_MONTHS[self.unit]


@dataclass(frozen=True)
class Slots:
    relations: tuple[str, ...] = ()
    product_categories: tuple[str, ...] = ()
    amounts: tuple[Amount, ...] = ()
    time_periods: tuple[TimePeriod, ...] = ()
    city: str | None = None
    customer_ids: tuple[str, ...] = ()
    ordinal: int | None = None


def extract_slots(text: str, known_cities: Iterable[str] = ()) -> Slots:
    """Every slot in `text`; `known_cities` are the cities a city slot may name."""
    return Slots(
        relations=tuple(find_relations(text)),
        product_categories=tuple(find_product_categories(text)),
        amounts=tuple(find_amounts(text)),
        time_periods=tuple(find_time_periods(text)),
        city=find_city(text, known_cities),
        customer_ids=tuple(find_customer_ids(text)),
        ordinal=find_ordinal(text),
    )


_PLURAL_WORDS = frozenset({"parents", "sons", "daughters", "kids", "children", "childrens", "twins", "brothers",
                           "sisters", "siblings", "in-laws", "parents-in-law"})


def relations_named(text: str) -> dict[str, list[str]]:
    """Each relation `text` names, first mention first, with the words it is named by ("my mum and dad" ->
    {"parent": ["mum", "dad"]})."""
    named: dict[str, list[str]] = {}
    for match in _RELATION_PATTERN.finditer(text):
        word = match.group(1).lower()
        named.setdefault(str(_RELATION_BY_WORD[word]), []).append(word)
    return named


def spoken_of_as_several(words: list[str]) -> bool:
    """Whether a relation's words speak of more than one ("my parents", "the kids", "my mum and dad")."""
    return len(set(words)) > 1 or not _PLURAL_WORDS.isdisjoint(words)


# relatives the bank's graph has no relation for: a request about them alone is not one about the spouse or children
# (in-laws are taken as parents: of the same generation, which is what their products go by)
_OTHER_RELATIVE = re.compile(r"\b(grand(?:ma|pa|mother|father|mom|mum|dad|parents?)s?|nana|granny|aunts?|auntie|uncles?"
                             r"|cousins?)\b", re.IGNORECASE)


def other_relative(text: str) -> str | None:
    """The word for a relative `text` names that is none of spouse, child, parent or sibling ("my grandma")."""
    match = _OTHER_RELATIVE.search(text)
    return match.group(1).lower() if match else None


def find_relations(text: str) -> list[str]:
    """Relations named in `text` ("my wife and kids" -> ["spouse", "child"]), first mention first."""
    return list(relations_named(text))


def find_product_categories(text: str) -> list[str]:
    """Product categories named in `text`, in order of mention; a phrase counts for one category only."""
    claimed = [False] * len(text)
    hits: list[tuple[int, str]] = []
    for category, regex in _CATEGORY_REGEXES:
        for match in regex.finditer(text):
            if any(claimed[match.start():match.end()]):
                continue
            claimed[match.start():match.end()] = [True] * (match.end() - match.start())
            hits.append((match.start(), str(category)))
    return _unique(category for _, category in sorted(hits))


# Words (as `tokenize` leaves them) that ask for a product without saying what it is for: "which card should I get?"
_ASKING_FOR_A_KIND = frozenset(
    "account around available bank best card choose compare credit good hello hey hi im insurance interested invest "
    "investment kind know like list loan looking mortgage need new offer one open option pick plan please policy "
    "product recommend right see shop shopping should show sort suggest suit tell thank think type want would".split()
)


def names_only_a_kind(text: str) -> bool:
    """Whether `text` names a kind of product and says nothing of what it is for ("I need a new credit card")."""
    return bool(find_product_categories(text)) and set(tokenize(text)) <= _ASKING_FOR_A_KIND


def find_amounts(text: str) -> list[Amount]:
    """Sums of money marked as such ("$5k", "5,000 dollars", "20 grand"), in order of mention."""
    claimed = [False] * len(text)
    hits: list[tuple[int, Amount]] = []
    for regex in _AMOUNT_PATTERNS:
        for match in regex.finditer(text):
            if any(claimed[match.start():match.end()]):
                continue
            claimed[match.start():match.end()] = [True] * (match.end() - match.start())
            hits.append((match.start(), _amount(match)))
    return [amount for _, amount in sorted(hits, key=lambda hit: hit[0])]


def _amount(match: re.Match) -> Amount:
    value = float(match.group("number").replace(",", ""))
    scale = (match.group("scale") or "").lower()
    per = match.group("per")
    return Amount(
        value=value * _SCALE.get(scale, 1),
        text=match.group(0).strip(),
        per=_PER_UNIT[per.lower()] if per else None,
    )


def find_time_periods(text: str) -> list[TimePeriod]:
    """Spans from now ("next year", "in 6 months", "within two years"), in order of mention."""
    hits: list[tuple[int, TimePeriod]] = []
    for regex in _PERIOD_PATTERNS:
        for match in regex.finditer(text):
            hits.append((match.start(), _period(match)))
    return [period for _, period in sorted(hits, key=lambda hit: hit[0])]


def _period(match: re.Match) -> TimePeriod:
    groups = match.groupdict()
    unit = _singular_unit(groups["unit"])
    raw = (groups.get("count") or "one").lower()
    count = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    return TimePeriod(count=count, unit=unit, text=match.group(0))


def _singular_unit(unit: str) -> str:
    unit = unit.lower().rstrip("s")
    return "year" if unit == "yr" else unit


def find_city(text: str, known_cities: Iterable[str]) -> str | None:
    """The known city `text` names first, spelled as in `known_cities`; the longest name wins a tie."""
    best: tuple[int, int, str] | None = None
    for city in known_cities:
        if not city.strip():
            continue
        match = re.search(rf"(?<!\w){re.escape(city.strip())}(?!\w)", text, re.IGNORECASE)
        if match is None:
            continue
        candidate = (match.start(), -len(city), city)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def find_customer_ids(text: str) -> list[str]:
    """Customer ids (C followed by seven digits), upper-cased, first mention first."""
    return _unique(match.group(0).upper() for match in CUSTOMER_ID_PATTERN.finditer(text))


def find_ordinal(text: str) -> int | None:
    """Which listed option `text` points at: "the second one" -> 2, "option 3" -> 3, "the last one" -> -1."""
    for regex in _ORDINAL_PATTERNS:
        match = regex.search(text)
        if match is None:
            continue
        raw = (match.group("ordinal") or match.groupdict().get("hash") or "").lower()
        if raw in _ORDINAL_WORDS:
            return _ORDINAL_WORDS[raw]
        digits = re.match(r"\d+", raw)
        if digits and int(digits.group(0)) > 0:
            return int(digits.group(0))
    return None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
