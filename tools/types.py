"""What every tool returns: ranked recommendations, each with the evidence behind it.

An `Evidence` item names the stored record it came from (`collection`,
`record_id`) and the `field` path inside it, with the `value` the tool used, so
an explanation can be checked against the data: `tools.evidence.resolve`
reads the same field back from the store.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from enum import StrEnum
from typing import Any

_SCALARS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(cls))


def _copied(value: Any) -> Any:
    """`value` as `dataclasses.asdict` copies a field's value."""
    if type(value) in _SCALARS:
        return value
    if type(value) is list:
        return [_copied(item) for item in value]
    if type(value) is dict:
        return {_copied(key): _copied(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if type(value) is tuple:
        return tuple(_copied(item) for item in value)
    return copy.deepcopy(value)


class EvidenceKind(StrEnum):
    transaction_aggregate = "transaction_aggregate"
    profile_field = "profile_field"
    disclosure = "disclosure"
    graph_edge = "graph_edge"
    graph_statistic = "graph_statistic"
    document_passage = "document_passage"
    campaign_post = "campaign_post"
    product_terms = "product_terms"


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    collection: str  # a document-store collection, or "graph" / "graph_stats" for the graph model
    record_id: str
    field: str  # dotted path inside the record; "" for the whole record
    value: Any
    label: str = ""  # a short human phrase: "travel spend, last 12 months"

    def to_dict(self) -> dict:
        """What `dataclasses.asdict` gives (the value a deep copy), field by field: asdict is dear on hot paths."""
        return {name: str(self.kind) if name == "kind" else _copied(getattr(self, name))
                for name in _field_names(type(self))}


@dataclass
class Recommendation:
    product_id: str
    name: str
    category: str
    score: float
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)  # score parts, kept for the explanation
    estimated_annual_value: float | None = None
    for_person: str | None = None  # a relative's id when the recommendation is for them (staff see it; see family)
    relation: str | None = None  # what that relative is to the customer: spouse, child, parent, sibling
    age_band: str | None = None  # the relative's life-stage band, "36-50"
    protects: bool = False  # life cover on the customer's own life, for that relative's sake ("to protect your child")
    word: str | None = None  # the customer's word for a relative not on record ("grandson"), shown for the relation

    def to_dict(self) -> dict:
        """The fields as `dataclasses.asdict` gives them (copies of the lists and dicts; a subclass's own fields
        too), the evidence as dicts."""
        return {name: [item.to_dict() for item in self.evidence] if name == "evidence" else _copied(getattr(self, name))
                for name in _field_names(type(self))}


@dataclass(frozen=True)
class Ineligible:
    """Why a product cannot be recommended: the rule that failed, in words."""

    product_id: str
    rule: str
    reason: str
