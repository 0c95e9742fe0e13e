"""Check an LLM's answer against the evidence: every product, figure and claim must be held by it.

`check_grounding(text, recommendations, catalogue_names)` returns the problems
found (an empty list means the text is grounded):

- a product is named that is not recommended: a catalogue name matched loosely
  (case, "&"/"and", hyphens), or an unknown capitalised "... Card" / "... Account"
  / "... Plan" / "... Loan" / "... Mortgage" name;
- a figure ($ amounts, percentages, numbers of points or "x") that no evidence
  value, reason or trusted text holds, allowing rounding (within 1% or $1);
- a claim ("guaranteed", "risk-free", "pre-approved", "approved") the evidence
  does not make; a negated one ("not guaranteed") is fine.

Rates are stored as fractions, so an evidence value of at most 1 also stands
for its percentage (0.2199 -> 21.99%, a 0.03 reward rate -> 3 points).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tools.types import Evidence, Recommendation

PRODUCT_SUFFIXES = ("Card", "Account", "Plan", "Loan", "Mortgage")
CLAIMS = {
    "guaranteed": re.compile(r"\bguarantee[ds]?\b", re.IGNORECASE),
    "risk-free": re.compile(r"\brisk[\s-]?free\b", re.IGNORECASE),
    "pre-approved": re.compile(r"\bpre[\s-]?approved\b", re.IGNORECASE),
    "approved": re.compile(r"(?<![\w-])(?<!pre )approved\b", re.IGNORECASE),
}
MONEY_TOLERANCE = 1.0  # dollars
RELATIVE_TOLERANCE = 0.01

_TOKEN = re.compile(r"[A-Za-z0-9]+|&")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_MONEY = re.compile(rf"\$\s?({_NUMBER})(?:\s?(k|K|thousand|mm|m|M|million|bn|billion)\b)?")
_PERCENT = re.compile(rf"(?<![\w.])({_NUMBER})\s?(?:%|percent\b|per cent\b)")
_UNIT = re.compile(rf"(?<![\w.$])({_NUMBER})(?:x\b|×|\s?(?:points?|pts?|miles?|times)\b)", re.IGNORECASE)
_ANY_NUMBER = re.compile(rf"(?<![\w.])({_NUMBER})(?:\s?(k|K|thousand|mm|m|M|million|bn|billion)\b)?")
_CAPITALISED_NAME = re.compile(
    r"((?:[A-Z0-9](?:[\w'’&/()-]|\.(?=\w))*[ \t]+(?:(?:&|and|of)[ \t]+)?){1,6})(%s)s?\b" % "|".join(PRODUCT_SUFFIXES)
)
_LEADING_WORDS = frozenset(
    "the a an your my our their his her its this that these those each any every another one both which what "
    "new current existing consider try open get use with and for apply recommend see about".split()
)
_NEGATIONS = re.compile(  # a negation among the three words before a claim
    r"\b(?:not|no|never|nothing|none|neither|nor|cannot|without|\w+n[’']t)\W+(?:\w+\W+){0,2}$", re.IGNORECASE
)
_MASK = "\x00"


@dataclass(frozen=True)
class _Facts:
    allowed_names: list[tuple[str, ...]]  # token sequences of products the answer may name
    numbers: list[float]
    corpus: str  # everything the evidence says, lower-cased, for claims


def check_grounding(
    text: str,
    recommendations: Iterable[Recommendation | Mapping],
    catalogue_names: Iterable[str] | Mapping[str, str],
    *,
    trusted_text: str = "",
) -> list[str]:
    """Problems with `text` against the recommendations' names, reasons and evidence.

    `catalogue_names` lists every product name (or maps product id -> name, so
    ids found in the evidence count as named products). `trusted_text` is more
    text built from evidence (the template answer, tool results) the answer may quote.
    Recommendations may also be given as their `to_dict()` form.
    """
    recommendations = [as_recommendation(item) for item in recommendations]
    catalogue = _catalogue(catalogue_names)
    facts = _facts(recommendations, catalogue, trusted_text)
    masked, problems = _product_problems(text, catalogue, facts)
    problems += _figure_problems(masked, facts)
    problems += _claim_problems(text, facts)
    return problems


def as_recommendation(item: Recommendation | Mapping) -> Recommendation:
    """A Recommendation from itself or from its `to_dict()` form."""
    if isinstance(item, Recommendation):
        return item
    evidence = [e if isinstance(e, Evidence) else _as_evidence(e) for e in item.get("evidence") or []]
    return Recommendation(
        product_id=str(item.get("product_id", "")),
        name=str(item.get("name", "")),
        category=str(item.get("category", "")),
        score=float(item.get("score") or 0.0),
        reasons=list(item.get("reasons") or []),
        evidence=evidence,
        components=dict(item.get("components") or {}),
        estimated_annual_value=item.get("estimated_annual_value"),
        for_person=item.get("for_person"),
        relation=item.get("relation"),
        age_band=item.get("age_band"),
        protects=bool(item.get("protects", False)),
        word=item.get("word"),
    )


def _as_evidence(item: Mapping) -> Evidence:
    return Evidence(
        kind=item.get("kind", ""),
        collection=str(item.get("collection", "")),
        record_id=str(item.get("record_id", "")),
        field=str(item.get("field", "")),
        value=item.get("value"),
        label=str(item.get("label") or ""),
    )


def _catalogue(catalogue_names: Iterable[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(catalogue_names, Mapping):
        return {str(pid): str(name) for pid, name in catalogue_names.items()}
    return {name: name for name in catalogue_names}


def _facts(recommendations: list[Recommendation], catalogue: dict[str, str], trusted_text: str) -> _Facts:
    texts, numbers = [trusted_text], []
    allowed = [_tokens(rec.name) for rec in recommendations]
    for rec in recommendations:
        texts += rec.reasons
        if rec.estimated_annual_value is not None:
            numbers.append(float(rec.estimated_annual_value))
        for item in rec.evidence:
            texts.append(item.label)
            _collect(item.value, texts, numbers)
    numbers += [n for chunk in texts for n in _numbers_in(chunk)]
    corpus_tokens = [t for chunk in texts for t in (*_tokens(chunk), "|")]  # "|": no name spans two fields
    corpus_words = {word for chunk in texts for word in re.findall(r"[\w-]+", chunk)}
    for product_id, name in catalogue.items():
        if product_id in corpus_words or _contains(corpus_tokens, _tokens(name)):
            allowed.append(_tokens(name))
    return _Facts(allowed, numbers, " ".join(texts).lower())


def _collect(value: Any, texts: list[str], numbers: list[float]) -> None:
    """Numbers and strings inside an evidence value (scalars, dicts, lists)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        numbers.append(float(value))
        if abs(value) <= 1:
            numbers.append(float(value) * 100)
    elif isinstance(value, str):
        texts.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            texts.append(str(key))
            _collect(item, texts, numbers)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _collect(item, texts, numbers)


