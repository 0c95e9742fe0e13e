"""What the personal tool learns from the bank's live customers, once per ToolContext.

The models that learn from one customer's traits (`tools.lookalike`: lookalikes,
next products, goal propensity, the spending-share cutoffs) learn only from
customers who allow profiling; counts of accounts opened lately count everyone.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from retrieval.docstore import live_feature_documents
from tools.eligibility import OPTED_OUT_OF_PROFILING
from tools.evidence import opened_lately
from tools.lookalike import (
    GoalPropensity,
    Lookalikes,
    NextProducts,
    SpendingShares,
    trait_keys,
)

if TYPE_CHECKING:
    from tools.context import ToolContext

RECENT_DAYS = 180  # an account opened this recently is what a customer did next
MEMO_KEY = "tools.personal.models"


class LiveModels:
    """What the tool learns from the live customers: their spending shares, lookalikes, next products, likely goals,
    and the counts of accounts opened lately."""

    def __init__(self, ctx: ToolContext) -> None:
        # The models that learn from one customer's traits learn only from customers who allow profiling.
        self.opted_out = _opted_out(ctx)
        live_features = [document for document in live_feature_documents(ctx.store, ctx.feature_runs, None).values()
                         if document.get("customer_id") not in self.opted_out]
        self.spending = SpendingShares.from_features(live_features)
        keys = trait_keys(self.spending)  # each document's traits, read once for the three fits
        self.lookalikes = Lookalikes.from_features(live_features, sorted(ctx.products), keys=keys)
        recent = _recent_openings(ctx)
        profiled_openings = {customer: opened for customer, opened in recent.items() if customer not in self.opted_out}
        self.openers = NextProducts.fit(live_features, sorted(ctx.products), profiled_openings, keys=keys)
        self.opened_lately = Counter(product_id for opened in recent.values() for product_id in opened)
        self.goal_propensity = GoalPropensity.fit(live_features, keys=keys)


def live_models(ctx: ToolContext) -> LiveModels:
    """The context's models, learnt on first use and kept for the life of the context."""
    return ctx.memo(MEMO_KEY, lambda: LiveModels(ctx))


def _opted_out(ctx: ToolContext) -> frozenset[str]:
    """The customers who withdrew consent to profiling."""
    return frozenset(customer["_id"] for customer in ctx.store["customers"].find(OPTED_OUT_OF_PROFILING, {"_id": 1}))


def _recent_openings(ctx: ToolContext) -> dict[str, list[str]]:
    """Per customer, the products whose accounts they opened in the RECENT_DAYS before the data's date."""
    opened: dict[str, list[str]] = {}
    for account in ctx.store["accounts"].find({}):
        if opened_lately(account, ctx.as_of, RECENT_DAYS):
            opened.setdefault(account["customer_id"], []).append(account["product_id"])
    return opened
