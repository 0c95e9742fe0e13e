"""What a customer is shown of their relatives in recommendations made for them.

A family recommendation says whom it is for by relation and age band ("your
spouse aged 36-50"). The relative's id (`for_person`) is shown to the
customer only when that relative consents to share with them
(`consent_to_share` on the relationship, the same consent that lets the
tools read the relative's accounts); otherwise it is null. Staff see every id:
they may look relatives up, and the console draws the family graph.
"""

from __future__ import annotations


def shown_to_customer(recommendations: list[dict], tools, ctx, customer_id: str) -> list[dict]:
    """`recommendations` (changed in place, and returned) without the id of any relative of `customer_id` who does
    not share with them. In place because a turn's answer context holds the very same dicts."""
    if not any(rec.get("for_person") for rec in recommendations):
        return recommendations
    sharing = {view.relative_id for view in tools.relatives(ctx, customer_id) if view.consent_to_share}
    for rec in recommendations:
        if rec.get("for_person") and rec["for_person"] not in sharing:
            rec["for_person"] = None
    return recommendations
