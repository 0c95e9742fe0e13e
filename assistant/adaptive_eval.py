"""`fargo eval adaptive`: does adaptive ranking find what customers take up sooner than the static ranker?

A simulation on the synthetic bank. Every round each simulated customer is shown K offers by each policy, each
policy with its own copy of the customers:
- static: the tool's order (what Fargo does today);
- adaptive: the same candidates re-ranked by `AcceptanceModel.rerank` (as served: each customer's context from
  their feature document, their own offers so far) on what this policy's customers took up in the rounds before
  (learning happens between rounds, as the worker's does between its passes);
- random: K of the candidates, uniformly;
- oracle: the candidates serving a hidden need first: the ceiling no ranker can pass, which shows how much of the
  possible gain the adaptive one finds.
A customer takes up each offer with a chance set by the hidden needs the generator gave them
(`ground_truth/hidden_needs.jsonl`, read here only, never by serving): P_TARGET for a product serving one of
their needs, P_OTHER for any other. A product taken up is theirs from then on and leaves their candidates. The
candidates are the static tool's top POOL products for the customer (eligible, not held), as for an adaptive
answer in the service.

Off-policy: from the random policy's log, where each candidate was shown with chance K / candidates, an
inverse-propensity estimate of the acceptance of the static ranker and of the adaptive model as it ended,
beside their true expected acceptance on the same logged customers (known here from the hidden chances).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.adaptive import (
    POOL,
    AcceptanceModel,
    Counts,
    customer_context,
    offer_row,
    taken_context,
)
from ingest.synth.bank import GROUND_TRUTH_DIR, HIDDEN_NEEDS_FILE
from tools.personal import recommend_personal

P_TARGET = 0.30
P_OTHER = 0.02
POLICIES = ("static", "adaptive", "random", "oracle")
GOAL = 1.3

Progress = Callable[[str], None]


@dataclass
class Customer:
    customer_id: str
    context: dict[str, float]  # what serving knows of them (`customer_context`)
    candidates: list  # Recommendations in the static tool's order
    wants: frozenset[str]

    def chance(self, product_id: str) -> float:
        return P_TARGET if product_id in self.wants else P_OTHER


@dataclass
class Arm:
    name: str
    model: AcceptanceModel = field(default_factory=AcceptanceModel)
    taken: dict[str, set[str]] = field(default_factory=dict)
    history: dict[str, dict[str, Counts]] = field(default_factory=dict)  # customer -> product -> their offers
    rows: dict[tuple[str, str], dict] = field(default_factory=dict)  # (customer, product) -> features last shown
    shown: list[int] = field(default_factory=list)  # per round
    accepted: list[int] = field(default_factory=list)

    def open_to(self, customer: Customer) -> list:
        held = self.taken.setdefault(customer.customer_id, set())
        return [rec for rec in customer.candidates if rec.product_id not in held]


def hidden_wants(bank_dir: Path | None) -> dict[str, frozenset[str]]:
    path = Path(bank_dir or ".") / GROUND_TRUTH_DIR / HIDDEN_NEEDS_FILE
    if bank_dir is None or not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the simulation needs the synthetic bank's hidden needs")
    with path.open() as lines:
        return {row["customer_id"]: frozenset(row["target_products"]) for row in map(json.loads, lines)}


def simulated_customers(ctx, wants: Mapping[str, frozenset[str]], count: int, seed: int,
                        progress: Progress | None = None) -> list[Customer]:
    ids = sorted(customer_id for customer_id in wants if ctx.features(customer_id) is not None)
    chosen = sorted(np.random.default_rng(seed).choice(ids, size=min(count, len(ids)), replace=False))
    customers = []
    for number, customer_id in enumerate(chosen, 1):
        if progress and number % 100 == 0:
            progress(f"ranked candidates for {number} of {len(chosen)} customers")
        candidates = recommend_personal(ctx, customer_id, k=POOL)
        if candidates:
            customers.append(Customer(customer_id, customer_context(ctx.features(customer_id)), candidates,
                                      wants[customer_id]))
    return customers


def _slate(arm: Arm, customer: Customer, k: int, rng: np.random.Generator) -> list[str]:
    open_ = arm.open_to(customer)
    if arm.name == "static":
        return [rec.product_id for rec in open_[:k]]
    if arm.name == "oracle":
        return [rec.product_id for rec in sorted(open_, key=lambda rec: rec.product_id not in customer.wants)[:k]]
    if arm.name == "random":
        picked = rng.choice(len(open_), size=min(k, len(open_)), replace=False)
        return [open_[index].product_id for index in picked]
    history = arm.history.get(customer.customer_id, {})
    context = customer.context | taken_context(history)
    ranked = arm.model.rerank([_copy(rec) for rec in open_], context, rng, history)[:k]
    for rec in ranked:
        arm.rows[(customer.customer_id, rec.product_id)] = offer_row(rec.to_dict(), context)
    return [rec.product_id for rec in ranked]


def _coin(seed: int, round_: int, customer_id: str, product_id: str) -> float:
    """The customer's mood for the product this round, the same whichever policy shows it (common random numbers:
    the policies differ by what they show, not by luck, so their ratio is measured with far less noise)."""
    key = [seed, round_, zlib.crc32(customer_id.encode()), zlib.crc32(product_id.encode())]
    return float(np.random.default_rng(key).random())


def _copy(rec):
    from dataclasses import replace

    return replace(rec, components=dict(rec.components))


@dataclass
class Logged:
    customer: Customer
    open_ids: list[str]
    shown: list[str]
    accepted: set[str]
    context: dict[str, float]  # the customer's, with what they had taken up before this round


def simulate(customers: Sequence[Customer], rounds: int, k: int, seed: int,
             model: Callable[[], AcceptanceModel] = AcceptanceModel) -> tuple[dict[str, Arm], list[Logged]]:
    # each policy draws (its picks, its exploration) from its own stream; take-ups come from `_coin`, shared by all
    rngs = {name: np.random.default_rng([seed, number]) for number, name in enumerate(POLICIES)}
    arms = {name: Arm(name, model()) for name in POLICIES}
    log: list[Logged] = []
    for round_ in range(rounds):
        for arm in arms.values():
            rng = rngs[arm.name]
            shown = accepted = 0
            seen: list[tuple[Customer, str, bool]] = []
            for customer in customers:
                open_ids = [rec.product_id for rec in arm.open_to(customer)]
                slate = _slate(arm, customer, k, rng)
                took = {product_id for product_id in slate
                        if _coin(seed, round_, customer.customer_id, product_id) < customer.chance(product_id)}
                arm.taken[customer.customer_id] |= took
                seen += [(customer, product_id, product_id in took) for product_id in slate]
                shown, accepted = shown + len(slate), accepted + len(took)
                if arm.name == "random" and slate:
                    log.append(Logged(customer, open_ids, slate, took, customer.context
                                      | taken_context(arm.history.get(customer.customer_id, {}))))
            if arm.name == "adaptive":  # between rounds, as the worker learns between passes
                arm.model.fold([arm.rows[(customer.customer_id, product_id)] for customer, product_id, _ in seen],
                               [took for _, _, took in seen])
            for customer, product_id, took in seen:
                theirs = arm.history.setdefault(customer.customer_id, {}).setdefault(product_id, Counts())
                theirs.offered += 1
                theirs.accepted += took
            arm.shown.append(shown)
            arm.accepted.append(accepted)
    return arms, log


def off_policy(log: Sequence[Logged], k: int, final: AcceptanceModel) -> dict[str, dict]:
    """Inverse-propensity estimates from the random policy's log, beside the true expected acceptance."""
    policies = {
        "static": lambda entry: entry.open_ids[:k],
        "adaptive (learnt, by its mean)": lambda entry: [rec.product_id for rec in final.rerank(
            [_copy(rec) for rec in entry.customer.candidates if rec.product_id in entry.open_ids],
            entry.context, None)[:k]],
    }
    found = {}
    for name, policy in policies.items():
        estimate = truth = offers = 0.0
        for entry in log:
            picks = policy(entry)
            shown_chance = len(entry.shown) / len(entry.open_ids)
            estimate += sum((p in entry.accepted) / shown_chance for p in picks if p in entry.shown)
            truth += sum(entry.customer.chance(p) for p in picks)
            offers += len(picks)
        found[name] = {"ips": estimate / offers if offers else None, "true": truth / offers if offers else None}
    return found


