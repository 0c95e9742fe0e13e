"""The worker: scheduled jobs on huey: SQLite under the data dir by default, Redis when FARGO_REDIS_URL is set.

`make_huey(settings)` builds the queue and registers the tasks on it; nothing
is created at import time. The nightly ingestion runs on a cron
(FARGO_INGEST_CRON, default 02:00, outside business hours); adaptive ranking
learns from the latest offers and responses every LEARN_EVERY_MINUTES.
"""

from __future__ import annotations

import logging

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from assistant.adaptive import LEARN_EVERY_MINUTES
from assistant.outages import quiet_huey_store_failures, retried_while_stores_fail
from assistant.settings import Settings, parse_cron

log = logging.getLogger("fargo.scheduler")
PURGE_CRON = ("30", "3")  # minute, hour: daily, after the nightly ingestion's default 02:00


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url is not None:
        queue: Huey = RedisHuey("fargo", url=settings.redis_url.get_secret_value())
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        queue = SqliteHuey("fargo", filename=str(settings.data_dir / "jobs.db"))
    register_tasks(queue, settings)
    return queue


def register_tasks(queue: Huey, settings: Settings) -> None:
    cron = parse_cron(settings.ingest_cron)

    @queue.periodic_task(cron.schedule(), name="nightly_ingest")
    @retried_while_stores_fail
    def nightly_ingest() -> None:
        run_ingest_now(settings, mode="incremental")
        log.info("offers the new data shows opened: %d", record_openings_now(settings))

    @queue.task(name="ingest")
    @retried_while_stores_fail
    def ingest(mode: str = "incremental") -> str:
        run_id = run_ingest_now(settings, mode=mode).run_id
        record_openings_now(settings)
        return run_id

    queue.fargo_ingest = ingest  # type: ignore[attr-defined]  # lets the CLI enqueue without re-registering

    @queue.periodic_task(crontab(minute=PURGE_CRON[0], hour=PURGE_CRON[1]), name="purge_expired")
    @retried_while_stores_fail
    def purge_expired() -> None:
        from assistant.retention import run_purge_now

        log.info("purged what is past retention: %s", run_purge_now(settings).as_dict())

    @queue.periodic_task(crontab(minute=f"*/{LEARN_EVERY_MINUTES}"), name="learn_acceptance")
    @retried_while_stores_fail
    def learn_acceptance() -> None:
        learnt = learn_acceptance_now(settings)
        log.info("acceptance learnt through %s: %d offers, %d taken up", learnt.through, learnt.offers, learnt.taken_up)

    from assistant.campaign.worker import register_campaign_tasks

    register_campaign_tasks(queue, settings)


def run_ingest_now(settings: Settings, mode: str, progress=None, fault=None):
    """Open the stores, run one ingestion, close them."""
    from assistant.dsr import pseudonym_key
    from assistant.retention import keep_since
    from ingest.jobs import IngestJob
    from retrieval.docstore import open_store
    from retrieval.embeddings import get_embedder
    from retrieval.vectors import VectorIndexes

    source_dir = settings.resolved_source_dir
    with open_store(settings) as store, VectorIndexes.open(settings, get_embedder(settings.encoder)) as vectors:
        store.ensure_indexes()
        job = IngestJob(store, vectors, settings.data_dir / "graph", progress=progress, fault=fault,
                        pseudonym_key=pseudonym_key(settings), keep_since=keep_since(settings),
                        feature_engine=settings.feature_engine, spark_master=settings.spark_master)
        run = job.run(mode=mode, source_dir=source_dir if source_dir and source_dir.is_dir() else None)
    log.info("ingestion run %s %s", run.run_id, run.status)
    return run


def record_openings_now(settings: Settings) -> int:
    """After an ingestion run: an `opened` response for each recent offer the customer's accounts show opened."""
    from assistant.responses import record_openings
    from retrieval.docstore import open_store

    with open_store(settings) as store:
        return record_openings(store)


def learn_acceptance_now(settings: Settings):
    """Fold the offers and take-ups recorded since the last pass into adaptive ranking's counts."""
    from assistant.adaptive import learn
    from retrieval.docstore import open_store

    with open_store(settings) as store:
        return learn(store)


def start_consumer(queue: Huey, workers: int = 1) -> Consumer:
    """A consumer that runs tasks and the periodic scheduler."""
    quiet_huey_store_failures()
    return Consumer(queue, workers=workers, periodic=True, worker_type="thread")


def start_background_consumer(queue: Huey) -> Consumer:
    """Start worker and scheduler threads beside the API (used by `fargo up`); call `.stop()` after.

    Must be called from the main thread, before the server installs its own signal handlers.
    """
    consumer = start_consumer(queue)
    consumer.start()
    return consumer
