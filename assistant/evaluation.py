"""Offline evaluation of the recommendation tools. Reads ground truth; the serving path never imports it.

`evaluate_recommendations(settings, ...)` builds a synthetic bank, picks hold-outs among
the customers who opened an account in the last RECENT_DAYS, hides each hold-out
customer's most recently opened product (the account row, the transactions on that
account, and the bank-internal payments that start on its opening date), ingests that
copy into a throw-away data dir, runs the tools for the hold-outs and reports HR@3 and
NDCG@5 per tool against a popularity baseline and random, plus the hit rate against the
hidden needs' target products (`ground_truth/hidden_needs.jsonl`).

`evaluate_berka(source_dir, ...)` is a targeting task on the real Berka bank: rank
held-out clients by how likely they are to hold a credit card, and separately a loan,
from the per-client facts the importer writes; ROC AUC and precision at the top 10%
for random, a plain logistic regression and gradient boosting.

`format_report(report)` renders either report as text.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from random import Random

import numpy as np
import orjson

from retrieval.records import GROUND_TRUTH_DIR

# Hold-outs opened their latest account within the window the personal tool calls recent: "what they opened
# next" is a recent opening, not an account from years ago that merely happens to be their newest.
from tools.personal import RECENT_DAYS

HR_K = 3
NDCG_K = 5
TOP_SHARE = 0.10
# Payments the synthetic bank books from checking for a product of ours, starting on its
# opening date: left in, they would tell the tools what was hidden.
INTERNAL_MERCHANTS = {
    "insurance": "Fargo Insurance Services",
    "healthcare": "Fargo Insurance Services",
    "loan": "Fargo Bank Loan Payment",
    "mortgage": "Fargo Bank Mortgage",
    "deposit": "Transfer to Fargo Savings",
    "investment": "Fargo Investment Transfer",
    "retirement": "Fargo Investment Transfer",
}
FAMILY_RELATIONS = ("spouse", "parent", "child", "sibling")

Progress = Callable[[str], None]


# ----- metrics (pure) -----


def rank_of(item: str, ranked: Sequence[str]) -> int | None:
    """1-based position of `item` in `ranked`, None when absent."""
    for position, candidate in enumerate(ranked, start=1):
        if candidate == item:
            return position
    return None


def hit_at_k(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def ndcg_at_k(rank: int | None, k: int) -> float:
    """NDCG with one relevant item: 1/log2(rank + 1) inside the top k (the ideal DCG is 1)."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


def hit_rate(ranks: Iterable[int | None], k: int) -> float:
    values = [hit_at_k(rank, k) for rank in ranks]
    return sum(values) / len(values) if values else float("nan")


def mean_ndcg(ranks: Iterable[int | None], k: int) -> float:
    values = [ndcg_at_k(rank, k) for rank in ranks]
    return sum(values) / len(values) if values else float("nan")


def random_hit(candidates: int, relevant: int, k: int) -> float:
    """P(a uniformly random order of `candidates` puts any of `relevant` items in its top k)."""
    if candidates <= 0 or relevant <= 0:
        return 0.0
    shown = min(k, candidates)
    return 1.0 - math.comb(candidates - relevant, shown) / math.comb(candidates, shown)


def random_ndcg(candidates: int, k: int) -> float:
    """Expected NDCG@k of one relevant item among `candidates` in uniformly random order."""
    if candidates <= 0:
        return 0.0
    return sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, candidates) + 1)) / candidates


def precision_at_share(labels: Sequence[int], scores: Sequence[float], share: float = TOP_SHARE) -> float:
    """Share of positives among the ceil(share x n) highest scores (ties broken by input order)."""
    count = max(1, math.ceil(share * len(labels)))
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:count]
    return float(np.asarray(labels)[order].mean())


# ----- the hold-out copy -----


@dataclass(frozen=True)
class HiddenAccount:
    customer_id: str
    account_id: str
    product_id: str
    category: str
    opened_at: str


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]


