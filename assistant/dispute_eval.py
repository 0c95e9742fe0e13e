"""`fargo eval disputes`: do disputes and complaints reach a person, and do ordinary questions stay with Fargo?

The held-out split `evaluation_data/disputes.jsonl` (written apart from the
training lines, none of its texts among them) holds messages that must go to a
person (`kind` fraud, dispute or complaint) and ordinary questions Fargo answers
itself (`kind` question: products, fees, recommendations, family, care, small
talk, many using a dispute's words: "fee", "charge", "fraud protection",
"unhappy with my rate"). Each message is classified and routed as the engine
routes a first turn (the intent classifier, then `routed_intent`), without a
customer's data: a need found in the customer's data could only turn a
servicing hand-off into an answer, never a dispute, so the false hand-offs
counted here are an upper bound.

Reported: recall of disputes and complaints (routed to `fraud`, `dispute` or `complaint`),
the share of them handed to a person by any intent, the share of fraud flagged
urgent, and false hand-offs (ordinary questions routed to any hand-off intent,
and to a dispute or complaint).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.engine import HANDOFF_INTENTS, routed_intent
from assistant.escalation import DISPUTE_INTENTS, handoff_kind
from tools.healthcare import specialties_in
from tools.requests import understand

DISPUTES_PATH = Path(__file__).parent / "evaluation_data" / "disputes.jsonl"
TO_PERSON = ("fraud", "dispute", "complaint")
KINDS = (*TO_PERSON, "question")
RECALL_GOAL, FALSE_HANDOFF_GOAL = 0.95, 0.03


class DisputeCaseError(ValueError):
    """A line of the split that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class Routed:
    text: str
    kind: str  # what the case is: fraud, dispute, complaint or question
    intent: str  # where the message was routed
    handoff_kind: str | None  # why it went to a person, if it did


def load_cases(path: str | Path = DISPUTES_PATH) -> list[tuple[str, str]]:
    """(text, kind) pairs; every bad line is reported at once."""
    cases, problems = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path}:{number}: not JSON ({error.msg})")
            continue
        text, kind = row.get("text") if isinstance(row, dict) else None, row.get("kind") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}:{number}: field text is missing or empty")
        elif kind not in KINDS:
            problems.append(f"{path}:{number}: field kind is {kind!r}, not one of {', '.join(KINDS)}")
        else:
            cases.append((text, kind))
    if problems:
        raise DisputeCaseError("\n".join(problems))
    return cases


def route(classifier, embedder, cases: list[tuple[str, str]], ctx=None) -> list[Routed]:
    """Each case's first-turn routing: classified, then `routed_intent` over the message's own words and, given a
    tool context `ctx`, the catalogue products it asks for (as the engine routes it)."""
    texts = [text for text, _ in cases]
    embeddings = embedder.embed(texts)
    predictions = classifier.predict_many(texts, embeddings)
    products = ctx.products if ctx is not None else {}
    routed = []
    for (text, kind), prediction, embedding in zip(cases, predictions, embeddings, strict=True):
        label = "out_of_scope" if prediction.out_of_scope else prediction.label
        specialty = next(iter(specialties_in(text)), None)
        request = understand(ctx, text, embedding) if ctx is not None else understand(None, text)
        intent, _ = routed_intent(label, prediction.confidence, request, products, specialty)
        routed.append(Routed(text, kind, intent, handoff_kind(intent, text) if intent in HANDOFF_INTENTS else None))
    return routed


def report(routed: list[Routed]) -> dict:
    to_person = [case for case in routed if case.kind in TO_PERSON]
    questions = [case for case in routed if case.kind == "question"]
    fraud = [case for case in routed if case.kind == "fraud"]
    return {
        "disputes_and_complaints": len(to_person),
        "recall": _share(to_person, lambda case: case.intent in DISPUTE_INTENTS),
        "to_a_person": _share(to_person, lambda case: case.intent in HANDOFF_INTENTS),
        "fraud_urgent": _share(fraud, lambda case: case.handoff_kind == "fraud"),
        "questions": len(questions),
        "false_handoffs": _share(questions, lambda case: case.intent in HANDOFF_INTENTS),
        "false_disputes": _share(questions, lambda case: case.intent in DISPUTE_INTENTS),
        "failures": [case for case in routed if _failed(case)],
    }


def format_report(figures: dict) -> str:
    recall, false = figures["recall"], figures["false_handoffs"]
    return "\n".join([
        (f"disputes and complaints  {figures['disputes_and_complaints']:>4}   recall {recall:.1%} "
        f"(goal >= {RECALL_GOAL:.0%}: {'met' if recall >= RECALL_GOAL else 'NOT met'}), "
        f"to a person by any intent {figures['to_a_person']:.1%}, fraud flagged urgent {figures['fraud_urgent']:.1%}"),
        (f"ordinary questions       {figures['questions']:>4}   false hand-offs {false:.1%} "
        f"(goal <= {FALSE_HANDOFF_GOAL:.0%}: {'met' if false <= FALSE_HANDOFF_GOAL else 'NOT met'}), "
        f"of them as a dispute or complaint {figures['false_disputes']:.1%}"),
    ])


def _failed(case: Routed) -> bool:
    if case.kind == "question":
        return case.intent in HANDOFF_INTENTS
    return case.intent not in DISPUTE_INTENTS or (case.kind == "fraud" and case.handoff_kind != "fraud")


def _share(cases: list[Routed], hit) -> float:
    return sum(1 for case in cases if hit(case)) / len(cases) if cases else 0.0
