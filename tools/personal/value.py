"""The estimated value of a product from the customer's own numbers: what it would be worth to them in a year.

`estimate_annual_value` is pure: the customer's feature document, their
accounts and the catalogue in, dollars a year, the evidence used and a
sentence saying so out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.formats import money
from tools.eligibility import credit_score_inputs
from tools.evidence import field_evidence, unique_evidence
from tools.lookalike import HEALTH_SPEND, NOT_CARD_SPEND
from tools.types import Evidence, EvidenceKind

SKIPPED_SPEND = NOT_CARD_SPEND | HEALTH_SPEND  # neither earns card rewards nor counts as rising spending; health
# spend is health data, never read here
INTEREST_CATEGORIES = frozenset({"deposit", "retirement"})  # where an APY pays on moved balances
CASH_BACK_POINT_VALUE = 0.01
# The catalogue has no structured "takes over this debt" field; these phrases in a product's
# name or description say which of the customer's debts it can take over.
DEBT_TAKEOVER_PHRASES = {"balance transfer": {"card"}, "consolidat": {"card", "loan"}}
MORTGAGE_REFINANCE_PHRASE = "refinanc"
# Money already put away for the long term; emergency savings are not retirement contributions.
MATCHED_CONTRIBUTIONS = ("brokerage_transfer",)
YEAR = 12  # months; spend_12m covers at most this many


@dataclass(frozen=True)
class Estimate:
    value: float
    evidence: list[Evidence]
    reason: str


def estimate_annual_value(
    product: Mapping,
    features: Mapping,
    *,
    accounts: Sequence[Mapping] = (),
    catalogue: Mapping[str, Mapping] | None = None,
) -> tuple[float, list[Evidence], str]:
    """Dollars a year `product` is worth to the customer, the evidence used and a sentence saying so.

    Cards: rewards on a year's card spend beyond what the customer's current
    cards already earn, minus fees; a year's spend is the last 12 months', or
    for a customer who joined within them, their spend annualised from the
    months they have been with the bank. Deposits and annuities: the extra
    interest on balances now earning a lower APY. Balance transfers,
    consolidation and mortgage refinancing: interest saved on debts held at a
    higher APR. Retirement plans with an employer match: the match on what the
    customer already puts into investments in a year (annualised the same
    way). (0.0, [], "") when
    nothing can be estimated. `accounts` are the customer's account records and
    `catalogue` maps product ids to product records (for what they hold).
    """
    view = credit_score_inputs(features)
    catalogue = catalogue or {}
    estimates = [
        estimate
        for estimator in (_card_rewards, _extra_interest, _interest_saved, _employer_match)
        if (estimate := estimator(product, view, accounts, catalogue)) is not None
    ]
    if not estimates:
        return 0.0, [], ""
    best = max(estimates, key=lambda estimate: estimate.value)
    return best.value, best.evidence, best.reason


def _terms(product: Mapping) -> Mapping:
    return product.get("terms") or {}


def spend_evidence(features: Mapping, category: str) -> Evidence:
    """The customer's spend in `category` over the last 12 months, as evidence."""
    label = f"{category_words(category)} spend, last 12 months"
    return field_evidence(EvidenceKind.transaction_aggregate, "features", features, f"spend_12m.{category}", label)


def months_observed(features: Mapping) -> int:
    """How many of the last 12 months the customer's spend covers: fewer when they joined within them.

    Feature documents from before the field existed count as a whole year.
    """
    return min(max(int(features.get("months_observed") or YEAR), 1), YEAR)


def annual_spend(spent: float, features: Mapping) -> float:
    """A year's worth of `spent` (a spend_12m figure): scaled up from the months observed when fewer than 12."""
    return spent * YEAR / months_observed(features)


def spend_period(features: Mapping) -> str:
    """The time a spend_12m figure covers, as words after "You spent $X on travel"."""
    months = months_observed(features)
    if months == YEAR:
        return "in the last 12 months"
    return "in the month since you joined" if months == 1 else f"in the {months} months since you joined"


def observed_evidence(features: Mapping) -> list[Evidence]:
    """Evidence for the months an annualised figure is scaled from; none when a whole year was observed."""
    if months_observed(features) == YEAR:
        return []
    label = "months of the last 12 with the bank"
    return [field_evidence(EvidenceKind.profile_field, "features", features, "months_observed", label)]


def _terms_evidence(product: Mapping, path: str, label: str) -> Evidence:
    label = f"{product['name']}: {label}"
    return field_evidence(EvidenceKind.product_terms, "products", product, f"terms.{path}", label)


def _account_evidence(account: Mapping, label: str) -> Evidence:
    return field_evidence(EvidenceKind.profile_field, "accounts", account, "balance", label)


def category_words(category: str) -> str:
    return category.replace("_", " ")


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _fee_phrase(fee: float) -> str:
    return f"after its {money(fee)} annual fee" if fee else "with no annual fee"