def choose_holdouts(accounts: Iterable[Mapping], categories: Mapping[str, str], count: int,
                    seed: int, opened_since: str = "") -> dict[str, HiddenAccount]:
    """`count` customers (seeded) holding two or more open accounts, the latest opened on or after
    `opened_since` (an ISO date; "" admits every date), each with that latest account."""
    by_customer: dict[str, list[Mapping]] = {}
    for account in accounts:
        if account.get("status", "open") == "open":
            by_customer.setdefault(account["customer_id"], []).append(account)
    latest = {cid: max(held, key=lambda a: (a["opened_at"], a["account_id"]))
              for cid, held in by_customer.items() if len(held) >= 2}
    eligible = sorted(cid for cid, account in latest.items() if str(account["opened_at"]) >= opened_since)
    chosen = Random(f"fargo-eval:{seed}").sample(eligible, min(count, len(eligible)))
    return {cid: HiddenAccount(cid, latest[cid]["account_id"], latest[cid]["product_id"],
                               categories[latest[cid]["product_id"]], latest[cid]["opened_at"])
            for cid in sorted(chosen)}


def write_holdout_copy(source_dir: Path, out_dir: Path, hidden: Mapping[str, HiddenAccount]) -> dict[str, int]:
    """Copy the bank's source files into `out_dir` without the hidden accounts; counts of what was removed.

    Card purchases on a hidden card move to the customer's oldest remaining account (they
    are spending the customer did, on some account); every other row on a hidden account
    is dropped, as are the bank-internal payments for the hidden product's category from
    its opening date on. The ground truth is not copied.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hidden_ids = {h.account_id for h in hidden.values()}
    kept_accounts = [a for a in read_jsonl(source_dir / "accounts.jsonl") if a["account_id"] not in hidden_ids]
    fallback = _oldest_accounts(kept_accounts)
    for path in source_dir.iterdir():
        if path.is_file() and path.name not in ("accounts.jsonl", "transactions.csv"):
            (out_dir / path.name).write_bytes(path.read_bytes())
    (out_dir / "accounts.jsonl").write_bytes(
        b"".join(orjson.dumps(a, option=orjson.OPT_APPEND_NEWLINE) for a in kept_accounts))
    removed = _copy_transactions(source_dir / "transactions.csv", out_dir / "transactions.csv", hidden, fallback)
    return {"accounts_removed": len(hidden_ids)} | removed


def _oldest_accounts(accounts: Iterable[Mapping]) -> dict[str, str]:
    oldest: dict[str, tuple[str, str]] = {}
    for account in accounts:
        key = (account["opened_at"], account["account_id"])
        if account["customer_id"] not in oldest or key < oldest[account["customer_id"]]:
            oldest[account["customer_id"]] = key
    return {cid: key[1] for cid, key in oldest.items()}


def _copy_transactions(source: Path, target: Path, hidden: Mapping[str, HiddenAccount],
                       fallback: Mapping[str, str]) -> dict[str, int]:
    counts = Counter({"transactions_dropped": 0, "transactions_moved": 0})
    with source.open(newline="") as inp, target.open("w", newline="") as out:
        reader = csv.DictReader(inp)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            action = _row_action(row, hidden.get(row["customer_id"]), fallback)
            if action != "kept":
                counts[f"transactions_{action}"] += 1
            if action == "moved":
                row["account_id"] = fallback[row["customer_id"]]
            if action != "dropped":
                writer.writerow(row)
    return dict(counts)


def _row_action(row: Mapping[str, str], hidden: HiddenAccount | None, fallback: Mapping[str, str]) -> str:
    if hidden is None:
        return "kept"
    if row["account_id"] == hidden.account_id:
        return "moved" if hidden.category == "card" and row["customer_id"] in fallback else "dropped"
    internal = INTERNAL_MERCHANTS.get(hidden.category)
    if internal and row["merchant"] == internal and row["date"] >= hidden.opened_at:
        return "dropped"
    return "kept"


# ----- scoring the tools -----


@dataclass
class Case:
    """One ranked list to score: the hidden product, what the person holds, the hidden-needs targets."""

    hidden: str
    held: frozenset[str]
    targets: frozenset[str]
    ranked: list[str]
    category: str = ""  # the hidden product's


@dataclass(frozen=True)
class Scores:
    cases: int
    hr_at_3: float
    ndcg_at_5: float
    needs_cases: int  # cases with a target product not yet held
    needs_hit_at_3: float

    def to_dict(self) -> dict:
        return asdict(self)


def score_cases(cases: Sequence[Case], ranking: Callable[[Case], list[str]]) -> Scores:
    ranks = [rank_of(case.hidden, ranking(case)) for case in cases]
    with_needs = [case for case in cases if case.targets - case.held]
    needs = [float(bool(set(ranking(case)[:HR_K]) & (case.targets - case.held))) for case in with_needs]
    return Scores(len(cases), hit_rate(ranks, HR_K), mean_ndcg(ranks, NDCG_K), len(with_needs),
                  sum(needs) / len(needs) if needs else float("nan"))


def random_scores(cases: Sequence[Case], scope: Sequence[str]) -> Scores:
    """The exact expectation of uniformly random orders of the products in `scope` not held."""
    hits, gains, needs = [], [], []
    for case in cases:
        candidates = [p for p in scope if p not in case.held]
        hits.append(random_hit(len(candidates), int(case.hidden in candidates), HR_K))
        gains.append(random_ndcg(len(candidates), NDCG_K) if case.hidden in candidates else 0.0)
        targets = case.targets - case.held
        if targets:
            needs.append(random_hit(len(candidates), len(targets & set(candidates)), HR_K))
    mean = lambda values: sum(values) / len(values) if values else float("nan")  # noqa: E731
    return Scores(len(cases), mean(hits), mean(gains), len(needs), mean(needs))


def popularity_ranking(popularity: Mapping[str, int], scope: Sequence[str]) -> Callable[[Case], list[str]]:
    order = sorted(scope, key=lambda p: (-popularity.get(p, 0), p))
    return lambda case: [p for p in order if p not in case.held][:NDCG_K]


def tool_block(cases: Sequence[Case], popularity: Mapping[str, int], scope: Sequence[str], note: str) -> dict:
    return {
        "note": note,
        "tool": score_cases(cases, lambda case: case.ranked).to_dict(),
        "popularity": score_cases(cases, popularity_ranking(popularity, scope)).to_dict(),
        "random": random_scores(cases, scope).to_dict(),
        "returned_nothing": sum(1 for case in cases if not case.ranked),
        "hr_at_3_by_category": _by_category(cases, popularity, scope),
    }


def _by_category(cases: Sequence[Case], popularity: Mapping[str, int], scope: Sequence[str]) -> dict:
    """category -> [cases, tool HR@3, popularity HR@3]: where the tool wins and loses."""
    popular = popularity_ranking(popularity, scope)
    table = {}
    for category in sorted({case.category for case in cases}):
        mine = [case for case in cases if case.category == category]
        table[category] = [len(mine), hit_rate([rank_of(c.hidden, c.ranked) for c in mine], HR_K),
                           hit_rate([rank_of(c.hidden, popular(c)) for c in mine], HR_K)]
    return table


def _product_ids(recommendations: Iterable, person: str | None = None) -> list[str]:
    ids = []
    for rec in recommendations:
        if (person is None or rec.for_person == person) and rec.product_id not in ids:
            ids.append(rec.product_id)
    return ids[:NDCG_K]


def _held(ctx, customer_id: str) -> frozenset[str]:
    return frozenset((ctx.features(customer_id) or {}).get("products_held") or ())


def personal_cases(ctx, hidden: Mapping[str, HiddenAccount], targets: Mapping[str, frozenset]) -> list[Case]:
    from tools.personal import recommend_personal

    return [Case(h.product_id, _held(ctx, cid), targets.get(cid, frozenset()),
                 _product_ids(recommend_personal(ctx, cid, k=NDCG_K)), h.category)
            for cid, h in hidden.items()]


def healthcare_cases(ctx, hidden: Mapping[str, HiddenAccount], targets: Mapping[str, frozenset]) -> list[Case]:
    from tools.healthcare import recommend_healthcare

    return [Case(h.product_id, _held(ctx, cid), targets.get(cid, frozenset()),
                 _product_ids(recommend_healthcare(ctx, cid, k=NDCG_K)), h.category)
            for cid, h in hidden.items() if h.category == "healthcare"]


def family_cases(ctx, hidden: Mapping[str, HiddenAccount], targets: Mapping[str, frozenset]) -> list[Case]:
    """Hold-outs who are the adult, customer relative of another customer: the tool asked from that side."""
    from tools.family import recommend_family

    cases = []
    for cid, h in hidden.items():
        asker = _asking_relative(ctx, cid)
        if asker is None:
            continue
        customer_id, relation = asker
        ranked = _product_ids(recommend_family(ctx, customer_id, relations=[relation], k=NDCG_K), person=cid)
        cases.append(Case(h.product_id, _held(ctx, cid), targets.get(cid, frozenset()), ranked, h.category))
    return cases


def _asking_relative(ctx, customer_id: str) -> tuple[str, str] | None:
    rows = ctx.store["relationships"].find({"relative_id": customer_id, "relative_is_customer": True})
    rows = [row for row in rows if row["relation"] in FAMILY_RELATIONS]
    if not rows:
        return None
    row = min(rows, key=lambda r: (FAMILY_RELATIONS.index(r["relation"]), r["relationship_id"]))
    return row["customer_id"], row["relation"]


def score_tools(ctx, hidden: Mapping[str, HiddenAccount], targets: Mapping[str, frozenset],
                popularity: Mapping[str, int]) -> dict:
    categories = {pid: product.get("category") for pid, product in ctx.products.items()}
    every = sorted(categories)
    healthcare = sorted(p for p, c in categories.items() if c == "healthcare")
    personal = personal_cases(ctx, hidden, targets)
    return {
        "personal": tool_block(personal, popularity, every,
                               "all hold-outs; healthcare products ranked without health data"),
        "personal_non_healthcare": tool_block(
            [case for case in personal if case.category != "healthcare"], popularity,
            sorted(set(every) - set(healthcare)),
            "hold-outs whose hidden product is not healthcare; baselines over non-healthcare products"),
        "healthcare": tool_block(healthcare_cases(ctx, hidden, targets), popularity, healthcare,
                                 "hold-outs whose hidden product is healthcare; baselines over healthcare products"),
        "family": tool_block(family_cases(ctx, hidden, targets), popularity, every,
                             "hold-outs who are an adult customer's relative; asked by that relative"),
    }


def goal_check(tools: Mapping[str, dict], factor: float = 2.0) -> dict:
    tool, popular = tools["personal"]["tool"]["hr_at_3"], tools["personal"]["popularity"]["hr_at_3"]
    ratio = tool / popular if popular else float("inf")
    return {"goal": f"personal HR@3 >= {factor:g} x popularity", "ratio": ratio, "met": ratio >= factor}


# ----- the synthetic-bank run -----


def evaluate_recommendations(settings, customers: int = 2000, holdouts: int = 400, seed: int = 7,
                             work_dir: Path | None = None, progress: Progress | None = None) -> dict:
    """Synthesize, hide, ingest into a throw-away data dir and score the tools; see the module doc.

    Always uses the embedded stores under `work_dir` (a temporary directory by default), never
    the stores `settings` points at, so an evaluation cannot touch live data.
    """
    say = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="fargo-eval-") as tmp:
        root = Path(work_dir) if work_dir else Path(tmp)
        return _evaluate_in(settings, root, customers, holdouts, seed, say)


def _evaluate_in(settings, root: Path, customers: int, holdouts: int, seed: int, say: Progress) -> dict:
    from assistant.worker import run_ingest_now
    from ingest.synth import HIDDEN_NEEDS_FILE, synthesize

    bank, copy = root / "bank", root / "holdout-bank"
    say(f"synthesizing {customers:,} customers")
    synthesize(bank, customers, seed)
    categories = {p["product_id"]: p["category"] for p in read_jsonl(bank / "products.jsonl")}
    since = recent_since(bank)
    hidden = choose_holdouts(read_jsonl(bank / "accounts.jsonl"), categories, holdouts, seed, since)
    removed = write_holdout_copy(bank, copy, hidden)
    eval_settings = settings.model_copy(update={
        "data_dir": root / "data", "source_dir": copy, "mongodb_uri": None, "chroma_url": None, "redis_url": None,
    })
    say(f"ingesting the hold-out copy ({len(hidden)} hidden accounts)")
    run = run_ingest_now(eval_settings, mode="full")
    if run.status != "succeeded":
        raise RuntimeError(f"ingesting the evaluation bank failed: {run.status}")
    targets = {row["customer_id"]: frozenset(row["target_products"])
               for row in read_jsonl(bank / GROUND_TRUTH_DIR / HIDDEN_NEEDS_FILE)}
    popularity = _holders(read_jsonl(copy / "accounts.jsonl"))
    say("running the tools for the hold-outs")
    tools = _score_live(eval_settings, hidden, targets, popularity)
    return {
        "kind": "recommendations",
        "customers": customers,
        "holdouts": len(hidden),
        "seed": seed,
        "opened_since": since,
        "hidden_categories": dict(Counter(h.category for h in hidden.values()).most_common()),
        "removed": removed,
        "tools": tools,
        "goal": goal_check(tools),
    }


def recent_since(bank: Path) -> str:
    """The first day of the recent window before the bank's data date: hold-outs opened their latest account since."""
    as_of = date.fromisoformat(orjson.loads((Path(bank) / "manifest.json").read_bytes())["as_of"])
    return (as_of - timedelta(days=RECENT_DAYS)).isoformat()


