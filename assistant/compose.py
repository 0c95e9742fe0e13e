"""Template answers: Jinja2 templates in `prompts/answers/` render the tool results as text.

`environment()` is the one template environment for `prompts/`: the answers and the LLM's system prompt.

Phrasing varies between turns (`pick` chooses among variants), but it is
seeded by the session and turn, so the same turn always reads the same way.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from retrieval.formats import money

_BLANK_LINES = re.compile(r"\n{3,}")


HITS_SHOWN = 3  # the guide's and catalogue's hits a product question's answer shows


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("prompts", ""),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain text: every surface renders answers as text, never as HTML
    )
    env.globals["money"] = money
    env.globals["hits_shown"] = HITS_SHOWN
    return env


def render_answer(name: str, seed: str, **context) -> str:
    """Render `prompts/answers/<name>.j2`; `seed` picks the phrasing variant."""
    chooser = random.Random(f"{seed}:{name}")
    template = environment().get_template(f"answers/{name}.j2")
    text = template.render(pick=chooser.choice, **context)
    return _BLANK_LINES.sub("\n\n", text).strip()
