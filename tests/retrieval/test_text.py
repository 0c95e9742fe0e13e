"""Text from outside: which code points are refused, the message naming them, and reading old text safely."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from retrieval.text import Text, readable, text_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [("hello \ud83d", "contains a lone surrogate (U+D83D) at position 6: send valid Unicode"),
     ("\udc00 tail", "contains a lone surrogate (U+DC00) at position 0: send valid Unicode"),
     ("a\x00b", "contains a control character (U+0000) at position 1: remove it"),
     ("bell\x07", "contains a control character (U+0007) at position 4: remove it"),
     ("next\x85line", "contains a control character (U+0085) at position 4: remove it"),
     ("\ufffe", "contains a noncharacter (U+FFFE) at position 0: remove it"),
     ("ab\uffff", "contains a noncharacter (U+FFFF) at position 2: remove it"),
     ("x\ufdd0", "contains a noncharacter (U+FDD0) at position 1: remove it"),
     ("\U0001fffe", "contains a noncharacter (U+1FFFE) at position 0: remove it"),
     ("end \U0010ffff", "contains a noncharacter (U+10FFFF) at position 4: remove it")],
)
def test_unencodable_text_noncharacters_and_controls_are_refused_naming_the_code_point(text, problem):
    assert text_problem(text) == problem


@pytest.mark.parametrize("text", ["plain words", "tab\tnew line\nwindows\r\n", "grin \U0001F600", "你好，世界",
                                  "שלום עולם", "مرحبا بالعالم", "private use \U0010FFFD", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", ""])
def test_text_in_any_script_with_emoji_and_line_breaks_is_accepted(text):
    assert text_problem(text) is None


class Note(BaseModel):
    note: Text = Field(max_length=20)
    optional: Text | None = None


def test_a_text_field_refuses_with_its_own_message_before_the_length_checks():
    with pytest.raises(ValidationError) as refused:
        Note(note="hello \ud83d")
    [error] = refused.value.errors()
    assert error["loc"] == ("note",)
    assert error["msg"] == "contains a lone surrogate (U+D83D) at position 6: send valid Unicode"
    assert Note(note="grin \U0001F600", optional=None).note == "grin \U0001F600"


def test_readable_replaces_only_lone_surrogates():
    assert readable("a\ud83db\udc00") == "a\ufffdb\ufffd"
    assert readable("grin \U0001F600 \uffff") == "grin \U0001F600 \uffff"
    readable("a\ud83d").encode("utf-8")
