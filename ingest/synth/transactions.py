"""A year of transactions for a chunk of synthetic customers, generated with numpy.

Recurring items (pay, rent, bills, transfers) land on fixed days of each
calendar month; discretionary spending is drawn per customer-month from
weights set by life stage, household and hidden needs, so a need such as
`new_baby` shows as pharmacy and baby-store spending rising over the last
months. Rows come out as CSV text in `TRANSACTION_COLUMNS` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np

from ingest.synth.accounts import SAVINGS, TYPICAL_LOAN, Holdings, catalogue
from ingest.synth.needs import NEEDS
from ingest.synth.people import Person
from ingest.synth.spending import (
    CARD,
    CATEGORY_INDEX,
    DISCRETIONARY,
    ONLINE,
    RECURRING,
    RECURRING_MERCHANTS,
    STAGE_MULTIPLIERS,
)
from ingest.synth.tables import EMPLOYERS, RETIRED, STUDENT
from retrieval.records import TRANSACTION_COLUMNS

HISTORY_DAYS = 365
DISCRETIONARY_PER_MONTH = 3.3  # mean purchases per customer-month before stage, income and needs
STAGES = tuple(STAGE_MULTIPLIERS)
SELF_EMPLOYED_PAYER = "Client Payment Deposit"
PART_TIME_PAYER = "Campus Employment"

assert TRANSACTION_COLUMNS == (
    "transaction_id", "customer_id", "account_id", "date", "amount", "merchant", "category", "mcc", "channel",
)


def _csv(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


@dataclass(frozen=True)
class Tails:
    """Every `merchant,category,mcc,channel` ending a CSV row, and where to find them."""

    text: np.ndarray  # object array of strings
    discretionary_start: np.ndarray  # first merchant index of each discretionary category
    discretionary_count: np.ndarray
    card_usable: np.ndarray  # per tail: may be paid by credit card
    recurring: dict[tuple[str, str], int]  # (kind, merchant) -> tail index


@cache
def tails() -> Tails:
    text, usable, starts, counts, recurring = [], [], [], [], {}
    for category in DISCRETIONARY:
        starts.append(len(text))
        counts.append(len(category.merchants))
        for merchant, mcc, channel in category.merchants:
            text.append(f"{_csv(merchant)},{category.name},{mcc},{channel}")
            usable.append(channel in (CARD, ONLINE))
    payers = sorted({name for names in EMPLOYERS.values() for name in names if name} - {"Self-employed"})
    merchants = {"payroll": [*payers, SELF_EMPLOYED_PAYER, PART_TIME_PAYER], **RECURRING_MERCHANTS}
    for kind, names in merchants.items():
        spec = RECURRING[kind]
        for name in names:
            recurring[(kind, name)] = len(text)
            text.append(f"{_csv(name)},{spec.name},{spec.mcc},{spec.channel}")
            usable.append(False)
    return Tails(np.array(text, dtype=object), np.array(starts), np.array(counts), np.array(usable), recurring)


@dataclass(frozen=True)
class Calendar:
    """The calendar months overlapping the year of history that ends on `as_of`."""

    first_day: date
    dates: tuple[str, ...]  # ISO date of each day index
    month_start: np.ndarray  # day index of each month's 1st (negative for the partial first month)
    lo: np.ndarray  # first day index of each month inside the history
    hi: np.ndarray  # one past the last
    months_before_end: np.ndarray  # 0 for the month holding as_of


@cache
def calendar(as_of: date) -> Calendar:
    first_day = as_of - timedelta(days=HISTORY_DAYS - 1)
    starts = []
    month = date(first_day.year, first_day.month, 1)
    while month <= as_of:
        starts.append((month - first_day).days)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    ends = starts[1:] + [HISTORY_DAYS]
    starts_arr = np.array(starts)
    return Calendar(
        first_day,
        tuple((first_day + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)),
        starts_arr,
        np.maximum(starts_arr, 0),
        np.minimum(np.array(ends), HISTORY_DAYS),
        np.arange(len(starts))[::-1].copy(),
    )


def _need_tables(months_before_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boost (needs x categories) and ramp (needs x months) for every need."""
    boost = np.zeros((len(NEEDS), len(DISCRETIONARY)))
    ramp = np.ones((len(NEEDS), len(months_before_end)))
    for n, need in enumerate(NEEDS):
        for category, weight in need.boosts.items():
            boost[n, CATEGORY_INDEX[category]] = weight
        if need.ramp_months:
            ramp[n] = np.clip((need.ramp_months - months_before_end) / need.ramp_months, 0, 1)
    return boost, ramp


