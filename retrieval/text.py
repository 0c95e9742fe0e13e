"""Text from outside (requests, forms, campaign posts, key names): refused unless it is Unicode fit to store and show.

Refused wherever text enters: a lone surrogate (U+D800..U+DFFF; it has no
UTF-8 form, so no store, JSON answer or page can hold it), a noncharacter
(U+FDD0..U+FDEF and the last two code points of every plane: U+FFFE, U+FFFF
... U+10FFFF), and control characters other than tab, line feed and carriage
return. Every other code point is text: emoji and everything else beyond
U+FFFF, every script, code points not assigned yet.

`Text` is the pydantic type of a field of text from outside. `readable` (and
`Readable`, the type of a response field) makes text stored before these
checks safe to serialise.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

_SURROGATES = "\ud800-\udfff"
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
_REFUSED = re.compile(f"[{_SURROGATES}{_CONTROLS}{_NONCHARACTERS}]")
_LONE_SURROGATE = re.compile(f"[{_SURROGATES}]")
REPLACEMENT = "\ufffd"
ERROR_TYPE = "invalid_text"


def text_problem(text: str) -> str | None:
    """What makes `text` unfit to store, naming its first bad code point and where it is; None when it is fine."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    code, position = ord(found.group()), found.start()
    if 0xD800 <= code <= 0xDFFF:
        return f"contains a lone surrogate (U+{code:04X}) at position {position}: send valid Unicode"
    if code <= 0x9F:
        return f"contains a control character (U+{code:04X}) at position {position}: remove it"
    return f"contains a noncharacter (U+{code:04X}) at position {position}: remove it"


def _refuse_invalid_text(value: Any) -> Any:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise PydanticCustomError(ERROR_TYPE, problem)
    return value


# Before pydantic's own str checks, so the message names the problem (not "unable to parse raw data").
Text = Annotated[str, BeforeValidator(_refuse_invalid_text)]


def readable(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so it can be encoded (as UTF-8, JSON, HTML)."""
    return _LONE_SURROGATE.sub(REPLACEMENT, text)


Readable = Annotated[str, AfterValidator(readable)]
