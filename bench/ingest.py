"""The nightly ingestion on a synthetic bank: throughput per stage, and the embedding
stage against the raw model throughput on the same texts in the same run.

    .venv/bin/python -m bench.ingest --customers 100000

Runs a full ingestion (load -> features -> indexes -> graph), then an incremental
one after 1% of customers changed, and prints records/s per stage. The index
stage's items/s divided by plain `Embedder.embed` of the same texts is the
embedding ratio (goal >= 0.7).

    .venv/bin/python -m bench.ingest --customers 100000 --compare-features [--engine spark] [--baseline duckdb]
        [--bank-dir DIR]

Loads the bank once, then runs only the features stage with the engine (duckdb, or
--engine spark) and with the baseline (the old record-by-record path,
FARGO_FEATURE_ENGINE=python, or --baseline duckdb), each in a fresh process, and prints
the speed ratio and each one's peak memory (VmHWM). `--bank-dir` keeps the loaded
bank for the next run.

    .venv/bin/python -m bench.ingest --customers 100000 --changed 0.01 [--bank-dir DIR]

The nightly run against the full run in the same run: a full ingestion, then `--changed` of the
customers change (a new city, and a new card transaction on the latest day; `--taking-up`, 20% by
default, of them also open an account for a product they did not hold, and one in ten of those names
a new child, so the nightly run changes the relationship graph) and a nightly (incremental) ingestion
runs; each run in a fresh process. Prints seconds per stage, the nightly/full ratio per stage, and
each run's peak memory (VmHWM). Then, in another fresh process, the nightly's graph is rebuilt whole
from the same records (the path every such night took before the graph was updated in place): its
seconds against the nightly's graph stage, and whether the two graphs' documents and statistics agree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import resource
import tempfile
import time
from pathlib import Path

import orjson

from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.jobs import IngestJob, index_items
from ingest.loader import load_directory
from ingest.synth import synthesize
from retrieval.docstore import open_store
from retrieval.embeddings import get_embedder
from retrieval.vectors import INDEX_NAMES


def print_run(title: str, run, seconds: float) -> None:
    print(f"{title}: {run.status} in {seconds:,.1f} s ({seconds / 60:.1f} min)")
    for name, stats in run.stages.items():
        print(f"  {name:<9} {stats.count:>12,} items {stats.seconds:>9.1f} s {stats.rate:>12,.0f} items/s")


MOVED_TO = "Anchorage"
CHILD_POLL_S = 5.0  # how often a wait for a child's figures checks the child is still alive


def change_customers(source_dir: Path, share: float, seed: int, taking_up: float = 0.0) -> int:
    """A day's changes for `share` of the customers: each moves city and pays for groceries on the latest day;
    `taking_up` of them open an account for a product they did not hold, and one in ten of those names a new child.
    Customers a day before moved are not picked again, and each day's new ids follow the earlier days' ones, so a
    bank changed twice changes as many customers the second time."""
    import duckdb

    path = source_dir / "customers.jsonl"
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    unmoved = [index for index, row in enumerate(rows) if row.get("city") != MOVED_TO]
    chosen = random.Random(seed).sample(unmoved, min(len(unmoved), max(1, int(len(rows) * share))))
    customers = {rows[index]["customer_id"] for index in chosen}
    for index in chosen:
        rows[index]["city"] = MOVED_TO
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    accounts: dict[str, str] = {}
    held: dict[str, set[str]] = {}
    earlier_accounts = 0
    for line in (source_dir / "accounts.jsonl").read_bytes().splitlines():
        account = orjson.loads(line)
        earlier_accounts += account["account_id"].startswith("A9")
        if account["customer_id"] in customers:
            accounts.setdefault(account["customer_id"], account["account_id"])
            held.setdefault(account["customer_id"], set()).add(account["product_id"])
    take_up(source_dir, sorted(customers)[:int(len(customers) * taking_up)], held, earlier_accounts)
    transactions = source_dir / "transactions.csv"
    latest, earlier = duckdb.sql(f"SELECT max(date), count(*) FILTER (WHERE transaction_id LIKE 'T9%') "
                                 f"FROM read_csv('{transactions}', all_varchar = true)").fetchall()[0]
    with transactions.open("a") as out:
        for number, (customer, account) in enumerate(sorted(accounts.items()), start=earlier):
            out.write(f"T9{number:09d},{customer},{account},{latest},-42.17,Corner Grocer,groceries,5411,card_present\n")
    return len(chosen)


def take_up(source_dir: Path, customers: list[str], held: dict[str, set[str]], earlier_accounts: int = 0) -> None:
    """Each customer opens an account for the first product they do not hold; one in ten names a new child, aged 8.
    New ids are numbered after the `earlier_accounts` (and relationships) earlier days added."""
    products = sorted(orjson.loads(line)["product_id"] for line in (source_dir / "products.jsonl").read_bytes().splitlines())
    with (source_dir / "accounts.jsonl").open("ab") as out:
        for number, customer in enumerate(customers, start=earlier_accounts):
            product = next(product for product in products if product not in held.get(customer, set()))
            out.write(orjson.dumps({"account_id": f"A9{number:09d}", "customer_id": customer, "product_id": product,
                                    "opened_at": "2024-01-02", "balance": 100.0, "credit_limit": None,
                                    "status": "open"}) + b"\n")
    relationships = source_dir / "relationships.jsonl"
    earlier = sum(line.startswith(b'{"relationship_id":"L9') for line in relationships.read_bytes().splitlines())
    with relationships.open("ab") as out:
        for number, customer in enumerate(customers[::10], start=earlier):
            out.write(orjson.dumps({"relationship_id": f"L9{number:09d}", "customer_id": customer,
                                    "relative_id": f"R9{number:09d}", "relation": "child", "relative_is_customer": False,
                                    "relative_name": "Nia", "relative_date_of_birth": "2018-03-01",
                                    "consent_to_share": False}) + b"\n")


def graph_rebuild_in_child(settings: Settings, results) -> None:
    """In a fresh process: rebuild the live run's graph whole, as a nightly run did before it updated the graph;
    sends the seconds, whether its documents and statistics equal the live graph's, and its people."""
    from retrieval.docstore import live_pointer
    from retrieval.neighbourhoods import PEOPLE, STATS, graph_layers, load_stats, read_people

    with open_store(settings) as store:
        pointer = live_pointer(store)
        run = store["job_runs"].find_one({"_id": pointer["run_id"]})
        start = time.perf_counter()
        IngestJob(store, None, settings.data_dir / "graph").build_graph(run["_id"], run["features_base"], "graph-bench")
        seconds = time.perf_counter() - start
        people = sorted(doc["person_id"] for doc in store[PEOPLE].find({"graph": "graph-bench"}, {"person_id": 1}))
        served = {}
        for name in (pointer["graph_file"], "graph-bench"):
            found = read_people(store, graph_layers(store, name), people + ["none"])
            served[name] = ({person_id: {**doc, "_id": None, "graph": None} for person_id, doc in found.items()},
                            load_stats(store, name))
        for collection in (PEOPLE, STATS):
            store[collection].delete_many({"graph": "graph-bench"})
    results.put((seconds, served[pointer["graph_file"]] == served["graph-bench"], len(people)))


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM, not ru_maxrss. A spawned child's ru_maxrss starts at its
    parent's peak (Linux keeps it across the exec), so after the parent changed the bank's files in memory the
    nightly run reported the parent's 3.3 GiB, not its own 1.7 GiB."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(target, *args):
    """`target(*args, results)` in a fresh process, and what it put on `results`; a child that ends without putting
    anything (an exception, a kill) is an error naming its exit code, not a wait for ever."""
    spawn = multiprocessing.get_context("spawn")  # a clean process: its peak memory is its own
    results = spawn.Queue()
    child = spawn.Process(target=target, args=(*args, results))
    child.start()
    while True:
        try:
            outcome = results.get(timeout=CHILD_POLL_S)
            break
        except queue.Empty:
            if not child.is_alive():
                raise SystemExit(f"{target.__name__} ended with exit code {child.exitcode} before reporting "
                                 "(its traceback is above)") from None
    child.join()
    return outcome