@dataclass
class Rows:
    """Columnar transactions: customer (chunk-local), card-or-not, day index, cents, tail index."""

    customer: np.ndarray
    on_card: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    tail: np.ndarray

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in Rows.__dataclass_fields__))


# ----- discretionary spending -----


def _base_weights(people: list[Person]) -> np.ndarray:
    base = np.array([category.weight for category in DISCRETIONARY])
    stage_matrix = np.ones((len(STAGES), len(DISCRETIONARY)))
    for s, stage in enumerate(STAGES):
        for category, factor in STAGE_MULTIPLIERS[stage].items():
            stage_matrix[s, CATEGORY_INDEX[category]] = factor
    stage = np.array([STAGES.index(p.stage) for p in people])
    weights = base[None, :] * stage_matrix[stage]
    idx = CATEGORY_INDEX

    def flag(test) -> np.ndarray:
        return np.array([bool(test(p)) for p in people])

    car = flag(lambda p: p.has_car)
    weights[:, idx["fuel"]] *= car
    weights[:, idx["auto"]] *= car
    weights[:, idx["transit"]] *= np.where(car, 1.0, 3.0)
    weights[:, idx["pets"]] += 6 * flag(lambda p: p.home.pet)
    weights[:, idx["home_improvement"]] *= np.where(flag(lambda p: p.home.owner), 3.0, 1.0)
    parent = flag(lambda p: p.role in ("primary", "spouse") and p.home.kid_ages)
    weights[:, idx["baby_supplies"]] += 6 * (parent & flag(lambda p: min(p.home.kid_ages or [9]) < 3))
    weights[:, idx["education"]] += 3 * (parent & flag(lambda p: max(p.home.kid_ages or [0]) >= 4))
    weights[:, idx["senior_care"]] += 0.5 * flag(lambda p: p.elderly_parent)
    weights[:, idx["travel"]] *= np.where(flag(lambda p: p.income == 0), 0.3, 1.0)
    return weights


def _discretionary(rng: np.random.Generator, people: list[Person], card: np.ndarray, cal: Calendar) -> Rows:
    t = tails()
    months = len(cal.lo)
    weights = _base_weights(people) * np.exp(rng.normal(0, 0.35, (len(people), len(DISCRETIONARY))))
    need_index = {need.name: n for n, need in enumerate(NEEDS)}
    has_need = np.zeros((len(people), len(NEEDS)))
    for c, person in enumerate(people):
        for name in person.needs:
            has_need[c, need_index[name]] = 1
    boost, ramp = _need_tables(cal.months_before_end)
    mix = weights[:, None, :] + np.einsum("cn,nm,nk->cmk", has_need, ramp, boost)  # (customers, months, K)
    income = np.array([max(p.income, 20_000) for p in people])
    cost = np.array([p.home.city.cost_of_living for p in people])
    scale = np.clip((income / 60_000) ** 0.35, 0.6, 2.2) * cost**0.3
    activity = np.clip(scale, 0.75, 1.4) * np.exp(rng.normal(0, 0.25, len(people)))
    volume = (mix.sum(-1) / weights.sum(-1)[:, None]) ** 0.5
    coverage = (cal.hi - cal.lo) / (HISTORY_DAYS / 12)
    counts = rng.poisson(DISCRETIONARY_PER_MONTH * activity[:, None] * volume * coverage[None, :])
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    customer, month = np.divmod(cell, months)
    cumulative = np.cumsum(mix.reshape(-1, len(DISCRETIONARY)), axis=1)
    cumulative /= cumulative[:, -1:]
    category = (rng.random(len(cell))[:, None] > cumulative[cell]).sum(axis=1)
    category = np.minimum(category, len(DISCRETIONARY) - 1)
    day = cal.lo[month] + (rng.random(len(cell)) * (cal.hi - cal.lo)[month]).astype(np.int64)
    favourite = rng.integers(0, 1 << 30, (len(people), len(DISCRETIONARY)))
    count = t.discretionary_count[category]
    local = np.where(rng.random(len(cell)) < 0.55, favourite[customer, category] % count,
                     (rng.random(len(cell)) ** 1.6 * count).astype(np.int64))
    tail = t.discretionary_start[category] + local
    medians = np.array([c.median for c in DISCRETIONARY])
    spreads = np.array([c.spread for c in DISCRETIONARY])
    dollars = medians[category] * scale[customer] * np.exp(spreads[category] * rng.standard_normal(len(cell)))
    cents = np.maximum(np.rint(dollars * 100), 1).astype(np.int64)
    cash = category == CATEGORY_INDEX["cash_withdrawal"]
    cents[cash] = np.maximum(np.rint(dollars[cash] / 20), 1).astype(np.int64) * 2000
    on_card = card[customer] & t.card_usable[tail] & (rng.random(len(cell)) < 0.7)
    return Rows(customer, on_card, day, -cents, tail)


