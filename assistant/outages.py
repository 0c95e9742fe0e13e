"""Stores that fail: which exceptions mean a store is down or failing, and the back-off while it is.

The CLI turns such a failure into exit code 3 and one line; the worker logs one line per failed try and tries
again later each time, instead of a traceback per try.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from huey.exceptions import RetryTask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from retrieval.errors import StoreError
from retrieval.vectors import VectorStoreError

log = logging.getLogger("fargo.scheduler")
FIRST_RETRY_S = 5.0
LONGEST_RETRY_S = 300.0


def store_failure(exc: BaseException) -> str | None:
    """One line naming the store `exc` says failed, or None if `exc` is no store's failure."""
    if isinstance(exc, StoreError):
        return f"document store: {exc}"
    if isinstance(exc, VectorStoreError):
        return f"vector store: {exc}"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return f"job queue (FARGO_REDIS_URL): {exc}"
    return None


class Backoff:
    """Tries of one job while a store fails: the wait before the next try doubles from `first_s` up to
    `longest_s`, and each failed try is one warning line; a success logs that the store is back and starts over."""

    def __init__(self, job: str, log: logging.Logger, first_s: float = FIRST_RETRY_S,
                 longest_s: float = LONGEST_RETRY_S) -> None:
        self.job, self.log = job, log
        self.first_s, self.longest_s = first_s, longest_s
        self.failures = 0

    def failed(self, failure: str) -> float:
        """Log the failed try; returns the seconds to wait before the next."""
        self.failures += 1
        wait = min(self.first_s * 2 ** (self.failures - 1), self.longest_s)
        self.log.warning("%s: %s; try %d failed, next in %.0f s", self.job, failure, self.failures, wait)
        return wait

    def succeeded(self) -> None:
        if self.failures:
            self.log.info("%s: the store answers again after %d failed tries", self.job, self.failures)
        self.failures = 0


def attempt(job, *args, **kwargs) -> tuple[Any, str | None]:
    """(the job's result, None), or (None, the line naming the store whose failure stopped it); any other exception
    propagates."""
    try:
        return job(*args, **kwargs), None
    except Exception as exc:
        failure = store_failure(exc)
        if failure is None:
            raise
        return None, failure


def retried_while_stores_fail(job):
    """A task that a store's failure sends back to the queue, to run again after a back-off (`Backoff`), with one
    warning line per failed try instead of huey's traceback; any other exception stays huey's to report."""
    backoff = Backoff(job.__name__, log)

    @functools.wraps(job)
    def run(*args, **kwargs):
        result, failure = attempt(job, *args, **kwargs)
        if failure is not None:
            raise RetryTask(delay=backoff.failed(failure))
        backoff.succeeded()
        return result

    return run


def skipped_while_stores_fail(period_s: float, clock=time.monotonic):
    """For a frequent periodic task: while a store fails, its runs are skipped for a back-off that starts at one
    period, with one warning line per failed try (retrying it through the queue would pile copies up behind the
    schedule)."""

    def decorate(job):
        backoff = Backoff(job.__name__, log, first_s=period_s)
        resume_at = 0.0

        @functools.wraps(job)
        def run(*args, **kwargs):
            nonlocal resume_at
            if clock() < resume_at:
                return None
            result, failure = attempt(job, *args, **kwargs)
            if failure is not None:  # the run due when the wait is over goes ahead
                resume_at = clock() + backoff.failed(failure) - period_s / 2
                return None
            backoff.succeeded()
            return result

        return run

    return decorate


class OneLineStoreFailures(logging.Filter):
    """On huey's consumer loggers: a store failure it logs with a traceback (Redis gone while it reads the queue)
    becomes one line naming the store; huey's own back-off spaces the tries."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = store_failure(record.exc_info[1]) if record.exc_info else None
        if failure is not None:
            record.msg, record.args = f"{record.getMessage()}: {failure}; tried again after a back-off", ()
            record.exc_info = record.exc_text = None
        return True


HUEY_CONSUMER_LOGGERS = ("huey.consumer", "huey.consumer.Worker", "huey.consumer.Scheduler")


def quiet_huey_store_failures() -> None:
    one_line = OneLineStoreFailures()
    for name in HUEY_CONSUMER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, OneLineStoreFailures) for existing in logger.filters):
            logger.addFilter(one_line)