def ingest_in_child(settings: Settings, mode: str, results) -> None:
    """In a fresh process: one ingestion run; sends its stages, wall seconds and peak MiB."""
    start = time.perf_counter()
    run = run_ingest_now(settings, mode=mode)
    seconds = time.perf_counter() - start
    stages = {name: (stats.count, stats.seconds, stats.cpu_seconds) for name, stats in run.stages.items()}
    results.put((run.status, stages, seconds, peak_mib()))


def timed_ingest(settings: Settings, mode: str) -> tuple[str, dict, float, float]:
    return in_child(ingest_in_child, settings, mode)


def compare_nightly(root: Path, customers: int, seed: int, share: float, taking_up: float) -> None:
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    if not (settings.source_dir / "customers.jsonl").exists():
        start = time.perf_counter()
        synthesize(settings.source_dir, customers=customers, seed=seed)
        print(f"synthesized {customers:,} customers in {time.perf_counter() - start:,.1f} s")
    full = timed_ingest(settings, "full")
    changed = change_customers(settings.source_dir, share, seed, taking_up)
    print(f"changed {changed:,} customers ({share:.1%}), {int(changed * taking_up):,} of them taking up a product")
    nightly = timed_ingest(settings, "incremental")
    print(f"{'stage':<9} {'full s':>9} {'cpu s':>8} {'cores':>6} {'nightly s':>10} {'nightly/full':>13}   "
          "items full -> nightly")
    for name, (count, seconds, cpu) in full[1].items():
        night_count, night_seconds, _ = nightly[1].get(name, (0, 0.0, 0.0))
        print(f"{name:<9} {seconds:>9.1f} {cpu:>8.1f} {cpu / seconds:>6.2f} {night_seconds:>10.1f} "
              f"{night_seconds / seconds:>13.3f}   {count:,} -> {night_count:,}")
    stages = [sum(seconds for _, seconds, _ in run[1].values()) for run in (full, nightly)]
    cpu = sum(cpu for _, _, cpu in full[1].values())
    print(f"{'stages':<9} {stages[0]:>9.1f} {cpu:>8.1f} {cpu / stages[0]:>6.2f} {stages[1]:>10.1f} "
          f"{stages[1] / stages[0]:>13.3f}   status {full[0]} / {nightly[0]}")
    print(f"{'process':<9} {full[2]:>9.1f} {'':>8} {'':>6} {nightly[2]:>10.1f} {nightly[2] / full[2]:>13.3f}   "
          "(with opening the stores and loading the encoder)")
    print(f"peak memory (VmHWM): full {full[3]:,.0f} MiB, nightly {nightly[3]:,.0f} MiB")
    rebuild, same, people = in_child(graph_rebuild_in_child, settings)
    updated = nightly[1]["graph"]
    print(f"nightly graph: updated {updated[1]:.2f} s ({updated[0]:,} people replaced); rebuilt whole {rebuild:.2f} s "
          f"({people:,} people): rebuild/update {rebuild / max(updated[1], 1e-9):.1f}x; "
          f"same documents and statistics: {same}")


