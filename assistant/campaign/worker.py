"""The campaign batch worker: queued events -> leads and anonymous insights.

A batch is due when `batch_size` events wait or the oldest has waited
`batch_window_s`. For each batch the worker
1. resolves each author to a customer (the event's customer id when it exists
   and the event came from a source trusted to name customers,
   `campaign_trusted_sources`; else the author's handle in the customers'
   `social_handles`);
2. embeds the batch's distinct texts in one call and infers the needs they
   express in one call (`tools.campaign.infer_needs`, against the catalogue's
   need statements);
3. writes each event to `campaign_events` with its needs and resolved customer
   (anonymous authors' events are the campaign's anonymous insights);
4. turns each event of a known customer into signals exactly as the campaign
   tool does (`tools.campaign.event_signals`: the needs its text states, else
   weak interest in the campaign's products), keeps those the tool's offer rules
   allow (eligibility, products held, health-data consent), and merges them into
   the leads (`retrieval.leads.save_signals`); then marks the batch done.
Steps 3 and 4 are idempotent (events keyed by id, lead signals by event id), so
a worker killed anywhere in between leaves a batch that the next claimant
processes again with the same outcome: every event counts exactly once.

Post text is data: it is embedded and quoted, never interpreted. A customer who
withdrew profiling consent is not profiled: their events count anonymously.

`run_campaign_worker(settings)` is the long-running worker (`fargo
campaign-worker`); `register_campaign_tasks(huey, settings)` makes `fargo
worker`'s huey consumer drain the queue too.
"""

from __future__ import annotations

import logging
import os
import signal as posix_signal
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne

from assistant.campaign.queue import DEFAULT_LEASE_S, CampaignQueue, Claim, QueuedEvent
from assistant.outages import (
    Backoff,
    retried_while_stores_fail,
    skipped_while_stores_fail,
    store_failure,
)
from assistant.settings import Settings
from retrieval.docstore import (
    feature_runs,
    handle_filter,
    live_feature_documents,
    live_pointer,
)
from retrieval.leads import LeadFacts, LeadSignal, save_signals
from retrieval.privacy import ErasureList

# may_offer: the tool's offer rules, so its leads and these agree
from tools.campaign import (
    NeedMatch,
    event_signals,
    handle_spellings,
    infer_needs,
    may_offer,
)
from tools.eligibility import may_profile

log = logging.getLogger("fargo.campaign_worker")

DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_WINDOW_S = 2.0
CATALOGUE_REFRESH_S = 60.0
HUEY_DRAIN_BUDGET_S = 50.0  # each minute's huey task drains for this long, inside its minute
DEDUPE_RETENTION_S = 7 * 86_400  # how long a processed event id still counts as a duplicate
PRUNE_EVERY_S = 3_600.0
OUTAGE_FIRST_RETRY_S = 2.0  # then 4, 8, ... up to outages.LONGEST_RETRY_S
CUSTOMER_FIELDS = {"first_name": 1, "consent": 1, "social_handles": 1}

Fault = Callable[[str, int], None]  # (stage, batch number): tests kill or fail the worker here
NeedInference = Callable[..., list[list[NeedMatch]]]  # tools.campaign.infer_needs's shape


@dataclass
class Catalogue:
    """Products, campaigns and the live run's id, reloaded now and then."""

    products: dict[str, dict]
    campaigns: dict[str, dict]
    live_run_id: str | None
    loaded_at: float

    @classmethod
    def load(cls, store, now: float) -> Catalogue:
        return cls(
            products={doc["_id"]: doc for doc in store["products"].find({})},
            campaigns={doc["_id"]: doc for doc in store["campaigns"].find({})},
            live_run_id=(live_pointer(store) or {}).get("run_id"),
            loaded_at=now,
        )

    @property
    def product_needs(self) -> dict[str, list[str]]:
        return {product_id: list(doc.get("need_statements") or []) for product_id, doc in self.products.items()}


@dataclass
class BatchResult:
    events: int = 0
    texts_embedded: int = 0
    known_authors: int = 0
    anonymous: int = 0
    leads_changed: int = 0
    erased: int = 0  # events by an erased customer, dropped unread
    seconds: dict[str, float] = field(default_factory=dict)


# --- author resolution ------------------------------------------------------------------------------


def profiled(customer: Mapping[str, Any] | None) -> bool:
    """A known customer who has not withdrawn consent to profiling."""
    return customer is not None and may_profile(customer)


