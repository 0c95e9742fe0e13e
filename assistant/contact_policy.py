"""The contact policy: products held back from a customer's answers, and by which rule.

Three rules, each a setting (README, "Contact policy"):
- `dismissed`: a product the customer dismissed N times within D days is not offered for S days after the last
  of those dismissals (FARGO_CONTACT_DISMISSALS, _DISMISSAL_WINDOW_DAYS, _SUPPRESS_DAYS);
- `just_opened`: a product the customer applied for (accepted) or opened in the last FARGO_CONTACT_JUST_OPENED_DAYS
  is not offered again;
- `weekly_cap`: campaign outreach (proactive offers) shows a customer at most FARGO_CONTACT_WEEKLY_PROACTIVE_OFFERS
  distinct products per channel in any 7 days; a product already offered that week may be shown again.

The engine asks the policy before ranking and leaves held products out (it
ranks a few more, so an answer keeps its size); the explanation lists each
one held back with its rule. Rules are pure functions over the responses and
decisions; `ContactPolicy` reads those from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from assistant import responses
from assistant.decisions import DecisionLog
from assistant.responses import ResponseKind

DISMISSED, JUST_OPENED, WEEKLY_CAP = "dismissed", "just_opened", "weekly_cap"
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ContactRules:
    dismissals: int = 1
    dismissal_window_days: int = 90
    suppress_days: int = 90
    just_opened_days: int = 30
    weekly_proactive_offers: int = 3

    @classmethod
    def from_settings(cls, settings) -> ContactRules:
        return cls(settings.contact_dismissals, settings.contact_dismissal_window_days, settings.contact_suppress_days,
                   settings.contact_just_opened_days, settings.contact_weekly_proactive_offers)

    @property
    def lookback(self) -> timedelta:
        """How far back a response can still hold a product back."""
        return timedelta(days=max(self.dismissal_window_days + self.suppress_days, self.just_opened_days))


@dataclass(frozen=True)
class HeldBack:
    product_id: str
    rule: str
    detail: str

    def to_dict(self, name: str | None = None) -> dict:
        return {"product_id": self.product_id, "name": name, "rule": self.rule, "detail": self.detail}


def dismissal_holds(dismissed_at: dict[str, list[datetime]], rules: ContactRules, now: datetime) -> dict[str, HeldBack]:
    """Products with N dismissals inside a D-day window whose S-day suppression has not run out."""
    held = {}
    window, suppress = timedelta(days=rules.dismissal_window_days), timedelta(days=rules.suppress_days)
    for product, moments in dismissed_at.items():
        moments = sorted(moments)
        ends = [moments[last] + suppress for last in range(rules.dismissals - 1, len(moments))
                if moments[last] - moments[last - rules.dismissals + 1] <= window]
        if ends and max(ends) > now:
            times = "once" if rules.dismissals == 1 else f"{rules.dismissals} times in {rules.dismissal_window_days} days"
            held[product] = HeldBack(product, DISMISSED, f"the customer dismissed it {times}; not offered until "
                                                         f"{max(ends).date().isoformat()}")
    return held


def just_opened_holds(taken: dict[str, tuple[str, datetime]], rules: ContactRules, now: datetime) -> dict[str, HeldBack]:
    """Products the customer applied for or opened within the last `just_opened_days` (product -> (kind, when))."""
    recent = now - timedelta(days=rules.just_opened_days)
    words = {ResponseKind.accepted: "applied for", ResponseKind.opened: "opened"}
    return {product: HeldBack(product, JUST_OPENED, f"the customer {words[kind]} it on {when.date().isoformat()}")
            for product, (kind, when) in taken.items() if when >= recent}


def proactive_room(offered_this_week: set[str], candidates: list[str], rules: ContactRules) -> tuple[list[str], list[str]]:
    """Which of `candidates` (in order) campaign outreach may show this week, and which the weekly cap holds back."""
    allowed, capped, new = [], [], len(offered_this_week)
    for product in candidates:
        if product in offered_this_week:
            allowed.append(product)
        elif new < rules.weekly_proactive_offers:
            allowed.append(product)
            new += 1
        else:
            capped.append(product)
    return allowed, capped


class ContactPolicy:
    def __init__(self, store, rules: ContactRules | None = None):
        self.store = store
        self.rules = rules or ContactRules()

    def held_back(self, customer_id: str, now: datetime | None = None) -> dict[str, HeldBack]:
        """Products the dismissal and just-opened rules keep from the customer now."""
        now = now or datetime.now(UTC)
        kinds = (ResponseKind.dismissed, ResponseKind.accepted, ResponseKind.opened)
        found = responses.for_customer(self.store, customer_id, (now - self.rules.lookback).isoformat(), kinds)
        dismissed: dict[str, list[datetime]] = {}
        taken: dict[str, tuple[str, datetime]] = {}
        for response in found:  # oldest first: the latest acceptance or opening of a product wins
            when = datetime.fromisoformat(response["at"])
            if response["kind"] == ResponseKind.dismissed:
                dismissed.setdefault(response["product_id"], []).append(when)
            else:
                taken[response["product_id"]] = (ResponseKind(response["kind"]), when)
        return just_opened_holds(taken, self.rules, now) | dismissal_holds(dismissed, self.rules, now)

    def capped(self, customer_id: str, channel: str, candidates: list[str],
               now: datetime | None = None) -> tuple[list[str], list[HeldBack]]:
        """Campaign outreach's `candidates` within the weekly cap: (allowed, held back by the cap)."""
        now = now or datetime.now(UTC)
        since = (now - WEEK).isoformat()
        offered = {item["product_id"] for decision in DecisionLog(self.store).for_customer(customer_id, since=since)
                   if decision.get("proactive") and decision.get("channel") == channel for item in decision["offers"]}
        allowed, capped = proactive_room(offered, candidates, self.rules)
        detail = (f"at most {self.rules.weekly_proactive_offers} campaign offers a week on this channel; "
                  f"{len(offered)} already made")
        return allowed, [HeldBack(product, WEEKLY_CAP, detail) for product in capped]