def features_stage(data_dir: Path, engine: str, run_id: str, results) -> None:
    """In a fresh process: one features stage over the loaded bank; sends seconds, documents and peak MiB."""
    with open_store(Settings(data_dir=data_dir)) as store:
        store["features"].delete_many({"run_id": run_id})  # what a run cut short left under the same id
        start = time.perf_counter()
        computed = IngestJob(store, None, data_dir / "graph", feature_engine=engine).build_features(run_id)
        seconds = time.perf_counter() - start
        store["features"].delete_many({"run_id": run_id})
    results.put((seconds, computed, peak_mib()))


def timed_features(data_dir: Path, engine: str) -> tuple[float, int, float]:
    return in_child(features_stage, data_dir, engine, f"bench-{engine}")


def loaded_bank(root: Path, customers: int, seed: int) -> Path:
    """A synthetic bank loaded into the embedded store under `root` (reused when already there)."""
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    if (settings.data_dir / "fargo.db").exists():
        print(f"reusing the bank in {root}")
        return settings.data_dir
    start = time.perf_counter()
    synthesize(settings.source_dir, customers=customers, seed=seed)
    print(f"synthesized {customers:,} customers in {time.perf_counter() - start:,.1f} s")
    with open_store(settings) as store:
        store.ensure_indexes()
        start = time.perf_counter()
        load_directory(store, settings.source_dir)
    print(f"loaded in {time.perf_counter() - start:,.1f} s")
    return settings.data_dir