def cumulative(arm: Arm) -> list[float]:
    shown, accepted = np.cumsum(arm.shown), np.cumsum(arm.accepted)
    return [float(a / s) if s else 0.0 for a, s in zip(accepted, shown, strict=True)]


def evaluate(ctx, bank_dir: Path, customers: int, rounds: int, k: int, seeds: Sequence[int],
             progress: Progress | None = None) -> dict:
    wants = hidden_wants(bank_dir)
    runs = []
    for seed in seeds:
        people = simulated_customers(ctx, wants, customers, seed, progress)
        arms, log = simulate(people, rounds, k, seed)
        runs.append({"seed": seed, "customers": len(people),
                     "cumulative": {name: cumulative(arm) for name, arm in arms.items()},
                     "off_policy": off_policy(log, k, arms["adaptive"].model)})
        if progress:
            progress(f"seed {seed}: adaptive {runs[-1]['cumulative']['adaptive'][-1]:.3f}, "
                     f"static {runs[-1]['cumulative']['static'][-1]:.3f}")
    last = {name: float(np.mean([run["cumulative"][name][-1] for run in runs])) for name in POLICIES}
    return {"rounds": rounds, "k": k, "pool": POOL, "customers": customers, "seeds": list(seeds),
            "chances": {"need": P_TARGET, "other": P_OTHER}, "runs": runs, "last_round": last,
            "ratio": last["adaptive"] / last["static"] if last["static"] else None, "goal": GOAL}


def format_report(report: Mapping) -> str:
    setup = (f"{len(report['seeds'])} seeds x {report['customers']} customers x {report['rounds']} rounds, "
             f"{report['k']} offers each from the static tool's top {report['pool']}; a product serving a hidden "
             f"need taken up with chance {report['chances']['need']}, any other {report['chances']['other']}")
    lines = [setup,
             "", "cumulative acceptance (offers taken up / offers shown), mean over seeds:",
             "round " + "".join(f"{name:>10}" for name in POLICIES)]
    for index in range(report["rounds"]):
        values = [np.mean([run["cumulative"][name][index] for run in report["runs"]]) for name in POLICIES]
        lines.append(f"{index + 1:>5} " + "".join(f"{value:>10.3f}" for value in values))
    ratio = report["ratio"]
    last = report["last_round"]
    verdict = (f"by the last round: adaptive / static = {ratio:.2f} (goal >= {report['goal']}); "
               f"random / static = {last['random'] / last['static']:.2f}; "
               f"oracle / static = {last['oracle'] / last['static']:.2f} (the ceiling)")
    lines += ["", verdict,
              "", "off-policy, from the random policy's log (inverse propensity vs true expected acceptance):"]
    for run in report["runs"]:
        for name, figures in run["off_policy"].items():
            lines.append(f"  seed {run['seed']}  {name:<32} ips {figures['ips']:.3f}  true {figures['true']:.3f}")
    return "\n".join(lines)
