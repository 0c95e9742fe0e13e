"""Request metrics for Prometheus, and one JSON log line per request with personal data redacted.

With several API processes on one host, `PROMETHEUS_MULTIPROC_DIR` (set by `fargo up --workers N`) makes every
process write its request metrics there and `/metrics`, in whichever process answers, sums them all
(prometheus_client's multiprocess mode). The message-embedding counts are kept by the embedder in each process;
with FARGO_REDIS_URL every process adds its counts to one Redis hash (`SharedEmbeddingCounts`), so `/metrics`
shows the total of every replica sharing that Redis, on any host.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.http_limits import send_error
from assistant.redaction import redact

access_log = logging.getLogger("fargo.access")
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
EMBEDDING_COUNTS_KEY = "fargo:message_embeddings"
COUNTS_FLUSH_S = 1.0  # how often a process adds its new embedding counts to Redis (and whenever it is scraped)


class Metrics:
    """One registry per app, so apps built in tests do not share counters."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self._collectors: list = []  # exported beside the request metrics, in either mode
        self.requests = Counter("fargo_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("fargo_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["method", "route"], registry=self.registry)

    def watch_embeddings(self, embedder_of: Callable[[], object | None], shared: SharedEmbeddingCounts | None = None):
        """Export the message embeddings of whatever embedder `embedder_of()` gives (None: none open yet); with
        `shared`, the total of every process adding to it."""
        collector = MessageEmbeddings(embedder_of, shared)
        self.registry.register(collector)
        self._collectors.append(collector)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics of this process, or, in multiprocess mode, the sum over every process writing to the
        directory."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


class MessageEmbeddings:
    """fargo_message_embeddings_total{source="cache"|"model"}: single texts embedded (a chat turn's message, a
    search query), the vector kept from an earlier call or computed; read from the embedder when scraped."""

    def __init__(self, embedder_of: Callable[[], object | None], shared: SharedEmbeddingCounts | None = None):
        self.embedder_of = embedder_of
        self.shared = shared

    def collect(self):
        family = CounterMetricFamily("fargo_message_embeddings", "Single texts (chat messages) embedded, by "
                                     "where the vector came from: the embedding cache or the model.", labels=["source"])
        counts = self.shared.totals() if self.shared else None
        if counts is None:  # no Redis, or Redis unreachable: this process's own
            counts = getattr(self.embedder_of(), "single_texts", None) or {}
        for source, count in sorted(counts.items()):
            family.add_metric([source], count)
        yield family


class SharedEmbeddingCounts:
    """The embedder's counts of this process, added to a Redis hash every COUNTS_FLUSH_S and before each read, so
    the hash holds the total of every process (a process's last second shows once it flushes)."""

    def __init__(self, redis, embedder_of: Callable[[], object | None]):
        self.redis = redis
        self.embedder_of = embedder_of
        self._flushed: tuple[object | None, dict[str, int]] = (None, {})
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def flush(self) -> None:
        """Add what this process counted since the last flush (Redis errors propagate; the counts stay unsent)."""
        with self._lock:
            embedder = self.embedder_of()
            counts = dict(getattr(embedder, "single_texts", None) or {})
            sent = self._flushed[1] if self._flushed[0] is embedder else {}
            new = {source: count - sent.get(source, 0) for source, count in counts.items()}
            if any(new.values()):
                with self.redis.pipeline(transaction=False) as pipe:
                    for source, count in new.items():
                        pipe.hincrby(EMBEDDING_COUNTS_KEY, source, count)
                    pipe.execute()
            self._flushed = (embedder, counts)

    def totals(self) -> dict[str, int] | None:
        """Every process's counts; None when Redis cannot be reached."""
        try:
            self.flush()
            return {source.decode(): int(count) for source, count in self.redis.hgetall(EMBEDDING_COUNTS_KEY).items()}
        except RedisError:
            return None

    def start(self) -> None:
        threading.Thread(target=self._flush_until_stopped, name="embedding-counts", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.totals()  # a last flush, so a process leaving does not take its last counts along

    def _flush_until_stopped(self) -> None:
        while not self._stop.wait(COUNTS_FLUSH_S):
            try:
                self.flush()
            except RedisError:
                pass  # sent with the next flush that reaches Redis


def route_template(scope: Scope) -> str:
    """The route's path template ("/v1/sessions/{session_id}"), so labels never carry ids."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object a line; the message passes through redact()."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                 "logger": record.name, "message": redact(record.getMessage()).text}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info)).text
        return json.dumps(entry, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send Fargo's logs to stderr as JSON lines (call once, from the process entry point)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("fargo")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class ObservabilityMiddleware:
    """Times every HTTP request, counts it by route template and status, and logs it."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):  # redacting the path is dear: only for a line that is written
                caller = getattr(scope.get("state", {}).get("caller"), "role", None)
                fields = {"method": scope["method"], "route": route, "status": status,
                          "ms": round(seconds * 1000, 1), "role": caller}
                access_log.info("%s %s %s", scope["method"], redact(scope["path"]).text, status,
                                extra={"fields": fields})


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"request body is over {max_bytes} bytes")


class BodyLimitMiddleware:
    """Answers 413 to a request body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, "request_too_large", f"request body is over {self.max_bytes} bytes")
