"""`fargo eval fairness`: how often each product is offered across gender, age band and marital status.

The real recommender (`recommend_personal`, no request, the top k) runs once for every customer with a live
feature document. Each customer's groups come from their CIP record (gender, date of birth, marital status),
which no score reads: scores see features only through `credit_score_inputs`. For every product and attribute
the selection rate per group (fairlearn's `MetricFrame` with `selection_rate`) is compared with the most-offered
group's. A group below FOUR_FIFTHS of it (the four-fifths rule) is flagged when the gap is also statistically
significant, as the EEOC's guidance on the rule asks: with a few hundred customers per group, a product offered
to 6% of one and 9% of another is under four-fifths by chance alone. Each gap gets Fisher's exact test
(one-sided), and since a run makes hundreds of comparisons the p-values are adjusted together
(Benjamini-Hochberg); a gap is flagged when q < ALPHA. The others are listed as not significant. A flag comes
with what drives the gap:

- eligibility: the rules the product applies (`tools.eligibility.check`, plus the business-customer gate of the
  recommender) that the group fails more often than the most-offered group. A gap by age band that the product's
  own age limits explain (a student account to 25, a senior account from 60) is reported as age-restricted by
  design, not as unexplained;
- ranking: among the customers eligible for the product, the traits the ranking models read
  (`tools.lookalike.traits_of`: income and age band, occupation, goals told us, spending, products held) that
  the most-offered group shows more often and that go with being offered.

Groups smaller than MIN_GROUP customers and products offered fewer than MIN_OFFERS times to the top group are
reported but never flagged: their rates are too noisy for a ratio to mean anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from fairlearn.metrics import MetricFrame, selection_rate
from scipy.stats import false_discovery_control, fisher_exact

from tools.eligibility import check, credit_score_inputs
from tools.lookalike import AGE_BANDS as AGE_TRAIT_BANDS
from tools.lookalike import INCOME_BANDS, traits_of
from tools.personal import recommend_personal
from tools.personal.ranking import has_business
from tools.requests.fit import is_business_product

ATTRIBUTES = ("gender", "age_band", "marital_status")
FOUR_FIFTHS = 0.8
MIN_GROUP = 30
MIN_OFFERS = 5
ALPHA = 0.05  # a ratio under four-fifths is flagged only when a gap this large is unlikely by chance
TOP_K = 5
RULE_GAP = 0.05  # a rule or trait counts as a driver when the two groups differ on it by at least this share
AGE_RULES = frozenset({"min_age", "max_age"})
# (lowest age, label); the bands ECOA reporting and most fair-lending reviews use, with 62 as "elderly"
AGE_BANDS = ((0, "under 18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55-61"),
             (62, "62+"))
UNKNOWN = "unknown"
KINDS = ("age_restricted", "eligibility", "ranking", "eligibility and ranking")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Subject:
    """One customer as the check sees them."""

    customer_id: str
    groups: Mapping[str, str]  # attribute -> group, from the CIP record
    offered: frozenset[str]
    blocked: Mapping[str, tuple[str, ...]]  # product -> the eligibility rules it fails for this customer
    traits: frozenset[str]  # what the ranking models read about them (trait keys)


def age_band(age: int) -> str:
    return next(label for low, label in reversed(AGE_BANDS) if age >= low)


def protected_groups(customer: Mapping, as_of: date) -> dict[str, str]:
    """The customer's gender, age band and marital status, read from their CIP record only."""
    groups = {"gender": customer.get("gender") or UNKNOWN, "marital_status": customer.get("marital_status") or UNKNOWN}
    born = customer.get("date_of_birth")
    if born:
        born = date.fromisoformat(str(born)[:10])
        groups["age_band"] = age_band(as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day)))
    else:
        groups["age_band"] = UNKNOWN
    return groups


def blocked_rules(products: Mapping[str, Mapping], features: Mapping) -> dict[str, tuple[str, ...]]:
    """Per product, the rules keeping it from this customer: the eligibility rules and the business gate."""
    view = credit_score_inputs(features)
    business = has_business(view, products)
    blocked = {}
    for product_id, product in products.items():
        rules = [failure.rule for failure in check(product, view)]
        if is_business_product(product) and not business:
            rules.append("business_only")
        if rules:
            blocked[product_id] = tuple(rules)
    return blocked