# ----- recurring items -----


@dataclass
class Item:
    """A monthly (or twice-monthly) transaction a customer repeats."""

    customer: int
    kind: str
    merchant: str
    dollars: float  # positive: the sign comes from the kind
    day: int  # day of month, 0-based
    per_month: int = 1
    jitter: float = 0.0
    rise: float = 0.0  # grows by this fraction over the last 6 months
    start: int = 0  # first day index it applies (a product opened during the year)


INCOMING = frozenset({"payroll", "pension"})
INVESTMENTS = ("P030", "P031", "P033", "P034", "P035")


def _pay_items(rng: np.random.Generator, c: int, person: Person) -> list[Item]:
    if person.income <= 0:
        return []
    if person.occupation is RETIRED:
        payer = RECURRING_MERCHANTS["pension"][int(rng.integers(3))]
        return [Item(c, "pension", payer, person.income * 0.9 / 12, int(rng.integers(1, 5)))]
    if person.occupation is STUDENT:
        return [Item(c, "payroll", PART_TIME_PAYER, person.income / 12, int(rng.integers(0, 27)), 1, 0.2)]
    if person.employer in ("Self-employed", "Freelance", ""):
        return [Item(c, "payroll", SELF_EMPLOYED_PAYER, person.income * 0.8 / 12, int(rng.integers(0, 27)), 1, 0.35)]
    twice = bool(rng.random() < 0.55)
    per_month = 2 if twice else 1
    net = person.income * 0.72 / 12 / per_month
    return [Item(c, "payroll", person.employer, net, 0 if twice else 27, per_month, 0.01)]


def _home_items(rng: np.random.Generator, c: int, person: Person, holdings: Holdings) -> list[Item]:
    home = person.home
    if home.payer != person.pid:
        return []
    col = home.city.cost_of_living
    income = max(person.income, 35_000)
    items = []
    if home.owner and home.mortgage:
        ours = holdings.holds("P025", "P026", "P027", "P029")
        lender = "Fargo Bank Mortgage" if ours else RECURRING_MERCHANTS["mortgage_payment"][int(rng.integers(2))]
        payment = float(np.clip(0.2 * income / 12 * col**0.5, 700, 9000))
        items.append(Item(c, "mortgage_payment", lender, payment, 0))
    elif not home.owner:
        rent = col * rng.uniform(700, 1300) + 0.08 * income / 12
        landlord = RECURRING_MERCHANTS["rent"][int(rng.integers(5))]
        items.append(Item(c, "rent", landlord, float(rent), 0))
    utility = RECURRING_MERCHANTS["utilities"][int(rng.integers(3))]
    items.append(Item(c, "utilities", utility, float(rng.uniform(90, 260) * col**0.5), int(rng.integers(5, 25)),
                      1, 0.18))
    if any(age < 5 for age in home.kid_ages) and rng.random() < 0.75:
        daycare = RECURRING_MERCHANTS["childcare"][int(rng.integers(3))]
        items.append(Item(c, "childcare", daycare, float(col * rng.uniform(900, 2000)), 0))
    return items


