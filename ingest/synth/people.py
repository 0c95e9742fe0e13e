"""Households for the synthetic bank: people, their homes and their family links.

A household has a primary customer and maybe a spouse, children, the
primary's parents and a sibling. Each member is a customer or a non-customer
relative; a link between two people becomes one relationship record per
customer side, so a customer pair gets both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from random import Random

from ingest.synth.tables import (
    CITIES,
    CITY_WEIGHTS,
    EMPLOYERS,
    FEMALE_NAMES,
    HOMEMAKER,
    LAST_NAMES,
    MALE_NAMES,
    OCCUPATIONS,
    PETS_SHARE,
    RETIRED,
    STREET_KINDS,
    STREET_NAMES,
    STUDENT,
    UNEMPLOYED,
    City,
    Occupation,
)

INVERSE = {"spouse": "spouse", "parent": "child", "child": "parent", "sibling": "sibling"}
# Chance that a relative shares their data with the customer's recommendations, per relation.
CONSENT_RATE = {"spouse": 0.7, "parent": 0.5, "child": 0.5, "sibling": 0.35}
OUTSIDER_CONSENT_RATE = 0.4

# (kind, weight) of household archetypes.
HOUSEHOLD_KINDS = (
    ("young_single", 20), ("couple", 16), ("family", 28), ("midlife_single", 10),
    ("empty_nest", 12), ("retiree", 14),
)
CAR_FREE_CITIES = frozenset({"New York", "Boston", "Chicago", "Seattle"})


@dataclass(slots=True, eq=False)
class Home:
    city: City
    address: str
    owner: bool
    mortgage: bool
    pet: bool
    kid_ages: list[int] = field(default_factory=list)
    payer: str = ""  # the customer who pays rent, mortgage and utilities


@dataclass(slots=True, eq=False)
class Person:
    pid: str
    is_customer: bool
    first_name: str
    last_name: str
    gender: str
    dob: date
    age: int
    home: Home
    role: str
    occupation: Occupation = UNEMPLOYED
    employer: str = ""
    income: float = 0.0
    marital: str = "single"
    has_car: bool = False
    with_parents: bool = False
    elderly_parent: bool = False
    needs: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    stage: str = ""
    risk: str = "medium"
    since: date | None = None  # customer since
    handles: dict[str, str] = field(default_factory=dict)
    kyc_verified: bool = False


@dataclass
class Link:
    person: Person
    relative: Person
    relation: str  # what `relative` is to `person`


class IdCounter:
    """Global numbering across chunks; a chunk may only create `budget` customers."""

    def __init__(self) -> None:
        self.customers = 0
        self.relatives = 0
        self.relationships = 0
        self.budget = 0

    def person_id(self, want_customer: bool) -> tuple[str, bool]:
        if want_customer and self.budget > 0:
            self.budget -= 1
            self.customers += 1
            return f"C{self.customers:07d}", True
        self.relatives += 1
        return f"R{self.relatives:07d}", False

    def relationship_id(self) -> str:
        self.relationships += 1
        return f"L{self.relationships:08d}"


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


def age_on(dob: date, as_of: date) -> int:
    return as_of.year - dob.year - ((as_of.month, as_of.day) < (dob.month, dob.day))


class HouseholdMaker:
    """Builds households from one seeded `random.Random`."""

    def __init__(self, rng: Random, as_of: date, ids: IdCounter):
        self.rng = rng
        self.as_of = as_of
        self.ids = ids

    # ----- people -----

    def dob_for_age(self, age: int) -> date:
        return add_years(self.as_of, -age) - timedelta(days=self.rng.randint(1, 364))

    def person(self, want_customer: bool, dob: date, home: Home, role: str, last_name: str,
               gender: str | None = None) -> Person:
        rng = self.rng
        gender = gender or ("female" if rng.random() < 0.5 else "male")
        if rng.random() < 0.01:
            gender = "non_binary"
        names = FEMALE_NAMES if gender == "female" else MALE_NAMES if gender == "male" else (
            FEMALE_NAMES + MALE_NAMES)
        pid, is_customer = self.ids.person_id(want_customer)
        person = Person(pid, is_customer, rng.choice(names), last_name, gender, dob,
                        age_on(dob, self.as_of), home, role)
        if is_customer:
            self.employ(person)
        return person

    def employ(self, person: Person) -> None:
        rng = self.rng
        occupation = self.occupation(person.age, person.role)
        person.occupation = occupation
        person.employer = rng.choice(EMPLOYERS[occupation.sector])
        person.income = self.income(occupation, person.age)
        person.has_car = rng.random() < (0.5 if person.home.city.name in CAR_FREE_CITIES else 0.85)

    def occupation(self, age: int, role: str) -> Occupation:
        rng = self.rng
        if age < 23 and rng.random() < 0.6:
            return STUDENT
        if (age >= 67 and rng.random() < 0.92) or (60 <= age < 67 and rng.random() < 0.35):
            return RETIRED
        if rng.random() < 0.03:
            return UNEMPLOYED
        if role == "spouse" and rng.random() < 0.08:
            return HOMEMAKER
        jobs = [job for job in OCCUPATIONS if job.min_age <= age <= job.max_age]
        if not jobs:
            return RETIRED if age >= 60 else UNEMPLOYED
        return rng.choice(jobs)

    def income(self, occupation: Occupation, age: int) -> float:
        rng = self.rng
        if occupation.income_high == 0 or (occupation is STUDENT and rng.random() < 0.4):
            return 0.0
        experience = min(max((age - 22) / 30, 0.0), 1.0)
        position = min(0.7 * rng.betavariate(2, 2) + 0.3 * experience, 1.0)
        value = occupation.income_low + (occupation.income_high - occupation.income_low) * position
        return float(round(value, -2))

    def home(self, city: City | None = None, owner_rate: float = 0.5, mortgage_rate: float = 0.85) -> Home:
        rng = self.rng
        city = city or rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
        owner = rng.random() < owner_rate
        address = (f"{rng.randint(10, 9899)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_KINDS)}, "
                   f"{city.name}, {city.state} {city.zip_prefix}{rng.randint(1, 99):02d}")
        return Home(city, address, owner, owner and rng.random() < mortgage_rate, rng.random() < PETS_SHARE)

    def elsewhere(self, home: Home, age: int) -> Home:
        """A home for a relative who lives on their own, often in the same city."""
        city = home.city if self.rng.random() < 0.7 else None
        owner_rate = 0.15 if age < 30 else 0.55 if age < 60 else 0.75
        return self.home(city, owner_rate, 0.85 if age < 62 else 0.3)

    def single_status(self, age: int) -> str:
        roll = self.rng.random()
        if age < 30:
            return "single" if roll < 0.95 else "divorced"
        if age < 60:
            return "single" if roll < 0.55 else "divorced" if roll < 0.93 else "widowed"
        return "single" if roll < 0.25 else "divorced" if roll < 0.5 else "widowed"

    def surname(self) -> str:
        return self.rng.choice(LAST_NAMES)

    def child_dob(self, parents: list[Person], age: int) -> date:
        """A child of `parents` aged about `age`; always 19+ years younger than the youngest parent."""
        youngest = max(parent.dob for parent in parents)
        gap = max(19, age_on(youngest, self.as_of) - age)
        dob = add_years(youngest, gap) + timedelta(days=self.rng.randint(0, 300))
        if dob >= self.as_of:
            dob = self.as_of - timedelta(days=self.rng.randint(10, 200))
        return dob

    def parent_dob(self, children: list[Person]) -> date:
        eldest = min(child.dob for child in children)
        return add_years(eldest, -self.rng.randint(20, 36)) - timedelta(days=self.rng.randint(0, 364))

    # ----- household pieces -----

    def couple(self, primary_age: int, home: Home, spouse_customer_rate: float = 0.55) -> tuple[Person, Person]:
        rng = self.rng
        last_name = self.surname()
        gender = "female" if rng.random() < 0.5 else "male"
        opposite = "male" if gender == "female" else "female"
        other = opposite if rng.random() < 0.94 else gender
        primary = self.person(True, self.dob_for_age(primary_age), home, "primary", last_name, gender)
        spouse_age = max(18, primary_age + rng.randint(-6, 6))
        spouse_name = last_name if rng.random() < 0.75 else self.surname()
        spouse = self.person(rng.random() < spouse_customer_rate, self.dob_for_age(spouse_age), home,
                             "spouse", spouse_name, other)
        status = "married" if rng.random() < 0.8 else "partnered"
        primary.marital = spouse.marital = status
        return primary, spouse

    def children(self, parents: list[Person], ages: list[int], home: Home, adult_rate: float) -> list[Person]:
        kids = []
        for age in sorted(ages, reverse=True):
            dob = self.child_dob(parents, age)
            real_age = age_on(dob, self.as_of)
            adult = real_age >= 18
            kid_home = home if not adult or self.rng.random() < 0.3 else self.elsewhere(home, real_age)
            kid = self.person(adult and self.rng.random() < adult_rate, dob, kid_home, "child",
                              parents[0].last_name)
            if kid.is_customer:
                kid.marital = self.single_status(kid.age) if kid.age < 28 or self.rng.random() < 0.5 else "married"
                kid.with_parents = kid_home is home
            elif not adult and kid_home is home:
                home.kid_ages.append(real_age)
            kids.append(kid)
        return kids

    def parents_of(self, people: list[Person], home: Home, customer_rate: float) -> list[Person]:
        """One or two parents of `people` (siblings), living on their own."""
        rng = self.rng
        dob = self.parent_dob(people)
        age = age_on(dob, self.as_of)
        if age > 98:
            return []
        parents_home = self.elsewhere(home, age)
        count = 2 if rng.random() < (0.75 if age < 75 else 0.4) else 1
        first = self.person(rng.random() < customer_rate, dob, parents_home, "parent", people[0].last_name)
        parents = [first]
        if count == 2:
            second_dob = min(dob + timedelta(days=rng.randint(-1500, 1500)), dob + timedelta(days=400))
            second = self.person(rng.random() < customer_rate, second_dob, parents_home, "parent",
                                 people[0].last_name, "male" if first.gender == "female" else "female")
            first.marital = second.marital = "married"
            parents.append(second)
        else:
            first.marital = "widowed" if age >= 60 and rng.random() < 0.7 else "divorced"
        for person in people:
            person.elderly_parent = person.elderly_parent or age >= 70
        return parents

    def sibling_of(self, person: Person, customer_rate: float) -> Person:
        age = max(18, person.age + self.rng.randint(-8, 8))
        sibling = self.person(self.rng.random() < customer_rate, self.dob_for_age(age),
                              self.elsewhere(person.home, age), "sibling", person.last_name)
        if sibling.is_customer:
            sibling.marital = self.single_status(sibling.age) if self.rng.random() < 0.5 else "married"
        return sibling


def _family_links(parents: list[Person], kids: list[Person]) -> list[Link]:
    links = [Link(kid, parent, "parent") for kid in kids for parent in parents]
    links += [Link(a, b, "sibling") for i, a in enumerate(kids) for b in kids[i + 1:]]
    return links


def _with_extended_family(maker: HouseholdMaker, primary: Person, members: list[Person], links: list[Link],
                          parent_rate: float, parent_customer_rate: float) -> None:
    """Maybe add a sibling of the primary and the primary's parents."""
    rng = maker.rng
    siblings = [primary]
    if rng.random() < 0.1:
        sibling = maker.sibling_of(primary, 0.45)
        siblings.append(sibling)
        members.append(sibling)
        links.append(Link(primary, sibling, "sibling"))
    if rng.random() < parent_rate:
        parents = maker.parents_of(siblings, primary.home, parent_customer_rate)
        if len(parents) == 2:
            links.append(Link(parents[0], parents[1], "spouse"))
        members.extend(parents)
        links.extend(Link(child, parent, "parent") for child in siblings for parent in parents)