def subjects(ctx, customer_ids: Iterable[str], k: int = TOP_K, progress: Progress | None = None) -> list[Subject]:
    """Run the recommender for each customer with a live profile and record what it offered them."""
    found = []
    ids = list(customer_ids)
    for number, customer_id in enumerate(ids, start=1):
        features, customer = ctx.features(customer_id), ctx.customer(customer_id)
        if features is None or customer is None:
            continue
        offered = frozenset(rec.product_id for rec in recommend_personal(ctx, customer_id, k=k))
        found.append(Subject(customer_id, protected_groups(customer, ctx.as_of), offered,
                             blocked_rules(ctx.products, features),
                             frozenset(trait.key for trait in traits_of(features))))
        if progress and number % 100 == 0:
            progress(f"{number}/{len(ids)} customers")
    return found


# ----- rates and flags (pure) -----


def selection_rates(people: Sequence[Subject], product_id: str, attribute: str) -> dict[str, float]:
    """The share of each group offered the product (fairlearn's selection rate per group)."""
    offered = np.array([product_id in person.offered for person in people], dtype=int)
    frame = MetricFrame(metrics=selection_rate, y_true=offered, y_pred=offered,
                        sensitive_features=[person.groups[attribute] for person in people])
    return {str(group): float(rate) for group, rate in frame.by_group.items()}


def assess(people: Sequence[Subject], products: Mapping[str, Mapping], attributes: Sequence[str] = ATTRIBUTES,
           min_group: int = MIN_GROUP, min_offers: int = MIN_OFFERS) -> dict:
    """The report: per attribute, one row per product offered to anyone, with its flags and their drivers."""
    report = {"customers": len(people), "attributes": {}}
    for attribute in attributes:
        sizes = _sizes(people, attribute)
        rows = [_row(people, product_id, products[product_id], attribute, sizes, min_group, min_offers)
                for product_id in sorted(products) if any(product_id in person.offered for person in people)]
        report["attributes"][attribute] = {"groups": sizes, "rows": rows}
    _judge_gaps(people, products, report["attributes"])
    flags = [flag for block in report["attributes"].values() for row in block["rows"] for flag in row["flags"]]
    report["flags"] = len(flags)
    report["kinds"] = {kind: sum(flag["kind"] == kind for flag in flags) for kind in KINDS}
    return report


def _judge_gaps(people: Sequence[Subject], products: Mapping[str, Mapping], blocks: Mapping[str, Mapping]) -> None:
    """Flag the gaps under four-fifths that stay significant across all of them (Benjamini-Hochberg q < ALPHA: with
    hundreds of comparisons some would pass p < ALPHA by chance); list the rest as not significant."""
    gaps = [(attribute, row, gap) for attribute, block in blocks.items() for row in block["rows"]
            for gap in row.pop("below", [])]
    if not gaps:
        return
    q_values = false_discovery_control([gap["p"] for _, _, gap in gaps])
    for (attribute, row, gap), q_value in zip(gaps, q_values, strict=True):
        gap = {**gap, "p": round(gap["p"], 4), "q": round(float(q_value), 4)}
        if q_value < ALPHA:
            product_id = row["product_id"]
            row["flags"].append({**gap, **drivers(people, product_id, products[product_id], attribute,
                                                  gap["group"], row["top"])})
        else:
            row["not_significant"].append(gap)


