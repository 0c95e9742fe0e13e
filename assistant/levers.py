"""Arbitration levers: the bank's business weights on the order of what Fargo offers, from a validated file.

    priority = relevance (the tool's score) x lever
    lever    = weight x (1 + campaign_boost, while the campaign runs) x (1 + margin)

A lever is set per product or per product category (a product's own lever wins
over its category's) in the JSON file FARGO_LEVERS_FILE:

    {"levers": [{"category": "card", "weight": 0.8},
                {"product_id": "P020", "campaign_boost": 0.5, "campaign_until": "2027-01-31", "note": "Q1 push"},
                {"product_id": "P031", "margin": 0.2}]}

A lever only re-orders the products a tool has already returned for the
customer, which passed eligibility, consent and the contact policy: it can move
an offer up or down, never add one, and never bring back a product a rule holds
back. An answer to a stated need ("a card with no annual fee") keeps the tool's
order of fit; levers order the open-ended answers ("what suits me?"). Each
offer a lever moved shows it in its components (`lever`, `score_before_lever`)
and the decision record lists the levers applied.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from retrieval.errors import FargoError
from retrieval.records import ProductCategory


class LeverFileError(FargoError, ValueError):
    """The levers file cannot be used; the message names the file, the entry and the field."""


class Lever(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str | None = Field(None, min_length=1)
    category: ProductCategory | None = None
    weight: float = Field(1.0, gt=0, le=10, description="Multiplies relevance: below 1 lowers, above 1 raises.")
    campaign_boost: float = Field(0.0, ge=0, le=5, description="Added to 1 and multiplied in while the campaign runs.")
    campaign_until: date | None = Field(None, description="Last day of the campaign boost; none: no end.")
    margin: float = Field(0.0, gt=-1, le=5, description="The product's relative margin term, multiplied in as 1 + margin.")
    note: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _one_target(self) -> Lever:
        if (self.product_id is None) == (self.category is None):
            raise ValueError("set exactly one of product_id or category")
        return self

    @property
    def target(self) -> str:
        return self.product_id or f"category:{self.category}"

    def factor(self, today: date) -> float:
        boosting = self.campaign_until is None or today <= self.campaign_until
        return self.weight * (1 + (self.campaign_boost if boosting else 0.0)) * (1 + self.margin)


class LeverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levers: list[Lever]

    @model_validator(mode="after")
    def _one_lever_per_target(self) -> LeverFile:
        targets = [lever.target for lever in self.levers]
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise ValueError(f"more than one lever for {', '.join(twice)}")
        return self


class Levers:
    def __init__(self, levers: list[Lever]):
        self.by_target = {lever.target: lever for lever in levers}

    def __bool__(self) -> bool:
        return bool(self.by_target)

    def lever_for(self, product: dict) -> Lever | None:
        return self.by_target.get(product.get("_id", "")) or self.by_target.get(f"category:{product.get('category')}")

    def arbitrate(self, recs: list, products: dict, today: date | None = None) -> list:
        """`recs` (Recommendations) re-ordered by score x lever; each one a lever moved says so in its components."""
        today = today or datetime.now(UTC).date()
        for rec in recs:
            lever = self.lever_for(products.get(rec.product_id) or {"_id": rec.product_id})
            factor = lever.factor(today) if lever is not None else 1.0
            if factor != 1.0:
                rec.components = {**rec.components, "score_before_lever": rec.score, "lever": round(factor, 4)}
                rec.score = round(rec.score * factor, 4)
        return sorted(recs, key=lambda rec: -rec.score)  # stable: equal priorities keep the tool's order

    def applied(self, offers: list[dict], products: dict) -> list[dict]:
        """For the decision record: each lever that moved an offer, with its settings and effect."""
        found = []
        for offer in offers:
            if "lever" in (offer.get("components") or {}):
                lever = self.lever_for(products.get(offer["product_id"]) or {"_id": offer["product_id"]})
                settings = lever.model_dump(mode="json") if lever else {}
                found.append(settings | {"product_id": offer["product_id"], "lever": lever.target if lever else None,
                                         "factor": offer["components"]["lever"]})
        return found


def load_levers(path: Path | None, products: dict | None) -> Levers:
    """The levers in `path` (none when unset), checked against the catalogue unless `products` is None;
    LeverFileError says what to fix."""
    if path is None:
        return Levers([])
    try:
        parsed = LeverFile.model_validate(json.loads(Path(path).read_text()))
    except OSError as exc:
        raise LeverFileError(f"levers file {path}: cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise LeverFileError(f"levers file {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise LeverFileError(f"levers file {path}: {where}: {first['msg']}") from None
    unknown = [] if products is None else [lever.product_id for lever in parsed.levers
                                           if lever.product_id and lever.product_id not in products]
    if unknown:
        raise LeverFileError(f"levers file {path}: no product {', '.join(unknown)} in the catalogue")
    return Levers(parsed.levers)
