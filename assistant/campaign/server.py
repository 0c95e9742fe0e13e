"""The campaign server: social-media campaign events in, outreach leads out.

`create_campaign_app(settings)` builds a FastAPI app of its own (its own port,
`fargo campaign-server`), nothing at import time:

- `POST /v1/campaign/events`: a signed batch of events from a known source.
  Checked in this order: source and signature headers present (401), body size
  (413) and time to arrive (408, `request_body_timeout_s`), HMAC-SHA256
  signature (401), JSON (400), each event (reported per item with index, field
  and reason; good ones kept), room in the queue (429 with Retry-After, nothing
  of the batch kept); then the good events are
  written durably to the queue and the answer is 202 with counts (422 when
  every event of the batch was bad). An event id the queue has seen is a
  duplicate: counted, not stored again. Only a source listed in
  `campaign_trusted_sources` may name an event's `customer_id`; from any other
  source such an event is refused per item (field `customer_id`).
- `GET /v1/campaign/leads` and `GET /v1/campaign/{campaign_id}/summary`, for
  the agent console, behind `require_staff`: the main API's credentials
  (`assistant.auth.authenticate`), open to staff (agent and admin keys), 403
  for developer keys and widget tokens; an address that sent
  `auth_failure_limit` bad credentials within `auth_failure_window_s` gets 429
  with Retry-After until the window has passed.

Every error is answered in the main API's shape, {"error": {"type", "message",
"field"?}}, by one handler over `FargoError`; per-item event errors are part of
the 202/422 result, not an error answer.

Signing: `X-Fargo-Source: <source>` names the sender, whose shared secret signs
the raw body: `X-Fargo-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.
A sender may add `X-Fargo-Timestamp: <unix seconds>`; then the signed message
is `<timestamp>.` followed by the body and requests older than
`signature_max_age_s` are refused, which stops replays (a replay is harmless
anyway: its event ids are duplicates).

Post text is untrusted: it is validated as a string of bounded length that is
valid Unicode (`retrieval.text`: no lone surrogates, noncharacters or control
characters, in any field or query parameter), stored and returned as text, and
nothing here or in the worker follows what it says.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.api import errors as api_errors
from assistant.api.errors import error_response
from assistant.api.http_limits import (
    BodyDeadlineMiddleware,
    server_options,
)
from assistant.api.ratelimit import (
    FailureLimiter,
    client_address,
)
from assistant.auth import AuthError, Forbidden, RateLimited, authenticate, token_secret
from assistant.callers import STAFF_ROLES, Caller
from assistant.campaign.queue import CampaignQueue
from assistant.settings import Settings
from retrieval.docstore import StoreError, iso_datetime, open_store
from retrieval.errors import FargoError
from retrieval.leads import (
    anonymous_event_count,
    event_volume_by_day,
    find_leads,
    need_counts,
)
from retrieval.leads import leads_by_product as count_leads_by_product
from retrieval.records import CampaignEvent
from retrieval.text import Text

log = logging.getLogger("fargo.campaign_server")

SOURCE_HEADER = "x-fargo-source"
SIGNATURE_HEADER = "x-fargo-signature"
TIMESTAMP_HEADER = "x-fargo-timestamp"
SIGNATURE_PREFIX = "sha256="
UNIX_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")

DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_MAX_EVENTS = 1_000
DEFAULT_RETRY_AFTER_S = 5
DEFAULT_SIGNATURE_MAX_AGE_S = 300
MAX_TEXT_CHARS = 5_000
STAFF_ONLY = "this needs a key with role agent or admin"
STORE_DOWN = "the document store is not answering; try again shortly"
HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout"}
CUSTOMER_ID_REFUSED = ("this source may not name customers (FARGO_CAMPAIGN_TRUSTED_SOURCES): leave customer_id "
                       "out or null, and the author is found by their social handle")


# --- domain errors, each one HTTP answer (status, type, Retry-After from FargoError) ----------------


class Unauthenticated(FargoError):
    """An event batch that is unsigned or badly signed."""

    status = 401
    kind = "unauthorized"


class BodyTooLarge(FargoError):
    status = 413
    kind = "payload_too_large"


class MalformedBody(FargoError):
    status = 400
    kind = "invalid_request"


# --- signatures (pure) -------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The X-Fargo-Signature value a sender puts on `body` (senders and tests use this)."""
    message = body if timestamp is None else timestamp.encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_signature(secrets: Mapping[str, SecretStr], source: str, signature: str, body: bytes,
                    timestamp: str | None, now: float, max_age_s: float) -> None:
    """Raise Unauthenticated unless `signature` is `source`'s HMAC of the body (and the timestamp is fresh)."""
    secret = secrets.get(source)
    if timestamp is not None:
        age = now - unix_seconds(timestamp, now)
        if abs(age) > max_age_s:
            raise Unauthenticated(f"{TIMESTAMP_HEADER} is more than {max_age_s:.0f} s away from the server's clock")
    # An unknown source is checked against a stand-in key, so the answer (and its timing) does not
    # tell a caller which sources exist.
    key = secret.get_secret_value() if secret is not None else hashlib.sha256(source.encode()).hexdigest()
    expected = sign(key, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()) or secret is None:
        raise Unauthenticated("unknown source or bad signature")


