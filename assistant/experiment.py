"""Champion/challenger: which ranking each customer gets, and how often each arm's offers are taken up.

The champion is the static ranker (the tool's order, then the bank's levers); the challenger adds adaptive
ranking (`assistant.adaptive`). FARGO_ADAPTIVE_SHARE of customers get the challenger: a customer's arm follows
from a hash of the experiment's name (FARGO_EXPERIMENT) and their id, so it is the same on every turn, replica
and restart, and a new experiment name deals the customers again. Each decision record keeps the experiment's
name and its arm; the report counts, for the experiment named now, per arm, the offers shown and the share taken up (an `accepted` or `opened` response, once per
offer), with a 95% Wilson interval.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum

from assistant.adaptive import TAKEN_UP

Z95 = 1.959964


class Arm(StrEnum):
    static = "static"
    adaptive = "adaptive"


@dataclass(frozen=True)
class Split:
    share: float = 0.0  # of customers on the adaptive arm
    name: str = "ranking"

    @classmethod
    def from_settings(cls, settings) -> Split:
        return cls(settings.adaptive_share, settings.experiment)

    def arm(self, customer_id: str) -> Arm:
        digest = hashlib.sha256(f"{self.name}:{customer_id}".encode()).digest()
        return Arm.adaptive if int.from_bytes(digest[:8]) / 2**64 < self.share else Arm.static


@dataclass(frozen=True)
class ArmFigures:
    arm: str
    decisions: int
    offers: int
    taken_up: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float | None, float | None]:
    if not trials:
        return None, None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def report(store, since: str, until: str, split: Split) -> dict:
    """Per arm, the decisions made under this experiment's name in [since, until) and how their offers fared
    (responses up to now count)."""
    from assistant.decisions import DECISIONS
    from assistant.responses import RESPONSES

    decisions = store[DECISIONS].find({"at": {"$gte": since, "$lt": until}, "experiment": split.name},
                                      {"arm": 1, "offers": 1})
    # responses come after their decision: select them by time, not by a list of every decision id in the period
    taken = _taken_up(store[RESPONSES].find({"at": {"$gte": since}, "kind": {"$in": list(TAKEN_UP)}},
                                            {"decision_id": 1, "product_id": 1}))
    arms = []
    for arm in Arm:
        mine = [decision for decision in decisions if decision["arm"] == arm]
        offers = [(decision["_id"], offer["product_id"]) for decision in mine for offer in decision["offers"]]
        accepted = sum(offer in taken for offer in offers)
        low, high = wilson(accepted, len(offers))
        arms.append(ArmFigures(str(arm), len(mine), len(offers), accepted,
                               accepted / len(offers) if offers else None, low, high))
    return {"experiment": split.name, "adaptive_share": split.share, "since": since, "until": until,
            "arms": [asdict(figures) for figures in arms], "ratio": _ratio(arms)}


def _taken_up(responses: Iterable[dict]) -> set[tuple[str, str]]:
    return {(response["decision_id"], response["product_id"]) for response in responses}


def _ratio(arms: list[ArmFigures]) -> float | None:
    static, adaptive = (next(a for a in arms if a.arm == arm) for arm in Arm)
    return adaptive.rate / static.rate if static.rate and adaptive.rate is not None else None