def _numbers_in(text: str) -> Iterator[float]:
    for match in _ANY_NUMBER.finditer(text):
        yield _parse(match.group(1), match.group(2))


def _parse(number: str, multiplier: str | None = None) -> float:
    value = float(number.replace(",", ""))
    return value * _MULTIPLIERS.get((multiplier or "").lower(), 1.0)


def _tokens(text: str) -> tuple[str, ...]:
    return tuple("and" if t == "&" else t.lower() for t in _TOKEN.findall(text))


def _contains(haystack: list[str] | tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    return size > 0 and any(tuple(haystack[i : i + size]) == needle for i in range(len(haystack) - size + 1))


def _is_allowed(name_tokens: tuple[str, ...], facts: _Facts) -> bool:
    return any(_contains(allowed, name_tokens) for allowed in facts.allowed_names)


def _product_problems(text: str, catalogue: dict[str, str], facts: _Facts) -> tuple[str, list[str]]:
    """Problems with named products, and the text with every product name masked out."""
    problems, masked = [], text
    for start, end, name in _catalogue_mentions(text, catalogue):
        masked = masked[:start] + _MASK * (end - start) + masked[end:]
        if not _is_allowed(_tokens(name), facts):
            problems.append(f"product '{name}' is not among the recommendations")
    for match in _CAPITALISED_NAME.finditer(masked):
        words = match.group(0).split()
        masked = masked[: match.start()] + _MASK * (match.end() - match.start()) + masked[match.end() :]
        while words and words[0].lower() in _LEADING_WORDS:
            words.pop(0)
        if len(words) < 2 or any(_is_allowed(_tokens(" ".join(words[i:])), facts) for i in range(len(words) - 1)):
            continue
        problems.append(f"unknown product '{' '.join(words)}'")
    return masked, problems


def _catalogue_mentions(text: str, catalogue: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, catalogue name) of each mention, longest names first, never overlapping."""
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    words = _tokens(text)
    found: list[tuple[int, int, str]] = []
    for name in sorted(set(catalogue.values()), key=lambda n: -len(_tokens(n))):
        needle = _tokens(name)
        for i in range(len(words) - len(needle) + 1):
            if needle and words[i : i + len(needle)] == needle:
                start, end = spans[i][0], spans[i + len(needle) - 1][1]
                if all(end <= s or start >= e for s, e, _ in found):
                    found.append((start, end, name))
    return sorted(found)


def _figure_problems(text: str, facts: _Facts) -> list[str]:
    problems = []
    for match in _MONEY.finditer(text):
        if not _held(_parse(match.group(1), match.group(2)), facts.numbers, MONEY_TOLERANCE, match.group(1)):
            problems.append(f"figure {match.group(0).strip()} not in evidence")
    for pattern in (_PERCENT, _UNIT):
        for match in pattern.finditer(text):
            if not _held(_parse(match.group(1)), facts.numbers, 0.0, match.group(1)):
                problems.append(f"figure {match.group(0).strip()} not in evidence")
    return problems


def _held(figure: float, numbers: list[float], absolute: float, written: str) -> bool:
    """True when some evidence number equals `figure`, within tolerance or as rounded to the digits written."""
    decimals = len(written.split(".", 1)[1]) if "." in written else 0
    for number in numbers:
        number = abs(number)
        if abs(figure - number) <= max(absolute, RELATIVE_TOLERANCE * number):
            return True
        if round(number, decimals) == figure:
            return True
    return False


def _claim_problems(text: str, facts: _Facts) -> list[str]:
    problems = []
    for claim, pattern in CLAIMS.items():
        if _asserts(text, pattern) and not _asserts(facts.corpus, pattern):
            problems.append(f"claim '{claim}' not in evidence")
    return problems


def _asserts(text: str, claim: re.Pattern) -> bool:
    """True when `text` makes the claim at least once without negating it ("not guaranteed" makes no claim)."""
    return any(not _NEGATIONS.search(text[: match.start()]) for match in claim.finditer(text))
