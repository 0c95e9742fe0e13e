"""Redact personal data before any text reaches an LLM, and put it back afterwards.

`redact(text, known_names)` replaces names, customer ids, account, card and
IBAN numbers, emails, phone numbers, full dates, street addresses and social
handles with placeholders such as `[NAME_1]` or `[CUSTOMER_1]`; the returned
mapping (placeholder -> original) lets `restore` undo it in the LLM's answer
and `restore_value` in the arguments of a tool call. Passing the mapping of an
earlier call keeps placeholders stable across all the messages of one prompt.

Detection is pattern based and errs on the side of hiding: a word that only
looks like a name or an id is redacted too, which costs the LLM a little
context but never leaks a person's data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NAME, HANDLE, CUSTOMER, EMAIL, PHONE, CARD, ACCOUNT, DATE, ADDRESS = (
    "NAME", "HANDLE", "CUSTOMER", "EMAIL", "PHONE", "CARD", "ACCOUNT", "DATE", "ADDRESS",
)
KINDS = (NAME, HANDLE, CUSTOMER, EMAIL, PHONE, CARD, ACCOUNT, DATE, ADDRESS)

_PLACEHOLDER = re.compile(r"\[(?:%s)_\d+\]" % "|".join(KINDS))
# LLMs sometimes drop the brackets or lower-case the kind; restore accepts those forms too.
_LOOSE_PLACEHOLDER = re.compile(r"\[?\b((?i:%s))_(\d+)\b\]?" % "|".join(KINDS))

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter"
    r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Row|Alley|Plaza)"
)
_NO_DIGIT_AFTER = r"(?![\w.,]?\d)"  # not followed by more of the same number ("1,500", "6314.54")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,38}[A-Za-z0-9_])?")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARDS = (
    re.compile(rf"(?<![\w$.,])\d{{4}}(?:[ -]?\d{{4}}){{2}}[ -]?\d{{1,7}}{_NO_DIGIT_AFTER}"),
    re.compile(rf"(?<![\w$.,])\d{{4}}[ -]?\d{{6}}[ -]?\d{{5}}{_NO_DIGIT_AFTER}"),  # 4-6-5 (Amex)
)
_DATES = (
    re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:T[\d:.]+Z?)?\b"),
    re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b"),
    re.compile(rf"\b\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\.?\s+\d{{1,2}}{_ORDINAL},?\s+\d{{4}}\b", re.IGNORECASE),
)
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){{1,4}}{_STREET_SUFFIX}\b\.?"
    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*#?[\w-]+)?"
    r"(?:,\s*[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,3},\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?)?"
    r"|\bP\.?\s?O\.?\s+Box\s+\d+\b"
)
_PHONES = (
    re.compile(
        rf"(?<![\w$.,+])(?:\+?1[\s.-]?)?(?:\(\d{{3}}\)\s?|\d{{3}}[\s.-]?)\d{{3}}[\s.-]?\d{{4}}{_NO_DIGIT_AFTER}"
    ),
    re.compile(rf"(?<![\w$.,])\+\d{{1,3}}(?:[\s.-]?\(?\d{{1,5}}\)?){{2,5}}{_NO_DIGIT_AFTER}"),
)
_ACCOUNTS = (
    re.compile(r"\b(?:A\d{6,}|BA\d{1,9})\b"),  # the bank's own account ids
    re.compile(rf"(?<![\w$.,])\d{{6,}}{_NO_DIGIT_AFTER}"),
    re.compile(rf"(?<![\w$.,])\d{{2,6}}(?:-\d{{2,8}}){{1,3}}{_NO_DIGIT_AFTER}"),
)
_CUSTOMER_ID = re.compile(r"\b(?:[CR]\d{5,}|B\d{1,7})\b")  # synthetic C/R ids, Berka B ids
_INTRODUCED_NAME = re.compile(
    r"(?i:\b(?:my name is|my name's|name is|i'm|i am|call me|signed)\s+)"
    r"([A-Z][a-z][\w'-]*(?:\s+[A-Z][a-z][\w'-]*){0,2})"
)
# Capitalised words that follow "I'm" or "I am" without being (part of) a name.
_NOT_NAMES = frozenset(
    "Not Looking Interested Ready Sure Happy Glad Good Fine Just Also Trying Going Thinking Wondering Calling "
    "Here Back New Still Married Single Retired Planning Saving Hoping The My Your Our It This That And But "
    "From In At With For On To Please Thanks Thank Hi Hello".split()
)
# Names that are also everyday words, and very short names ("An", "Ed"), are matched only as written.
_COMMON_WORDS = frozenset(
    "will may june april august rose grant bill mark pat sue art frank hope joy faith hunter cash young king "
    "long white black brown green rich penny carol dawn iris ivy lily star sky summer autumn winter".split()
)


@dataclass(frozen=True)
class Redacted:
    text: str
    mapping: dict[str, str]  # placeholder -> original


def redact(
    text: str,
    known_names: Iterable[str] = (),
    *,
    known_ids: Iterable[str] = (),
    mapping: Mapping[str, str] | None = None,
) -> Redacted:
    """Replace personal data in `text` with placeholders.

    `known_names` are people's names (the customer's, relatives'); entries shaped
    like handles or user names ("fatima.garcia", "@fg83") become `[HANDLE_n]`.
    `known_ids` are ids to hide whatever their shape. `mapping` from an earlier
    call is extended, never changed, so one original keeps one placeholder.
    """
    table = _Placeholders(mapping or {})
    text = _substitute(text, EMAIL, _EMAIL, table)
    for kind, value, pattern in _literal_patterns(known_names, known_ids, table.mapping):
        text = _substitute(text, kind, pattern, table, original=value)
    for kind, pattern, accept in _DETECTORS:
        text = _substitute(text, kind, pattern, table, accept=accept)
    for kind, value, pattern in _literal_patterns(_introduced_names(text), (), {}):
        text = _substitute(text, kind, pattern, table, original=value)
    return Redacted(text, table.mapping)


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the originals back for every placeholder `mapping` knows."""

    def original(match: re.Match) -> str:
        placeholder = f"[{match.group(1).upper()}_{match.group(2)}]"
        return mapping.get(placeholder, match.group(0))

    return _LOOSE_PLACEHOLDER.sub(original, text)


