"""Examples from public datasets, added to Fargo's own set when the default model trains.

Fargo's hand-written set has about a hundred account-servicing and out-of-scope
lines each; customers phrase those two in far more ways (a failed top-up, a card
in a taxi, a recipe, the traffic). A sample of three public sets, read where
they lie (`PUBLIC_DATASETS_ROOT`, each folder's SOURCE.md gives origin and
licence, CC BY), widens them:

- BANKING77 (train split): the categories about something wrong with, or done
  to, the customer's own card, account or payment -> `account_servicing`.
  Categories asking what the bank offers (limits, fees, supported currencies,
  age limits) are left out: Fargo answers those as product questions. The
  categories of a payment the customer did not make (not recognised, a
  compromised card) -> `fraud`; of one that went wrong (charged twice, an
  extra charge, the wrong cash) -> `dispute`.
- NLU++ banking (folds 0-9; 10-19 stay for evaluation): utterances marked with
  a problem or an action on an existing account (lost, not working, change,
  cancel, refund, pin) -> `account_servicing`.
- CLINC150 (train split): the intents of its non-financial domains (kitchen,
  home, car, travel, utility, small talk) -> `out_of_scope`.

A missing dataset folder adds nothing: training works from the shipped set alone.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ACCOUNT_SERVICING = "account_servicing"
DISPUTE = "dispute"
FRAUD = "fraud"
OUT_OF_SCOPE = "out_of_scope"
PUBLIC_DATASETS_ROOT = Path(__file__).resolve().parents[3] / "shared" / "datasets"  # beside the repository

BANKING77_SERVICING = frozenset({
    "Refund_not_showing_up", "activate_my_card", "balance_not_updated_after_bank_transfer",
    "balance_not_updated_after_cheque_or_cash_deposit", "beneficiary_not_allowed", "cancel_transfer",
    "card_about_to_expire", "card_arrival", "card_delivery_estimate", "card_linking", "card_not_working",
    "card_payment_fee_charged", "card_payment_wrong_exchange_rate",
    "card_swallowed", "cash_withdrawal_charge", "change_pin",
    "contactless_not_working", "declined_card_payment", "declined_cash_withdrawal",
    "declined_transfer", "edit_personal_details",
    "failed_transfer", "get_physical_card", "lost_or_stolen_card",
    "lost_or_stolen_phone", "passcode_forgotten", "pending_card_payment", "pending_cash_withdrawal",
    "pending_top_up", "pending_transfer", "pin_blocked", "request_refund", "reverted_card_payment?",
    "terminate_account", "top_up_failed", "top_up_reverted", "transfer_fee_charged",
    "transfer_into_account", "transfer_not_received_by_recipient", "unable_to_verify_identity",
    "virtual_card_not_working", "wrong_exchange_rate_for_cash_withdrawal",
})
BANKING77_FRAUD = frozenset({
    "card_payment_not_recognised", "cash_withdrawal_not_recognised", "compromised_card",
    "direct_debit_payment_not_recognised",
})
BANKING77_DISPUTE = frozenset({"extra_charge_on_statement", "transaction_charged_twice", "wrong_amount_of_cash_received"})

NLUPP_TRAIN_FOLDS = tuple(range(10))
NLUPP_TEST_FOLDS = tuple(range(10, 20))
NLUPP_SERVICING_ACTIONS = frozenset({
    "wrong_notworking_notshowing", "lost_stolen", "cancel_close_leave_freeze", "change", "refund", "pin",
})
# Dialogue moves and requests for something new: such an utterance is not a servicing request on its own.
NLUPP_NOT_SERVICING = frozenset({
    "affirm", "deny", "dont_know", "acknowledge", "greet", "end_call", "handoff", "thank", "repeat",
    "appointment", "new", "make_open_apply_setup_get_activate",
})
NLUPP_MIN_WORDS = 4  # shorter ones ("current please") only make sense inside a dialogue

CLINC_OUT_OF_SCOPE_DOMAINS = ("kitchen_and_dining", "home", "auto_and_commute", "travel", "utility", "small_talk")
# Intents of those domains that Fargo does handle, or that sit too close to banking to call out of scope.
CLINC_KEPT_INTENTS = frozenset({
    "exchange_rate", "travel_notification", "greeting", "goodbye", "thank_you", "what_can_i_ask_you",
    "who_do_you_work_for", "are_you_a_bot", "order", "order_status",
})


@dataclass(frozen=True)
class PublicSample:
    """How many public examples the default model trains on: enough to widen two intents, not to outweigh the rest."""

    per_banking77_category: int = 2
    per_banking77_dispute_category: int = 20
    nlupp: int = 40
    per_clinc_intent: int = 2
    seed: int = 0


DEFAULT_SAMPLE = PublicSample()


def public_examples(
    root: str | Path = PUBLIC_DATASETS_ROOT,
    labels: Iterable[str] = (ACCOUNT_SERVICING, DISPUTE, FRAUD, OUT_OF_SCOPE),
    sample: PublicSample = DEFAULT_SAMPLE,
) -> list[tuple[str, str]]:
    """A fixed sample of (text, label) examples for those of `labels` the public sets feed; [] where they are absent."""
    root, wanted = Path(root), set(labels)
    rng = random.Random(sample.seed)
    examples: list[tuple[str, str]] = []
    if ACCOUNT_SERVICING in wanted:
        if (root / "banking77").is_dir():
            by_category = banking77_texts(root, "train", BANKING77_SERVICING)
            for category in sorted(by_category):
                examples += _labelled(_pick(by_category[category], sample.per_banking77_category, rng), ACCOUNT_SERVICING)
        if (root / "nlupp_banking").is_dir():
            examples += _labelled(_pick(nlupp_servicing(root, NLUPP_TRAIN_FOLDS), sample.nlupp, rng), ACCOUNT_SERVICING)
    for label, categories in ((DISPUTE, BANKING77_DISPUTE), (FRAUD, BANKING77_FRAUD)):
        if label in wanted and (root / "banking77").is_dir():
            by_category = banking77_texts(root, "train", categories)
            for category in sorted(by_category):
                examples += _labelled(_pick(by_category[category], sample.per_banking77_dispute_category, rng), label)
    if OUT_OF_SCOPE in wanted and (root / "clinc150").is_dir():
        by_intent = clinc_out_of_scope(root, "train")
        for intent in sorted(by_intent):
            examples += _labelled(_pick(by_intent[intent], sample.per_clinc_intent, rng), OUT_OF_SCOPE)
    return examples


def banking77_servicing(root: str | Path, split: str) -> dict[str, list[str]]:
    """BANKING77's account-servicing texts of `split` (train or test), by category."""
    return banking77_texts(root, split, BANKING77_SERVICING)


