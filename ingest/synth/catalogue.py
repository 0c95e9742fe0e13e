"""The demo bank's catalogue: its products, healthcare services and FAQ, read from `data/`.

The files have the shape of any bank's catalogue source files (`products.jsonl`,
`healthcare_services.jsonl`, `faq.jsonl`): one record per line with the fields
of its `retrieval.records` model, an omitted field taking the model's default.
Every read validates every row, so a bad row stops the read with a
`CatalogueError` naming the file, line and field; `synthesize` writes the rows
into every bank it makes, the same for every seed.

Terms follow `retrieval.records.ProductTerms`: rates are fractions. A card's
`rewards` maps a transaction category to points earned per dollar divided by
100 (0.03 = 3 points per dollar) and `point_value` is what one point is worth
in dollars, so a year's rewards are worth `spend * rate * point_value * 100`.
Cash-back cards use `point_value` 0.01, which makes the rate plain cash back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ingest.loader import Rejection, validation_problem
from ingest.sources import read_lines
from retrieval.records import FaqDocument, HealthcareService, Product

DATA_DIR = Path(__file__).parent / "data"

Model = TypeVar("Model", bound=BaseModel)


class CatalogueError(ValueError):
    """A catalogue data file holds a row its record model rejects."""


def products() -> list[Product]:
    """The full catalogue in id order."""
    return read_records(DATA_DIR / "products.jsonl", Product)


def healthcare_services() -> list[HealthcareService]:
    """Health plans, the HSA, medical financing and partner providers."""
    return read_records(DATA_DIR / "healthcare_services.jsonl", HealthcareService)


def faq_documents() -> list[FaqDocument]:
    """Hand-written answers first, then one question per catalogue product."""
    return read_records(DATA_DIR / "faq.jsonl", FaqDocument)


def read_records(path: Path, model: type[Model]) -> list[Model]:
    """Every row of the JSONL file at `path` as a `model`, in file order; CatalogueError at the first bad row."""
    records = []
    for raw in read_lines(path):
        if raw.data is None:
            raise CatalogueError(str(Rejection(str(path), raw.line, "(line)", raw.error or "unreadable")))
        try:
            records.append(model.model_validate(raw.data))
        except ValidationError as exc:
            raise CatalogueError(str(Rejection(str(path), raw.line, *validation_problem(exc)))) from None
    return records
