"""Products a synthetic customer holds, by life stage, and the one they opened last.

Base holdings are opened over the years and never include a product that
serves one of the customer's hidden needs. The most recent opening (used as
the hold-out in evaluations) follows a hidden need about two times in three
and is something else, or nothing new, otherwise. A customer following a need
mostly opens the product that serves it most directly (a need lists its
products in that order): the n-th is chosen with weight 1/n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from random import Random

from ingest.synth.catalogue import products
from ingest.synth.customers import RecordCounter
from ingest.synth.needs import NEED_BY_NAME
from ingest.synth.people import Person
from ingest.synth.tables import RETIRED, STUDENT
from retrieval.records import Product

NEED_FOLLOWING_RATE = 0.65
OTHER_RECENT_RATE = 0.4
RECENT_WINDOW_DAYS = (10, 150)  # the last opening happens this many days before as_of
BASE_CUTOFF_DAYS = 181  # older holdings were all opened at least this long before as_of

SAVINGS = ("P004", "P005", "P007")
# Loans and financing by typical amount borrowed; they are repaid monthly from checking.
TYPICAL_LOAN = {"P018": 15_000, "P019": 20_000, "P020": 32_000, "P021": 18_000, "P022": 30_000,
                "P023": 45_000, "P024": 90_000, "P053": 4_000, "P055": 6_000}


@cache
def catalogue() -> dict[str, Product]:
    return {product.product_id: product for product in products()}


def eligible(person: Person, product_id: str) -> bool:
    rules = catalogue()[product_id].eligibility
    return (rules.min_age <= person.age <= rules.max_age and person.income >= rules.min_income
            and (not rules.risk_appetite or person.risk in rules.risk_appetite))


def serving_products(person: Person, need_products: tuple[str, ...]) -> list[str]:
    return [product_id for product_id in need_products if eligible(person, product_id)]


@dataclass
class Holdings:
    """What the transaction generator needs to know about a customer's accounts."""

    records: list[dict] = field(default_factory=list)
    checking: str = ""
    checking_opened: date | None = None
    card: str | None = None
    card_opened: date | None = None
    products: list[str] = field(default_factory=list)

    def holds(self, *product_ids: str) -> bool:
        return any(product_id in self.products for product_id in product_ids)


def _weighted(rng: Random, options: list[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in options], weights=[weight for _, weight in options])[0]


def _checking(rng: Random, person: Person) -> str:
    if person.occupation is STUDENT and person.age <= 25:
        return "P002"
    if person.age >= 62 and rng.random() < 0.5:
        return "P009"
    if person.income >= 150_000 and rng.random() < 0.4:
        return "P003"
    return "P001"


def _base_products(rng: Random, person: Person) -> list[str]:
    home, age, income, roll = person.home, person.age, person.income, rng.random
    picks = [_checking(rng, person)]
    picks += ["P004"] if roll() < 0.45 else []
    picks += ["P007"] if income > 80_000 and roll() < 0.15 else []
    picks += ["P006"] if age >= 55 and roll() < 0.2 else []
    picks += ["P005"] if roll() < 0.08 else []
    if person.occupation is STUDENT:
        picks += ["P014"] if roll() < 0.4 else []
    elif roll() < 0.62:
        picks.append(_weighted(rng, [("P011", 3), ("P012", 2), ("P017", 1.5), ("P013", 0.5),
                                     ("P010", 1.0 if income > 60_000 else 0.0),
                                     ("P015", 1.5 if income < 30_000 else 0.1)]))
    if home.payer == person.pid and home.mortgage and roll() < 0.6:
        picks.append(_weighted(rng, [("P025", 5), ("P026", 2), ("P029", 1), ("P027", 1 if age < 40 else 0)]))
    picks += ["P028"] if home.owner and roll() < 0.08 else []
    picks += [rng.choice(("P020", "P021"))] if person.has_car and roll() < 0.2 else []
    picks += ["P018"] if roll() < 0.06 else []
    if income > 70_000 and person.risk != "low" and roll() < 0.3:
        picks.append("P031" if person.risk == "high" and roll() < 0.4 else rng.choice(("P030", "P033")))
    picks += ["P032"] if age >= 55 and person.risk != "high" and roll() < 0.15 else []
    if income > 0 and age >= 25 and person.occupation is not RETIRED and roll() < 0.3:
        picks.append(rng.choice(("P034", "P035")))
    picks += ["P038"] if home.kid_ages and roll() < 0.3 else []
    picks += ["P040"] if age >= 60 and roll() < 0.08 else []
    picks += ["P041"] if (home.kid_ages or person.marital == "married") and age < 65 and roll() < 0.2 else []
    picks += ["P043"] if home.owner and roll() < 0.3 else []
    picks += ["P044"] if person.has_car and roll() < 0.2 else []
    picks += ["P045"] if home.pet and roll() < 0.08 else []
    picks += ["P048"] if not home.owner and roll() < 0.1 else []
    picks += ["P049"] if age < 65 and income > 0 and roll() < 0.08 else []
    picks += ["P052"] if age >= 65 and roll() < 0.25 else []
    picks += ["P054"] if roll() < 0.06 else []
    picks += ["P008"] if person.occupation.sector == "self" and roll() < 0.3 else []
    return picks