def _sizes(people: Sequence[Subject], attribute: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for person in people:
        sizes[person.groups[attribute]] = sizes.get(person.groups[attribute], 0) + 1
    return dict(sorted(sizes.items()))


def _row(people, product_id: str, product: Mapping, attribute: str, sizes: Mapping[str, int], min_group: int,
         min_offers: int) -> dict:
    """The product's rates per group and its gaps under four-fifths (`below`, judged across rows later)."""
    rates = selection_rates(people, product_id, attribute)
    judged = {group: rate for group, rate in rates.items() if sizes[group] >= min_group}
    row = {"product_id": product_id, "name": product.get("name", product_id), "rates": rates,
           "top": None, "ratio": None, "flags": [], "not_significant": []}
    if not judged or max(judged.values()) == 0:
        return row
    top = max(judged, key=lambda group: (judged[group], group))
    row["top"], row["ratio"] = top, round(min(judged.values()) / judged[top], 4)
    if round(judged[top] * sizes[top]) < min_offers:
        row["too_rare"] = True
        return row
    row["below"] = [{"group": group, "ratio": round(rate / judged[top], 4),
                     "p": gap_p_value(round(rate * sizes[group]), sizes[group], round(judged[top] * sizes[top]),
                                      sizes[top])}
                    for group, rate in sorted(judged.items()) if rate / judged[top] < FOUR_FIFTHS]
    return row


def gap_p_value(offered_low: int, size_low: int, offered_top: int, size_top: int) -> float:
    """Fisher's exact test (one-sided) that `low` is offered the product less often than `top` by chance."""
    table = [[offered_low, size_low - offered_low], [offered_top, size_top - offered_top]]
    return float(fisher_exact(table, alternative="less").pvalue)


# ----- what drives a gap (pure) -----


def drivers(people: Sequence[Subject], product_id: str, product: Mapping, attribute: str, low: str,
            top: str) -> dict:
    """Why `low` is offered the product less than `top`: the rules it fails more often, then the ranking traits.

    The gap splits into eligibility (the share eligible, low / top) times ranking (the share offered among the
    eligible, low / top); a part at or above FOUR_FIFTHS does not explain the gap.
    """
    low_people = [p for p in people if p.groups[attribute] == low]
    top_people = [p for p in people if p.groups[attribute] == top]
    eligible_low, eligible_top = (_eligible_share(group, product_id) for group in (low_people, top_people))
    eligibility_ratio = eligible_low / eligible_top if eligible_top else 1.0
    rules = _rule_gaps(low_people, top_people, product_id, product)
    among_low, among_top = (_offered_among_eligible(group, product_id) for group in (low_people, top_people))
    # with nobody in a group eligible there is no ranking gap to measure: the rules explain it all
    ranking_ratio = among_low / among_top if among_top and among_low is not None else 1.0
    traits = _trait_gaps(low_people, top_people, product_id) if ranking_ratio < FOUR_FIFTHS else []
    if attribute == "age_band" and _age_gate_ratio(low_people, top_people, product_id) < FOUR_FIFTHS:
        kind = "age_restricted"  # the product's own age limits alone put the band under four-fifths
    elif ranking_ratio >= FOUR_FIFTHS:
        kind = "eligibility"
    elif eligibility_ratio >= FOUR_FIFTHS or not rules:
        kind = "ranking"
    else:
        kind = "eligibility and ranking"
    return {"kind": kind, "eligible": [round(eligible_low, 4), round(eligible_top, 4)],
            "offered_if_eligible": [_rounded(among_low), _rounded(among_top)],
            "rules": [{"rule": rule, "limit": limit, "fails": [round(a, 4), round(b, 4)]}
                      for rule, limit, a, b in rules],
            "traits": [{"trait": key, "share": [round(a, 4), round(b, 4)], "offered_with": round(w, 4),
                        "offered_without": round(wo, 4)} for key, a, b, w, wo in traits],
            "driver": _driver_text(kind, rules, traits)}


def _age_gate_ratio(low: Sequence[Subject], top: Sequence[Subject], product_id: str) -> float:
    """The share of `low` within the product's age limits over the share of `top`."""
    def within(group):
        return sum(not AGE_RULES & set(p.blocked.get(product_id, ())) for p in group) / len(group) if group else 0.0

    return within(low) / within(top) if within(top) else 1.0


def _eligible_share(group: Sequence[Subject], product_id: str) -> float:
    return sum(product_id not in p.blocked for p in group) / len(group) if group else 0.0


def _offered_among_eligible(group: Sequence[Subject], product_id: str) -> float | None:
    eligible = [p for p in group if product_id not in p.blocked]
    return sum(product_id in p.offered for p in eligible) / len(eligible) if eligible else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _rule_gaps(low: Sequence[Subject], top: Sequence[Subject], product_id: str, product: Mapping) -> list[tuple]:
    """(rule, its limit, share of `low` failing it, share of `top`), for rules `low` fails RULE_GAP more often."""
    limits = product.get("eligibility") or {}

    def failing(group, rule):
        return sum(rule in p.blocked.get(product_id, ()) for p in group) / len(group) if group else 0.0

    rules = sorted({rule for p in [*low, *top] for rule in p.blocked.get(product_id, ())})
    gaps = [(rule, limits.get(rule), failing(low, rule), failing(top, rule)) for rule in rules]
    return sorted([gap for gap in gaps if gap[2] - gap[3] >= RULE_GAP], key=lambda gap: gap[3] - gap[2])


def _trait_gaps(low: Sequence[Subject], top: Sequence[Subject], product_id: str, keep: int = 2) -> list[tuple]:
    """The ranking traits behind a gap among eligible customers: (trait, share in low, share in top, offered rate
    with it, without it), those the top group shows more often and that go with being offered, biggest first."""
    low = [p for p in low if product_id not in p.blocked]
    top = [p for p in top if product_id not in p.blocked]
    both = [*low, *top]
    if not low or not top:
        return []
    found = []
    for key in sorted({key for p in both for key in p.traits}):
        with_it = [product_id in p.offered for p in both if key in p.traits]
        without = [product_id in p.offered for p in both if key not in p.traits]
        if not with_it or not without:
            continue
        share_low, share_top = (sum(key in p.traits for p in group) / len(group) for group in (low, top))
        rate_with, rate_without = sum(with_it) / len(with_it), sum(without) / len(without)
        weight = (share_top - share_low) * (rate_with - rate_without)
        if weight > 0 and abs(share_top - share_low) >= RULE_GAP:
            found.append((weight, key, share_low, share_top, rate_with, rate_without))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [item[1:] for item in found[:keep]]


def _driver_text(kind: str, rules: Sequence[tuple], traits: Sequence[tuple]) -> str:
    parts = [f"{rule}{'' if limit is None or limit is True else ' ' + _limit(limit)} fails {a:.0%} vs {b:.0%}"
             for rule, limit, a, b in rules]
    parts += [f"{trait_label(key)} {a:.0%} vs {b:.0%} (offered {w:.0%} with, {wo:.0%} without)"
              for key, a, b, w, wo in traits]
    prefix = "age-restricted by design" if kind == "age_restricted" else kind
    return f"{prefix}: " + ("; ".join(parts) or "no single rule or trait stands out")


def trait_label(key: str) -> str:
    """A lookalike trait key in words where its value is a band's lower end: "age:26" -> "age 26-35"."""
    name, _, value = key.partition(":")
    bands = {"age": AGE_TRAIT_BANDS, "income": INCOME_BANDS}.get(name)
    if bands is None:
        return key
    low, high = next((low, high) for low, high in bands if str(low) == value)
    return f"{name} {low:,}+" if high in (float("inf"), 200) else f"{name} {low:,}-{high:,}"


def _limit(limit) -> str:
    return ",".join(limit) if isinstance(limit, list) else f"{limit:g}"


# ----- running and the report -----


def evaluate_on_demo_bank(settings, k: int = TOP_K, progress: Progress | None = None) -> dict:
    """Build (or reuse, when `settings.data_dir` already holds live data) the demo bank and assess it."""
    from assistant.request_eval import demo_runtime

    with demo_runtime(settings, progress) as runtime:
        ctx = runtime.ctx
        ids = sorted(doc["_id"] for doc in ctx.store["customers"].find({}, {"_id": 1}))
        report = assess(subjects(ctx, ids, k, progress), ctx.products)
    return {**report, "k": k}


def format_report(report: Mapping) -> str:
    lines = [f"{report['customers']} customers, top {report.get('k', TOP_K)} offers each; {report['flags']} flags "
             f"(ratio < {FOUR_FIFTHS}, q < {ALPHA}): " + ", ".join(f"{n} {kind}" for kind, n in report["kinds"].items())]
    width = max([8, *(len(row["product_id"]) + 1 for block in report["attributes"].values() for row in block["rows"])])
    for attribute, block in report["attributes"].items():
        groups = list(block["groups"])
        lines += ["", f"{attribute}: " + ", ".join(f"{g} n={n}" for g, n in block["groups"].items()),
                  f"{'product':<{width}}" + "".join(f"{g[:10]:>11}" for g in groups) + f"{'ratio':>7}  flag / driver"]
        for row in block["rows"]:
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
            head = f"{row['product_id']:<{width}}" + "".join(f"{row['rates'].get(g, 0):>11.1%}" for g in groups) + f"{ratio:>7}"
            notes = [f"{flag['group']} {flag['ratio']:.2f} (q={flag['q']:.3f}) {flag['driver']}" for flag in row["flags"]]
            notes += [f"{below['group']} {below['ratio']:.2f} (q={below['q']:.2f}, not significant)"
                      for below in row["not_significant"]]
            if row.get("too_rare"):
                notes = ["too rarely offered to judge"]
            lines.append(head + ("  " + notes[0] if notes else ""))
            lines += [" " * len(head) + "  " + note for note in notes[1:]]
    return "\n".join(lines)