def usable_event(queued: QueuedEvent, trusted_sources: Collection[str]) -> dict[str, Any]:
    """The event as the worker may use it: a customer id only from a source trusted to name customers."""
    if queued.source in trusted_sources or not queued.event.get("customer_id"):
        return queued.event
    return {**queued.event, "customer_id": None}


def resolve_authors(store, events: list[dict[str, Any]]) -> dict[str, dict | None]:
    """event id -> the customer document of its author, or None for an unknown author.

    The event's customer id wins when that customer exists; else the author's handle on the
    event's platform, in any of its spellings (one indexed $in query per platform).
    """
    given = sorted({event["customer_id"] for event in events if event.get("customer_id")})
    # An empty $in makes NeoSQLite scan every customer, so it is not asked.
    found = store["customers"].find({"_id": {"$in": given}}, CUSTOMER_FIELDS) if given else []
    by_id = {doc["_id"]: doc for doc in found}
    by_handle: dict[tuple[str, str], dict] = {}
    for platform in sorted({event["platform"] for event in events}):
        spellings = {s for e in events if e["platform"] == platform for s in handle_spellings(e["author_handle"])}
        (path,) = handle_filter(platform, "").keys()  # the indexed field this platform's handles live in
        for doc in store["customers"].find({path: {"$in": sorted(spellings)}}, CUSTOMER_FIELDS):
            for spelling in handle_spellings((doc.get("social_handles") or {}).get(platform, "")):
                by_handle.setdefault((platform, spelling), doc)
    authors: dict[str, dict | None] = {}
    for event in events:
        customer = by_id.get(event.get("customer_id") or "")
        if customer is None:
            spellings = handle_spellings(event["author_handle"])
            customer = next((by_handle[(event["platform"], s)] for s in spellings
                             if (event["platform"], s) in by_handle), None)
        authors[event["event_id"]] = customer
    return authors


def live_features(store, catalogue: Catalogue, customer_ids: set[str]) -> dict[str, dict]:
    """customer id -> their live feature document (what eligibility is checked against)."""
    if not customer_ids or catalogue.live_run_id is None:
        return {}
    return live_feature_documents(store, feature_runs(store, catalogue.live_run_id), sorted(customer_ids))


# --- from events to signals and documents -------------------------------------------------------------


def event_document(event: dict, author: dict | None, matches: list[NeedMatch], now: datetime) -> dict:
    """The event as `campaign_events` stores it, with what the worker learnt from it."""
    return {
        "_id": event["event_id"],
        **{name: event.get(name) for name in ("event_id", "campaign_id", "platform", "author_handle",
                                              "customer_id", "type", "text", "timestamp")},
        "resolved_customer_id": author["_id"] if profiled(author) else None,
        "needs": sorted({match.need for match in matches}),
        "products": sorted({match.product_id for match in matches}),
        "processed_at": now,
    }


def lead_signals(document: dict, author: dict | None, matches: list[NeedMatch], catalogue: Catalogue,
                 features: Mapping[str, dict]) -> list[LeadSignal]:
    """The products one event points its author at, as the campaign tool sees them, that may be offered."""
    if not profiled(author):
        return []
    signals = event_signals(author["_id"], document, matches, catalogue.campaigns.get(document["campaign_id"]))
    return [signal for signal in signals
            if may_offer(catalogue.products.get(signal.product_id), author, features.get(author["_id"]))]


def lead_facts(signals: list[LeadSignal], authors: Mapping[str, dict | None],
               catalogue: Catalogue) -> dict[str, LeadFacts]:
    facts: dict[str, LeadFacts] = {}
    for signal in signals:
        author = authors[signal.event_id] or {}
        campaign = catalogue.campaigns.get(signal.campaign_id) or {}
        facts[signal.lead_id] = LeadFacts(
            customer_first_name=author.get("first_name", ""),
            marketing_consent=bool((author.get("consent") or {}).get("marketing", False)),
            product_name=catalogue.products[signal.product_id]["name"],
            campaign_name=campaign.get("name", signal.campaign_id),
        )
    return facts


# --- the worker --------------------------------------------------------------------------------------