def banking77_texts(root: str | Path, split: str, categories: frozenset[str]) -> dict[str, list[str]]:
    """BANKING77's texts of `split` (train or test) in those categories, by category."""
    by_category: dict[str, list[str]] = defaultdict(list)
    # Some texts hold newlines inside quotes: only a CSV parser reads them right.
    with (Path(root) / "banking77" / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in categories:
                by_category[row["category"]].append(_clean(row["text"]))
    return dict(by_category)


def nlupp_utterances(root: str | Path, folds: Sequence[int]) -> list[tuple[str, frozenset[str]]]:
    """NLU++ banking utterances of those folds with their (multi-label) intents."""
    utterances = []
    for fold in folds:
        for record in json.loads((Path(root) / "nlupp_banking" / f"fold{fold}.json").read_text(encoding="utf-8")):
            utterances.append((_clean(record["text"]), frozenset(record.get("intents") or ())))
    return utterances


def nlupp_servicing(root: str | Path, folds: Sequence[int]) -> list[str]:
    """NLU++ utterances that report a problem with, or ask for a change to, something the customer already has."""
    return [
        text
        for text, intents in nlupp_utterances(root, folds)
        if intents & NLUPP_SERVICING_ACTIONS and not intents & NLUPP_NOT_SERVICING
        and len(text.split()) >= NLUPP_MIN_WORDS
    ]


def clinc_out_of_scope(root: str | Path, split: str) -> dict[str, list[str]]:
    """CLINC150 texts of `split` (train, val or test) from intents with nothing to do with a bank, by intent."""
    folder = Path(root) / "clinc150"
    domains = json.loads((folder / "domains.json").read_text(encoding="utf-8"))
    outside = {intent for domain in CLINC_OUT_OF_SCOPE_DOMAINS for intent in domains[domain]} - CLINC_KEPT_INTENTS
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in json.loads((folder / "data_full.json").read_text(encoding="utf-8"))[split]:
        if intent in outside:
            by_intent[intent].append(_clean(text))
    return dict(by_intent)


def add_public_examples(
    examples: Sequence[tuple[str, str]], public: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`examples` and then those public ones whose text they do not already hold (case aside)."""
    seen = {text.lower() for text, _ in examples}
    combined = list(examples)
    for text, label in public:
        if text.lower() not in seen:
            seen.add(text.lower())
            combined.append((text, label))
    return combined


def _pick(texts: Sequence[str], count: int, rng: random.Random) -> list[str]:
    return rng.sample(list(texts), min(count, len(texts)))


def _labelled(texts: Iterable[str], label: str) -> list[tuple[str, str]]:
    return [(text, label) for text in texts]


def _clean(text: str) -> str:
    return " ".join(text.split())
