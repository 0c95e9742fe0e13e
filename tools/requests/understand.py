"""Reading one turn into a `Request`: what it asks for, in which terms, for whom."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tools.requests.model import Request
from tools.requests.needs import match_needs
from tools.requests.parse import (
    about_business,
    constraints_in,
    life_events_in,
    relatives_in,
)
from tools.requests.refusals import ruled_out
from tools.requests.slots import find_product_categories

if TYPE_CHECKING:
    from tools.context import ToolContext


def with_needs(request: Request, ctx: ToolContext, embedding) -> Request:
    """`request` (read from its words) with the catalogue products its embedding asks for."""
    return replace(request, needs=match_needs(ctx, request.text, embedding), ruled_out=ruled_out(ctx, request.text))


def understand(ctx: ToolContext | None, text: str, embedding=None) -> Request:
    """The request in `text`; its needs only when `embedding` (the turn's one embedding) and `ctx` are given."""
    named = tuple(find_product_categories(text))
    constraints = constraints_in(text, named)
    categories = tuple(category for category in named if category not in constraints.excluded_categories)
    needs = match_needs(ctx, text, embedding) if ctx is not None else ()
    return Request(
        text=text,
        needs=needs,
        categories=categories,
        constraints=constraints,
        relatives=relatives_in(text),
        life_events=life_events_in(text),
        business=about_business(text),
        ruled_out=ruled_out(ctx, text),
    )