def _per_product(c: int, kind: str, merchant: str, day: int, amounts: list[tuple[date, float]],
                 first_day: date) -> list[Item]:
    """One item for the products held all year, plus one per product opened during it, from that day."""
    held_all_year = sum(amount for opened, amount in amounts if opened <= first_day)
    items = [Item(c, kind, merchant, held_all_year, day)] if held_all_year else []
    items += [Item(c, kind, merchant, amount, day, start=(opened - first_day).days)
              for opened, amount in amounts if opened > first_day and amount]
    return items


def _open_products(holdings: Holdings) -> list[tuple[date, str]]:
    return [(r["opened_at"], r["product_id"]) for r in holdings.records if r["status"] == "open"]


def _bill_items(rng: np.random.Generator, c: int, person: Person, holdings: Holdings, first_day: date) -> list[Item]:
    items = []
    if person.home.payer == person.pid or rng.random() < 0.25:  # others are often on a family plan
        telecom = RECURRING_MERCHANTS["telecom"][int(rng.integers(3))]
        items.append(Item(c, "telecom", telecom, float(rng.uniform(45, 160)), int(rng.integers(0, 27))))
    premiums = [(opened, catalogue()[p].terms.premium_monthly or 0.0) for opened, p in _open_products(holdings)]
    items += _per_product(c, "insurance", "Fargo Insurance Services", int(rng.integers(0, 27)), premiums, first_day)
    if person.has_car and rng.random() < 0.25:
        insurer = RECURRING_MERCHANTS["insurance"][int(rng.integers(2))]
        items.append(Item(c, "insurance", insurer, float(rng.uniform(90, 220)), int(rng.integers(0, 27))))
    if holdings.holds(*TYPICAL_LOAN):
        owed = [(opened, TYPICAL_LOAN[p] * 0.022) for opened, p in _open_products(holdings) if p in TYPICAL_LOAN]
        items += _per_product(c, "loan_payment", "Fargo Bank Loan Payment", int(rng.integers(0, 27)), owed,
                              first_day)
    elif person.has_car and rng.random() < 0.15:
        items.append(Item(c, "loan_payment", "Metro Auto Finance", float(rng.uniform(280, 650)),
                          int(rng.integers(0, 27))))
    return items


def _first_opened(holdings: Holdings, product_ids: tuple[str, ...], first_day: date) -> int | None:
    """Day index from which the customer has held any of `product_ids` (0 when all year), or None."""
    opened = [day for day, product_id in _open_products(holdings) if product_id in product_ids]
    return max((min(opened) - first_day).days, 0) if opened else None


def _goal_items(rng: np.random.Generator, c: int, person: Person, holdings: Holdings, first_day: date) -> list[Item]:
    needs, income = person.needs, max(person.income, 20_000)
    items = []
    saving_since = _first_opened(holdings, SAVINGS, first_day)
    if "first_home" in needs or rng.random() < 0.08:
        saving_since = 0  # saving with another bank or into an envelope at ours
    if saving_since is not None and "emergency_savings" not in needs:
        monthly = income * rng.uniform(0.02, 0.06) / 12
        rise = 0.0
        if "first_home" in needs:
            monthly, rise = monthly * 3, 1.0
        items.append(Item(c, "savings_transfer", "Transfer to Fargo Savings", float(monthly),
                          int(rng.integers(0, 27)), 1, 0.05, rise, saving_since))
    investing_since = _first_opened(holdings, INVESTMENTS, first_day)
    if "retirement" in needs or "investing" in needs:
        broker = RECURRING_MERCHANTS["brokerage_transfer"][(0, 2)[int(rng.integers(2))]]
        items.append(Item(c, "brokerage_transfer", broker, float(income * rng.uniform(0.04, 0.1) / 12),
                          int(rng.integers(0, 27))))
    elif investing_since is not None and rng.random() < 0.4:
        items.append(Item(c, "brokerage_transfer", "Fargo Investment Transfer",
                          float(income * rng.uniform(0.02, 0.06) / 12), int(rng.integers(0, 27)),
                          start=investing_since))
    issuers = RECURRING_MERCHANTS["debt_payment"]
    debts = int(rng.integers(2, 4)) if "debt_consolidation" in needs else int(rng.random() < 0.08)
    for issuer in rng.permutation(len(issuers))[:debts]:
        items.append(Item(c, "debt_payment", issuers[issuer], float(rng.uniform(120, 600)),
                          int(rng.integers(0, 27)), 1, 0.1))
    degree_holder = person.occupation.degree and 22 <= person.age <= 35 and rng.random() < 0.25
    if "student_loan_refi" in needs or degree_holder:
        servicer = RECURRING_MERCHANTS["student_loan_payment"][int(rng.integers(2))]
        items.append(Item(c, "student_loan_payment", servicer, float(rng.uniform(220, 700)),
                          int(rng.integers(0, 27))))
    return items


