"""Who is calling: API keys (stored hashed) and short-lived widget tokens bound to one customer.

An API key is shown once, when created; the store keeps only its sha256, which
is also the key's id. A widget token is minted by the bank's backend for one
signed-in customer: an HMAC-signed, expiring claim "this browser is customer X".
Both travel as `Authorization: Bearer <key or token>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from assistant.callers import KEY_ROLES, Caller, Role
from retrieval.errors import FargoError
from retrieval.text import text_problem
from tools.eligibility import may_profile

KEY_PREFIX = "fargo_"
TOKEN_PREFIX = "fwt."
MAX_TOKEN_TTL_S = 3600
MIN_SECRET_BYTES = 32
SECRET_FILE = "token_secret"
DEMO_CREDENTIALS_FILE = "demo_credentials.json"
API_KEYS = "api_keys"
DEMO_HOUSEHOLDS_CONSIDERED = 20


class AuthError(FargoError):
    """The caller could not be identified; the message says why (never echoes the credential)."""

    status = 401
    kind = "unauthorized"

    def http_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(FargoError):
    """The caller is known but may not do this."""

    status = 403
    kind = "permission_denied"


class RateLimited(FargoError):
    status = 429
    kind = "rate_limited"

    def __init__(self, retry_after_s: float, what: str = "too many requests"):
        super().__init__(f"{what}: retry in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


class KeyNotFound(FargoError, LookupError):
    status = 404
    kind = "not_found"


class TokenSecretMissing(FargoError, RuntimeError):
    """Widget tokens need a signing secret outside demo mode."""

    status = 503
    kind = "not_configured"


# --- API keys -------------------------------------------------------------------------------------


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store, role: Role | str, name: str) -> tuple[str, dict]:
    """A new API key: (the plaintext, shown once, and the stored record, which holds only its hash)."""
    if role not in KEY_ROLES:
        raise ValueError(f"role must be one of {', '.join(KEY_ROLES)}, not {role!r}")
    if (problem := text_problem(name)) is not None:
        raise ValueError(f"name {problem}")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    record = {"_id": key_id(plaintext), "role": Role(role).value, "name": name, "created_at": _now(), "revoked": False}
    store[API_KEYS].insert_one(record)
    return plaintext, record


def find_key(store, key_id_or_prefix: str) -> dict:
    """The one key whose id is, or starts with, `key_id_or_prefix` (at least 8 characters)."""
    wanted = key_id_or_prefix.strip().lower()
    if len(wanted) < 8:
        raise KeyNotFound("give at least 8 characters of the key id")
    matches = [doc for doc in store[API_KEYS].find({}) if doc["_id"].startswith(wanted)]
    if not matches:
        raise KeyNotFound(f"no API key with id {wanted!r}")
    if len(matches) > 1:
        raise KeyNotFound(f"{len(matches)} keys start with {wanted!r}: give more of the id")
    return matches[0]


def revoke_key(store, key_id_or_prefix: str) -> dict:
    """Revoke a key for good; returns its record as it is now."""
    record = find_key(store, key_id_or_prefix)
    store[API_KEYS].update_one({"_id": record["_id"]}, {"$set": {"revoked": True, "revoked_at": _now()}})
    return record | {"revoked": True}


def list_keys(store) -> list[dict]:
    return store[API_KEYS].find({}, sort=[("created_at", 1)])


def verify_key(store, key: str) -> dict | None:
    """The key's record if it exists and is not revoked; else None."""
    record = store[API_KEYS].find_one({"_id": key_id(key)})
    if record is None or record.get("revoked"):
        return None
    return record


# --- widget tokens --------------------------------------------------------------------------------


def mint_widget_token(secret: bytes, customer_id: str, ttl_s: int, now: float | None = None) -> tuple[str, int]:
    """(token, expiry as a unix time) for one customer; ttl_s is 1..MAX_TOKEN_TTL_S."""
    if not 1 <= ttl_s <= MAX_TOKEN_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {MAX_TOKEN_TTL_S}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": customer_id, "iat": issued, "exp": issued + ttl_s}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{TOKEN_PREFIX}{body}.{_sign(secret, body)}", claims["exp"]


