"""Social-media campaigns and the reactions they draw, from customers and from strangers.

Customers whose hidden needs match a campaign engage far more often, and
some say their need out loud ("baby #2 on the way"). Only some customer
events carry a `customer_id`; the rest must be matched by handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from random import Random

from ingest.synth.customers import HandleRegistry
from ingest.synth.needs import NEED_BY_NAME
from ingest.synth.people import Person


@dataclass(frozen=True)
class CampaignSpec:
    campaign_id: str
    name: str
    platform: str
    product_ids: tuple[str, ...]
    needs: tuple[str, ...]
    starts: int  # days from as_of
    ends: int


CAMPAIGNS = (
    CampaignSpec("CMP01", "Fly Further with Voyager", "instagram", ("P010", "P047"),
                 ("travel_rewards_card",), -150, 30),
    CampaignSpec("CMP02", "Home Sweet Home", "facebook", ("P027", "P025", "P005", "P043"),
                 ("first_home", "home_renovation"), -120, 45),
    CampaignSpec("CMP03", "Growing Family", "instagram", ("P038", "P041", "P050", "P055"),
                 ("new_baby", "education_savings"), -90, 60),
    CampaignSpec("CMP04", "Retire Your Way", "facebook", ("P036", "P034", "P032", "P052"),
                 ("retirement",), -200, -20),
    CampaignSpec("CMP05", "Debt-Free Days", "twitter", ("P019", "P013"),
                 ("debt_consolidation", "student_loan_refi"), -60, 30),
    CampaignSpec("CMP06", "Launch Your Business", "linkedin", ("P008", "P024", "P016", "P037"),
                 ("starting_business",), -100, 20),
    CampaignSpec("CMP07", "Cash Back Everyday", "tiktok", ("P011", "P012", "P017"),
                 ("cashback_card",), -45, 45),
)

GENERIC_COMMENTS = (
    "Love this!", "What's the annual fee?", "How do I apply?", "Is this available in my state?",
    "Do you have this for students?", "Tagging my sister, she needs this", "Sounds too good to be true",
    "Sent you a DM", "What's the catch?", "Been a customer for years, great bank", "Does this work with Apple Pay?",
    "Great ad lol", "How long does approval take?", "Is there a branch near downtown?",
)
MATCHED_TYPES = (("post", 25), ("comment", 30), ("like", 20), ("share", 10), ("mention", 10), ("message", 5))
CASUAL_TYPES = (("like", 50), ("comment", 25), ("share", 15), ("mention", 10))
MATCHED_RATE, CASUAL_RATE, STRANGERS_PER_CUSTOMER = 0.35, 0.03, 0.06


def campaign_records(as_of: date) -> list[dict]:
    return [
        {"campaign_id": c.campaign_id, "name": c.name, "platform": c.platform, "product_ids": list(c.product_ids),
         "starts_at": as_of + timedelta(days=c.starts), "ends_at": as_of + timedelta(days=c.ends)}
        for c in CAMPAIGNS
    ]


def _timestamp(rng: Random, campaign: CampaignSpec, as_of: date) -> datetime:
    last = min(campaign.ends, 0)
    day = as_of + timedelta(days=rng.randint(campaign.starts, last))
    return datetime.combine(day, time(rng.randint(7, 23), rng.randint(0, 59), rng.randint(0, 59)))


def _text(rng: Random, kind: str, matched: list[str]) -> str:
    if kind in ("like", "share") and not (kind == "share" and matched and rng.random() < 0.3):
        return ""
    if matched and rng.random() < 0.7:
        text = rng.choice(NEED_BY_NAME[rng.choice(matched)].posts)
    else:
        text = rng.choice(GENERIC_COMMENTS)
    return f"@FargoBank {text}" if kind == "mention" else text


def _event(rng: Random, campaign: CampaignSpec, as_of: date, handle: str, customer_id: str | None,
           kind: str, matched: list[str]) -> dict:
    return {"event_id": "", "campaign_id": campaign.campaign_id, "platform": campaign.platform,
            "author_handle": handle, "customer_id": customer_id, "type": kind,
            "text": _text(rng, kind, matched), "timestamp": _timestamp(rng, campaign, as_of)}


def campaign_events(rng: Random, customers: list[Person], registry: HandleRegistry, as_of: date,
                    first_number: int) -> list[dict]:
    """Events for a chunk of customers plus strangers, by time, numbered from `first_number`."""
    events = []
    for person in customers:
        for campaign in CAMPAIGNS:
            handle = person.handles.get(campaign.platform)
            if not handle:
                continue
            matched = [need for need in campaign.needs if need in person.needs]
            if rng.random() >= (MATCHED_RATE if matched else CASUAL_RATE):
                continue
            types = MATCHED_TYPES if matched else CASUAL_TYPES
            linked = person.pid if rng.random() < 0.5 else None
            for _ in range(rng.choices((1, 2, 3), weights=(60, 30, 10))[0]):
                kind = rng.choices([t for t, _ in types], weights=[w for _, w in types])[0]
                events.append(_event(rng, campaign, as_of, handle, linked, kind, matched))
    for _ in range(round(len(customers) * STRANGERS_PER_CUSTOMER)):
        campaign = rng.choice(CAMPAIGNS)
        kind = rng.choices([t for t, _ in CASUAL_TYPES], weights=[w for _, w in CASUAL_TYPES])[0]
        matched = list(campaign.needs) if rng.random() < 0.4 else []
        events.append(_event(rng, campaign, as_of, registry.outsider(rng, campaign.platform), None, kind, matched))
    events.sort(key=lambda event: (event["timestamp"], event["author_handle"], event["campaign_id"]))
    for number, event in enumerate(events, start=first_number):
        event["event_id"] = f"E{number:08d}"
    return events
