"""What every tool returns: ranked recommendations, each with the evidence behind it.

An `Evidence` item names the stored record it came from (`collection`,
`record_id`) and the `field` path inside it, with the `value` the tool used, so
an explanation can be checked against the data: `tools.evidence.resolve`
reads the same field back from the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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
        return asdict(self) | {"kind": str(self.kind)}


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
    for_person: str | None = None  # a relative's id when the recommendation is for them
    relation: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["evidence"] = [item.to_dict() for item in self.evidence]
        return data


@dataclass(frozen=True)
class Ineligible:
    """Why a product cannot be recommended: the rule that failed, in words."""

    product_id: str
    rule: str
    reason: str
