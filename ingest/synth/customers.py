"""Customer-level records of the synthetic bank: CIP profile, KYC documents, disclosures.

Each function takes one seeded `random.Random` and returns records as dicts in
the field order of their `retrieval.records` model.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from random import Random

from ingest.synth.needs import NEED_BY_NAME, NEEDS
from ingest.synth.people import Person, add_years
from ingest.synth.tables import (
    HANDLE_NOUNS,
    HANDLE_WORDS,
    KYC_DOC_TYPES,
    PHOTO_SUFFIXES,
)

PLATFORMS = ("twitter", "instagram", "facebook", "linkedin", "tiktok")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

HEALTH_TOPICS = (
    ("pregnancy", "I'm pregnant and due in a few months; please take it into account for health cover."),
    ("chronic_condition", "I was diagnosed with type 2 diabetes and see a specialist every month."),
    ("planned_surgery", "I have knee replacement surgery scheduled this year."),
    ("dental_treatment", "I need several crowns and a dental implant."),
    ("physical_therapy", "I'm in physical therapy twice a week after a back injury."),
    ("vision", "I need cataract surgery in both eyes."),
)


class HandleRegistry:
    """Social handles, unique per platform across the whole bank."""

    def __init__(self) -> None:
        self.taken: dict[str, set[str]] = {platform: set() for platform in PLATFORMS}

    def claim(self, rng: Random, platform: str, base: str) -> str:
        handle = base
        while handle in self.taken[platform]:
            handle = f"{base}{rng.randint(2, 9999)}"
        self.taken[platform].add(handle)
        return handle

    def outsider(self, rng: Random, platform: str) -> str:
        """A handle nobody at the bank owns."""
        word, noun = rng.choice(HANDLE_WORDS), rng.choice(HANDLE_NOUNS)
        base = f"@{word}_{noun}" if platform in ("twitter", "tiktok") else f"{word}.{noun}"
        return self.claim(rng, platform, base)


def _handle_base(person: Person, platform: str, rng: Random) -> str:
    first, last = person.first_name.lower(), person.last_name.lower()
    year = f"{person.dob.year % 100:02d}"
    if platform == "twitter":
        return f"@{first[0]}{last}{year}"
    if platform == "instagram":
        return f"{first[0]}{last}.{rng.choice(PHOTO_SUFFIXES)}" if rng.random() < 0.6 else f"{first}.{last}"
    if platform == "facebook":
        return f"{first}.{last}"
    if platform == "linkedin":
        return f"{first}-{last}"
    return f"@{first}{last[0]}_{year}"


def social_handles(rng: Random, person: Person, registry: HandleRegistry) -> dict[str, str]:
    active = 0.8 if person.age < 35 else 0.6 if person.age < 65 else 0.35
    if rng.random() >= active:
        return {}
    rates = {
        "twitter": 0.45,
        "instagram": 0.7 if person.age < 40 else 0.4,
        "facebook": 0.35 if person.age < 35 else 0.7,
        "linkedin": 0.5 if person.income > 0 and person.occupation.sector not in ("pension", "none") else 0.0,
        "tiktok": 0.45 if person.age < 30 else 0.1,
    }
    chosen = [platform for platform in PLATFORMS if rng.random() < rates[platform]]
    if not chosen:
        chosen = [rng.choice(("twitter", "instagram", "facebook"))]
    return {platform: registry.claim(rng, platform, _handle_base(person, platform, rng)) for platform in chosen}


def risk_appetite(rng: Random, person: Person) -> str:
    score = 0.5 - (person.age - 25) / 45 + 0.35 * math.log(max(person.income, 10_000) / 60_000) + rng.gauss(0, 0.35)
    return "high" if score > 0.45 else "low" if score < -0.15 else "medium"


def customer_since(rng: Random, person: Person, as_of: date) -> date:
    """Joined the bank at 17 or later, at least 200 days before `as_of`, at most 30 years back."""
    earliest = max(add_years(person.dob, 17), as_of - timedelta(days=365 * 30))
    span = (as_of - timedelta(days=200) - earliest).days
    if span <= 0:
        return as_of - timedelta(days=200)
    # Recent joiners are more common than old-timers.
    return as_of - timedelta(days=200 + int(span * rng.random() ** 1.6))


def customer_record(rng: Random, person: Person) -> dict:
    first, last = person.first_name, person.last_name
    email = f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}".lower().replace(" ", "")
    return {
        "customer_id": person.pid,
        "first_name": first,
        "last_name": last,
        "date_of_birth": person.dob,
        "gender": person.gender,
        "city": person.home.city.name,
        "address": person.home.address,
        "occupation": person.occupation.title,
        "employer": person.employer,
        "annual_income": person.income,
        "marital_status": person.marital,
        "dependants": len(person.home.kid_ages) if person.role in ("primary", "spouse") else 0,
        "email": email,
        "phone": f"+1-{person.home.city.area_code}-555-{rng.randint(0, 9999):04d}",
        "social_handles": person.handles,
        "risk_appetite": person.risk,
        "consent": {
            "marketing": rng.random() < 0.6,
            "profiling": rng.random() < 0.92,
            "health_data": rng.random() < 0.15,
            "share_with_family": rng.random() < 0.45,
        },
        "customer_since": person.since,
    }


class RecordCounter:
    def __init__(self, prefix: str, digits: int = 8) -> None:
        self.prefix, self.digits, self.count = prefix, digits, 0

    def next(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count:0{self.digits}d}"


def _moment(rng: Random, start: date, end: date) -> datetime:
    day = start + timedelta(days=rng.randint(0, max((end - start).days, 0)))
    return datetime.combine(day, time(rng.randint(8, 19), rng.randint(0, 59), rng.randint(0, 59)))


def kyc_documents(rng: Random, person: Person, as_of: date, ids: RecordCounter) -> list[dict]:
    """1-3 documents; about one customer in ten has none verified. Sets `person.kyc_verified`."""
    count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
    doc_types = rng.sample(KYC_DOC_TYPES, count)
    verified = rng.random() < 0.9
    rows = []
    for index, doc_type in enumerate(doc_types):
        if verified and index == 0:
            status = "verified"
        else:
            status = rng.choices(("verified", "pending", "expired", "rejected"),
                                 weights=(0 if not verified else 50, 20, 20, 10))[0]
        when = _moment(rng, person.since, as_of) if status in ("verified", "expired") else None
        rows.append({"document_id": ids.next(), "customer_id": person.pid, "doc_type": doc_type,
                     "status": status, "verified_at": when})
    person.kyc_verified = verified
    return rows


def disclosures(rng: Random, person: Person, consent_health: bool, as_of: date, ids: RecordCounter) -> list[dict]:
    """Goals and events (about 40% of customers), plus health notes shared with explicit consent."""
    rows = []
    topics: list[str] = []
    if person.needs and rng.random() < 0.45:
        topics.append(rng.choice(person.needs))
    elif rng.random() < 0.08:
        topics.append(rng.choice(NEEDS).name)  # a stated goal the customer never acts on
    for need_name in topics:
        rows.append(_goal(rng, person, NEED_BY_NAME[need_name], as_of, ids))
    health_rate = 0.25 if {"health_coverage", "new_baby"} & set(person.needs) else 0.02
    if consent_health and rng.random() < health_rate:
        rows.append(_health(rng, person, as_of, ids))
    return rows


def _goal(rng: Random, person: Person, need, as_of: date, ids: RecordCounter) -> dict:
    amount = None
    if need.goal_amount and rng.random() < 0.7:
        amount = float(round(rng.randint(*need.goal_amount), -2))
    horizon = rng.randint(60, 720)
    return {
        "disclosure_id": ids.next(),
        "customer_id": person.pid,
        "kind": "upcoming_event" if need.event else "life_goal",
        "topic": need.topic,
        "text": rng.choice(need.disclosures),
        "amount": amount,
        "target_date": as_of + timedelta(days=horizon) if need.event or rng.random() < 0.5 else None,
        "disclosed_at": as_of - timedelta(days=rng.randint(3, 300)),
        "explicit_consent": rng.random() < 0.6,
    }


def _health(rng: Random, person: Person, as_of: date, ids: RecordCounter) -> dict:
    if "new_baby" in person.needs and person.gender == "female":
        topic, text = HEALTH_TOPICS[0]
    else:
        topic, text = rng.choice(HEALTH_TOPICS[1:])
    return {
        "disclosure_id": ids.next(),
        "customer_id": person.pid,
        "kind": "health",
        "topic": topic,
        "text": text,
        "amount": None,
        "target_date": None,
        "disclosed_at": as_of - timedelta(days=rng.randint(3, 200)),
        "explicit_consent": True,
    }