# cards ---------------------------------------------------------------------------------------------


def _reward_path(terms: Mapping, category: str) -> str:
    return f"rewards.{category}" if category in (terms.get("rewards") or {}) else "base_reward_rate"


def _reward_rate(terms: Mapping, category: str) -> float:
    return (terms.get("rewards") or {}).get(category, terms.get("base_reward_rate") or 0.0)


def _cash_rate(terms: Mapping, category: str) -> float:
    """Dollars back per dollar spent in `category` (see ingest/catalogue.py for the units)."""
    return _reward_rate(terms, category) * (terms.get("point_value") or 0.0) * 100


def _rate_phrase(terms: Mapping, category: str) -> str:
    rate = _reward_rate(terms, category) * 100
    where = "on every purchase" if _reward_path(terms, category) == "base_reward_rate" else "there"
    if terms.get("point_value") == CASH_BACK_POINT_VALUE:
        return f"{rate:g}% cash back {where}"
    return f"{rate:g} points per dollar {where}, each worth {terms['point_value'] * 100:g} cents"


def _card_rewards(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    if product.get("category") != "card" or not (terms.get("rewards") or terms.get("base_reward_rate")):
        return None
    held = [catalogue[p] for p in features.get("products_held", ()) if catalogue.get(p, {}).get("category") == "card"]
    gains, evidence = {}, []
    for category, spent in sorted((features.get("spend_12m") or {}).items()):
        if category in SKIPPED_SPEND or spent <= 0:
            continue
        best_held = max(held, key=lambda card: _cash_rate(_terms(card), category), default=None)
        held_rate = _cash_rate(_terms(best_held), category) if best_held else 0.0
        gain = annual_spend(spent, features) * (_cash_rate(terms, category) - held_rate)
        if gain <= 0:
            continue
        gains[category] = gain
        evidence.append(spend_evidence(features, category))
        evidence.append(_terms_evidence(product, _reward_path(terms, category), f"{category_words(category)} reward rate"))
        if held_rate:
            evidence.append(_terms_evidence(best_held, _reward_path(_terms(best_held), category), "reward rate"))
    if not gains:
        return None
    fee = (terms.get("annual_fee") or 0.0) + 12 * (terms.get("monthly_fee") or 0.0)
    evidence += observed_evidence(features)
    evidence.append(_terms_evidence(product, "point_value", "dollars per point"))
    if terms.get("annual_fee"):
        evidence.append(_terms_evidence(product, "annual_fee", "annual fee"))
    value = round(sum(gains.values()) - fee)
    return Estimate(float(value), unique_evidence(evidence), _card_reason(product, features, gains, held, value, fee))


def _card_reason(product, features, gains, held, value, fee) -> str:
    top = max(gains, key=gains.get)
    spent = features["spend_12m"][top]
    rate = _rate_phrase(_terms(product), top)
    # the value sums every category; the reason names the largest and says the others count too
    others = len(gains) - 1
    also = f" (and more in {others} other {'category' if others == 1 else 'categories'})" if others else ""
    opening = f"You spent {money(spent)} on {category_words(top)}{also} {spend_period(features)}; at {rate}"
    if value <= 0:
        return f"{opening}, this card's extra rewards would not cover its {money(fee)} annual fee."
    versus = f" more than your {held[0]['name']}" if len(held) == 1 else " more than your current cards" if held else ""
    in_all = " in all" if others and not held else ""
    return f"{opening}, this card returns about {money(value)} a year{in_all}{versus}, {_fee_phrase(fee)}."


# deposits and annuities -------------------------------------------------------------------------------


def _open_accounts(accounts: Iterable[Mapping]) -> list[Mapping]:
    return [account for account in accounts if account.get("status", "open") == "open"]


def _extra_interest(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    apy = terms.get("apy") or 0.0
    if product.get("category") not in INTEREST_CATEGORIES or apy <= 0:
        return None
    sources = []  # (extra interest, amount moved, account, its product)
    for account in _open_accounts(accounts):
        held = catalogue.get(account.get("product_id"), {})
        held_terms = _terms(held)
        # What an account needs to stay fee-free (or open) stays where it is.
        movable = (account.get("balance") or 0.0) - (held_terms.get("min_balance") or 0.0)
        if held.get("category") == "deposit" and movable > 0 and (held_terms.get("apy") or 0.0) < apy:
            sources.append((movable * (apy - (held_terms.get("apy") or 0.0)), movable, account, held))
    if not sources or sum(source[1] for source in sources) < (terms.get("min_balance") or 0.0):
        return None
    sources.sort(key=lambda source: -source[0])
    fee = 12 * (terms.get("monthly_fee") or 0.0) if not terms.get("min_balance") else 0.0  # else waived
    value = round(sum(source[0] for source in sources) - fee)
    evidence = [_terms_evidence(product, "apy", "APY")]
    for _, _, account, held in sources:
        evidence.append(_account_evidence(account, f"balance in {held['name']}"))
        for path, label in (("apy", "APY"), ("min_balance", "minimum balance")):
            if _terms(held).get(path):
                evidence.append(_terms_evidence(held, path, label))
    return Estimate(float(value), evidence, _interest_reason(product, sources, value))


def stated_sum_interest(product: Mapping, amount: float) -> Estimate | None:
    """Interest a year on a sum the customer says they have to place ("50k sitting in checking doing nothing"):
    their words, not their balances, are what the answer should be worth to them."""
    terms = _terms(product)
    apy = terms.get("apy") or 0.0
    if product.get("category") not in INTEREST_CATEGORIES or apy <= 0 or amount < (terms.get("min_balance") or 0.0):
        return None
    fee = 12 * (terms.get("monthly_fee") or 0.0) if not terms.get("min_balance") else 0.0
    value = round(amount * apy - fee)
    if value <= 0:
        return None
    reason = (f"On the {money(amount)} you mentioned, at {_percent(apy)} APY, {product['name']} would earn about "
              f"{money(value)} a year.")
    return Estimate(float(value), [_terms_evidence(product, "apy", "APY")], reason)


def _interest_reason(product, sources, value) -> str:
    _, _, account, held = sources[0]
    held_terms = _terms(held)
    kept = held_terms.get("min_balance")
    balance = f"Your {money(account['balance'])} in {held['name']}"
    if kept:
        balance += f", beyond the {money(kept)} it needs,"
    earns = f"earns {_percent(held_terms['apy'])}" if held_terms.get("apy") else "earns no interest"
    others = " (as do other balances)" if len(sources) > 1 else ""
    apy = _percent(_terms(product)["apy"])
    return (f"{balance} {earns}{others}; at {apy} APY, "
            f"{product['name']} would earn you about {money(value)} a year more.")


# debts ------------------------------------------------------------------------------------------------


def _takes_over(product: Mapping) -> set[str]:
    """The categories of debt this product can take over (see DEBT_TAKEOVER_PHRASES)."""
    text = f"{product.get('name', '')} {product.get('description', '')}".lower()
    categories = set()
    for phrase, debt_categories in DEBT_TAKEOVER_PHRASES.items():
        if phrase in text:
            categories |= debt_categories
    if product.get("category") == "mortgage" and MORTGAGE_REFINANCE_PHRASE in text:
        categories.add("mortgage")
    return categories


def _interest_saved(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    apr, debt_categories = terms.get("apr"), _takes_over(product)
    if apr is None or not debt_categories:
        return None
    room = terms.get("max_amount") or math.inf
    debts = []
    for account in sorted(_open_accounts(accounts), key=lambda account: account.get("balance") or 0):
        held = catalogue.get(account.get("product_id"), {})
        owed, held_apr = -(account.get("balance") or 0.0), _terms(held).get("apr") or 0.0
        if held.get("category") in debt_categories and owed > 0 and held_apr > apr and room > 0:
            debts.append((min(owed, room) * (held_apr - apr), account, held))
            room -= owed
    if not debts:
        return None
    value = round(sum(saving for saving, _, _ in debts))
    evidence = [_terms_evidence(product, "apr", "APR")]
    for _, account, held in debts:
        evidence += [_account_evidence(account, f"balance owed on {held['name']}"), _terms_evidence(held, "apr", "APR")]
    _, account, held = max(debts, key=lambda debt: debt[0])
    reason = (f"You owe {money(-account['balance'])} on your {held['name']} at {_percent(held['terms']['apr'])} APR; "
              f"moving it to {product['name']} at {_percent(apr)} APR would save about {money(value)} a year "
              "in interest.")
    return Estimate(float(value), evidence, reason)


# retirement -------------------------------------------------------------------------------------------


def _employer_match(product, features, accounts, catalogue) -> Estimate | None:
    terms = _terms(product)
    match = terms.get("employer_match") or 0.0
    spend = features.get("spend_12m") or {}
    paid = [category for category in MATCHED_CONTRIBUTIONS if spend.get(category, 0) > 0]
    if product.get("category") != "retirement" or match <= 0 or not paid:
        return None
    yearly = annual_spend(sum(spend[category] for category in paid), features)
    contributions = min(yearly, terms.get("max_amount") or math.inf)
    value = round(contributions * match)
    evidence = [spend_evidence(features, category) for category in paid] + observed_evidence(features)
    evidence.append(_terms_evidence(product, "employer_match", "employer match"))
    amounts = " and ".join(f"{money(spend[category])} in {category_words(category)}s" for category in paid)
    reason = (f"You put {amounts} toward the long term {spend_period(features)}; paid into {product['name']}, "
              f"its {match * 100:g}% employer match would add about {money(value)} a year.")
    return Estimate(float(value), evidence, reason)