def _balance(rng: Random, person: Person, product: Product) -> tuple[float | None, float | None]:
    """(balance, credit_limit) for a product; debts are negative."""
    income = max(person.income, 15_000)
    pid, category = product.product_id, product.category
    if category == "card":
        limit = min(product.terms.max_amount or 5000, max(500.0, round(income * rng.uniform(0.1, 0.3), -2)))
        use = rng.uniform(0.6, 0.95) if "debt_consolidation" in person.needs else rng.uniform(0, 0.35)
        return -round(limit * use, 2), limit
    if pid == "P028":
        limit = round(rng.uniform(50_000, 150_000), -3)
        return -round(limit * rng.uniform(0, 0.5), 2), limit
    if category == "mortgage":
        return -round(person.home.city.cost_of_living * rng.uniform(120_000, 520_000), 2), None
    if pid in TYPICAL_LOAN:
        return -round(TYPICAL_LOAN[pid] * rng.uniform(0.2, 0.9), 2), None
    if category in ("investment", "retirement", "education_savings") or pid == "P049":
        return round(math.exp(rng.gauss(math.log(income * 0.4 + 3000), 0.9)), 2), None
    if category == "deposit":
        monthly = income / 12
        center = monthly * (0.6 if pid in ("P001", "P002", "P003", "P009", "P008") else 2.0)
        if "emergency_savings" in person.needs:
            center *= 3  # idle cash sitting in checking
        return round(math.exp(rng.gauss(math.log(center + 500), 0.6)), 2), None
    return None, None


def _distinct_days(rng: Random, first: date, last: date, count: int) -> list[date]:
    span = (last - first).days
    offsets = sorted(rng.sample(range(1, span + 1), count)) if span >= count else list(range(1, count + 1))
    return [first + timedelta(days=offset) for offset in offsets]


def open_accounts(rng: Random, person: Person, as_of: date, ids: RecordCounter) -> Holdings:
    targets = set(person.targets)
    base = []
    for product_id in _base_products(rng, person):
        if product_id not in base and product_id not in targets and (eligible(person, product_id) or not base):
            base.append(product_id)
    cutoff = as_of - timedelta(days=BASE_CUTOFF_DAYS)
    opened = [person.since, *_distinct_days(rng, person.since, max(cutoff, person.since), len(base) - 1)]
    recent = _recent_product(rng, person, base)
    if recent:
        base.append(recent)
        opened.append(as_of - timedelta(days=rng.randint(*RECENT_WINDOW_DAYS)))
    holdings = Holdings(products=base)
    for index, (product_id, day) in enumerate(zip(base, opened, strict=True)):
        product = catalogue()[product_id]
        balance, limit = _balance(rng, person, product)
        closed = 0 < index < len(base) - 1 and product.category != "mortgage" and rng.random() < 0.03
        record = {"account_id": ids.next(), "customer_id": person.pid, "product_id": product_id,
                  "opened_at": day, "balance": balance, "credit_limit": limit,
                  "status": "closed" if closed else "open"}
        holdings.records.append(record)
        if index == 0:
            holdings.checking, holdings.checking_opened = record["account_id"], day
        elif product.category == "card" and not closed and holdings.card is None:
            holdings.card, holdings.card_opened = record["account_id"], day
    return holdings


def _recent_product(rng: Random, person: Person, held: list[str]) -> str | None:
    kyc_ok = person.kyc_verified
    options = [p for p in person.targets if p not in held and (kyc_ok or not _needs_kyc(p))]
    if options and rng.random() < NEED_FOLLOWING_RATE:
        return rng.choices(options, weights=[1.0 / _directness(person, p) for p in options])[0]
    if rng.random() < OTHER_RECENT_RATE:
        others = [p for p in _base_products(rng, person)[1:] if p not in held and p not in person.targets
                  and eligible(person, p) and (kyc_ok or not _needs_kyc(p))]
        if others:
            return rng.choice(others)
    return None


def _directness(person: Person, product_id: str) -> int:
    """1 for the product a need of theirs names first, 2 for the second, ..."""
    return min(NEED_BY_NAME[name].products.index(product_id) + 1
               for name in person.needs if product_id in NEED_BY_NAME[name].products)


def _needs_kyc(product_id: str) -> bool:
    return catalogue()[product_id].eligibility.requires_verified_kyc

