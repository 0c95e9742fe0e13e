"""Shorthand and typos read as the words meant, and nothing else touched."""

from __future__ import annotations

import pytest

from tools.requests.normalise import Normaliser

CATALOGUE = Normaliser({"mortgage", "mortgages", "college", "annual", "refinance", "heloc", "coverdell", "supplement",
                        "business"})


@pytest.mark.parametrize("typed, meant", [
    ("do u guys do morgages", "do you guys do mortgages"),
    ("credit card for a colege kid, no anual fee?", "credit card for a college kid, no annual fee?"),
    ("putting something away for uni", "putting something away for university"),
    ("can I refinace my truck", "can I refinance my truck"),
    ("medicare suplement for my mom", "medicare supplement for my mom"),
    ("sis is 24", "sister is 24"),
])
def test_shorthand_and_misspelt_catalogue_words_are_read_as_meant(typed, meant):
    assert CATALOGUE(typed) == meant


@pytest.mark.parametrize("typed", [
    "whats a HELOC and a Coverdell, or a 529 plan?",  # the bank's own words and numbers
    "is there a dermatologist near me",  # English words stay, even close to a catalogue word
    "my landlord wanted a deposit lol tbh",  # short slang is not corrected into a catalogue word
    "Transfering money to my nephew",  # a misspelling of no catalogue word is left as typed
])
def test_words_that_are_known_short_or_not_the_banks_stay_as_typed(typed):
    assert CATALOGUE(typed) == typed