def make_household(maker: HouseholdMaker, kind: str) -> tuple[list[Person], list[Link]]:
    """One household of `kind`: its people (primary first) and the links between them."""
    rng = maker.rng
    links: list[Link] = []
    if kind == "young_single":
        age = rng.randint(18, 34)
        with_parents = age < 24 and rng.random() < 0.4
        home = maker.home(owner_rate=0.0 if with_parents else 0.12)
        primary = maker.person(True, maker.dob_for_age(age), home, "primary", maker.surname())
        primary.with_parents = with_parents
        primary.marital = maker.single_status(age)
        members = [primary]
        _with_extended_family(maker, primary, members, links, 0.6, 0.35)
        return members, links
    if kind in ("couple", "family", "empty_nest"):
        age = {"couple": (24, 45), "family": (26, 55), "empty_nest": (50, 68)}[kind]
        primary_age = rng.randint(*age)
        owner_rate = {"couple": 0.45, "family": 0.7, "empty_nest": 0.85}[kind]
        home = maker.home(owner_rate=owner_rate)
        single_parent = kind == "family" and rng.random() < 0.2
        if single_parent:
            primary = maker.person(True, maker.dob_for_age(primary_age), home, "primary", maker.surname())
            primary.marital = "divorced" if rng.random() < 0.6 else "single"
            parents = [primary]
        else:
            parents = list(maker.couple(primary_age, home))
            links.append(Link(parents[0], parents[1], "spouse"))
            primary = parents[0]
        members = list(parents)
        kids = _kid_ages(maker, kind, parents)
        if kids:
            children = maker.children(parents, kids, home, 0.45)
            members.extend(children)
            links.extend(_family_links(parents, children))
        if kind != "empty_nest" or primary.age < 62:
            _with_extended_family(maker, primary, members, links, 0.3, 0.4)
        return members, links
    if kind == "midlife_single":
        age = rng.randint(35, 62)
        home = maker.home(owner_rate=0.55)
        primary = maker.person(True, maker.dob_for_age(age), home, "primary", maker.surname())
        primary.marital = maker.single_status(age)
        members = [primary]
        if rng.random() < 0.5:
            kid_ages = [rng.randint(0, min(30, age - 19)) for _ in range(rng.randint(1, 2))]
            children = maker.children([primary], kid_ages, home, 0.45)
            members.extend(children)
            links.extend(_family_links([primary], children))
        _with_extended_family(maker, primary, members, links, 0.35, 0.4)
        return members, links
    return _retiree_household(maker, links)