def unix_seconds(timestamp: str, now: float) -> float:
    """The sender's clock from its timestamp header: digits with an optional fraction, nothing else, so
    nan, inf, exponents, signs and blanks are refused rather than compared."""
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be the current unix time in seconds, digits with an optional "
                              f"fraction (such as {int(now)})")
    return float(timestamp)


def as_secrets(secrets: Mapping[str, SecretStr | str] | None) -> dict[str, SecretStr]:
    return {source: value if isinstance(value, SecretStr) else SecretStr(value)
            for source, value in (secrets or {}).items()}


# --- validation (pure) -------------------------------------------------------------------------


class IncomingEvent(CampaignEvent):
    """A campaign event as a sender posts it; extra fields are refused."""

    event_id: Text = Field(min_length=1, max_length=128)
    campaign_id: Text = Field(min_length=1, max_length=64)
    platform: Text = Field(min_length=1, max_length=32)
    author_handle: Text = Field(min_length=1, max_length=128)
    customer_id: Text | None = Field(None, max_length=64)
    text: Text = Field("", max_length=MAX_TEXT_CHARS)


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    reason: str


def validate_events(items: list[Any], may_name_customers: bool = False) -> tuple[list[dict[str, Any]], list[ItemError]]:
    """(the good events in stored form, an error per bad field of each bad item).

    Only a source trusted to name customers may send `customer_id`; anyone else's author is found by handle.
    """
    good: list[dict[str, Any]] = []
    errors: list[ItemError] = []
    for index, item in enumerate(items):
        try:
            event = IncomingEvent.model_validate(item)
        except ValidationError as exc:
            errors.extend(ItemError(index, ".".join(str(part) for part in error["loc"]), error["msg"])
                          for error in exc.errors())
            continue
        if event.customer_id and not may_name_customers:
            errors.append(ItemError(index, "customer_id", CUSTOMER_ID_REFUSED))
            continue
        stored = event.model_dump()
        stored["timestamp"] = iso_datetime(event.timestamp)
        stored["platform"] = event.platform.lower()
        good.append(stored)
    return good, errors


