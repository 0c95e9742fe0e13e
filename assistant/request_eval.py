"""`fargo eval requests`: does the answer fit what was asked? Replays a labelled set of customer requests.

The set ships in `assistant/evaluation_data/requests/*.jsonl` (one case per
line: the customer's turns, a customer profile, the products that answer the
last turn, the products out of place there, the hard constraints it states,
and for follow-ups what the answer must do). Each case runs through the real
engine, as the profile's customer through the widget's role, on a synthetic
demo bank. The report gives, per split and per kind of case:

- hit@3: a fitting product among the first three shown; top-1: the first one fits;
- constraint violations: shown products breaking a constraint the case states
  (checked here from the catalogue's terms, independently of the tools), apart
  from those the answer itself presents as the closest to a constraint nothing
  met ("closest": counted on their own);
- out of place: answers showing a product the case lists as out of place;
- duplicates: answers showing one product twice;
- reasons tied: the share of shown reasons that tie to the request (the
  "fits what you asked" reason), the product's purpose for this customer
  (a yearly value from their own figures) or a goal they told us;
- follow-ups: "why the third one?" explains that one only, "compare the first
  two" shows those two, "something else" shows nothing shown before.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from assistant.callers import Caller, Role

DATA_DIR = Path(__file__).parent / "evaluation_data"
CASES_DIR = DATA_DIR / "requests"
PROFILES_PATH = DATA_DIR / "profiles.json"
SPLITS = ("dev", "test")
KINDS = ("need", "category", "constraint", "relative", "life_event", "care", "business", "followup")
HIT_K = 3
RISK_ORDER = ("none", "low", "medium", "high")
CLOSEST = "Closest to what you asked"
TIED_MARKERS = ("It fits what you asked", "It is close to what you asked", CLOSEST, "You told us", " a year")

Progress = Callable[[str], None]


class CaseError(ValueError):
    """A case file line that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class Case:
    id: str
    split: str
    profile: str
    kinds: tuple[str, ...]
    turns: tuple[str, ...]
    fits: tuple[str, ...] = ()
    out_of_place: tuple[str, ...] = ()
    constraints: Mapping = field(default_factory=dict)
    followup: Mapping = field(default_factory=dict)
    relative: Mapping = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    shown: list[str]
    reasons: list[list[str]]
    intent: str
    hit: bool | None
    top1: bool | None
    violations: list[str]
    out_of_place: list[str]
    duplicates: list[str]
    followup_ok: bool | None
    previous: list[str] = field(default_factory=list)
    declared: int = 0  # products shown as the closest to a constraint none met, said so in their first reason

    @property
    def reasons_tied(self) -> tuple[int, int]:
        flat = [reason for reasons in self.reasons for reason in reasons]
        return sum(any(marker in reason for marker in TIED_MARKERS) for reason in flat), len(flat)


def load_cases(directory: Path = CASES_DIR, profiles: Iterable[str] | None = None) -> list[Case]:
    """Every case under `directory`, in file then line order; a bad line raises CaseError naming it."""
    known = set(profiles) if profiles is not None else set(load_profiles())
    cases, seen = [], set()
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            case = _case(json.loads(line), f"{path.name}:{number}", known)
            if case.id in seen:
                raise CaseError(f"{path.name}:{number}: id {case.id!r} is used twice")
            seen.add(case.id)
            cases.append(case)
    return cases


def _case(data: Mapping, where: str, profiles: set[str]) -> Case:
    for name in ("id", "split", "profile", "turns"):
        if not data.get(name):
            raise CaseError(f"{where}: {name} is missing")
    if data["split"] not in SPLITS:
        raise CaseError(f"{where}: split must be dev or test")
    if data["profile"] not in profiles:
        raise CaseError(f"{where}: unknown profile {data['profile']!r}")
    return Case(id=data["id"], split=data["split"], profile=data["profile"], kinds=tuple(data.get("kinds") or ()),
                turns=tuple(data["turns"]), fits=tuple(data.get("fits") or ()),
                out_of_place=tuple(data.get("out_of_place") or ()), constraints=data.get("constraints") or {},
                followup=data.get("followup") or {}, relative=data.get("relative") or {})


def load_profiles(path: Path = PROFILES_PATH) -> dict[str, dict]:
    return json.loads(path.read_text(encoding="utf-8"))


