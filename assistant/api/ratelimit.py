"""A token bucket per caller, and a count of failed credentials per client address: in memory (one process; a
restart refills every bucket and forgets every failure), or in Redis when FARGO_REDIS_URL is set, so the limits
hold across every API process sharing it (`SharedRateLimiter`, `SharedFailureLimiter`)."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from redis.exceptions import RedisError

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


# -- shared through Redis (FARGO_REDIS_URL): every API process counts against the same limits -----------------------

# A token bucket as above; Redis's clock, so processes on different machines agree on the time.
TOKEN_BUCKET = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(bucket[1]) or capacity
tokens = math.min(capacity, tokens + math.max(0, t - (tonumber(bucket[2]) or t)) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(t))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""
# The address's last `limit` failures, newest first; ARGV[3] = 1 records a failure, 0 only asks how long to wait.
FAILURES = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == '1' then
  redis.call('LPUSH', KEYS[1], tostring(t))
  redis.call('LTRIM', KEYS[1], 0, limit - 1)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return '0'
end
if redis.call('LLEN', KEYS[1]) < limit then return '0' end
return tostring(math.max(0, tonumber(redis.call('LINDEX', KEYS[1], -1)) + window - t))
"""
REDIS_TIMEOUT_S = 0.5
REDIS_RETRY_S = 5.0  # after Redis fails, limits are counted in this process for this long before Redis is tried again
log = logging.getLogger("fargo.ratelimit")


def redis_key(kind: str, who: str) -> str:
    """A digest, not the caller's id or address: no customer id or IP address is written to Redis."""
    return f"fargo:{kind}:{hashlib.blake2b(who.encode(), digest_size=16).hexdigest()}"


class _RedisOrLocal:
    """Runs a Lua script on Redis; while Redis is unreachable, answers from the process's own limiter (a limit per
    process, as without Redis) rather than failing the request, and logs one line per outage."""

    def __init__(self, redis, script: str, fallback):
        self.script = redis.register_script(script)
        self.fallback = fallback
        self._skip_until = 0.0
        self._failing = False

    def _run(self, key: str, *args) -> float | None:
        if time.monotonic() < self._skip_until:
            return None
        try:
            answer = float(self.script(keys=[key], args=list(args)))
        except RedisError as exc:
            if not self._failing:
                log.warning("rate limits counted per process: Redis (FARGO_REDIS_URL) failed: %s", exc)
            self._failing, self._skip_until = True, time.monotonic() + REDIS_RETRY_S
            return None
        if self._failing:
            log.warning("rate limits shared through Redis again")
            self._failing = False
        return answer


class SharedRateLimiter(_RedisOrLocal):
    """`RateLimiter` with its buckets in Redis."""

    def __init__(self, redis, per_minute: float = 120.0, burst: int | None = None):
        fallback = RateLimiter(per_minute, burst)
        super().__init__(redis, TOKEN_BUCKET, fallback)
        self.rate, self.capacity = fallback.rate, fallback.capacity

    def acquire(self, key: str) -> float:
        wait = self._run(redis_key("rate", key), repr(self.rate), repr(self.capacity)) if self.rate > 0 else None
        return self.fallback.acquire(key) if wait is None else wait


class SharedFailureLimiter(_RedisOrLocal):
    """`FailureLimiter` with each address's failures in Redis."""

    def __init__(self, redis, limit: int = AUTH_FAILURE_LIMIT, window_s: float = AUTH_FAILURE_WINDOW_S):
        super().__init__(redis, FAILURES, FailureLimiter(limit, window_s))
        self.limit, self.window_s = limit, window_s

    def wait(self, address: str) -> float:
        wait = self._run(redis_key("auth-failures", address), self.limit, repr(self.window_s), 0)
        return self.fallback.wait(address) if wait is None else wait

    def failed(self, address: str) -> None:
        if self._run(redis_key("auth-failures", address), self.limit, repr(self.window_s), 1) is None:
            self.fallback.failed(address)


def open_redis(url: str):
    """A Redis client for the limits and shared counters: short timeouts, so a Redis gone away costs a request
    half a second at most, once (see `_RedisOrLocal`)."""
    from redis import Redis

    return Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
