"""Single calls made at the same time from many threads run as shared batches, each caller getting its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from retrieval.batching import MicroBatcher


class SlowDoubler:
    """Doubles numbers, a batch at a time, slowly enough for callers to pile up; remembers each batch."""

    def __init__(self, seconds: float = 0.02):
        self.seconds = seconds
        self.batches: list[list[int]] = []

    def __call__(self, items):
        self.batches.append(list(items))
        time.sleep(self.seconds)
        if any(item < 0 for item in items):
            raise ValueError("no negative numbers")
        return [2 * item for item in items]


def test_concurrent_calls_share_batches_and_each_gets_its_own_result():
    run = SlowDoubler()
    batcher = MicroBatcher(run, max_batch=64)
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(batcher.submit, range(32)))
    assert results == [2 * number for number in range(32)]
    assert len(run.batches) < 8
    assert sorted(item for batch in run.batches for item in batch) == list(range(32))


def test_no_batch_is_larger_than_max_batch():
    run = SlowDoubler()
    batcher = MicroBatcher(run, max_batch=4)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(batcher.submit, range(16)))
    assert max(len(batch) for batch in run.batches) <= 4


def test_submit_many_returns_results_in_order():
    assert MicroBatcher(SlowDoubler(0)).submit_many([3, 1, 2]) == [6, 2, 4]


def test_a_failed_batch_fails_its_callers_and_the_next_batch_still_runs():
    batcher = MicroBatcher(SlowDoubler(0), window_s=0)
    with pytest.raises(ValueError, match="no negative numbers"):
        batcher.submit(-1)
    assert batcher.submit(5) == 10


def test_an_idle_runner_stops_and_a_new_call_starts_it_again():
    def runners() -> int:
        return sum(thread.name == "idle-test" for thread in threading.enumerate())

    batcher = MicroBatcher(SlowDoubler(0), idle_exit_s=0.05, name="idle-test")
    assert batcher.submit(1) == 2 and runners() == 1
    deadline = time.monotonic() + 5
    while runners() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runners() == 0
    assert batcher.submit(2) == 4