# ----- choosing a customer per profile -----


def profile_customers(store, profiles: Mapping[str, Mapping], as_of: date) -> dict[str, str]:
    """The first customer (by id) who fits each profile, allows profiling and has verified identity (without it
    most products are closed to them); a profile nobody fits is left out."""
    children = {doc["customer_id"] for doc in store["relationships"].find({"relation": "child"})}
    verified = {doc["customer_id"] for doc in store["kyc_documents"].find({"status": "verified"})}
    chosen: dict[str, str] = {}
    for customer in sorted(store["customers"].find({}), key=lambda doc: doc["_id"]):
        if not (customer.get("consent") or {}).get("profiling", True) or customer["_id"] not in verified:
            continue
        for name, profile in profiles.items():
            if name not in chosen and _fits_profile(customer, profile, as_of, customer["_id"] in children):
                chosen[name] = customer["_id"]
    return chosen


def _fits_profile(customer: Mapping, profile: Mapping, as_of: date, has_children: bool) -> bool:
    born = date.fromisoformat(str(customer["date_of_birth"])[:10])
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    low, high = profile.get("age", (0, 200))
    income_low, income_high = profile.get("income", (0, float("inf")))
    occupation = customer.get("occupation", "")
    return (low <= age <= high and income_low <= customer.get("annual_income", 0) <= income_high
            and ("marital_status" not in profile or customer.get("marital_status") in profile["marital_status"])
            and ("children_on_file" not in profile or profile["children_on_file"] == has_children)
            and ("occupation" not in profile or occupation in profile["occupation"])
            and occupation not in profile.get("occupation_not", ()))


# ----- checks on one answer (pure) -----


def constraint_violations(product: Mapping, constraints: Mapping) -> list[str]:
    """The case's constraints `product` breaks, read from the catalogue's terms."""
    terms, category = product.get("terms") or {}, product.get("category")
    broken = []
    if "max_annual_fee" in constraints and (terms.get("annual_fee") or 0) > constraints["max_annual_fee"]:
        broken.append("annual fee")
    if "max_monthly_fee" in constraints and (terms.get("monthly_fee") or 0) > constraints["max_monthly_fee"]:
        broken.append("monthly fee")
    if "rate_type" in constraints and terms.get("rate_type") != constraints["rate_type"]:
        broken.append("rate type")
    if "max_risk" in constraints and terms.get("risk_level") in RISK_ORDER and (
            RISK_ORDER.index(terms["risk_level"]) > RISK_ORDER.index(constraints["max_risk"])):
        broken.append("risk")
    if "category" in constraints and category != constraints["category"]:
        broken.append("category")
    if "term_months" in constraints and category in ("loan", "mortgage") and terms.get("term_months") and (
            terms["term_months"] < constraints["term_months"]):
        broken.append("term")
    return broken


def duplicates(shown: Sequence[str]) -> list[str]:
    counts = Counter(shown)
    return sorted(product for product, count in counts.items() if count > 1)


def followup_ok(case: Case, previous: Sequence[str], shown: Sequence[str], explained: Sequence[str],
                catalogue: Mapping[str, Mapping] | None = None) -> bool | None:
    """Whether a follow-up did what it says; None for a case that is not one of the structural kinds."""
    kind = case.followup.get("kind")
    if kind == "payment":  # the loans shown, each with a rate and a term to work a payment out on
        terms = [((catalogue or {}).get(product, {}).get("terms") or {}) for product in shown]
        return bool(shown) and set(shown) <= set(previous) and all(
            t.get("apr") is not None and t.get("term_months") for t in terms)
    if kind == "rate":  # the same products, by APY highest first ("earn") or APR lowest first ("borrow")
        field, sign = ("apy", -1) if case.followup.get("rate") == "earn" else ("apr", 1)
        rates = [sign * rate for product in shown
                 if (rate := ((catalogue or {}).get(product, {}).get("terms") or {}).get(field)) is not None]
        return bool(previous) and sorted(shown) == sorted(previous) and bool(rates) and rates == sorted(rates)
    if kind == "why_one":
        position = int(case.followup.get("position", 1))
        wanted = previous[position - 1] if 0 < position <= len(previous) else None
        return wanted is not None and list(explained) == [wanted]
    if kind == "compare":
        positions = case.followup.get("positions") or [1, 2]
        wanted = [previous[p - 1] for p in positions if 0 < p <= len(previous)]
        return len(wanted) == len(positions) and list(shown) == wanted
    if kind == "something_else":
        return bool(shown) and not set(shown) & set(previous)
    return None


