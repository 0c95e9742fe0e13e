"""The ingestion job: load -> features -> indexes -> graph, then publish.

A run builds everything beside the live data under its own run id (feature
documents keyed by run, new Chroma collection versions, a new graph in the
document store, `retrieval.neighbourhoods`) and
switches the service over only when every stage is done, by rewriting one
pointer document. A run that dies halfway leaves the previous version serving;
the next run marks it abandoned and removes what it left behind.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path

from ingest.feature_engine import ENGINES, engine_features, export_records
from ingest.features import CustomerRecords, compute_features
from ingest.loaded_lines import LoadedLines
from ingest.loader import KeepSince, LoadSummary, batched, ingested_now, latest_transaction_month, load_directory
from retrieval.docstore import (
    LIVE_POINTER,
    feature_runs,
    live_feature_batches,
    live_feature_documents,
    live_pointer,
)
from retrieval.graph import as_date
from retrieval.neighbourhoods import delete_graphs, graph_name, graph_names
from retrieval.privacy import ErasureList

FEATURE_BATCH = 500
INCREMENTAL_SOURCES = ("customers", "accounts", "disclosures", "kyc_documents", "relationships", "transactions")
CATALOGUE_SOURCES = ("products", "healthcare_services", "faq", "campaigns", "campaign_events")
GRAPH_FEATURES = ("products_held", "age")  # what the graph reads of a customer's features

Progress = Callable[[str, int, int], None]
Fault = Callable[[str, int], None]


class IngestError(RuntimeError):
    """An ingestion run failed; the previous version keeps serving."""


@dataclass
class StageStats:
    count: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the process's CPU time over the stage, every thread's (DuckDB's too)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass
class JobRun:
    run_id: str
    mode: str
    started_at: datetime
    stages: dict[str, StageStats] = field(default_factory=dict)
    status: str = "running"
    ended_at: datetime | None = None
    errors: list[str] = field(default_factory=list)
    watermark: str | None = None  # records ingested after this are new to the run's features
    features_base: str | None = None  # the full run whose features this run's documents complete
    skipped_erased: int = 0  # source records about erased customers, not loaded

    def document(self) -> dict:
        return {
            "_id": self.run_id,
            "mode": self.mode,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "stages": {
                name: {"count": s.count, "seconds": round(s.seconds, 3), "cpu_seconds": round(s.cpu_seconds, 3),
                       "per_second": round(s.rate, 1)}
                for name, s in self.stages.items()
            },
            "errors": self.errors,
            "watermark": self.watermark,
            "features_base": self.features_base,
            "skipped_erased": self.skipped_erased,
        }


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def last_good_run(store) -> dict | None:
    runs = store["job_runs"].find({"status": "succeeded"}, sort=[("started_at", -1)], limit=1)
    return next(iter(runs), None)


def list_runs(store, limit: int = 20) -> list[dict]:
    return list(store["job_runs"].find({}, sort=[("started_at", -1)], limit=limit))


class IngestJob:
    """One run of the ingestion pipeline over an open store, vector indexes and data dir."""

    def __init__(self, store, vectors, graph_dir: Path, *, progress: Progress | None = None, fault: Fault | None = None,
                 pseudonym_key: bytes | None = None, keep_since: KeepSince | None = None,
                 feature_engine: str = "duckdb", spark_master: str | None = None):
        if feature_engine not in ENGINES:
            raise ValueError(f"feature_engine must be one of {', '.join(ENGINES)}, not {feature_engine!r}")
        self.store = store
        self.feature_engine = feature_engine  # see ingest.feature_engine; "python" is the record-by-record path
        self.spark_master = spark_master
        self.pseudonym_key = pseudonym_key  # the erasure list's hash key (retrieval.privacy)
        self.keep_since = keep_since  # source records older than these are past retention, not loaded
        self.vectors = vectors
        self.graph_dir = Path(graph_dir)
        self.work_dir = self.graph_dir.parent / "work"  # the engine's exports and spill files, removed after
        self.progress = progress or (lambda stage, done, total: None)
        self.fault = fault or (lambda stage, done: None)
        self.features_base: str | None = None  # set by build_features

    def run(self, mode: str = "full", source_dir: Path | None = None) -> JobRun:
        if mode not in ("full", "incremental"):
            raise ValueError("mode must be 'full' or 'incremental'")
        self._abandon_stale_runs()
        previous = last_good_run(self.store)
        if mode == "incremental" and previous is None:
            mode = "full"  # nothing to be incremental against
        run = JobRun(new_run_id(datetime.now(UTC)), mode, datetime.now(UTC))
        self.store["job_runs"].insert_one(run.document())
        try:
            self._stages(run, source_dir, previous)
            run.status = "succeeded"
        except Exception as exc:
            run.status = "failed"
            run.errors.append(f"{type(exc).__name__}: {exc}")
            raise IngestError(f"ingestion run {run.run_id} failed: {exc}") from exc
        finally:
            run.ended_at = datetime.now(UTC)
            self.store["job_runs"].replace_one({"_id": run.run_id}, run.document())
        return run

    def _stages(self, run: JobRun, source_dir: Path | None, previous: dict | None) -> None:
        since = previous.get("watermark") if (previous and run.mode == "incremental") else None
        summary = None
        if source_dir is not None:
            with self._stage(run, "load") as stats:
                summary = self._load(run, source_dir)
                stats.count = summary.total("loaded") + summary.total("updated") + summary.total("unchanged")
        run.watermark = ingested_now()
        changed = self._changed_customers(since, summary, previous) if since else None
        with self._stage(run, "features") as stats:
            stats.count = self.build_features(run.run_id, changed)
            run.features_base = self.features_base  # recorded now: serving reads it as soon as the run is live
            self.store["job_runs"].update_one({"_id": run.run_id}, {"$set": {"features_base": run.features_base}})
        with self._stage(run, "indexes") as stats:
            stats.count, built = self._build_indexes(run.run_id, since)
        with self._stage(run, "graph") as stats:
            graph_file = self._unchanged_graph(run, changed, summary)
            if graph_file is None:
                stats.count, graph_file = (self._updated_graph(run, changed, since)
                                           or self.build_graph(run.run_id, run.features_base))
        self._publish(run, built, graph_file)

    def _load(self, run: JobRun, source_dir: Path) -> LoadSummary:
        """Load the source files; a nightly run reads only the lines the store does not hold yet."""
        erasures = ErasureList(self.store, self.pseudonym_key)
        lines = LoadedLines(self.store, self.graph_dir.parent / "loaded", use_previous=run.mode == "incremental")
        summary = load_directory(self.store, source_dir, progress=self.progress, erasures=erasures,
                                 keep_since=self.keep_since, loaded_lines=lines)
        run.skipped_erased = summary.total("erased")
        run.errors.extend(str(rejection) for rejection in summary.rejections[:100])
        return summary

    class _Timer:
        def __init__(self, stats: StageStats):
            self.stats = stats

        def __enter__(self) -> StageStats:
            self.start, self.cpu_start = time.perf_counter(), time.process_time()
            return self.stats

        def __exit__(self, *exc) -> None:
            self.stats.seconds = time.perf_counter() - self.start
            self.stats.cpu_seconds = time.process_time() - self.cpu_start

    def _stage(self, run: JobRun, name: str) -> _Timer:
        return self._Timer(run.stages.setdefault(name, StageStats()))

    # -- stale runs -------------------------------------------------------------------------------------------------
    def _abandon_stale_runs(self) -> None:
        """Runs still marked running died without finishing: mark them and drop what they built."""
        for stale in self.store["job_runs"].find({"status": "running"}):
            self.store["job_runs"].update_one(
                {"_id": stale["_id"]}, {"$set": {"status": "abandoned", "errors": ["the run stopped before finishing"]}}
            )
        self.vectors.cleanup(keep=1)
        self._drop_unserved(live_pointer(self.store) or {})

    def _drop_unserved(self, pointer: dict) -> None:
        """Remove the features and graphs of every run neither the live pointer nor its previous one serve:
        a process that has not yet seen the switch still reads the previous run's."""
        served = [each for each in (pointer, pointer.get("previous")) if each]
        runs = sorted({run for each in served for run in feature_runs(self.store, each["run_id"])})
        graph_files = {each.get("graph_file") for each in served}
        self.store["features"].delete_many({"run_id": {"$nin": runs}} if runs else {})
        delete_graphs(self.store, keep=graph_files)
        for path in self.graph_dir.glob("graph-*.json"):  # the files runs wrote before graphs went into the store
            path.unlink(missing_ok=True)

    # -- features ---------------------------------------------------------------------------------------------------
    def _changed_customers(self, since: str, summary: LoadSummary | None, previous: dict) -> set[str]:
        """Customers with records loaded since the last good run: this run's load told us, unless a run
        failed after loading since then; then the stores' load stamps do (a scan of each collection)."""
        if summary is not None and list_runs(self.store, 2)[-1]["_id"] == previous["_id"]:
            return set(summary.changed_customers)
        changed: set[str] = set()
        for collection in INCREMENTAL_SOURCES:
            for doc in self.store[collection].find({"_ingested_at": {"$gt": since}}, {"customer_id": 1}):
                changed.add(doc["customer_id"])
        return changed

    def build_features(self, run_id: str, changed: set[str] | None = None) -> int:
        """Write the feature documents of run `run_id` and set `features_base`; returns how many were computed.

        Everyone is computed when `changed` is None or nothing is live (a full run: no base). Otherwise only the
        `changed` customers are, and the run's documents are those plus the live run's own documents of other
        customers (what changed since the full run), over the full run's documents (`features_base`), which
        stay as they are: the work goes with what changed since the last full run, not with the bank."""
        as_of = self._as_of()
        names = {doc["_id"]: doc["name"] for doc in self.store["products"].find({}, {"name": 1})}
        live = (live_pointer(self.store) or {}).get("run_id")
        live_runs = feature_runs(self.store, live) if live else ()
        if changed is None or not live_runs or self._as_of_of(live_runs[-1]) != as_of.isoformat():
            self.features_base = None  # a new as-of month moves every customer's 12 months
            customer_ids = sorted(doc["_id"] for doc in self.store["customers"].find({}, {"_id": 1}))
            return self._compute_features(run_id, customer_ids, True, as_of, names)
        self.features_base = live_runs[-1]
        to_compute = self._existing_customers(sorted(changed))
        computed = self._compute_features(run_id, to_compute, False, as_of, names)
        if len(live_runs) > 1:
            self._carry_changes(run_id, live, set(to_compute), computed)
        return computed

    def _as_of_of(self, run_id: str) -> str | None:
        document = self.store["features"].find_one({"run_id": run_id}, {"as_of": 1})
        return (document or {}).get("as_of")

    def _compute_features(self, run_id: str, customer_ids: list[str], everyone: bool, as_of: date,
                          names: dict[str, str]) -> int:
        if self.feature_engine == "python":
            return self._features_record_by_record(run_id, customer_ids, as_of, names, len(customer_ids))
        return self._features_on_engine(run_id, customer_ids, everyone, as_of, names, len(customer_ids))

    def _existing_customers(self, customer_ids: list[str]) -> list[str]:
        found: list[str] = []
        for batch in batched(customer_ids, FEATURE_BATCH):
            found.extend(sorted(doc["_id"] for doc in self.store["customers"].find({"_id": {"$in": batch}}, {"_id": 1})))
        return found

    def _carry_changes(self, run_id: str, live: str, computed: set[str], done: int) -> None:
        """Copy the live nightly run's own documents of customers not computed now under `run_id`."""
        carried = (doc for doc in self.store["features"].find({"run_id": live}) if doc["customer_id"] not in computed)
        while batch := [{**doc, "_id": f"{run_id}:{doc['customer_id']}", "run_id": run_id}
                        for doc in islice(carried, FEATURE_BATCH)]:
            done += len(batch)
            self._write_features(batch, done, done)

    def _features_record_by_record(self, run_id: str, customer_ids: list[str], as_of: date,
                                   names: dict[str, str], total: int) -> int:
        done = 0
        for batch in batched(customer_ids, FEATURE_BATCH):
            documents = [self._feature_doc(run_id, features) for features in self._compute(batch, as_of, names)]
            self._write_features(documents, done := done + len(batch), total)
        return done

    def _features_on_engine(self, run_id: str, customer_ids: list[str], everyone: bool, as_of: date,
                            names: dict[str, str], total: int) -> int:
        if not customer_ids:
            return 0
        work = self.work_dir / run_id
        try:
            export_records(self.store, work, None if everyone else customer_ids)
            computed = engine_features(self.feature_engine, work, as_of, names, self.spark_master)
            done = 0
            while documents := [self._feature_doc(run_id, features) for features in islice(computed, FEATURE_BATCH)]:
                self._write_features(documents, done := done + len(documents), total)
            return done
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_features(self, documents: list[dict], done: int, total: int) -> None:
        if documents:
            self.store["features"].insert_many(documents, ordered=False)
        self.progress("features", done, total)
        self.fault("features", done)

    def _as_of(self) -> date:
        """Features are computed as of the latest month that has transactions, else today."""
        latest = latest_transaction_month(self.store)
        if latest is None:
            return datetime.now(UTC).date()
        year, month = (int(part) for part in latest.split("-"))
        next_month = date(year + month // 12, month % 12 + 1, 1)
        return date.fromordinal(next_month.toordinal() - 1)

    def _compute(self, customer_ids: list[str], as_of: date, names: dict[str, str]) -> Iterator[dict]:
        if not customer_ids:
            return
        grouped = {cid: CustomerRecords(customer={}) for cid in customer_ids}
        for doc in self.store["customers"].find({"_id": {"$in": customer_ids}}):
            grouped[doc["_id"]].customer = doc
        for collection, attribute in (
            ("accounts", "accounts"),
            ("transactions", "transaction_buckets"),
            ("disclosures", "disclosures"),
            ("kyc_documents", "kyc_documents"),
        ):
            for doc in self.store[collection].find({"customer_id": {"$in": customer_ids}}):
                getattr(grouped[doc["customer_id"]], attribute).append(doc)
        for records in grouped.values():
            yield compute_features(records, as_of, names)

    @staticmethod
    def _feature_doc(run_id: str, features: dict) -> dict:
        return {"_id": f"{run_id}:{features['customer_id']}", "run_id": run_id, **features}

    # -- vector indexes ---------------------------------------------------------------------------------------------
    def _build_indexes(self, run_id: str, since: str | None) -> tuple[int, list[str]]:
        from retrieval.vectors import INDEX_NAMES

        if since is not None and not self._catalogue_changed(since) and not self.vectors.other_encoder_indexes():
            return 0, []  # the live indexes already hold this data, embedded by this encoder
        count = 0
        for name in INDEX_NAMES:
            items = list(index_items(name, self.store))
            count += self.vectors.build(
                name, run_id, items, progress=lambda done, total, n=name: self._index_progress(n, done, total)
            )
        return count, list(INDEX_NAMES)

    def _index_progress(self, name: str, done: int, total: int) -> None:
        self.progress(f"index {name}", done, total)
        self.fault("indexes", done)

    def _catalogue_changed(self, since: str) -> bool:
        return any(
            self.store[collection].count_documents({"_ingested_at": {"$gt": since}}) for collection in CATALOGUE_SOURCES
        )

    # -- graph ------------------------------------------------------------------------------------------------------
    def _unchanged_graph(self, run: JobRun, changed: set[str] | None, summary: LoadSummary | None) -> str | None:
        """The live graph when this nightly run changes nothing the graph holds: no relationship loaded,
        the same as-of month, and every recomputed customer with the same holdings and age. Else None."""
        pointer = live_pointer(self.store)
        if changed is None or pointer is None or summary is None or run.features_base is None:
            return None
        if pointer["graph_file"] not in graph_names(self.store):  # a graph file from before graphs went into the store
            return None
        relationships = summary.files.get("relationships.jsonl")
        if relationships and relationships.loaded + relationships.updated:
            return None
        fields = {"customer_id": 1, "run_id": 1, "as_of": 1, **dict.fromkeys(GRAPH_FEATURES, 1)}
        for batch in batched(sorted(changed), FEATURE_BATCH):
            before = live_feature_documents(self.store, feature_runs(self.store, pointer["run_id"]), batch, fields)
            after = live_feature_documents(self.store, (run.run_id, run.features_base), batch, fields)
            if any(_graph_view(before.get(cid)) != _graph_view(after.get(cid)) for cid in batch):
                return None
        return pointer["graph_file"]

    def _updated_graph(self, run: JobRun, changed: set[str] | None, since: str | None) -> tuple[int, str] | None:
        """The live graph with the people this nightly run changed replaced (`update_graph`): the work follows the
        changed customers, not the bank. None (rebuild it) for a full run, a new as-of month (every age may move),
        or a live graph that is not in the store."""
        from retrieval.neighbourhoods import load_stats, update_graph

        pointer = live_pointer(self.store)
        if changed is None or pointer is None or run.features_base is None:
            return None
        live = pointer["graph_file"]
        if live not in graph_names(self.store) or load_stats(self.store, live).as_of != self._as_of():
            return None
        name = graph_name(run.run_id)
        people = self._replaced_people(live, changed, since, (run.run_id, run.features_base), name)
        update_graph(self.store, live, name, people)
        self.progress("graph", len(people), len(people))
        return len(people), name

    def _replaced_people(self, live: str, changed: set[str], since: str, runs: tuple[str, str],
                         name: str) -> dict[str, dict | None]:
        """person id -> document in the new graph (None: no longer in it) of everyone whose document the changed
        customers' records can change. Those whose birth date or holdings changed, or with a relationship loaded
        since the last good run (`since`), change the documents of the relatives they name now or named in the live
        graph (a relative who is not a customer takes their name from a relationship) and of everyone naming one of
        these. The documents come from a graph of just these people, their relatives and every relationship touching
        either, which gives them what the whole graph would (`build_graph` adds relationships in id order)."""
        from retrieval.graph import build_graph
        from retrieval.neighbourhoods import graph_layers, person_documents, read_people

        layers = graph_layers(self.store, live)
        old = read_people(self.store, layers, changed)
        records = self._relationships_of(changed, ("customer_id",))  # the relationships they name
        customers, holdings = self._customer_nodes(changed, runs)
        loaded = {record["customer_id"] for record in records.values() if record.get("_ingested_at", "") > since}
        changed = {customer_id for customer_id in changed if customer_id in loaded or _node_changed(
            old.get(customer_id), customers.get(customer_id), holdings.get(customer_id))}
        relatives = {entry["relative_id"] for customer_id in changed if customer_id in old
                     for entry in old[customer_id]["relatives"]}
        relatives |= {record["relative_id"] for record in records.values() if record["customer_id"] in changed}
        old |= read_people(self.store, layers, relatives - set(old))
        changing = changed | relatives
        affected = changing | {named["customer_id"] for person_id in changing if person_id in old
                               for named in old[person_id]["named_by"]}
        around = self._relationships_of(affected, ("customer_id", "relative_id"))
        neighbours = {record["relative_id"] for record in around.values() if record["customer_id"] in affected}
        around |= self._relationships_of(neighbours - affected, ("customer_id", "relative_id"))
        customers, holdings = self._customer_nodes(affected | neighbours, runs)
        graph = build_graph(customers.values(), around.values(), holdings)
        documents = {document["person_id"]: document for document in person_documents(graph, name, affected)}
        return {person_id: documents.get(person_id) for person_id in sorted(affected)
                if person_id in documents or person_id in old}

    def _customer_nodes(self, ids: set[str], runs: tuple[str, str]) -> tuple[dict[str, dict], dict[str, list[str]]]:
        """The customer records (id and birth date) and holdings (from the run's features) of these people."""
        customers, holdings = {}, {}
        fields = {"customer_id": 1, "run_id": 1, "products_held": 1}
        for batch in batched(sorted(ids), FEATURE_BATCH):
            for customer in self.store["customers"].find({"_id": {"$in": batch}}, {"customer_id": 1, "date_of_birth": 1}):
                customers[customer["_id"]] = customer
            for document in live_feature_documents(self.store, runs, batch, fields).values():
                holdings[document["customer_id"]] = document["products_held"]
        return customers, holdings

    def _relationships_of(self, people: set[str], sides: tuple[str, ...]) -> dict[str, dict]:
        """relationship id -> record of every relationship with one of `people` on one of `sides`."""
        found: dict[str, dict] = {}
        for batch in batched(sorted(people), FEATURE_BATCH):
            for side in sides:
                found.update((record["_id"], record) for record in self.store["relationships"].find({side: {"$in": batch}}))
        return found

    def build_graph(self, run_id: str, features_base: str | None, name: str | None = None) -> tuple[int, str]:
        """Build the whole graph of run `run_id`'s features and every customer and relationship, under `name` (the
        run's graph name by default); returns (relationships, name)."""
        from retrieval.graph import RELATIONSHIP_FIELDS, build_graph, graph_tfidf
        from retrieval.neighbourhoods import save_graph

        # Read a batch at a time: the embedded store reads whole documents before projecting them, and a bank's
        # feature documents at once are gigabytes (5.1 GB peak at 300,000 customers).
        holdings: dict[str, list[str]] = {}
        fields = {"customer_id": 1, "run_id": 1, "products_held": 1}
        for batch in live_feature_batches(self.store, (run_id, features_base), fields):
            holdings.update((doc["customer_id"], doc["products_held"]) for doc in batch)
        customers = (customer for batch in self.store["customers"].find_batches({}, {"customer_id": 1, "date_of_birth": 1})
                     for customer in batch)
        read = {"_id": 0, **dict.fromkeys(RELATIONSHIP_FIELDS, 1)}
        relationships = [record for batch in self.store["relationships"].find_batches({}, read) for record in batch]
        count = len(relationships)
        graph = build_graph(customers, relationships, holdings)
        del relationships, holdings  # the graph holds what it needs of them; its statistics and writing come next
        stats = graph_tfidf(graph, self._as_of())
        name = name or graph_name(run_id)
        save_graph(self.store, graph, stats, name)
        self.progress("graph", count, count)
        return count, name

    # -- publish ----------------------------------------------------------------------------------------------------
    def _publish(self, run: JobRun, built_indexes: list[str], graph_file: str) -> None:
        """Switch the live pointer to the run, whose documents are all written, then drop what no one serves.
        The previous run's features and graph stay until the next publish: an API process reads them until it
        sees the switch (within 30 s)."""
        if built_indexes:
            self.vectors.publish(run.run_id, built_indexes)
        previous = live_pointer(self.store)
        pointer = {"_id": LIVE_POINTER, "run_id": run.run_id, "graph_file": graph_file, "published_at": _now()}
        if previous:
            pointer["previous"] = {"run_id": previous["run_id"], "graph_file": previous.get("graph_file")}
        self.store["meta"].replace_one({"_id": LIVE_POINTER}, pointer, upsert=True)
        self._drop_unserved(pointer)
        self.vectors.cleanup(keep=1)


def index_items(name: str, store) -> Iterator:
    """The texts and metadata of one vector index, read from the document store."""
    from retrieval.vectors import IndexItem

    if name == "products":
        for doc in store["products"].find({}):
            text = f"{doc['name']}. {doc['description']} {' '.join(doc.get('need_statements', []))}"
            yield IndexItem(doc["_id"], text, {"category": doc["category"], "name": doc["name"]}, None)
    elif name == "healthcare_services":
        for doc in store["healthcare_services"].find({}):
            text = f"{doc['name']}. {doc['description']} {doc.get('specialty') or ''}".strip()
            meta = {"kind": doc["kind"], "name": doc["name"], "city": doc.get("city") or ""}
            yield IndexItem(doc["_id"], text, meta, None)
    elif name == "faq":
        for doc in store["faq"].find({}):
            meta = {"category": doc["category"], "question": doc["question"], "product_ids": ",".join(doc["product_ids"])}
            yield IndexItem(doc["_id"], f"{doc['question']} {doc['answer']}", meta, None)
    elif name == "campaign_posts":
        for doc in store["campaign_events"].find({"type": {"$in": ["post", "comment", "message", "mention", "share"]}}):
            if not doc.get("text"):
                continue
            meta = {
                "campaign_id": doc["campaign_id"],
                "customer_id": doc.get("customer_id") or "",
                "author_handle": doc["author_handle"],
                "type": doc["type"],
            }
            yield IndexItem(doc["_id"], doc["text"], meta, None)
    else:
        raise ValueError(f"unknown index {name!r}")


def _node_changed(person: dict | None, customer: dict | None, held: list[str] | None) -> bool:
    """Whether a customer is not in the live graph (`person`, their document there) as their record and features
    now show them: a customer, with this birth date and these holdings."""
    if person is None or customer is None:
        return True
    return (not person["is_customer"] or person["products"] != sorted(held or ())
            or as_date(person["date_of_birth"]) != as_date(customer.get("date_of_birth")))


def _graph_view(features: dict | None) -> tuple | None:
    """What the graph holds of a customer's features."""
    return None if features is None else (features["as_of"], *(features.get(name) for name in GRAPH_FEATURES))


def _now() -> str:
    return datetime.now(UTC).isoformat()