def compare_features(root: Path, customers: int, seed: int, engine: str, baseline: str = "python") -> None:
    data_dir = loaded_bank(root, customers, seed)
    figures = {}
    for name in (engine, baseline):  # each printed as it ends: at a million, Spark alone takes an hour or more
        seconds, computed, peak = figures[name] = timed_features(data_dir, name)
        print(f"features {name:<7} {computed:>10,} customers {seconds:>9.1f} s {computed / seconds:>9,.0f}/s "
              f"peak {peak:>7,.0f} MiB (this process; Spark's JVM apart)", flush=True)
    print(f"features speed, {engine} over {baseline}: {figures[baseline][0] / figures[engine][0]:.2f}x")


def in_bank_dir(bank_dir: Path | None, measure) -> None:
    """Run `measure(root)` in `bank_dir`, kept for the next run, or in a temporary directory."""
    if bank_dir:
        measure(bank_dir)
        return
    with tempfile.TemporaryDirectory(prefix="fargo-bench-") as tmp:
        measure(Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare-features", action="store_true",
                        help="only the features stage: the engine against the baseline (--baseline), on one loaded bank")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--baseline", choices=("python", "duckdb"), default="python",
                        help="with --compare-features: the engine to compare against (duckdb for --engine spark)")
    parser.add_argument("--bank-dir", type=Path,
                        help="with --compare-features or --changed: keep the bank here and reuse its source files")
    parser.add_argument("--changed", type=float, metavar="SHARE",
                        help="the nightly run after SHARE (0.01 = 1%%) of the customers changed, against the full run")
    parser.add_argument("--taking-up", type=float, default=0.2, metavar="SHARE",
                        help="with --changed: the share of the changed customers who also open an account for a "
                             "product they did not hold (default 0.2); 0 leaves the graph as it was")
    args = parser.parse_args()
    if not 0 <= args.taking_up <= 1:
        parser.error("--taking-up must be a share from 0 to 1, such as 0.2")
    if args.changed is not None:
        if not 0 < args.changed <= 1:
            parser.error("--changed must be a share above 0 and at most 1, such as 0.01")
        in_bank_dir(args.bank_dir, lambda root: compare_nightly(root, args.customers, args.seed, args.changed,
                                                                args.taking_up))
        return
    if args.compare_features:
        in_bank_dir(args.bank_dir, lambda root: compare_features(root, args.customers, args.seed, args.engine,
                                                                 args.baseline))
        return

    with tempfile.TemporaryDirectory(prefix="fargo-bench-ingest-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", source_dir=root / "source")
        start = time.perf_counter()
        synthesize(settings.source_dir, customers=args.customers, seed=args.seed)
        print(f"synthesized {args.customers:,} customers in {time.perf_counter() - start:,.1f} s")
        get_embedder()  # the model load is start-up, not a stage

        start = time.perf_counter()
        full = run_ingest_now(settings, mode="full")
        print_run("full ingestion", full, time.perf_counter() - start)

        with open_store(settings) as store:
            texts = [item.text for name in INDEX_NAMES for item in index_items(name, store)]
        start = time.perf_counter()
        get_embedder().embed(texts)
        raw_rate = len(texts) / (time.perf_counter() - start)
        index_rate = full.stages["indexes"].rate
        print(f"raw embed   {len(texts):>12,} texts {raw_rate:>12,.0f} texts/s")
        print(f"index stage {full.stages['indexes'].count:>12,} items {index_rate:>12,.0f} items/s")
        print(f"embedding ratio index/raw: {index_rate / raw_rate:.2f} (goal >= 0.7)")

        changed = change_customers(settings.source_dir, 0.01, args.seed)
        start = time.perf_counter()
        incremental = run_ingest_now(settings, mode="incremental")
        print(f"changed {changed:,} customers")
        print_run("incremental ingestion", incremental, time.perf_counter() - start)


if __name__ == "__main__":
    main()
