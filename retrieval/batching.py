"""Coalesce single calls made at the same time from many threads into one batch call.

A sentence model answers one sentence in about the time it answers a dozen, so
the query embeddings of concurrent chat turns are worth running as one batch.
`MicroBatcher(run)` hands `run` a list of items and expects their results in the
same order; `submit(item)` blocks until the item's batch has run and returns its
result (or raises what `run` raised, in every caller of that batch).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

WINDOW_S = 0.002  # how long a lone item waits for company while the runner is idle
MAX_BATCH = 64
IDLE_EXIT_S = 30.0  # the runner thread ends after this long without work (and starts again when needed)


class MicroBatcher(Generic[Item, Result]):
    """One runner thread (started on demand) takes what is waiting, up to `max_batch`, and runs it at once.

    An item that finds the runner idle waits at most `window_s` for others to join;
    items that arrive while a batch runs go together in the next one.
    """

    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]], *, window_s: float = WINDOW_S,
                 max_batch: int = MAX_BATCH, idle_exit_s: float = IDLE_EXIT_S, name: str = "micro-batcher") -> None:
        self._run = run
        self.name = name  # of the runner thread
        self.window_s = window_s
        self.max_batch = max_batch
        self.idle_exit_s = idle_exit_s
        self._waiting: queue.SimpleQueue[tuple[Item, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._runner_pid: int | None = None  # the process whose runner thread is alive; a forked child starts its own

    def submit(self, item: Item) -> Result:
        return self.submit_many([item])[0]

    def submit_many(self, items: Sequence[Item]) -> list[Result]:
        """Results in order; the items join whatever else is waiting (and may be run in more than one batch)."""
        futures = [Future() for _ in items]
        for item, future in zip(items, futures, strict=True):
            self._waiting.put((item, future))
        self._ensure_runner()
        return [future.result() for future in futures]

    def _ensure_runner(self) -> None:
        if self._runner_pid == os.getpid():
            return
        with self._lock:
            if self._runner_pid != os.getpid():
                threading.Thread(target=self._serve, name=self.name, daemon=True).start()
                self._runner_pid = os.getpid()

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                results = self._run([item for item, _ in batch])
            except BaseException as exc:  # every caller of this batch sees the failure
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def _next_batch(self) -> list[tuple[Item, Future]] | None:
        """What is waiting (after a short window for company), or None when idle long enough to stop."""
        try:
            batch = [self._waiting.get(timeout=self.idle_exit_s)]
        except queue.Empty:
            with self._lock:  # a submitter puts before it looks for a runner, so nothing is left behind
                if self._waiting.empty():
                    self._runner_pid = None
                    return None
            batch = [self._waiting.get()]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                batch.append(self._waiting.get(timeout=left) if left > 0 else self._waiting.get_nowait())
            except queue.Empty:
                break
        return batch
