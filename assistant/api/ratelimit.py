"""A token bucket per caller, and a count of failed credentials per client address; in memory (one process; a
restart refills every bucket and forgets every failure)."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

AUTH_FAILURE_LIMIT = 20
AUTH_FAILURE_WINDOW_S = 60.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` requests a minute on average, bursts of up to `burst`."""

    def __init__(self, per_minute: float = 120.0, burst: int | None = None, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, int(per_minute)))
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0 when a request may go ahead (and takes a token); else seconds until one may."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(self.capacity, now))
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate if self.rate > 0 else math.inf


class FailureLimiter:
    """Failed credentials per client address: after `limit` failures within `window_s`, the address may not try
    again (with any credential, a good one too) until the oldest of those failures is `window_s` old.

    Keeps at most `limit` timestamps an address and forgets quiet addresses once it tracks `max_addresses`.
    """

    def __init__(self, limit: int = AUTH_FAILURE_LIMIT, window_s: float = AUTH_FAILURE_WINDOW_S, clock=time.monotonic,
                 max_addresses: int = 100_000):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_addresses = max_addresses
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """0 when the address may present a credential; else seconds until it may."""
        now = self.clock()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[0] + self.window_s - now)

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            if address not in self._failures and len(self._failures) >= self.max_addresses:
                self._forget_quiet_addresses(now)
            self._failures.setdefault(address, deque(maxlen=self.limit)).append(now)

    def _forget_quiet_addresses(self, now: float) -> None:
        quiet = [address for address, failures in self._failures.items() if failures[-1] + self.window_s <= now]
        for address in quiet:
            del self._failures[address]
        while len(self._failures) >= self.max_addresses:  # all recent: drop the longest-tracked
            del self._failures[next(iter(self._failures))]


def client_address(host: str | None) -> str:
    """The address failures are counted under: IPv6 clients by their /64, which one subscriber usually holds whole."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
