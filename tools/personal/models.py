"""What the personal tool learns from the bank's live customers, once per ToolContext.

The models that learn from one customer's traits (`tools.lookalike`: lookalikes,
next products, goal propensity, the spending-share cutoffs) learn only from
customers who allow profiling; counts of accounts opened lately count everyone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from retrieval.docstore import live_feature_batches
from tools.eligibility import OPTED_OUT_OF_PROFILING, SCORING_FIELDS
from tools.evidence import opened_lately
from tools.lookalike import (
    GoalPropensity,
    Lookalikes,
    NextProducts,
    TraitTable,
)

if TYPE_CHECKING:
    from tools.context import ToolContext

RECENT_DAYS = 180  # an account opened this recently is what a customer did next
MEMO_KEY = "tools.personal.models"
FEATURE_BATCH = 1000  # documents read at a time while the models learn
FEATURE_FIELDS = dict.fromkeys(("customer_id", "run_id", *SCORING_FIELDS), 1)  # all that traits read
ACCOUNT_FIELDS = dict.fromkeys(("customer_id", "product_id", "opened_at", "status"), 1)  # all `opened_lately` reads


class LiveModels:
    """What the tool learns from the live customers: their spending shares, lookalikes, next products, likely goals,
    and the counts of accounts opened lately.

    Learnt from the feature documents read a batch at a time into a compact `TraitTable`, dropped once the models are
    fitted: the bank's documents are never all held at once (that was a million-customer bank's tens of gigabytes).
    """

    def __init__(self, ctx: ToolContext) -> None:
        # The models that learn from one customer's traits learn only from customers who allow profiling.
        self.opted_out = _opted_out(ctx)
        table = TraitTable(_profiled_features(ctx, self.opted_out), sorted(ctx.products))
        self.spending = table.shares
        self.lookalikes = Lookalikes.from_table(table)
        recent = _recent_openings(ctx)
        profiled_openings = {customer: opened for customer, opened in recent.items() if customer not in self.opted_out}
        self.openers = NextProducts.from_table(table, profiled_openings)
        self.opened_lately = Counter(product_id for opened in recent.values() for product_id in opened)
        self.goal_propensity = GoalPropensity.from_table(table)


def live_models(ctx: ToolContext) -> LiveModels:
    """The context's models, learnt on first use and kept for the life of the context."""
    return ctx.memo(MEMO_KEY, lambda: LiveModels(ctx))


def _opted_out(ctx: ToolContext) -> frozenset[str]:
    """The customers who withdrew consent to profiling."""
    return frozenset(customer["_id"] for customer in ctx.store["customers"].find(OPTED_OUT_OF_PROFILING, {"_id": 1}))


def _profiled_features(ctx: ToolContext, opted_out: frozenset[str]) -> Iterator[list[dict]]:
    """Batches of the live feature documents of the customers who allow profiling, with what the traits read."""
    for batch in live_feature_batches(ctx.store, ctx.feature_runs, FEATURE_FIELDS, FEATURE_BATCH):
        yield [document for document in batch if document["customer_id"] not in opted_out]


def _recent_openings(ctx: ToolContext) -> dict[str, list[str]]:
    """Per customer, the products whose accounts they opened in the RECENT_DAYS before the data's date."""
    opened: dict[str, list[str]] = {}
    for batch in ctx.store["accounts"].find_batches({}, ACCOUNT_FIELDS, FEATURE_BATCH):
        for account in batch:
            if opened_lately(account, ctx.as_of, RECENT_DAYS):
                opened.setdefault(account["customer_id"], []).append(account["product_id"])
    return opened
