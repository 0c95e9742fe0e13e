"""What one turn asks for: the request model the tools rank against.

A `Request` is read from the customer's words (`tools.requests.understand`) or
filled by an LLM (`Request.from_dict`, checked like any input). It is plain
data: every field can be shown back to the customer ("you asked for no annual
fee") and logged in the turn's explanation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from retrieval.records import RISK_ORDER, ProductCategory, RateType, Relation, RiskLevel

CATEGORIES = frozenset(category.value for category in ProductCategory)
RELATIONS = frozenset(relation.value for relation in Relation)
MONTHLY_COSTS = (("monthly_fee", "fee"), ("premium_monthly", "premium"))  # the terms a monthly cap holds to
_A_WORD = re.compile(r"[a-z]{1,20}")  # a relative's word ("mom") goes into an answer: one plain word, nothing else


@dataclass(frozen=True)
class Constraints:
    """Hard limits a product must meet to be shown; None means the request does not say."""

    max_annual_fee: float | None = None
    max_monthly_fee: float | None = None
    rate_type: str | None = None  # RateType
    max_risk: str | None = None  # RiskLevel
    term_months: int | None = None  # a term the customer asks for ("for a year")
    amount: float | None = None  # a sum to borrow, save or invest
    horizon_months: float | None = None  # when the money is needed
    categories: tuple[str, ...] = ()  # only these categories ("only savings accounts")
    excluded_categories: tuple[str, ...] = ()  # never these ("no investments")

    def __bool__(self) -> bool:
        return any(getattr(self, name) not in (None, ()) for name in _CONSTRAINT_FIELDS)

    def merged(self, newer: Constraints) -> Constraints:
        """These constraints refined by a follow-up's: what the follow-up says wins, the rest stays."""
        changes = {name: value for name, value in asdict(newer).items() if value not in (None, ())}
        return replace(self, **changes)

    def words(self, terms: Mapping | None = None) -> list[str]:
        """The constraints as a customer would say them, for answers ("no annual fee", "low risk"); given a
        product's `terms`, only those its terms speak to (an insurance policy meets no "term of 6 years")."""
        def speaks_to(term: str) -> bool:
            return terms is None or terms.get(term) is not None

        said = []
        if self.max_annual_fee is not None and speaks_to("annual_fee"):
            said.append("no annual fee" if self.max_annual_fee == 0 else f"an annual fee of at most ${self.max_annual_fee:,.0f}")
        if self.max_monthly_fee is not None and any(speaks_to(term) for term, _ in MONTHLY_COSTS):
            said.append(_monthly_cap_words(self.max_monthly_fee, terms))
        if self.rate_type and speaks_to("rate_type"):
            said.append(f"a {self.rate_type} rate")
        if self.max_risk:
            said.append("no risk to your money" if self.max_risk == RiskLevel.none else f"{self.max_risk} risk at most")
        if self.term_months and speaks_to("term_months"):
            said.append(f"a term of {_months_words(self.term_months)}")
        if self.categories:
            said.append("only " + " or ".join(_category_words(c) for c in self.categories))
        if self.excluded_categories:
            said.append("no " + " or ".join(_category_words(c) for c in self.excluded_categories))
        return said

    @classmethod
    def from_dict(cls, data: Mapping) -> Constraints:
        def number(name):
            value = data.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"constraints.{name} must be a number >= 0")
            return value

        rate, risk = data.get("rate_type"), data.get("max_risk")
        if rate is not None and rate not in {r.value for r in RateType}:
            raise ValueError(f"constraints.rate_type must be fixed or variable, not {rate!r}")
        if risk is not None and risk not in RISK_ORDER:
            raise ValueError(f"constraints.max_risk must be one of {', '.join(RISK_ORDER)}, not {risk!r}")
        term = number("term_months")
        return cls(
            max_annual_fee=number("max_annual_fee"), max_monthly_fee=number("max_monthly_fee"),
            rate_type=rate, max_risk=risk, term_months=int(term) if term else None,
            amount=number("amount"), horizon_months=number("horizon_months"),
            categories=_categories(data.get("categories"), "categories"),
            excluded_categories=_categories(data.get("excluded_categories"), "excluded_categories"),
        )


_CONSTRAINT_FIELDS = tuple(item.name for item in fields(Constraints))