def _recurring(rng: np.random.Generator, people: list[Person], holdings: list[Holdings], cal: Calendar) -> Rows:
    items: list[Item] = []
    for c, (person, held) in enumerate(zip(people, holdings, strict=True)):
        items += _pay_items(rng, c, person)
        items += _home_items(rng, c, person, held)
        items += _bill_items(rng, c, person, held, cal.first_day)
        items += _goal_items(rng, c, person, held, cal.first_day)
    t = tails()
    months = len(cal.month_start)
    per_month = np.array([item.per_month for item in items])
    base_day = np.array([item.day for item in items])
    # One row per item, month and payment within the month.
    item = np.repeat(np.arange(len(items)), per_month * months)
    within = np.arange(len(item)) - np.repeat(np.cumsum(per_month * months) - per_month * months,
                                              per_month * months)
    month, second = np.divmod(within, per_month[item])
    day = cal.month_start[month] + np.minimum(base_day[item] + 14 * second, 27)
    inside = (day >= np.array([i.start for i in items])[item]) & (day < HISTORY_DAYS)
    item, month, day = item[inside], month[inside], day[inside]
    dollars = np.array([i.dollars for i in items])[item]
    jitter = np.array([i.jitter for i in items])[item]
    rise = np.array([i.rise for i in items])[item]
    growth = 1 + rise * np.clip((6 - cal.months_before_end[month]) / 6, 0, 1)
    dollars = dollars * growth * np.maximum(1 + jitter * rng.standard_normal(len(item)), 0.2)
    sign = np.array([1 if i.kind in INCOMING else -1 for i in items])[item]
    tail = np.array([t.recurring[(i.kind, i.merchant)] for i in items])[item]
    customer = np.array([i.customer for i in items])[item]
    cents = np.maximum(np.rint(dollars * 100), 1).astype(np.int64) * sign
    return Rows(customer, np.zeros(len(item), dtype=bool), day, cents, tail)


# ----- the chunk -----


def transactions_csv(rng: np.random.Generator, people: list[Person], holdings: list[Holdings], as_of: date,
                     first_id: int) -> tuple[str, int]:
    """CSV lines (no header) for a chunk of customers, sorted by customer and date; and their count."""
    cal = calendar(as_of)
    card = np.array([h.card is not None for h in holdings])
    rows = Rows.concat([_recurring(rng, people, holdings, cal), _discretionary(rng, people, card, cal)])
    # Nothing before the checking account existed, nothing on a card before it was opened.
    opened = np.array([(h.checking_opened - cal.first_day).days for h in holdings])
    card_opened = np.array([(h.card_opened - cal.first_day).days if h.card else HISTORY_DAYS for h in holdings])
    rows.on_card &= rows.day >= card_opened[rows.customer]
    order = np.flatnonzero(rows.day >= opened[rows.customer])
    order = order[np.lexsort((rows.tail[order], rows.cents[order], rows.day[order], rows.customer[order]))]
    customer, on_card = rows.customer[order], rows.on_card[order]
    accounts = np.array([f"{p.pid},{h.checking}" for p, h in zip(people, holdings, strict=True)]
                        + [f"{p.pid},{h.card or h.checking}" for p, h in zip(people, holdings, strict=True)],
                        dtype=object)
    prefix = accounts[customer + len(people) * on_card].tolist()
    dates = np.array(cal.dates, dtype=object)[rows.day[order]].tolist()
    amounts = (rows.cents[order] / 100).tolist()
    endings = tails().text[rows.tail[order]].tolist()
    ids = range(first_id, first_id + len(order))
    text = "".join([
        f"T{i:010d},{p},{d},{a:.2f},{e}\n" for i, p, d, a, e in zip(ids, prefix, dates, amounts, endings, strict=True)
    ])
    return text, len(order)


def csv_header() -> str:
    return ",".join(TRANSACTION_COLUMNS) + "\n"