def judge(case: Case, catalogue: Mapping[str, Mapping], shown: list[str], reasons: list[list[str]], intent: str,
          previous: list[str], explained: list[str]) -> Outcome:
    structural = case.followup.get("kind") in ("why_one", "compare", "rate", "payment")
    labelled = bool(case.fits) and not structural
    # a product the answer itself presents as falling short ("Closest to what you asked, but it has ...") is
    # counted apart from a silent violation
    declared = [bool(reasons) and reasons[0].startswith(CLOSEST) for reasons in reasons] + [False] * len(shown)
    top = shown[:HIT_K]
    return Outcome(
        case=case, shown=shown, reasons=reasons, intent=intent,
        hit=any(product in case.fits for product in top) if labelled else None,
        top1=bool(shown) and shown[0] in case.fits if labelled else None,
        violations=[f"{product}: {', '.join(broken)}" for product, said in zip(shown, declared, strict=False)
                    if not said and (broken := constraint_violations(catalogue.get(product, {}), case.constraints))]
        if not structural else [],
        declared=sum(declared) if not structural else 0,
        out_of_place=[product for product in shown if product in case.out_of_place],
        duplicates=duplicates(shown),
        followup_ok=followup_ok(case, previous, shown, explained, catalogue),
        previous=previous,
    )


# ----- running -----


def run_case(engine, case: Case, customer_id: str, catalogue: Mapping[str, Mapping]) -> Outcome:
    caller = Caller(role=Role.customer, customer_id=customer_id)
    session_id, previous, result = None, [], None
    for turn in case.turns:
        if result is not None:
            previous = _shown(result)
        result = engine.turn(caller, turn, session_id=session_id)
        session_id = result.session_id
    shown = _shown(result)
    explained = [rec["product_id"] for rec in result.explanation["recommendations"]]
    reasons = [list(rec.get("reasons") or ()) for rec in result.recommendations]
    return judge(case, catalogue, shown, reasons, result.intent, previous, explained)


def _shown(result) -> list[str]:
    products = [rec["product_id"] for rec in result.recommendations]
    return products or [hit["product_id"] for hit in result.explanation.get("hits") or () if hit.get("product_id")]


def evaluate_requests(engine, store, catalogue: Mapping[str, Mapping], as_of: date, cases: Sequence[Case],
                      progress: Progress | None = None) -> list[Outcome]:
    customers = profile_customers(store, load_profiles(), as_of)
    outcomes = []
    for number, case in enumerate(cases, start=1):
        if case.profile not in customers:
            raise CaseError(f"no customer in this bank fits profile {case.profile!r} (case {case.id})")
        outcomes.append(run_case(engine, case, customers[case.profile], catalogue))
        if progress and number % 50 == 0:
            progress(f"{number}/{len(cases)} cases")
    return outcomes


def evaluate_on_demo_bank(settings, split: str | None, progress: Progress | None = None,
                          cases_dir: Path = CASES_DIR) -> dict:
    """Build (or reuse, when `settings.data_dir` already holds live data) the demo bank and run the cases."""
    cases = [case for case in load_cases(cases_dir) if split in (None, "all", case.split)]
    with demo_runtime(settings, progress) as runtime:
        outcomes = evaluate_requests(runtime.engine, runtime.store, runtime.ctx.products, runtime.ctx.as_of, cases,
                                     progress)
        training = runtime.engine.classifier.metadata.get("training_data") or {}
    return {**summarise(outcomes), "intent_training": training}


@contextmanager
def demo_runtime(settings, progress: Progress | None = None) -> Iterator:
    """A Runtime on the bank in `settings.data_dir`; a data dir with no live data gets the demo bank (in demo mode),
    written and ingested. One that has live data (another bank imported and ingested there) is used as it is."""
    from assistant.cli import ensure_demo_bank, needs_first_ingest
    from assistant.runtime import Runtime
    from assistant.worker import run_ingest_now

    if needs_first_ingest(settings):
        ensure_demo_bank(settings)
        if progress:
            progress("ingesting the demo bank")
        run_ingest_now(settings, mode="full")
    with Runtime.open(settings) as runtime:
        yield runtime