@dataclass(frozen=True)
class StatedRelative:
    """A relative the request is about, as the customer describes them ("my 12-year-old", "my parents, in their 80s")."""

    relation: str  # Relation
    age: int | None = None  # the stated age; None when not said
    count: int = 1  # "my two kids" is 2
    situation: str = ""  # a few words the customer used: "starting college", "retired"
    word: str = ""  # the customer's word for them: "mom", "son"


@dataclass(frozen=True)
class NeedHit:
    """A product whose purpose the request states, and the catalogue words it matched."""

    product_id: str
    score: float  # 0..1: how plainly the request asks for it
    phrase: str  # the need statement (or the product's own words) it matched


@dataclass(frozen=True)
class Request:
    text: str = ""
    needs: tuple[NeedHit, ...] = ()  # best first
    categories: tuple[str, ...] = ()  # product types named ("a card", "a mortgage")
    constraints: Constraints = field(default_factory=Constraints)
    relatives: tuple[StatedRelative, ...] = ()
    life_events: tuple[str, ...] = ()  # NEED_RULES names: wedding, new_baby, pet, business, ...
    business: bool = False  # the request is about the customer's business
    exclude: tuple[str, ...] = ()  # products not to show again ("something else")
    ruled_out: tuple[str, ...] = ()  # products for another situation ("we rent") or a need it refuses
    needs_carried: bool = False  # the needs were stated in an earlier turn ("what about for my mum?" after them)

    def need_score(self, product_id: str) -> float:
        return next((hit.score for hit in self.needs if hit.product_id == product_id), 0.0)

    def need_phrase(self, product_id: str) -> str:
        return next((hit.phrase for hit in self.needs if hit.product_id == product_id), "")

    @property
    def skipped(self) -> frozenset[str]:
        """Products not to show: those asked not to see again and those the request rules out."""
        return frozenset(self.exclude) | frozenset(self.ruled_out)

    @property
    def states_a_need(self) -> bool:
        return bool(self.needs)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("text")
        return data

    @classmethod
    def from_dict(cls, data: Mapping, text: str = "") -> Request:
        """A request from structured output (an LLM's, or a stored session's); raises ValueError naming a bad field."""
        needs = tuple(NeedHit(str(item["product_id"]), float(item.get("score", 1.0)), str(item.get("phrase", "")))
                      for item in data.get("needs") or ())
        relatives = []
        for item in data.get("relatives") or ():
            if item.get("relation") not in RELATIONS:
                raise ValueError(f"relatives.relation must be one of {', '.join(sorted(RELATIONS))}")
            age = item.get("age")
            if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120):
                raise ValueError("relatives.age must be a whole number of years from 0 to 120")
            word = str(item.get("word") or "")
            relatives.append(StatedRelative(item["relation"], age, int(item.get("count") or 1),
                                            str(item.get("situation") or ""), word if _A_WORD.fullmatch(word) else ""))
        return cls(
            text=text, needs=needs, categories=_categories(data.get("categories"), "categories"),
            constraints=Constraints.from_dict(data.get("constraints") or {}), relatives=tuple(relatives),
            life_events=tuple(str(event) for event in data.get("life_events") or ()),
            business=bool(data.get("business", False)),
            exclude=tuple(str(product_id) for product_id in data.get("exclude") or ()),
            ruled_out=tuple(str(product_id) for product_id in data.get("ruled_out") or ()),
            needs_carried=bool(data.get("needs_carried", False)),
        )


def _categories(values, name: str) -> tuple[str, ...]:
    values = tuple(values or ())
    unknown = [value for value in values if value not in CATEGORIES]
    if unknown:
        raise ValueError(f"{name} has unknown categories {unknown}: use {', '.join(sorted(CATEGORIES))}")
    return values


def _monthly_cap_words(cap: float, terms: Mapping | None) -> str:
    """A monthly cap as said of what it held: a cover's premium, an account's fee, or (of no product) either."""
    if cap == 0:
        return "no monthly fee"
    cost = "cost" if terms is None else "premium" if terms.get("premium_monthly") is not None else "fee"
    return f"a monthly {cost} of at most ${cap:,.0f}"


def _months_words(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return "a year" if years == 1 else f"{years} years"
    return f"{months} months"


def _category_words(category: str) -> str:
    return {"deposit": "bank accounts", "card": "cards", "loan": "loans", "mortgage": "mortgages",
            "investment": "investments", "retirement": "retirement accounts",
            "education_savings": "education savings", "insurance": "insurance",
            "healthcare": "health products"}.get(category, category)