def read_widget_token(secret: bytes, token: str, now: float | None = None) -> str:
    """The customer id a valid, unexpired token is bound to; raises AuthError otherwise."""
    if not token.isascii():  # no token Fargo mints has other characters, and compare_digest refuses them
        raise AuthError("malformed widget token")
    try:
        body, signature = token.removeprefix(TOKEN_PREFIX).split(".")
    except ValueError:
        raise AuthError("malformed widget token") from None
    if not hmac.compare_digest(signature, _sign(secret, body)):
        raise AuthError("widget token signature is not valid")
    claims = json.loads(_unb64(body))
    if (now if now is not None else time.time()) >= claims["exp"]:
        raise AuthError("widget token has expired: ask the bank's backend for a new one")
    return claims["sub"]


def token_secret(settings) -> bytes:
    """The widget-token signing secret: FARGO_TOKEN_SECRET, or in demo mode one kept in the data dir."""
    configured = getattr(settings, "token_secret", None)
    if configured is not None:
        value = configured.get_secret_value() if hasattr(configured, "get_secret_value") else str(configured)
        return value.encode()
    if not settings.demo_mode:
        raise TokenSecretMissing("set FARGO_TOKEN_SECRET (at least 32 random characters) to issue widget tokens")
    return demo_secret(Path(settings.data_dir) / SECRET_FILE)


def demo_secret(path: Path) -> bytes:
    if not path.exists():
        _write_private(path, secrets.token_hex(MIN_SECRET_BYTES))
    return path.read_text().strip().encode()


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- who is calling -------------------------------------------------------------------------------


def authenticate(store, secret: bytes | Callable[[], bytes], authorization: str | None) -> Caller:
    """The Caller behind an `Authorization: Bearer ...` header; raises AuthError.

    `secret` may be a function: it is then asked only for widget tokens, so API
    keys keep working where no token secret is configured.
    """
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise AuthError("send Authorization: Bearer <API key or widget token>")
    if not credential.isascii():
        raise AuthError("malformed credential: API keys and widget tokens are ASCII")
    if credential.startswith(TOKEN_PREFIX):
        signing_secret = secret() if callable(secret) else secret
        return Caller(role=Role.customer, customer_id=read_widget_token(signing_secret, credential))
    record = verify_key(store, credential)
    if record is None:
        raise AuthError("API key is not valid or has been revoked")
    return Caller(role=record["role"], key_id=record["_id"])


# --- demo credentials -----------------------------------------------------------------------------


def ensure_demo_credentials(store, settings, ttl_s: int = MAX_TOKEN_TTL_S) -> tuple[str, str]:
    """(a demo agent key, a fresh widget token for the demo customer); the key is made once per data dir.

    Demo only: the key's plaintext is kept in <data_dir>/demo_credentials.json (0600)
    so `fargo up` can print it again on the next start.
    """
    path = Path(settings.data_dir) / DEMO_CREDENTIALS_FILE
    agent_key = json.loads(path.read_text()).get("agent_key") if path.exists() else None
    if agent_key is None or verify_key(store, agent_key) is None:
        agent_key, _ = create_key(store, Role.agent, "demo agent")
        _write_private(path, json.dumps({"agent_key": agent_key}))
    token, _ = mint_widget_token(token_secret(settings), demo_customer_id(store), ttl_s)
    return agent_key, token


def demo_customer_id(store) -> str:
    """The demo's signed-in customer: a whole household to show (most relatives on record), preferably
    one who lets us profile them (else there is nothing personal to show) and holds no card yet, so
    "what card suits my spending?" has something to offer."""
    households = store["relationships"].aggregate([
        {"$group": {"_id": "$customer_id", "relatives": {"$sum": 1}}},
        {"$sort": {"relatives": -1, "_id": 1}}, {"$limit": DEMO_HOUSEHOLDS_CONSIDERED},
    ])
    if not households:
        first = store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=1)
        if not first:
            raise KeyNotFound("the bank has no customers yet: run `fargo ingest` first")
        return first[0]["_id"]
    cards = {product["_id"] for product in store["products"].find({"category": "card"}, {"_id": 1})}
    for household in households:
        customer = store["customers"].find_one({"_id": household["_id"]}) or {}
        profiled = may_profile(customer)
        held = {account["product_id"] for account in store["accounts"].find({"customer_id": household["_id"]})}
        if profiled and not held & cards:
            return household["_id"]
    return households[0]["_id"]


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _now() -> str:
    return datetime.now(UTC).isoformat()
