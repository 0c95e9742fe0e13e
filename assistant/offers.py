"""What the engine does around ranking: the contact policy and the bank's levers, then the decision log.

`Offers.ranked` calls a tool for as many more results as the contact policy
holds products back, leaves those out and says which would have been shown and
by which rule, then, for a customer on the adaptive arm of the ranking
experiment (`assistant.experiment`), re-orders the tool's top POOL by the
chance, learnt from responses, that a customer in their context takes each
offer up (`assistant.adaptive`), then lets
the arbitration levers (`assistant.levers`) re-order what is left (from twice
as many as shown). Either can lift an offer into the answer, never add one the
tool did not return, nor one the contact policy held back; `Offers.decide` keeps campaign
outreach within its weekly cap, writes the answer's decision record and puts
its id on every recommendation shown (`decision_id`), so responses name the
offer they are about.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from assistant.adaptive import (
    POOL,
    CachedAcceptance,
    customer_context,
    customer_history,
    segment_of,
)
from assistant.contact_policy import ContactPolicy
from assistant.decisions import DecisionLog, decision_record, new_decision_id
from assistant.experiment import Arm, Split
from assistant.levers import Levers

PROACTIVE_TEMPLATES = frozenset({"campaign_insight"})  # answers that are campaign outreach, under the weekly cap
ADAPTIVE_TOOLS = frozenset({"recommend_personal", "campaign_insights"})  # ranked for the customer themself
# (customer, context) the adaptive arm ranked with in this request, so its decision record need not read it again
RANKED_WITH: ContextVar[tuple[str, dict[str, float]] | None] = ContextVar("ranked_with", default=None)


@dataclass
class Adaptive:
    """The ranking experiment's split and the learnt acceptance it reads."""

    split: Split
    acceptance: CachedAcceptance
    rng: np.random.Generator = field(default_factory=np.random.default_rng)


class Offers:
    def __init__(self, tools, ctx, policy: ContactPolicy | None = None, log: DecisionLog | None = None,
                 levers: Levers | None = None, adaptive: Adaptive | None = None):
        self.tools = tools
        self.ctx = ctx
        self.policy = policy
        self.log = log
        self.levers = levers or Levers([])
        self.adaptive = adaptive

    def arm(self, subject: str) -> Arm:
        return self.adaptive.split.arm(subject) if self.adaptive is not None else Arm.static

    def ranked(self, tool: str, subject: str, arguments: dict, **extra) -> tuple[list, list[dict]]:
        """The tool's results without what the contact policy holds back, ordered by the levers unless they answer a
        stated need (`request`: its order of fit stands), as many as asked for; and the held-back products that would
        have been among them (with their rule)."""
        held = self.policy.held_back(subject) if self.policy is not None else {}
        adapting = tool in ADAPTIVE_TOOLS and "request" not in extra and self.arm(subject) is Arm.adaptive
        arbitrating = bool(self.levers) and "request" not in extra
        if not held and not arbitrating and not adapting:
            return self.tools.call(tool, self.ctx, subject, **arguments, **extra), []
        k = arguments.get("k") or self.tools.default(tool, "k")
        pool = max(POOL, k) if adapting else 2 * k if arbitrating else k
        kept, withheld = [], []
        for rec in self.tools.call(tool, self.ctx, subject, **arguments | {"k": pool + len(held)}, **extra):
            if len(kept) == pool:
                break
            if rec.product_id not in held:
                kept.append(rec)
            elif len(kept) < k:
                withheld.append(held[rec.product_id].to_dict(rec.name))
        if adapting:
            history = customer_history(self.ctx.store, subject)
            context = customer_context(self.ctx.features(subject), history)
            RANKED_WITH.set((subject, context))
            kept = self.adaptive.acceptance.model().rerank(kept, context, self.adaptive.rng, history)
        if arbitrating:
            kept = self.levers.arbitrate(kept, self.ctx.products)
        return kept[:k], withheld

    def decide(self, plan, subject: str | None, channel: str, session_id: str, message: str, intent: str) -> str | None:
        """Write the decision behind an answer that shows a tool's recommendations for a customer; its id, else None."""
        ranked_with = RANKED_WITH.get()
        RANKED_WITH.set(None)
        if self.log is None or subject is None or not plan.tool_calls or not (plan.recommendations or plan.held_back):
            return None
        proactive = plan.template in PROACTIVE_TEMPLATES
        if proactive and self.policy is not None:
            self._within_cap(plan, subject, channel)
        decision_id = new_decision_id()
        for rec in plan.recommendations:
            rec["decision_id"] = decision_id
        call = plan.tool_calls[0]
        customer = self.ctx.customer(subject) or {}
        names = [name for name in (customer.get("first_name"), customer.get("last_name")) if name]
        arm, features = self.arm(subject), self.ctx.features(subject)
        context = None
        if arm is Arm.adaptive:
            context = ranked_with[1] if ranked_with and ranked_with[0] == subject else customer_context(
                features, customer_history(self.ctx.store, subject))
        self.log.write(decision_record(
            decision_id, customer_id=subject, channel=channel, session_id=session_id, request=message,
            known_names=names, intent=intent, tool_call=call, versions=self.tools.versions(call["name"]),
            run_id=self.ctx.run_id, recommendations=plan.recommendations, held_back=plan.held_back,
            levers=self.levers.applied(plan.recommendations, self.ctx.products), proactive=proactive,
            arm=arm, experiment=self.adaptive.split.name if self.adaptive is not None else None,
            segment=segment_of(features), context=context))
        return decision_id

    def _within_cap(self, plan, subject: str, channel: str) -> None:
        shown = plan.recommendations
        allowed, capped = self.policy.capped(subject, channel, [rec["product_id"] for rec in shown])
        names = {rec["product_id"]: rec.get("name") for rec in shown}
        shown[:] = [rec for rec in shown if rec["product_id"] in allowed]  # in place: the answer's context holds it
        plan.held_back.extend(held.to_dict(names[held.product_id]) for held in capped)