def _holders(accounts: Iterable[Mapping]) -> dict[str, int]:
    holders = {(a["customer_id"], a["product_id"]) for a in accounts if a.get("status", "open") == "open"}
    return dict(Counter(product for _, product in holders))


def _score_live(settings, hidden, targets, popularity) -> dict:
    from retrieval.docstore import open_store
    from retrieval.embeddings import get_embedder
    from retrieval.vectors import VectorIndexes
    from tools.context import ToolContext

    with open_store(settings) as store, VectorIndexes.open(settings, get_embedder()) as vectors:
        ctx = ToolContext.open(store, vectors, get_embedder())
        return score_tools(ctx, hidden, targets, popularity)


# ----- Berka: a targeting task on real data -----

BERKA_AS_OF = date(1999, 1, 1)  # the data ends in December 1998
BERKA_TASKS = {
    # task -> (label field in berka_clients.jsonl, standing-order purposes left out as leaky)
    "card": ("has_card", ()),
    "loan": ("has_loan", ("loan_payment",)),  # UVER orders are the loan's own repayments
}
FREQUENCIES = ("monthly", "weekly", "after_transaction")
RANDOM_REPEATS = 100
BOOSTING_ITERATIONS = 200


def berka_features(client: Mapping, districts: Mapping[str, Mapping], leave_out: Sequence[str] = ()) -> dict:
    """Numeric features of one client (NaN where unknown); nothing about the client's cards or loans."""
    birth = date.fromisoformat(client["birth_date"])
    accounts = client["accounts"]
    opened = [date.fromisoformat(a["opened_at"]) for a in accounts]
    features = {
        "age": (BERKA_AS_OF - birth).days / 365.25,
        "female": float(client["gender"] == "F"),
        "accounts_owned": float(sum(a["role"] == "owner" for a in accounts)),
        "accounts_used": float(sum(a["role"] == "disponent" for a in accounts)),
        "tenure_years": (BERKA_AS_OF - min(opened)).days / 365.25 if opened else math.nan,
    }
    for frequency in FREQUENCIES:
        features[f"statements_{frequency}"] = float(sum(a["frequency"] == frequency for a in accounts))
    for purpose, entry in sorted(client["standing_orders"].items()):
        if purpose not in leave_out:
            features[f"orders_{purpose}_count"] = float(entry["count"])
            features[f"orders_{purpose}_total"] = float(entry["total"])
    for name, value in (districts.get(str(client["district_id"])) or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            features[f"district_{name}"] = float(value)
    return features


def berka_matrix(clients: Sequence[Mapping], districts: Mapping[str, Mapping], task: str):
    """(X, y, feature names) for one task."""
    label, leave_out = BERKA_TASKS[task]
    rows = [berka_features(client, districts, leave_out) for client in clients]
    names = sorted({name for row in rows for name in row})
    x = np.array([[row.get(name, math.nan) for name in names] for row in rows], dtype=float)
    y = np.array([int(client[label] is not None) for client in clients])
    return x, y, names


def _models(seed: int, iterations: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic_regression": make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                             LogisticRegression(max_iter=2000)),
        "gradient_boosting": HistGradientBoostingClassifier(random_state=seed, max_iter=iterations, learning_rate=0.05,
                                                            early_stopping=False),
    }


def _measure(labels, scores) -> dict:
    from sklearn.metrics import roc_auc_score

    return {"roc_auc": float(roc_auc_score(labels, scores)), "precision_at_10pct": precision_at_share(labels, scores)}


def berka_task(x, y, seed: int, test_share: float, iterations: int = BOOSTING_ITERATIONS) -> dict:
    """Split, pick Fargo's model on a validation split of the training part, score everything on the test part."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # OpenMP threads fight for a busy machine's cores and slow boosting down
        return _berka_task(x, y, seed, test_share, iterations)


def _berka_task(x, y, seed: int, test_share: float, iterations: int) -> dict:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_share, stratify=y, random_state=seed)
    x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_size=0.25, stratify=y_train,
                                                  random_state=seed)
    validation = {name: _measure(y_val, model.fit(x_fit, y_fit).predict_proba(x_val)[:, 1])["roc_auc"]
                  for name, model in _models(seed, iterations).items()}
    chosen = max(validation, key=lambda name: (validation[name], name == "gradient_boosting"))
    rng = np.random.default_rng(seed)
    random_runs = [_measure(y_test, rng.random(len(y_test))) for _ in range(RANDOM_REPEATS)]
    test = {"random": {key: float(np.mean([run[key] for run in random_runs])) for key in random_runs[0]}}
    for name, model in _models(seed, iterations).items():
        test[name] = _measure(y_test, model.fit(x_train, y_train).predict_proba(x_test)[:, 1])
    test["fargo"] = dict(test[chosen])
    return {
        "train_clients": int(len(y_train)), "test_clients": int(len(y_test)),
        "positives_test": int(y_test.sum()), "base_rate": float(y_test.mean()),
        "validation_auc": validation, "fargo_model": chosen, "test": test,
    }


def evaluate_berka(source_dir: Path, seed: int = 7, test_share: float = 0.3, work_dir: Path | None = None) -> dict:
    """Import the Berka tables and run the card and loan targeting tasks; see the module doc."""
    from ingest.berka import CLIENTS_FILE, DISTRICTS_FILE, import_berka

    with tempfile.TemporaryDirectory(prefix="fargo-eval-berka-") as tmp:
        out = Path(work_dir) if work_dir else Path(tmp)
        import_berka(Path(source_dir), out)
        clients = read_jsonl(out / CLIENTS_FILE)
        districts = orjson.loads((out / DISTRICTS_FILE).read_bytes())
    tasks = {}
    for task in BERKA_TASKS:
        x, y, names = berka_matrix(clients, districts, task)
        tasks[task] = berka_task(x, y, seed, test_share) | {"features": names}
    return {"kind": "berka", "clients": len(clients), "seed": seed, "test_share": test_share, "tasks": tasks}


# ----- rendering -----


def format_report(report: Mapping) -> str:
    """Plain-text tables for a report from `evaluate_recommendations` or `evaluate_berka`."""
    return _format_berka(report) if report.get("kind") == "berka" else _format_recommendations(report)


def _format_recommendations(report: Mapping) -> str:
    lines = [
        f"Synthetic bank: {report['customers']:,} customers, {report['holdouts']} hold-outs (seed {report['seed']}); "
        f"latest product hidden per hold-out, each opened since {report['opened_since']}",
        "hidden categories: " + ", ".join(f"{k} {v}" for k, v in report["hidden_categories"].items()),
        "",
        f"{'tool':<24} {'ranker':<11} {'cases':>6} {'HR@3':>7} {'NDCG@5':>7} {'needs':>6} {'needs HR@3':>10}",
    ]
    for tool, block in report["tools"].items():
        for ranker in ("tool", "popularity", "random"):
            s = block[ranker]
            lines.append(f"{tool if ranker == 'tool' else '':<24} {ranker:<11} {s['cases']:>6} {s['hr_at_3']:>7.3f} "
                         f"{s['ndcg_at_5']:>7.3f} {s['needs_cases']:>6} {s['needs_hit_at_3']:>10.3f}")
        lines.append(f"{'':<24} ({block['note']}; tool returned nothing for {block['returned_nothing']})")
        lines.append(f"{'':<24} HR@3 tool/popularity by hidden category: " + ", ".join(
            f"{c} {t:.2f}/{p:.2f} (n={n})" for c, (n, t, p) in block.get("hr_at_3_by_category", {}).items()))
    goal = report["goal"]
    lines += ["", f"goal: {goal['goal']}: ratio {goal['ratio']:.2f} -> {'MET' if goal['met'] else 'NOT MET'}",
              "random = exact expectation over uniformly random orders of the products not held"]
    return "\n".join(lines)


def _format_berka(report: Mapping) -> str:
    lines = [f"Berka: {report['clients']:,} clients, {report['test_share']:.0%} stratified hold-out "
             f"(seed {report['seed']})"]
    for task, result in report["tasks"].items():
        lines += ["", f"task: who holds a {task} -- test {result['test_clients']} clients, "
                      f"{result['positives_test']} positive (base rate {result['base_rate']:.3f}); "
                      f"Fargo's model: {result['fargo_model']} (validation AUC "
                      + ", ".join(f"{k} {v:.3f}" for k, v in result["validation_auc"].items()) + ")",
                  f"  {'model':<20} {'ROC AUC':>8} {'P@10%':>7}"]
        for name, scores in result["test"].items():
            lines.append(f"  {name:<20} {scores['roc_auc']:>8.3f} {scores['precision_at_10pct']:>7.3f}")
    return "\n".join(lines)
