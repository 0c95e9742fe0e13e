"""How the default intent model does on messages it never trained on.

`fargo eval intents` trains on a public benchmark's own labels; this scores the
model Fargo serves, trained on its own set (`train_default`), on:

- public test data mapped to Fargo's intents: BANKING77's test split (the
  account-servicing categories), NLU++ banking folds 10-19 (servicing requests,
  and single-move greetings, thanks, goodbyes and hand-offs), CLINC150's test
  split (banking and card intents, small talk, and the non-financial domains as
  out of scope) and CLINC150's `oos_test` on its own: its "out of scope" is
  CLINC's, and a few of its queries (an overdraft fee, a billing address) are
  banking questions Fargo answers, so full recall there is not the aim;
- `ROBUSTNESS_PATH`: hand-written phrasings of the failures customers met (life
  events, products named indirectly, relatives with ages, constraints, slang),
  none of them a training line.

    .venv/bin/python -m assistant.intents.shipped_eval [--data FILE] [--no-public] [--errors]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.intents.classifier import OUT_OF_SCOPE, IntentClassifier
from assistant.intents.examples import TRAINING_DATA_PATH
from assistant.intents.public_examples import (
    ACCOUNT_SERVICING,
    BANKING77_DISPUTE,
    BANKING77_FRAUD,
    DISPUTE,
    FRAUD,
    NLUPP_TEST_FOLDS,
    NLUPP_TRAIN_FOLDS,
    PUBLIC_DATASETS_ROOT,
    banking77_servicing,
    banking77_texts,
    clinc_out_of_scope,
    nlupp_servicing,
    nlupp_utterances,
)

ROBUSTNESS_PATH = Path(__file__).resolve().parent / "data" / "robustness.jsonl"

# NLU++ utterances that are one dialogue move and nothing else.
NLUPP_SINGLE_MOVES = {"greet": "greeting", "thank": "thanks", "end_call": "goodbye", "handoff": "talk_to_human"}
# CLINC150 banking and card intents whose Fargo intent is clear; the rest (credit score, a new card) could be two.
CLINC_MAPPED = {
    **dict.fromkeys(
        ("freeze_account", "routing", "pin_change", "bill_due", "pay_bill", "account_blocked", "min_payment",
         "bill_balance", "transfer", "order_checks", "balance", "spending_history", "transactions", "report_fraud",
         "replacement_card_duration", "expiration_date", "damaged_card", "report_lost_card", "card_declined",
         "credit_limit_change", "redeem_rewards", "rewards_balance", "application_status", "credit_limit"),
        ACCOUNT_SERVICING,
    ),
    **dict.fromkeys(("interest_rate", "apr", "international_fees"), "product_question"),
    "greeting": "greeting",
    "thank_you": "thanks",
    "goodbye": "goodbye",
}

Examples = list[tuple[str, str]]


@dataclass(frozen=True)
class RobustnessCase:
    text: str
    label: str
    kind: str


def robustness_cases(path: str | Path = ROBUSTNESS_PATH) -> list[RobustnessCase]:
    with Path(path).open(encoding="utf-8") as handle:
        return [RobustnessCase(**json.loads(line)) for line in handle if line.strip()]


def public_test_sets(root: str | Path = PUBLIC_DATASETS_ROOT) -> dict[str, Examples]:
    """Each public test set present under `root`, as (text, Fargo intent) pairs."""
    root = Path(root)
    sets: dict[str, Examples] = {}
    if (root / "banking77").is_dir():
        by_category = banking77_servicing(root, "test")
        sets["banking77 servicing"] = [(text, ACCOUNT_SERVICING) for texts in by_category.values() for text in texts]
        for label, categories in ((DISPUTE, BANKING77_DISPUTE), (FRAUD, BANKING77_FRAUD)):
            # a few test texts repeat train texts, and the default model trains on a sample of the train split
            trained = {text for texts in banking77_texts(root, "train", categories).values() for text in texts}
            tested = banking77_texts(root, "test", categories).values()
            sets[f"banking77 {label}"] = [(text, label) for texts in tested for text in texts if text not in trained]
    if (root / "nlupp_banking").is_dir():
        trained = set(nlupp_servicing(root, NLUPP_TRAIN_FOLDS))  # a few short texts recur across folds
        sets["nlu++ servicing"] = [(text, ACCOUNT_SERVICING) for text in nlupp_servicing(root, NLUPP_TEST_FOLDS)
                                   if text not in trained]
        sets["nlu++ small talk"] = [
            (text, NLUPP_SINGLE_MOVES[next(iter(intents))])
            for text, intents in nlupp_utterances(root, NLUPP_TEST_FOLDS)
            if len(intents) == 1 and next(iter(intents)) in NLUPP_SINGLE_MOVES
        ]
    if (root / "clinc150").is_dir():
        data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        mapped = [(text, CLINC_MAPPED[intent]) for text, intent in data["test"] if intent in CLINC_MAPPED]
        outside = [(text, OUT_OF_SCOPE) for texts in clinc_out_of_scope(root, "test").values() for text in texts]
        sets["clinc150 mapped"] = mapped + outside
        sets["clinc150 oos_test"] = [(text, OUT_OF_SCOPE) for text, _ in data["oos_test"]]
    return sets


@dataclass(frozen=True)
class Scored:
    accuracy: float
    examples: int
    errors: list[tuple[str, str, str, float]]  # (text, truth, predicted, confidence)


def score(classifier: IntentClassifier, examples: Sequence[tuple[str, str]]) -> Scored:
    texts = [text for text, _ in examples]
    predictions = classifier.predict_many(texts)
    errors = [
        (text, truth, prediction.label, round(prediction.confidence, 3))
        for (text, truth), prediction in zip(examples, predictions)
        if prediction.label != truth
    ]
    return Scored(1.0 - len(errors) / len(examples), len(examples), errors)


def report(classifier: IntentClassifier, root: str | Path = PUBLIC_DATASETS_ROOT) -> dict:
    """Accuracy on each public set, on the robustness phrasings (overall and by kind), and the wrong ones."""
    cases = robustness_cases()
    sets = {**public_test_sets(root), "robustness phrasings": [(case.text, case.label) for case in cases]}
    scored = {name: score(classifier, examples) for name, examples in sets.items()}
    wrong = {text for text, *_ in scored["robustness phrasings"].errors}
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        by_kind[case.kind].append(case.text not in wrong)
    return {
        "sets": {name: {"accuracy": round(result.accuracy, 4), "examples": result.examples}
                 for name, result in scored.items()},
        "robustness by kind": {kind: f"{sum(right)}/{len(right)}" for kind, right in by_kind.items()},
        "errors": {name: result.errors for name, result in scored.items()},
    }


def wrong_confidences(errors: dict[str, list]) -> dict[str, float]:
    """Quantiles of the confidence the model gave its wrong in-scope answers (out-of-scope answers excluded)."""
    values = [error[3] for rows in errors.values() for error in rows if error[2] != OUT_OF_SCOPE]
    if not values:
        return {}
    return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (10, 25, 50, 75, 90)} | {"n": len(values)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=TRAINING_DATA_PATH, help="training file (default: shipped set)")
    parser.add_argument("--datasets-root", type=Path, default=PUBLIC_DATASETS_ROOT)
    parser.add_argument("--no-public", action="store_true", help="train on the file alone, without the public sample")
    parser.add_argument("--errors", action="store_true", help="list the robustness phrasings it gets wrong")
    args = parser.parse_args(argv)

    from assistant.intents.training import train_default
    from retrieval.embeddings import get_embedder

    root = None if args.no_public else args.datasets_root
    classifier = train_default(get_embedder(), args.data, datasets_root=root)
    result = report(classifier, args.datasets_root)
    print(f"trained on {classifier.metadata['examples']} examples "
          f"({classifier.metadata['training_data']['public_examples']} public), "
          f"threshold {classifier.threshold:.3f}, held-out {classifier.metadata['metrics']}")
    for name, figures in result["sets"].items():
        print(f"{name:<24} {figures['accuracy']:.4f}  ({figures['examples']} examples)")
    print("robustness by kind:", result["robustness by kind"])
    print("confidence of wrong in-scope answers:", wrong_confidences(result["errors"]))
    if args.errors:
        for text, truth, predicted, confidence in result["errors"]["robustness phrasings"]:
            print(f"  {truth:<24} -> {predicted:<24} {confidence:.3f}  {text}")


if __name__ == "__main__":
    main()