def _retiree_household(maker: HouseholdMaker, links: list[Link]) -> tuple[list[Person], list[Link]]:
    rng = maker.rng
    age = rng.randint(66, 92)
    home = maker.home(owner_rate=0.8, mortgage_rate=0.3)
    if rng.random() < 0.4:
        parents = list(maker.couple(age, home, 0.6))
        links.append(Link(parents[0], parents[1], "spouse"))
    else:
        parents = [maker.person(True, maker.dob_for_age(age), home, "primary", maker.surname())]
        parents[0].marital = "widowed" if rng.random() < 0.65 else maker.single_status(age)
    members = list(parents)
    youngest = min(p.age for p in parents)
    kid_ages = [rng.randint(max(20, youngest - 42), youngest - 20) for _ in range(rng.randint(1, 3))]
    children = maker.children(parents, kid_ages, home, 0.5)
    members.extend(children)
    links.extend(_family_links(parents, children))
    return members, links


def _kid_ages(maker: HouseholdMaker, kind: str, parents: list[Person]) -> list[int]:
    rng = maker.rng
    youngest_parent = min(parent.age for parent in parents)
    oldest_child = youngest_parent - 19
    if kind == "couple" or oldest_child < 0:
        return []
    if kind == "empty_nest":
        return [rng.randint(max(18, oldest_child - 15), oldest_child) for _ in range(rng.randint(1, 3))]
    count = rng.choices((1, 2, 3, 4), weights=(35, 40, 18, 7))[0]
    first = rng.randint(0, min(oldest_child, 24))
    ages = [first]
    for _ in range(count - 1):
        ages.append(max(0, min(oldest_child, ages[-1] + rng.randint(-5, -1) if ages[-1] > 1 else rng.randint(0, 4))))
    return ages


