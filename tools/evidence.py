"""Evidence that points at stored data, and the resolver that reads it back.

A tool builds its `Evidence` with `field_evidence`, which copies the value out
of the very record it names, so the quoted value and the stored value cannot
drift apart. `resolve` reads the value again from the stores: tests (and the
answer's grounding check) compare it with `evidence.value`.

Where evidence points:
- a document-store collection: `record_id` is the document's `_id`, `field` a
  dotted path inside it ("spend_12m.travel", "terms.rewards.travel",
  "transactions.3.amount"); "" means the whole document;
- "graph_stats": `record_id` is a context ("child aged 6-12"), `field` is
  "<product_id>.<ContextStat attribute>" ("P038.holders");
- "graph": `record_id` is a relationship id (an edge of the graph) or a person
  (a node); `field` is one attribute of it, "" for all of them;
- "account_openings": `record_id` is a product id, `field` is
  "opened_last_<n>_days": how many of its accounts, open now, were opened in
  the n days up to the data's date (counted from the "accounts" collection).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tools.types import Evidence, EvidenceKind

if TYPE_CHECKING:
    from tools.context import ToolContext

GRAPH = "graph"
GRAPH_STATS = "graph_stats"
ACCOUNT_OPENINGS = "account_openings"
_OPENED_FIELD = re.compile(r"opened_last_(\d+)_days")


class EvidenceNotFound(LookupError):
    """The record or field an evidence item names is not in the stores."""


def value_at(record: Any, path: str) -> Any:
    """The value at a dotted `path` inside `record`; numeric parts index lists. Raises EvidenceNotFound."""
    value = record
    for part in path.split(".") if path else ():
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise EvidenceNotFound(f"no field {path!r} (missing {part!r})")
    return value


def field_evidence(kind: EvidenceKind, collection: str, record: Mapping, path: str, label: str = "") -> Evidence:
    """Evidence for the value stored at `path` in `record` (a document as read, with its `_id`)."""
    return Evidence(kind, collection, str(record["_id"]), path, value_at(record, path), label)


def opened_lately_field(days: int) -> str:
    return f"opened_last_{days}_days"


def opened_lately(account: Mapping, as_of: date, days: int) -> bool:
    """The account is open and was opened in the `days` days up to `as_of`."""
    since = (as_of - timedelta(days=days)).isoformat()
    return str(account.get("opened_at") or "")[:10] >= since and account.get("status", "open") == "open"


def resolve(ctx: ToolContext, evidence: Evidence) -> Any:
    """The value the stores hold where `evidence` points; raises EvidenceNotFound if nothing is there."""
    if evidence.collection == ACCOUNT_OPENINGS:
        return _account_openings(ctx, evidence.record_id, evidence.field)
    if evidence.collection == GRAPH_STATS:
        return _graph_statistic(ctx.graph_stats, evidence.record_id, evidence.field)
    if evidence.collection == GRAPH:
        return _graph_attribute(ctx.graph, evidence.record_id, evidence.field)
    document = ctx.store[evidence.collection].find_one({"_id": evidence.record_id})
    if document is None:
        raise EvidenceNotFound(f"{evidence.collection} has no record {evidence.record_id!r}")
    return value_at(document, evidence.field)


def _account_openings(ctx: ToolContext, product_id: str, path: str) -> int:
    window = _OPENED_FIELD.fullmatch(path)
    if window is None:
        raise EvidenceNotFound(f"account openings have no field {path!r}")
    accounts = ctx.store["accounts"].find({"product_id": product_id}, projection={"opened_at": 1, "status": 1})
    return sum(opened_lately(account, ctx.as_of, int(window.group(1))) for account in accounts)


def _graph_statistic(stats, context: str, path: str) -> Any:
    product_id, _, attribute = path.partition(".")
    stat = stats.get(context, product_id)
    if stat is None:
        raise EvidenceNotFound(f"no graph statistic for {product_id!r} in context {context!r}")
    if not attribute:
        return stat
    if not hasattr(stat, attribute):
        raise EvidenceNotFound(f"graph statistics have no attribute {attribute!r}")
    return getattr(stat, attribute)


def _graph_attribute(graph, record_id: str, path: str) -> Any:
    found = graph.relationship(record_id) or graph.person(record_id)
    if found is None:
        raise EvidenceNotFound(f"the graph has no relationship or person {record_id!r}")
    return value_at(found, path)


def unique_evidence(evidence: Iterable[Evidence]) -> list[Evidence]:
    """`evidence` without repeats (the same field of the same record), in order."""
    seen, unique = set(), []
    for item in evidence:
        key = (item.collection, item.record_id, item.field)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique
