"""How figures are written wherever Fargo shows them: one way, so an answer's figures can be checked against evidence."""

from __future__ import annotations


def money(value: float | None) -> str:
    """A dollar figure in whole dollars, "$7,680"; nothing for a missing value."""
    return "" if value is None else f"${value:,.0f}"