def relationship_rows(links: list[Link], ids: IdCounter, rng: Random) -> list[dict]:
    """One record per customer side of each link, in `retrieval.records.Relationship` field order."""
    rows = []
    for link in links:
        for person, relative, relation in (
            (link.person, link.relative, link.relation),
            (link.relative, link.person, INVERSE[link.relation]),
        ):
            if person.is_customer:
                rows.append(_relationship(ids, rng, person, relative, relation))
    return rows


def _relationship(ids: IdCounter, rng: Random, person: Person, relative: Person, relation: str) -> dict:
    outsider = not relative.is_customer
    rate = OUTSIDER_CONSENT_RATE if outsider else CONSENT_RATE[relation]
    return {
        "relationship_id": ids.relationship_id(),
        "customer_id": person.pid,
        "relative_id": relative.pid,
        "relation": relation,
        "relative_is_customer": relative.is_customer,
        "relative_name": f"{relative.first_name} {relative.last_name}" if outsider else None,
        "relative_date_of_birth": relative.dob if outsider else None,
        "consent_to_share": rng.random() < rate,
    }


def settle_homes(members: list[Person]) -> None:
    """Name who pays each home's bills: its first customer who does not live with their parents."""
    for person in members:
        if person.is_customer and not person.home.payer and not person.with_parents:
            person.home.payer = person.pid


def life_stage(person: Person) -> str:
    if person.occupation is STUDENT:
        return "student"
    if person.occupation is RETIRED or person.age >= 67:
        return "retiree"
    if person.home.kid_ages and person.role in ("primary", "spouse"):
        return "family"
    if person.age < 35:
        return "young_adult"
    return "pre_retiree" if person.age >= 58 else "midlife"
