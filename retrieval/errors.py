"""Fargo's error base, the document store's own exceptions, and the one place third-party ones become them.

Callers catch `StoreError` (or a subclass) and never see pymongo, sqlite3 or
NeoSQLite exceptions. Messages name the store ("MongoDB at db1:27017") but
never carry credentials: every message passes through `redact`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import neosqlite.exceptions as neo_errors
from pymongo import errors as mongo_errors

DUPLICATE_KEY_CODES = frozenset({11000, 11001})
_UNAVAILABLE_SQLITE_MESSAGES = ("unable to open", "disk i/o", "database is locked", "not a database", "readonly")


class FargoError(Exception):
    """The base of Fargo's own errors; each kind says how the API answers it.

    `status` and `kind` are the HTTP status and the `type` of the API's {"error": {...}} body, `field` the request
    field at fault (if any), `retry_after_s` a Retry-After header. A kind left at status 500 is answered with a
    generic message and logged, since its text was written for operators, not clients.
    """

    status: int = 500
    kind: str = "internal_error"
    retry_after_s: float | None = None

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def public_message(self) -> str:
        """What a client is told."""
        return self.message

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(math.ceil(self.retry_after_s))} if self.retry_after_s is not None else {}


class StoreError(FargoError):
    """Something went wrong in the document store."""

    status = 503
    kind = "store_unavailable"
    retry_after_s = 5

    @property
    def public_message(self) -> str:
        return f"the document store failed: {self.message}"


class DuplicateKeyError(StoreError):
    """A write would repeat a unique key (`_id` or a unique index)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached: server down, wrong address, unusable database file."""


class UnsupportedQuery(StoreError):
    """A query, update or pipeline uses something one of the two backends gets wrong."""


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _short(exc: BaseException) -> str:
    """pymongo appends the whole server reply or topology; the first clause says what happened."""
    text = str(exc)
    for marker in (", full error:", ", Timeout:", ", Topology Description:"):
        text = text.split(marker, 1)[0]
    return text[:300]


def _bulk_error(exc: mongo_errors.BulkWriteError | neo_errors.BulkWriteError, where: str) -> StoreError:
    write_errors = (exc.details or {}).get("writeErrors", [])
    messages = "; ".join(str(error.get("errmsg", "")) for error in write_errors[:3])
    if write_errors and all(error.get("code") in DUPLICATE_KEY_CODES for error in write_errors):
        return DuplicateKeyError(f"{where}: {len(write_errors)} duplicate key(s): {messages}")
    return StoreError(f"{where}: {len(write_errors)} write(s) failed: {messages}")


def _sqlite_error(exc: sqlite3.Error, where: str) -> StoreError:
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in message:
        return DuplicateKeyError(f"{where}: duplicate key: {message}")
    if any(hint in message.lower() for hint in _UNAVAILABLE_SQLITE_MESSAGES):
        return StoreUnavailable(f"{where} is unusable: {message}")
    return StoreError(f"{where}: {message}")


def map_error(exc: Exception, where: str) -> StoreError | None:
    """The project's exception for a third-party store exception, or None if it is not one."""
    if isinstance(exc, mongo_errors.DuplicateKeyError):
        return DuplicateKeyError(f"{where}: duplicate key: {_short(exc)}")
    if isinstance(exc, mongo_errors.BulkWriteError | neo_errors.BulkWriteError):
        return _bulk_error(exc, where)
    if isinstance(exc, mongo_errors.ConnectionFailure):
        return StoreUnavailable(f"{where} is unreachable: {_short(exc)}")
    if isinstance(exc, mongo_errors.PyMongoError):
        return StoreError(f"{where}: {_short(exc)}")
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error(exc, where)
    if isinstance(exc, neo_errors.MalformedQueryException | neo_errors.MalformedDocument | neo_errors.InvalidOperation):
        return StoreError(f"{where}: {exc}")
    return None


@contextmanager
def translate_errors(where: str, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Re-raise pymongo, sqlite3 and NeoSQLite exceptions as the project's own."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        mapped = map_error(exc, where)
        if mapped is None:
            raise
        raise type(mapped)(redact(str(mapped), tuple(secrets))) from None
