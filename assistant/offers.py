"""What the engine does around ranking: the contact policy before, the decision log after.

`Offers.ranked` calls a tool for as many more results as the contact policy
holds products back, leaves those out and says which would have been shown and
by which rule; `Offers.decide` keeps campaign outreach within its weekly cap,
writes the answer's decision record and puts its id on every recommendation
shown (`decision_id`), so responses name the offer they are about.
"""

from __future__ import annotations

from assistant.contact_policy import ContactPolicy
from assistant.decisions import DecisionLog, decision_record, new_decision_id

PROACTIVE_TEMPLATES = frozenset({"campaign_insight"})  # answers that are campaign outreach, under the weekly cap


class Offers:
    def __init__(self, tools, ctx, policy: ContactPolicy | None = None, log: DecisionLog | None = None):
        self.tools = tools
        self.ctx = ctx
        self.policy = policy
        self.log = log

    def ranked(self, tool: str, subject: str, arguments: dict, **extra) -> tuple[list, list[dict]]:
        """The tool's results without what the contact policy holds back, as many as asked for, and the held-back
        products that would have been among them (with their rule)."""
        held = self.policy.held_back(subject) if self.policy is not None else {}
        if not held:
            return self.tools.call(tool, self.ctx, subject, **arguments, **extra), []
        k = arguments.get("k") or self.tools.default(tool, "k")
        kept, withheld = [], []
        for rec in self.tools.call(tool, self.ctx, subject, **arguments | {"k": k + len(held)}, **extra):
            if len(kept) == k:
                break
            if rec.product_id in held:
                withheld.append(held[rec.product_id].to_dict(rec.name))
            else:
                kept.append(rec)
        return kept, withheld

    def decide(self, plan, subject: str | None, channel: str, session_id: str, message: str, intent: str) -> str | None:
        """Write the decision behind an answer that shows a tool's recommendations for a customer; its id, else None."""
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
        self.log.write(decision_record(
            decision_id, customer_id=subject, channel=channel, session_id=session_id, request=message,
            known_names=names, intent=intent, tool_call=call, versions=self.tools.versions(call["name"]),
            run_id=self.ctx.run_id, recommendations=plan.recommendations, held_back=plan.held_back,
            proactive=proactive))
        return decision_id

    def _within_cap(self, plan, subject: str, channel: str) -> None:
        shown = plan.recommendations
        allowed, capped = self.policy.capped(subject, channel, [rec["product_id"] for rec in shown])
        names = {rec["product_id"]: rec.get("name") for rec in shown}
        shown[:] = [rec for rec in shown if rec["product_id"] in allowed]  # in place: the answer's context holds it
        plan.held_back.extend(held.to_dict(names[held.product_id]) for held in capped)