def restore_value(value: Any, mapping: Mapping[str, str]) -> Any:
    """`restore` every string inside a JSON-like value (tool-call arguments)."""
    if isinstance(value, str):
        return restore(value, mapping)
    if isinstance(value, dict):
        return {key: restore_value(item, mapping) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(restore_value(item, mapping) for item in value)
    return value


def person_ids(text: str) -> list[str]:
    """Ids of customers and relatives in `text`, in the shapes `redact` hides as [CUSTOMER_n]."""
    return _CUSTOMER_ID.findall(text)


def unresolved_placeholders(text: str) -> list[str]:
    """Placeholders left in `text` after `restore`: ones the LLM made up."""
    return _PLACEHOLDER.findall(text)


def placeholder_kind(text: str) -> str | None:
    """'CUSTOMER' for '[CUSTOMER_2]'; None when `text` is not exactly one placeholder."""
    text = text.strip()
    return text[1:].rsplit("_", 1)[0] if _PLACEHOLDER.fullmatch(text) else None


class _Placeholders:
    def __init__(self, mapping: Mapping[str, str]):
        self.mapping = dict(mapping)
        self._by_original = {(_kind_of(p), o): p for p, o in self.mapping.items()}

    def get(self, kind: str, original: str) -> str:
        key = (kind, " ".join(original.split()) if kind == NAME else original)
        if key not in self._by_original:
            number = 1 + sum(1 for p in self.mapping if _kind_of(p) == kind)
            self._by_original[key] = placeholder = f"[{kind}_{number}]"
            self.mapping[placeholder] = key[1]
        return self._by_original[key]


def _kind_of(placeholder: str) -> str:
    return placeholder[1:].rsplit("_", 1)[0]


def _substitute(
    text: str,
    kind: str,
    pattern: re.Pattern,
    table: _Placeholders,
    *,
    original: str | None = None,
    accept: Callable[[str], bool] | None = None,
) -> str:
    """Replace matches of `pattern` outside existing placeholders (a placeholder is never re-redacted)."""

    def replace(match: re.Match) -> str:
        found = match.group(0)
        if accept is not None and not accept(found):
            return found
        return table.get(kind, original if original is not None else found)

    pieces, start = [], 0
    for placeholder in _PLACEHOLDER.finditer(text):
        pieces.append(pattern.sub(replace, text[start : placeholder.start()]))
        pieces.append(placeholder.group(0))
        start = placeholder.end()
    pieces.append(pattern.sub(replace, text[start:]))
    return "".join(pieces)


def _introduced_names(text: str) -> list[str]:
    """Names people give themselves: "my name is Dana Reyes", "I'm Dana"."""
    names = []
    for match in _INTRODUCED_NAME.finditer(text):
        words = match.group(1).split()
        while words and words[-1] in _NOT_NAMES:
            words.pop()
        if words and words[0] not in _NOT_NAMES:
            names.append(" ".join(words))
    return names


def _literal_patterns(
    known_names: Iterable[str], known_ids: Iterable[str], mapping: Mapping[str, str]
) -> list[tuple[str, str, re.Pattern]]:
    """(kind, value, pattern) for literal values, longest first so a full name wins over its parts."""
    values = [(CUSTOMER, v.strip()) for v in known_ids if v and v.strip()]
    values += [(_kind_of(p), o) for p, o in mapping.items() if _kind_of(p) in (NAME, HANDLE, CUSTOMER)]
    for name in known_names:
        if name and name.strip():
            values += _name_values(name.strip())
    unique = sorted(dict.fromkeys(values), key=lambda item: -len(item[1]))
    return [(kind, value, _literal_pattern(kind, value)) for kind, value in unique]


def _name_values(name: str) -> list[tuple[str, str]]:
    if _looks_like_handle(name):
        bare = name.lstrip("@")
        return [(HANDLE, name)] + ([(HANDLE, bare)] if bare and bare != name else [])
    parts = [part for part in name.split() if len(part) >= 2]
    return [(NAME, " ".join(name.split()))] + ([(NAME, part) for part in parts] if len(parts) > 1 else [])


def _looks_like_handle(value: str) -> bool:
    return " " not in value and (value.startswith("@") or bool(re.search(r"[._\d]", value)))


def _literal_pattern(kind: str, value: str) -> re.Pattern:
    body = r"\s+".join(re.escape(word) for word in value.split())
    as_written = kind == NAME and (value.lower() in _COMMON_WORDS or len(value) <= 3)
    flags = 0 if as_written else re.IGNORECASE
    return re.compile(rf"(?<![\w@]){body}(?!\w)", flags)


def _digit_count_at_least(count: int) -> Callable[[str], bool]:
    return lambda found: sum(ch.isdigit() for ch in found) >= count


_DETECTORS: list[tuple[str, re.Pattern, Callable[[str], bool] | None]] = [
    (HANDLE, _HANDLE, None),
    (ACCOUNT, _IBAN, None),
    *[(CARD, pattern, None) for pattern in _CARDS],
    *[(DATE, pattern, None) for pattern in _DATES],
    (ADDRESS, _ADDRESS, None),
    (PHONE, _PHONES[0], None),
    (PHONE, _PHONES[1], _digit_count_at_least(8)),
    (ACCOUNT, _ACCOUNTS[0], None),
    (ACCOUNT, _ACCOUNTS[1], None),
    (ACCOUNT, _ACCOUNTS[2], _digit_count_at_least(9)),
    (CUSTOMER, _CUSTOMER_ID, None),
]