def parse_batch(body: bytes, max_events: int) -> list[Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise MalformedBody('the body must be a JSON object with an "events" list')
    if len(document["events"]) > max_events:
        raise BodyTooLarge(f"at most {max_events:,} events per request, got {len(document['events']):,}")
    return document["events"]


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing more than `max_bytes` without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the body is larger than {max_bytes:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the body is larger than {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- staff auth ----------------------------------------------------------------------------------


def require_staff(request: Request) -> Caller:
    """Dependency: the caller behind the main API's credentials, if staff (agent or admin); 401 without a valid
    one, 403 for a developer key or a widget token.

    An address that sent too many bad credentials lately gets 429 before any credential is checked."""
    state = request.app.state
    failures, address = state.auth_failures, client_address(request.client.host if request.client else None)
    wait = failures.wait(address)
    if wait > 0:
        raise RateLimited(wait, "too many failed API keys from this address")
    try:
        caller = authenticate(state.store, state.token_secret, request.headers.get("authorization"))
    except AuthError:
        if "authorization" in request.headers:  # a credential that failed, not a request that sent none
            failures.failed(address)
        raise
    if caller.role not in STAFF_ROLES:
        raise Forbidden(f"{STAFF_ONLY}, not {caller.role}")
    return caller


Staff = Annotated[Caller, Depends(require_staff)]


# --- response models -----------------------------------------------------------------------------


class ItemErrorOut(BaseModel):
    index: int
    field: str
    reason: str


class IngestAnswer(BaseModel):
    accepted: int = Field(description="new events written to the queue")
    duplicates: int = Field(description="events whose id the queue had already seen; not processed twice")
    rejected: int = Field(description="events that failed validation (see errors)")
    errors: list[ItemErrorOut]


class LeadOut(BaseModel):
    lead_id: str
    customer_id: str
    product_id: str
    product_name: str
    campaign_id: str
    campaign_name: str
    score: float
    needs: list[str]
    reason: str
    opening_line: str
    marketing_consent: bool
    signal_count: int
    first_signal_at: str
    last_signal_at: str


class LeadsOut(BaseModel):
    leads: list[LeadOut]


class ProductLeads(BaseModel):
    product_id: str
    product_name: str
    leads: int
    average_score: float


class NeedCount(BaseModel):
    need: str
    customers: int = Field(description="signals from known customers")
    anonymous: int = Field(description="signals from authors who are not known customers")


class DayVolume(BaseModel):
    day: str
    events: int


class CampaignSummaryOut(BaseModel):
    campaign_id: str
    events: int
    anonymous_events: int
    leads_by_product: list[ProductLeads]
    top_needs: list[NeedCount]
    volume: list[DayVolume]


def lead_out(document: Mapping[str, Any]) -> LeadOut:
    return LeadOut(lead_id=document["_id"], **{name: document[name] for name in LeadOut.model_fields
                                                 if name != "lead_id"})


# --- the app -------------------------------------------------------------------------------------


def _given(value: Any, default: Any) -> Any:
    """An explicit argument, else `default` (the settings field, or the module's constant)."""
    return default if value is None else value


def create_campaign_app(
    settings: Settings,
    *,
    secrets: Mapping[str, SecretStr | str] | None = None,
    queue_limit: int | None = None,
    max_body_bytes: int | None = None,
    max_events_per_request: int | None = None,
    retry_after_s: int | None = None,
    signature_max_age_s: int | None = None,
    trusted_sources: Collection[str] | None = None,
) -> FastAPI:
    """Build the campaign server; the queue and the store open in the lifespan."""
    source_secrets = as_secrets(_given(secrets, settings.campaign_secrets))
    limit = _given(queue_limit, settings.campaign_queue_limit)
    body_limit = _given(max_body_bytes, DEFAULT_MAX_BODY_BYTES)
    max_events = _given(max_events_per_request, DEFAULT_MAX_EVENTS)
    retry_after = _given(retry_after_s, DEFAULT_RETRY_AFTER_S)
    max_age = _given(signature_max_age_s, DEFAULT_SIGNATURE_MAX_AGE_S)
    naming_sources = frozenset(_given(trusted_sources, settings.campaign_trusted_sources))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not source_secrets:
            log.warning("no campaign sources configured (FARGO_CAMPAIGN_SECRETS): every event post gets 401")
        store = open_store(settings)
        store.ensure_indexes()
        queue = CampaignQueue.open(settings.data_dir, limit=limit, retry_after_s=retry_after)
        app.state.store, app.state.queue = store, queue
        try:
            yield
        finally:
            queue.close()
            store.close()

    app = FastAPI(title="Fargo AI campaign server", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.token_secret = functools.cache(lambda: token_secret(settings))
    app.state.auth_failures = FailureLimiter(settings.auth_failure_limit,
                                             settings.auth_failure_window_s)
    app.add_middleware(BodyDeadlineMiddleware,
                       timeout_s=settings.request_body_timeout_s)
    add_error_handlers(app)

    @app.post("/v1/campaign/events", status_code=202, response_model=IngestAnswer, tags=["campaign"],
              responses={400: {}, 401: {}, 408: {}, 413: {}, 422: {}, 429: {}})
    async def post_events(request: Request) -> Any:
        """Accept a signed batch of campaign events; good events are queued durably before the answer."""
        source = request.headers.get(SOURCE_HEADER, "").strip()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not source or not signature:
            raise Unauthenticated(f"the request must be signed: {SOURCE_HEADER} and {SIGNATURE_HEADER} headers")
        body = await read_body(request, body_limit)
        check_signature(source_secrets, source, signature, body, request.headers.get(TIMESTAMP_HEADER),
                        time.time(), max_age)
        items = parse_batch(body, max_events)
        good, errors = validate_events(items, may_name_customers=source in naming_sources)
        result = await run_in_threadpool(request.app.state.queue.put_many, source, good)
        rejected = len({error.index for error in errors})
        answer = IngestAnswer(accepted=result.accepted, duplicates=result.duplicates, rejected=rejected,
                              errors=[ItemErrorOut(**vars(error)) for error in errors])
        status = 422 if items and not good else 202
        return JSONResponse(answer.model_dump(), status_code=status)

    @app.get("/v1/campaign/leads", response_model=LeadsOut, tags=["campaign"])
    def get_leads(
        request: Request,
        staff: Staff,
        campaign_id: Text | None = None,
        product_id: Text | None = None,
        customer_id: Text | None = None,
        min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> LeadsOut:
        """Outreach leads, best first; post text inside reasons is quoted as plain text."""
        documents = find_leads(request.app.state.store, campaign_id=campaign_id, product_id=product_id,
                               customer_id=customer_id, min_score=min_score, limit=limit)
        return LeadsOut(leads=[lead_out(document) for document in documents])

    @app.get("/v1/campaign/{campaign_id}/summary", response_model=CampaignSummaryOut, tags=["campaign"])
    def get_summary(
        request: Request, staff: Staff, campaign_id: Annotated[Text, Path(min_length=1, max_length=64)]
    ) -> CampaignSummaryOut:
        """Leads by product, top needs (known customers and anonymous authors) and events per day."""
        return campaign_summary(request.app.state.store, campaign_id)

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> dict[str, Any]:
        """Liveness, and how many accepted events wait to be processed."""
        return {"status": "ok", "queue_depth": request.app.state.queue.depth()}

    return app


def add_error_handlers(app: FastAPI) -> None:
    """Every error answer in the main API's shape: {"error": {"type", "message", "field"?}}."""
    app.add_exception_handler(FargoError, fargo_error)
    app.add_exception_handler(RequestValidationError, api_errors.validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, api_errors.unexpected_error)


async def fargo_error(request: Request, exc: FargoError) -> JSONResponse:
    """As the main API answers, but a store's text is for operators only: senders are told to retry."""
    if isinstance(exc, StoreError):
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
        return error_response(exc.status, exc.kind, STORE_DOWN, headers=exc.http_headers())
    return await api_errors.fargo_error(request, exc)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, kind, str(exc.detail), headers=exc.headers)


def campaign_summary(store, campaign_id: str) -> CampaignSummaryOut:
    known, anonymous = need_counts(store, campaign_id)
    needs = sorted(known.keys() | anonymous.keys(), key=lambda n: (-(known.get(n, 0) + anonymous.get(n, 0)), n))
    volume = event_volume_by_day(store, campaign_id)
    return CampaignSummaryOut(
        campaign_id=campaign_id,
        events=sum(volume.values()),
        anonymous_events=anonymous_event_count(store, campaign_id),
        leads_by_product=[ProductLeads(**row) for row in count_leads_by_product(store, campaign_id)],
        top_needs=[NeedCount(need=n, customers=known.get(n, 0), anonymous=anonymous.get(n, 0)) for n in needs[:10]],
        volume=[DayVolume(day=day, events=count) for day, count in sorted(volume.items())],
    )


DEFAULT_PORT = 8001


def serve_campaign(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the campaign server with uvicorn (`fargo campaign-server`); blocks until stopped."""
    import uvicorn

    bind_host = host or settings.host
    bind_port = port or getattr(settings, "campaign_port", None) or DEFAULT_PORT
    log.info("campaign server on http://%s:%d", bind_host, bind_port)
    uvicorn.run(create_campaign_app(settings), host=bind_host, port=bind_port, log_level="info",
                **server_options(settings))
