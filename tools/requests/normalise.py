"""Customers' shorthand and typos, read as the words they stand for, before a turn is understood.

"do u guys do morgages", "a colege kid, no anual fee", "putting something away for uni": a sentence model
and a keyword rule both miss what these say. Two steps, both conservative:

- shorthand: a short list of chat abbreviations ("u", "pls", "uni", "sis", "acct");
- spelling: a word that is neither an English word (symspellpy's frequency dictionary) nor one of the bank's
  own words becomes the bank's word it is one or two edits away from (SymSpell over the vocabulary given:
  the catalogue and the assistant's training phrases). Short words and words with digits are left alone,
  so "HELOC", "529" or "derm" are never "corrected" into something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from symspellpy import SymSpell, Verbosity

SHORTHAND = {
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "thx": "thanks", "uni": "university",
    "acct": "account", "accts": "accounts", "sis": "sister", "bro": "brother", "bf": "boyfriend",
    "gf": "girlfriend", "hubby": "husband", "biz": "business", "derm": "dermatologist", "ortho": "orthodontist",
    "obgyn": "gynecologist", "doc": "doctor", "w/o": "without", "w/": "with", "govt": "government",
    "bday": "birthday", "grad": "graduate", "grads": "graduates", "insur": "insurance", "mortage": "mortgage",
    "mortages": "mortgages", "refi": "refinance", "cc": "credit card", "ccs": "credit cards",
    "approx": "about", "appt": "appointment",
}
MIN_LENGTH = 5  # shorter words are too often slang or acronyms to correct
TWO_EDITS_FROM = 8  # words this long may be two edits away from the word meant
_WORD = re.compile(r"[A-Za-z][A-Za-z'/]*")


class Normaliser:
    """Rewrites a message's shorthand and misspellings of `vocabulary` words; everything else stays as typed."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        words = {word.lower() for word in vocabulary}  # read once: `vocabulary` may be a generator
        self.known = english_words() | words
        self.speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in words:
            if word.isalpha() and len(word) >= MIN_LENGTH - 1:
                self.speller.create_dictionary_entry(word, 1)

    def __call__(self, text: str) -> str:
        return _WORD.sub(lambda match: self._word(match.group(0)), text)

    def _word(self, word: str) -> str:
        lowered = word.lower()
        if lowered in SHORTHAND:
            return SHORTHAND[lowered]
        if len(word) < MIN_LENGTH or not word.isalpha() or lowered in self.known:
            return word
        edits = 2 if len(word) >= TWO_EDITS_FROM else 1
        found = self.speller.lookup(lowered, Verbosity.TOP, max_edit_distance=edits)
        return found[0].term if found else word


def vocabulary_of(texts: Iterable[str]) -> set[str]:
    """The words in `texts`, for a `Normaliser`'s vocabulary."""
    return {match.group(0).lower() for text in texts for match in _WORD.finditer(text or "")}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The words of symspellpy's English frequency dictionary (82,765 words, shipped with the package)."""
    path = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with path.open(encoding="utf-8") as lines:
        return frozenset(line.split(" ", 1)[0] for line in lines)