@contextmanager
def eval_settings(settings, reuse: bool) -> Iterator:
    """`settings` as they are with `reuse`; else pointed at a fresh data dir in demo mode, for a run that must not
    touch the live one, and the dir (its demo bank, about 36 MB) removed after."""
    if reuse:
        yield settings
        return
    directory = Path(tempfile.mkdtemp(prefix="fargo-eval-"))
    try:
        yield settings.model_copy(update={"data_dir": directory, "source_dir": None, "mongodb_uri": None})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ----- the report -----


def summarise(outcomes: Sequence[Outcome]) -> dict:
    report = {"all": _figures(outcomes)}
    for split in SPLITS:
        report[split] = _figures([o for o in outcomes if o.case.split == split])
    by_kind = defaultdict(list)
    for outcome in outcomes:
        for kind in outcome.case.kinds:
            by_kind[kind].append(outcome)
    report["kinds"] = {kind: _figures(items) for kind, items in sorted(by_kind.items())}
    report["failures"] = [_failure(o) for o in outcomes if o.hit is False or o.violations or o.out_of_place
                          or o.duplicates or o.followup_ok is False]
    return report


def _figures(outcomes: Sequence[Outcome]) -> dict:
    labelled = [o for o in outcomes if o.hit is not None]
    structural = [o for o in outcomes if o.followup_ok is not None]
    tied = [o.reasons_tied for o in outcomes]
    reasons = sum(total for _, total in tied)
    return {
        "cases": len(outcomes),
        "hit@3": _share(sum(o.hit for o in labelled), len(labelled)),
        "top1": _share(sum(o.top1 for o in labelled), len(labelled)),
        "constraint_violations": sum(len(o.violations) for o in outcomes),
        "declared_closest": sum(o.declared for o in outcomes),
        "out_of_place_answers": _share(sum(bool(o.out_of_place) for o in outcomes), len(outcomes)),
        "duplicate_answers": sum(bool(o.duplicates) for o in outcomes),
        "reasons_tied": _share(sum(t for t, _ in tied), reasons),
        "followups_ok": _share(sum(bool(o.followup_ok) for o in structural), len(structural)),
        "empty_answers": sum(not o.shown for o in outcomes),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _failure(outcome: Outcome) -> dict:
    return {"id": outcome.case.id, "turns": list(outcome.case.turns), "intent": outcome.intent,
            "shown": outcome.shown, "fits": list(outcome.case.fits), "violations": outcome.violations,
            "out_of_place": outcome.out_of_place, "duplicates": outcome.duplicates,
            "followup_ok": outcome.followup_ok}


def format_report(report: Mapping) -> str:
    lines = [(f"{'':18}{'cases':>6}{'hit@3':>8}{'top-1':>8}{'viol.':>7}{'closest':>8}{'misfit':>8}{'dupl.':>6}"
              f"{'tied':>7}{'follow':>8}{'empty':>6}")]
    rows = [(name, report[name]) for name in ("all", *SPLITS)] + list(report["kinds"].items())
    for name, figures in rows:
        lines.append(f"{name:18}{figures['cases']:>6}{_pct(figures['hit@3']):>8}{_pct(figures['top1']):>8}"
                     f"{figures['constraint_violations']:>7}{figures['declared_closest']:>8}"
                     f"{_pct(figures['out_of_place_answers']):>8}"
                     f"{figures['duplicate_answers']:>6}{_pct(figures['reasons_tied']):>7}"
                     f"{_pct(figures['followups_ok']):>8}{figures['empty_answers']:>6}")
    if "intent_training" in report:
        lines.append(_intent_training(report["intent_training"]))
    return "\n".join(lines)


def _intent_training(training: Mapping) -> str:
    """Which examples the intent model learnt from: figures from models trained on different examples differ."""
    from assistant.intents.public_examples import PUBLIC_DATASETS_ROOT

    public = training.get("public_examples", 0)
    line = f"intent model: trained on the {training.get('source', 'shipped')} set and {public:,} public examples"
    if not public:
        line += (f" (no public datasets at {PUBLIC_DATASETS_ROOT}: compare only with runs that had none either)")
    return line


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
