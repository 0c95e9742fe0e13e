"""Console sign-in: who may open the console, and the sessions that keep them signed in.

An agent signs in once with their API key; the console then keeps a session:
a random token in an HttpOnly, SameSite=Strict cookie, stored only as its
sha256 in `console_sessions` with the key's id and an expiry. Every request
checks the key again, so revoking the key ends its console sessions too.
Each session carries a CSRF token that every form changing something sends back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from assistant.auth import API_KEYS, TOKEN_PREFIX, verify_key
from assistant.callers import STAFF_ROLES, Caller, Role

CONSOLE_SESSIONS = "console_sessions"
SESSION_COOKIE = "fargo_console"
SESSION_TTL_S = 8 * 3600


class SignInRefused(Exception):
    """The credential cannot open the console; the message says why, for the sign-in page."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in agent, supervisor or admin, as every console page sees them."""

    caller: Caller
    name: str
    csrf_token: str
    session_key: str  # the stored (hashed) session id

    @property
    def is_admin(self) -> bool:
        return self.caller.role is Role.admin

    @property
    def sees_figures(self) -> bool:
        """The contact centre's figures are for supervisors and admins."""
        return self.caller.role in (Role.supervisor, Role.admin)


def staff_key(store, credential: str) -> dict:
    """The key record behind a credential typed into the sign-in form; SignInRefused if it may not sign in."""
    credential = (credential or "").strip()
    if not credential:
        raise SignInRefused("Enter your agent API key.", 400)
    if credential.startswith(TOKEN_PREFIX):
        raise SignInRefused("Customer tokens cannot open the console: sign in with an agent API key.", 403)
    record = verify_key(store, credential)
    if record is None:
        raise SignInRefused("That API key is not valid or has been revoked.", 401)
    if record["role"] not in STAFF_ROLES:
        raise SignInRefused(f"A {record['role']} key cannot open the console: it is for agents, supervisors and admins.", 403)
    return record


def open_session(store, key_record: dict, now: float | None = None) -> str:
    """A new console session for the key; returns the cookie value (the store keeps only its hash)."""
    now = time.time() if now is None else now
    store[CONSOLE_SESSIONS].delete_many({"expires_at": {"$lt": now}})
    token = secrets.token_urlsafe(32)
    store[CONSOLE_SESSIONS].insert_one({
        "_id": _hashed(token), "key_id": key_record["_id"], "csrf_token": secrets.token_urlsafe(32),
        "created_at": now, "expires_at": now + SESSION_TTL_S,
    })
    return token


def signed_in_user(store, cookie: str | None, now: float | None = None) -> ConsoleUser | None:
    """The user behind a session cookie, or None when it is unknown, expired or its key is revoked."""
    if not cookie:
        return None
    session = store[CONSOLE_SESSIONS].find_one({"_id": _hashed(cookie)})
    if session is None or session["expires_at"] <= (time.time() if now is None else now):
        return None
    key = store[API_KEYS].find_one({"_id": session["key_id"]})
    if key is None or key.get("revoked") or key["role"] not in STAFF_ROLES:
        return None
    caller = Caller(role=key["role"], key_id=key["_id"])
    return ConsoleUser(caller, key.get("name") or key["role"], session["csrf_token"], session["_id"])


def close_session(store, user: ConsoleUser) -> None:
    store[CONSOLE_SESSIONS].delete_one({"_id": user.session_key})


def csrf_matches(expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected.encode(), sent.encode())


def _hashed(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
