"""What a request rules out: products for a home the customer does not have, bank accounts of the other kind, and
needs it says are not theirs.

- Tenure: a customer who rents ("going to rent for a year", "my dorm") is not
  asking for a mortgage or homeowners insurance; one who is buying or has the
  keys to a house is not asking for renters insurance. Products say whom they
  are for in the catalogue's `target_segments` (homeowners and homebuyers, or
  renters).
- Kind of bank account: asking for a savings account is not asking for a checking
  account, and the other way round. The catalogue has no field for it; a bank
  names its checking accounts so ("Everyday Checking").
- Refused needs: "it won't be our first home", "not a new car, a used one",
  "a second home", "neither of us wants to pick stocks" name a need that is not theirs; the product that plainly
  states it (its closest purpose text, clearly ahead of the next product's) is
  ruled out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tools.campaign import statement_vectors
from tools.requests.needs import purposes, unit_rows

if TYPE_CHECKING:
    from tools.context import ToolContext

OWNER_SEGMENTS = frozenset({"homeowners", "homebuyers"})
RENTER_SEGMENTS = frozenset({"renters"})
REFUSED_MATCH = 0.65  # MiniLM cosine at which a refused phrase plainly names a product's purpose
REFUSED_LEAD = 0.05  # ... and by which it must be closer to that product than to any other
HOUSING_KEY = "tools.requests.housing"  # its ToolContext.memo key
VEHICLE_KEY = "tools.requests.vehicles"
CLEAR_MATCH, CLEAR_LEAD = 0.55, 0.15  # a looser match will do when no other product comes near it

_BUYING = re.compile(r"\b(?:(?:buy\w*|bought|purchas\w*) (?:a |an |our |my |the |us a )?(?:first |new |own |bigger |second )?"
                     r"(?:home|house|place|condo|property|townhouse)|closing|closed on|mortgage|down ?payment|homeowners?"
                     r"|house[- ]hunting|selling (?:our|my|the) (?:place|house|home)|first (?:home|house)|first[- ]time (?:home ?)?buyers?|\d+ ?% down"
                     r"|close on (?:the|our|my) (?:new )?(?:house|home|place)|(?:owned|bought) (?:a (?:home|house) )?before"
                     r"|(?:done|finished|through) renting|(?:stop|quit|tired of|sick of) (?:paying )?rent\w*)\b", re.IGNORECASE)
_RENTING = re.compile(r"\b(?:rent(?:s|ing|ed|al|er|ers)?|tenants?|landlords?|lease|dorm(?:itory)?|sublet\w*)\b", re.IGNORECASE)
_OWNING = re.compile(r"\b(?:keys to (?:the|our|my) (?:new )?(?:house|home|place)|insure (?:the|our|my) (?:house|home)|(?:we|i) own (?:a|our|my|the) (?:home|house|place)"
                     r"|(?:our|my) (?:new )?house)\b", re.IGNORECASE)
# a request about a vehicle and no home is not asked by homeowners cover or a mortgage, however alike the words
# ("just bought my first car and need insurance" against "insurance for my new house")
_VEHICLE = re.compile(r"\b(?:car|cars|suv|truck|van|minivan|vehicle|motorbike|motorcycle|civic|sedan|pickup)\b", re.IGNORECASE)
_HOME = re.compile(r"\b(?:home|homes|house|houses|condo|apartment|flat|mortgage|rent\w*|landlord|tenant|propert(?:y|ies)"
                   r"|down ?payment|homeowners?|renovat\w*|remodel\w*|kitchen|bathroom|roof|heloc|equity|closing)\b",
                   re.IGNORECASE)
# ... and a request about a home and no vehicle is not asked by car cover or a car loan ("insurance for my new home"
# against "insurance for my new car")
_VEHICLE_PURPOSE = re.compile(r"\b(?:car|cars|suv|truck|van|minivan|vehicle|motorbike|motorcycle|sedan|pickup|auto|driv\w*"
                              r"|dealer\w*)\b", re.IGNORECASE)
_AUTO = re.compile(r"\bauto\b|\bdriv(?:e|er|ers|ing)\b|\bdealer\w*", re.IGNORECASE)
_GOING_HOME = re.compile(r"\b(?:drive|driving|get|getting|bring|take|head|go|going|come|coming|way)\s+(?:it\s+|them\s+)?home\b",
                         re.IGNORECASE)  # "before I can drive it home" says nothing of a home
# an account the customer already has, or one they say they do not want, is not the kind they ask for
_ACCOUNT_NOT_ASKED = re.compile(
    r"\b(?:my|our|his|her|their|in|into|from|out of|of|is|have|has|had|not|than)\s+(?:an?\s+)?(?:\w+\s+)?"
    r"(?:savings?|checking)(?:\s+(?:acc(?:oun)?ts?|acct))?\b", re.IGNORECASE)
_SAVINGS_ASKED = re.compile(r"\bsavings?\s+(?:acc(?:oun)?ts?|acct)\b|\bsavings\s*(?:or|and|&|/)\s*checking\b"
                            r"|\bchecking\s*(?:or|and|&|/)\s*savings\b", re.IGNORECASE)
_CHECKING_ASKED = re.compile(r"\bchecking\b(?!\s+(?:out|on|in|if|whether|my|your|the)\b)", re.IGNORECASE)
_CHECKING_NAME = re.compile(r"\b(?:checking|current account)\b", re.IGNORECASE)
_APARTMENT = re.compile(r"\b(?:apartment|flat|roommates?|studio)\b", re.IGNORECASE)

_NEGATED = re.compile(
    r"(?:\b(?<!do )(?<!does )(?<!did )(?<!would )(?<!could )(?<!should )(?<!if )not|\bwon'?t be|\bisn'?t|\bwouldn'?t be"
    r"|\brather than|\binstead of|\bother than)\s+(?:just\s+|simply\s+|only\s+)?"
    r"(?P<what>(?:a|an|another|one of those|one|the|my|our)\s+[^,.;:!?]{3,40}?)"
    r"(?=\s*[,.;:!?]|\s+(?:but|and|so|because|since|i|we)\b|\s*$)",
    re.IGNORECASE)
_UNWANTED = re.compile(
    r"\b(?:don'?t|doesn'?t|do not|does not|never|neither of us|nobody|no one)\s+(?:wants?|likes?|has time|have time|cares?)"
    r"\s+to\s+(?P<what>[^,.;:!?]{3,40}?)(?=\s*[,.;:!?]|\s+(?:but|and|so|because|since)\b|\s*$)",
    re.IGNORECASE)
_IMPLIED = (
    (re.compile(r"\b(?:second|vacation|holiday|next|bigger|another) (?:home|house|place)|\bmoving up\b"
                r"|\bsell(?:ing)? (?:our|my|the) (?:place|house|home|condo)|\b(?:current|old) (?:house|home|mortgage)\b"
                r"|\b(?:isn'?t|not|won'?t be) (?:our|my) first\b|\b(?:owned|bought) (?:a (?:home|house) )?before\b"
                r"|\bsold (?:our|my|the) (?:place|house|home)|\bsale of (?:our|my|the) (?:place|house|home)|\bdownsiz\w*"
                r"|\b(?:got|get|getting|have|picked up) (?:the|our) keys\b",
                re.IGNORECASE),
     "buying my first home"),
    (re.compile(r"\b(?:used|second[- ]hand|pre[- ]owned) (?:\w+ )?(?:car|suv|truck|van|minivan|vehicle|motorbike|motorcycle)s?\b"
                r"|\bsecond[- ]hand\b|\bpre[- ]owned\b|\b(?:car|suv|truck|van|vehicle)\s*\(\s*used\b", re.IGNORECASE),
     "a brand-new car"),
    (re.compile(r"\b(?:tuition|college|school fees)(?:'s| is| are)? (?:done|over|paid(?: off| for)?|finished|behind us)\b"
                r"|\bempty[- ]nest\w*|\b(?:kids|children) (?:are|have) (?:out|grown(?: up)?|gone|moved out|left home)\b",
                re.IGNORECASE),
     "start saving for my child's college tuition"),
    (re.compile(r"\bpermanent (?:life |death )?(?:cover|coverage|insurance|policy)\b|\bwhole[- ]life\b"
                r"|\b(?:lasts?|covers? me|cover me) (?:for )?(?:my|the rest of my) (?:whole|entire) life\b", re.IGNORECASE),
     "term life insurance"),
)
# "I pay it off every month" carries no balance to move; "can someone just do it for me" picks no stocks
_IMPLIED += (
    # the house is sold: there is no equity left in it to borrow against
    (re.compile(r"\bsold (?:our|my|the) (?:place|house|home|condo)|\bsale of (?:our|my|the) (?:place|house|home|condo)"
                r"|\bdownsiz\w*", re.IGNORECASE),
     "borrow against the equity in my house"),
    (re.compile(r"\bpay (?:it|them|that|my cards?|the (?:card|balance|bill))(?: all)? off (?:in full )?(?:every|each) month"
                r"|\bpay (?:it |them |my cards? |the balance )?in full\b|\bnever carry a balance\b", re.IGNORECASE),
     "I have credit card debt at a high rate"),
    (re.compile(r"\b(?:someone|somebody|you|an expert|a pro|a professional)\s+(?:to\s+)?(?:just\s+)?(?:do|handle|manage|pick)"
                r"\s+(?:it|them|that|the investing)\s+for\s+(?:me|us)\b|\bdon'?t (?:even )?know what an? (?:etf|stock|index fund)",
                re.IGNORECASE),
     "I want to pick my own stocks"),
)
# a policy that paid out is money to place, not cover to buy
_PAID_OUT = re.compile(r"\b(?:life insurance|insurance|policy)(?:'s)?\s+(?:check|cheque|payout|pay-?out|paid(?: out)?|money"
                       r"|proceeds|settlement)\b|\bmoney (?:coming )?from (?:her|his|their|the|my) (?:life )?(?:policy|insurance)\b",
                       re.IGNORECASE)
_IMPLIED += tuple((_PAID_OUT, phrase) for phrase in ("term life insurance", "lifelong life insurance"))
# "I don't travel much": the customer says they rarely do what a product is for ("I travel a lot")
_RARELY = re.compile(r"\b(?:i|we)\s+(?:don'?t|do not|rarely|hardly ever|barely|never)\s+(?P<what>travel|eat out|fly|drive)"
                     r"(?:\s+(?:much|often|a lot|that much|anymore|abroad))?\b", re.IGNORECASE)


def tenure_in(text: str) -> str | None:
    """"rent" or "own" when `text` says how the customer has (or will have) their home, else None."""
    if _BUYING.search(text):
        return "own"
    if _RENTING.search(text):
        return "rent"
    if _OWNING.search(text):
        return "own"
    return "rent" if _APARTMENT.search(text) else None


def refused_phrases(text: str) -> list[str]:
    """The needs `text` says are not the customer's, in words a product's purpose could state."""
    return _own_phrases(text) + _implied_phrases(text)


def _own_phrases(text: str) -> list[str]:
    phrases = [match.group("what").strip() for pattern in (_NEGATED, _UNWANTED) for match in pattern.finditer(text)]
    return phrases + [f"I {match.group('what').lower()} a lot" for match in _RARELY.finditer(text)]


def _implied_phrases(text: str) -> list[str]:
    return list(dict.fromkeys(phrase for pattern, phrase in _IMPLIED if pattern.search(text)))


def ruled_out(ctx: ToolContext | None, text: str) -> tuple[str, ...]:
    """The products `text` rules out: of the other tenure, or plainly stating a need it refuses."""
    if ctx is None or not ctx.products:
        return ()
    out = set(_other_tenure(ctx.products, tenure_in(text))) | _other_account_kind(ctx.products, text)
    about_a_home = bool(_HOME.search(_GOING_HOME.sub(" ", text)))
    if _VEHICLE.search(text) and not about_a_home:
        out |= ctx.memo(HOUSING_KEY, lambda: housing_products(ctx.products))
    if about_a_home and not _VEHICLE.search(text) and not _AUTO.search(text):
        out |= ctx.memo(VEHICLE_KEY, lambda: vehicle_products(ctx.products))
    if ctx.embedder is not None:
        out |= _refused_products(ctx, _own_phrases(text), _implied_phrases(text))
    return tuple(sorted(out))


def vehicle_products(products: Mapping[str, Mapping]) -> set[str]:
    """Products for a vehicle: most of their purpose texts speak of one ("Auto Insurance": "insurance for my new
    car")."""
    return {product_id for product_id, product in products.items()
            if _mostly(_VEHICLE_PURPOSE, [product["name"], *(product.get("need_statements") or ())])}


def _mostly(pattern: re.Pattern, texts: list[str]) -> bool:
    return sum(bool(pattern.search(text)) for text in texts) * 2 > len(texts)


def housing_products(products: Mapping[str, Mapping]) -> set[str]:
    """Products for a home: most of their purpose texts (name and need statements) speak of one."""
    return {product_id for product_id, product in products.items()
            if _mostly(_HOME, [product["name"], *(product.get("need_statements") or ())])}


def _other_account_kind(products: Mapping[str, Mapping], text: str) -> set[str]:
    """Asked for a savings account, the checking accounts (a bank names them so); asked for checking, the other bank
    accounts. Nothing when the request names both kinds, or only accounts the customer has or does not want."""
    asked = _ACCOUNT_NOT_ASKED.sub(" ", text)
    savings, checking = bool(_SAVINGS_ASKED.search(asked)), bool(_CHECKING_ASKED.search(asked))
    if savings == checking:
        return set()
    return {product_id for product_id, product in products.items()
            if product.get("category") == "deposit" and bool(_CHECKING_NAME.search(product["name"])) == savings}


def _other_tenure(products: Mapping[str, Mapping], tenure: str | None) -> list[str]:
    if tenure is None:
        return []
    wrong, right = (OWNER_SEGMENTS, RENTER_SEGMENTS) if tenure == "rent" else (RENTER_SEGMENTS, OWNER_SEGMENTS)
    return [product_id for product_id, product in products.items()
            if (segments := set(product.get("target_segments") or ())) & wrong and not segments & right]


def _refused_products(ctx: ToolContext, own: list[str], implied: list[str]) -> set[str]:
    if not own and not implied:
        return set()
    table = purposes(ctx)
    refused = set()
    # the customer's own words are embedded per turn, not kept for the process's life; implied needs are fixed
    # statements, embedded once
    vectors = [ctx.embedder.embed(own)] if own else []
    vectors += [statement_vectors(ctx.embedder, implied)] if implied else []
    for vector in unit_rows(np.concatenate(vectors)):
        best, _ = table.best_per_product(table.vectors @ vector)
        first, second = np.argsort(-best)[:2]
        lead = best[first] - best[second]
        if (best[first] >= REFUSED_MATCH and lead >= REFUSED_LEAD) or (best[first] >= CLEAR_MATCH and lead >= CLEAR_LEAD):
            refused.add(table.ids[first])
    return refused