class CampaignWorker:
    """Claims due batches from the queue and turns them into leads and insights."""

    def __init__(self, store, queue: CampaignQueue, embedder, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 batch_window_s: float = DEFAULT_BATCH_WINDOW_S, lease_s: float = DEFAULT_LEASE_S,
                 fault: Fault | None = None, infer: NeedInference = infer_needs, clock=time.time,
                 trusted_sources: Collection[str] = (), pseudonym_key: bytes | None = None):
        self.store = store
        self.pseudonym_key = pseudonym_key  # the erasure list's key (retrieval.privacy), read again every batch
        self.trusted_sources = frozenset(trusted_sources)
        self.queue = queue
        self.embedder = embedder
        self.batch_size = batch_size
        self.batch_window_s = batch_window_s
        self.lease_s = lease_s
        self.fault = fault or (lambda stage, batch: None)
        self.infer = infer
        self.clock = clock
        self.batches = 0
        self.stage_seconds: dict[str, float] = {}  # summed over batches, for benchmarks and logs
        self._catalogue: Catalogue | None = None
        self._pruned_at = clock()
        self.outage = Backoff("campaign batch", log, first_s=OUTAGE_FIRST_RETRY_S)

    def catalogue(self) -> Catalogue:
        now = self.clock()
        if self._catalogue is None or now - self._catalogue.loaded_at > CATALOGUE_REFRESH_S:
            self._catalogue = Catalogue.load(self.store, now)
        return self._catalogue

    def run_once(self, force: bool = False) -> int:
        """Process one batch if one is due (or any waiting events, with `force`); returns events processed."""
        if not force and not self.queue.ready(self.batch_size, self.batch_window_s, self.lease_s):
            return 0
        claim = self.queue.claim(self.batch_size, self.lease_s)
        if claim is None:
            return 0
        self.batches += 1
        try:
            result = self.process(claim)
        except Exception as exc:
            failure = store_failure(exc)
            if failure is not None:  # an outage, not a bad batch: one line, and the batch keeps its tries
                self.queue.postpone(claim, failure[:500], self.outage.failed(failure))
                return 0
            log.exception("campaign batch of %d events failed; it will be retried", len(claim.events))
            self.queue.release(claim, f"{type(exc).__name__}: {exc}"[:500])
            return 0
        self.outage.succeeded()
        self.queue.complete(claim)
        log.info("campaign batch %d: %d events (%d anonymous), %d leads changed", self.batches, result.events,
                 result.anonymous, result.leads_changed)
        for stage, seconds in result.seconds.items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        return len(claim.events)

    def drain(self, *, until: float | None = None, stop: threading.Event | None = None,
              poll_s: float = 0.1, exit_when_idle: bool = False) -> int:
        """Process due batches until `until` (a clock time), `stop` is set, or (optionally) nothing waits."""
        processed = 0
        while not (stop is not None and stop.is_set()) and (until is None or self.clock() < until):
            done = self.run_once(force=exit_when_idle)
            processed += done
            if done:
                continue
            if exit_when_idle and self.queue.depth() == 0:
                break
            self._prune_now_and_then()
            time.sleep(poll_s)
        return processed

    def _prune_now_and_then(self) -> None:
        if self.clock() - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = self.clock()
            self.queue.prune(DEDUPE_RETENTION_S)

    def process(self, claim: Claim) -> BatchResult:
        events = [usable_event(queued, self.trusted_sources) for queued in claim.events]
        erasures = ErasureList(self.store, self.pseudonym_key)
        kept = [event for event in events if not erasures.covers(event)]
        result, started = BatchResult(events=len(kept), erased=len(events) - len(kept)), time.perf_counter()
        events = kept
        if not events:
            return result
        catalogue = self.catalogue()
        authors = resolve_authors(self.store, events)
        known = {author["_id"] for author in authors.values() if profiled(author)}
        features = live_features(self.store, catalogue, known)
        result.seconds["resolve"] = time.perf_counter() - started
        matches = self._infer(events, catalogue, result)
        self.fault("inferred", self.batches)
        now, started = datetime.now(UTC), time.perf_counter()
        documents = [event_document(e, authors[e["event_id"]], matches[e["event_id"]], now) for e in events]
        self.store["campaign_events"].bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in documents],
                                                 ordered=False)
        self.fault("events_written", self.batches)
        signals = [signal for document in documents for signal in lead_signals(
            document, authors[document["_id"]], matches[document["_id"]], catalogue, features)]
        result.leads_changed = save_signals(self.store, signals, lead_facts(signals, authors, catalogue), now)
        self.fault("leads_written", self.batches)
        result.seconds["write"] = time.perf_counter() - started
        result.known_authors = sum(1 for author in authors.values() if author is not None)
        result.anonymous = len(events) - result.known_authors
        return result

    def _infer(self, events: list[dict], catalogue: Catalogue, result: BatchResult) -> dict[str, list[NeedMatch]]:
        """Embed the batch's distinct texts in one call, then infer their needs in one call."""
        started = time.perf_counter()
        texts = sorted({event["text"] for event in events if event.get("text")})
        result.texts_embedded = len(texts)
        embeddings = self.embedder.embed(texts)
        result.seconds["embed"] = time.perf_counter() - started
        started = time.perf_counter()
        inferred = self.infer(texts, embeddings, catalogue.product_needs, embedder=self.embedder)
        per_text = dict(zip(texts, inferred, strict=True))
        result.seconds["infer"] = time.perf_counter() - started
        return {event["event_id"]: per_text.get(event.get("text") or "", []) for event in events}


