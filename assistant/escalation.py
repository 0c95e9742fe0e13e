"""When a conversation goes to a person, and what the customer is told about who they are talking to.

- The first answer of every session starts with the bank's notice that this is an automated assistant and how
  to reach a person (`ConversationRules.disclosure`, `FARGO_ASSISTANT_DISCLOSURE`).
- Fraud (a payment or access the customer did not make: "someone used my card", "I didn't make this payment"),
  disputes (a wrong fee or amount, a double charge) and complaints have their own intents and go to the agents'
  queue, never to a product answer. Fraud is urgent (so is a servicing or dispute message in fraud's words);
  disputes and complaints come next; everything else waits its turn.
- No doom loops: after `offer_person_after` turns in a row that Fargo could not serve (out of scope, which is
  also what a message the classifier is not confident about becomes, or nothing found) it offers a person; a
  "yes" to the offer, or one more such turn, hands the conversation off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.settings import Settings

DISPUTE_INTENTS = frozenset({"fraud", "dispute", "complaint"})
URGENT, HIGH, NORMAL = "urgent", "high", "normal"
PRIORITY_RANK = {URGENT: 0, HIGH: 1, NORMAL: 2}
KIND_PRIORITY = {"fraud": URGENT, "dispute": HIGH, "complaint": HIGH}
UNSERVED_STATE = "unserved_in_a_row"
RECOMMENDING = frozenset({"personal_recommendation", "family_recommendation", "healthcare", "campaign_insight"})

# A charge or access the customer did not make or allow: possible fraud, for a person at once.
FRAUD = re.compile(
    r"\b(?:fraud\w*|scam\w*|phish\w*|hack\w*|skimm\w*|compromised|identity theft|unauthori[sz]ed|not authori[sz]ed|"
    r"(?:did ?n[o']?t|never|didnt) (?:make|made|authori[sz]e|do|buy|order|spend|sign up for|set up|take out|took out|"
    r"wr[oi]te|withdraw|approve)|(?:are|is) ?n[o']?t mine|not mine|"
    r"(?:do ?n[o']?t|did ?n[o']?t|dont|didnt|can'?t|cannot) recogni[sz]e|not recogni[sz]ed|unrecogni[sz]ed|"
    r"wasn'?t me|not me|someone (?:else )?(?:has |is |'s )?(?:been )?(?:us\w+|took|taken|tak\w+|stole|spent|"
    r"got into|access\w*|withdr\w+|emptied|opened|logged)|without my (?:permission|consent|knowledge))\b",
    re.IGNORECASE)
# A worry that someone is being scammed, told while asking for something else ("my mum keeps getting scam calls,
# how do I protect her money?"); a product's fraud protection is a feature asked about, not a worry.
SCAM_WORRY = re.compile(r"\b(?:scam\w*|phish\w*|fraudsters?|con ?artists?|identity theft)\b"
                        r"|\bfraud\b(?! (?:protection|alerts?|monitoring|liability))", re.IGNORECASE)
# Words a dispute or a complaint uses: such a message is classified afresh, never read as a follow-up ("why?").
MAY_DISPUTE = re.compile(
    r"\b(?:charged|charging|overcharg\w*|double[- ]charg\w*|refund\w*|complain\w*|dispute\w*|wrong\w*|mistake|"
    r"error|stolen|not happy|unhappy|unacceptable|disgusted|appalled|ombudsman)\b", re.IGNORECASE)
AFFIRM = re.compile(r"^\W*(?:yes|yeah|yep|yup|ok|okay|sure|please|please do|yes please|ok please|go ahead|"
                    r"sounds good|that would be great|do it)\W*(?:please|thanks|thank you)?\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class ConversationRules:
    """A bank's wording for the assistant notice and how patient Fargo is before it offers a person."""

    disclosure: str = Settings.model_fields["assistant_disclosure"].default
    offer_person_after: int = Settings.model_fields["person_offer_after"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> ConversationRules:
        return cls(settings.assistant_disclosure, settings.person_offer_after)


def handoff_kind(intent: str, message: str) -> str:
    """Why the conversation goes to a person: fraud, dispute, complaint, servicing, unserved or asked."""
    if intent == "fraud" or (intent in DISPUTE_INTENTS | {"account_servicing"} and FRAUD.search(message)):
        return "fraud"
    if intent in DISPUTE_INTENTS:
        return intent
    return {"account_servicing": "servicing", "talk_to_human": "asked"}.get(intent, "unserved")


def worries_about_a_scam(message: str) -> bool:
    """Whether `message` tells of a scam or fraud feared, which an answer about products should not pass over."""
    return bool(SCAM_WORRY.search(message))


def priority_of(kind: str) -> str:
    return KIND_PRIORITY.get(kind, NORMAL)


def may_be_dispute(message: str) -> bool:
    """Whether `message` uses a dispute's or complaint's words or reads as fraud ("why was I charged twice?")."""
    return bool(MAY_DISPUTE.search(message) or FRAUD.search(message))


def unserved(intent: str, plan) -> bool:
    """Whether the turn's answer could not serve the customer: out of scope, or nothing found for what they asked."""
    if intent == "out_of_scope" or plan.template == "nothing_else":  # "anything else?" after nothing was found
        return True
    if plan.template in RECOMMENDING:
        return not plan.recommendations
    if plan.template == "product_question":
        return not plan.context.get("hits")
    return False


def unserved_reason(intent: str, plan, unsure: bool = False) -> str | None:
    """Why Fargo could not serve the turn, kept with it for the supervisors' figures: "out_of_scope", "low_confidence"
    (`unsure`: no intent was likely enough, so the message was taken as out of scope) or "nothing_found"; None if
    it was served."""
    if not unserved(intent, plan):
        return None
    if intent == "out_of_scope":
        return "low_confidence" if unsure else "out_of_scope"
    return "nothing_found"


def unserved_in_a_row(state: dict, intent: str, plan) -> int:
    """How many turns in a row, this one included, Fargo could not serve."""
    return state.get(UNSERVED_STATE, 0) + 1 if unserved(intent, plan) else 0


def goes_to_person(rules: ConversationRules, state: dict, misses: int, message: str) -> bool:
    """After the offer of a person: a "yes" to it, or one more turn Fargo could not serve, hands off."""
    offered = state.get(UNSERVED_STATE, 0) >= rules.offer_person_after
    return misses > rules.offer_person_after or (offered and bool(AFFIRM.match(message)))


def offers_person(rules: ConversationRules, misses: int) -> bool:
    return misses == rules.offer_person_after


def with_disclosure(answer: str, rules: ConversationRules) -> str:
    return f"{rules.disclosure}\n\n{answer}"