# --- running it ----------------------------------------------------------------------------------------


def _given(value: Any, default: Any) -> Any:
    """An explicit argument, else `default` (the settings field, or the module's constant)."""
    return default if value is None else value


@contextmanager
def open_campaign_worker(settings: Settings, *, embedder=None, batch_size: int | None = None,
                         batch_window_s: float | None = None, lease_s: float | None = None,
                         fault: Fault | None = None,
                         trusted_sources: Collection[str] | None = None) -> Iterator[CampaignWorker]:
    """A worker over the stores `settings` name; the store and queue close after."""
    from assistant.dsr import pseudonym_key
    from retrieval.docstore import open_store

    if embedder is None:
        from retrieval.embeddings import get_embedder

        embedder = get_embedder()
    with open_store(settings) as store, CampaignQueue.open(settings.data_dir) as queue:
        store.ensure_indexes()
        yield CampaignWorker(
            store, queue, embedder,
            batch_size=_given(batch_size, settings.campaign_batch_size),
            batch_window_s=_given(batch_window_s, settings.campaign_batch_window_s),
            lease_s=_given(lease_s, DEFAULT_LEASE_S),
            fault=fault,
            trusted_sources=_given(trusted_sources, settings.campaign_trusted_sources),
            pseudonym_key=pseudonym_key(settings),
        )


def run_campaign_worker(settings: Settings, *, stop: threading.Event | None = None, exit_when_idle: bool = False,
                        embedder=None, **options: Any) -> int:
    """The long-running worker (`fargo campaign-worker`): drain until `stop` is set or (without a `stop`
    of the caller's) SIGTERM/SIGINT arrives, finishing the batch in hand; or until idle, if asked."""
    with _stop_on_signals(stop) as stop_event, open_campaign_worker(settings, embedder=embedder, **options) as worker:
        log.info("campaign worker %s:%d: batches of %d or every %.1f s", socket.gethostname(), os.getpid(),
                 worker.batch_size, worker.batch_window_s)
        return worker.drain(stop=stop_event, exit_when_idle=exit_when_idle)


@contextmanager
def _stop_on_signals(stop: threading.Event | None) -> Iterator[threading.Event]:
    if stop is not None or threading.current_thread() is not threading.main_thread():
        yield stop or threading.Event()
        return
    event = threading.Event()
    signals = (posix_signal.SIGTERM, posix_signal.SIGINT)
    previous = {signum: posix_signal.signal(signum, lambda *_: event.set()) for signum in signals}
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            posix_signal.signal(signum, handler)


def register_campaign_tasks(huey, settings: Settings, *, budget_s: float = HUEY_DRAIN_BUDGET_S, embedder=None) -> None:
    """Let a huey consumer (`fargo worker`) drain the campaign queue: every minute, for up to `budget_s`.

    The task expires if it cannot start within its minute, so a consumer busy with a long ingestion
    does not pile up drains; leases make several consumers (huey on Redis) safe to run at once.
    `huey.fargo_campaign_drain()` enqueues a drain of everything waiting now.
    """
    from huey import crontab

    @huey.periodic_task(crontab(minute="*"), name="campaign_drain", expires=budget_s)
    @skipped_while_stores_fail(period_s=60.0)
    def drain_due_batches() -> int:
        with open_campaign_worker(settings, embedder=embedder) as worker:
            return worker.drain(until=time.time() + budget_s)

    @huey.task(name="campaign_drain_now")
    @retried_while_stores_fail
    def drain_now() -> int:
        """Process whatever waits, due or not, and return how many events (huey keeps no periodic results)."""
        with open_campaign_worker(settings, embedder=embedder) as worker:
            return worker.drain(until=time.time() + budget_s, exit_when_idle=True)

    huey.fargo_campaign_drain = drain_now  # type: ignore[attr-defined]
