"""What every console page shares: the templates, rendering with safe headers, reading forms, and the
route class that turns console errors into HTML pages (the API's handlers answer JSON)."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from assistant import handoffs
from assistant.engine import InputError
from assistant.sessions import SessionNotFound
from retrieval.errors import StoreError
from retrieval.formats import money
from retrieval.text import readable, text_problem
from tools.context import NoLiveData

log = logging.getLogger("fargo.console")
HERE = Path(__file__).resolve().parent
FORM_TYPE = "application/x-www-form-urlencoded"
HOME = "/console/customers"
# No script runs on a console page, and nothing is fetched from elsewhere. Inline styles are allowed for the
# charts: matplotlib's SVG carries its own style attributes.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    pass


class PageError(Exception):
    """A page that cannot be shown: its status, a heading and a message for the error page."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@functools.cache
def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(words=words, money=money, ago=ago)
    return env


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    user = getattr(request.state, "console_user", None)
    waiting = handoffs.queue(request.app.state.store, (handoffs.WAITING,)) if user else []
    page = templates().get_template(template).render(user=user, waiting_count=len(waiting),
                                                     path=request.url.path, **context)
    # readable: text stored before input was checked may hold a lone surrogate, which UTF-8 cannot encode
    return HTMLResponse(readable(page), status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    """Sign in, then back to this page (a form's target cannot be opened by itself: back to search then)."""
    return f"/console/login?next={quote(request.url.path if request.method == 'GET' else HOME)}"


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form post (the console's forms send nothing else); InputError naming the first
    field whose value is not text fit to store."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=20))
    for name, value in fields.items():
        if (problem := text_problem(value)) is not None:
            raise InputError(f"{name} {problem}")
    return fields


def words(value) -> str:
    """An identifier-like value as words: 'health_data' -> 'health data'."""
    return "" if value is None else str(value).replace("_", " ")


def ago(iso_time: str | None, now: datetime | None = None) -> str:
    """'12 min ago' from an ISO time."""
    if not iso_time:
        return ""
    then = datetime.fromisoformat(iso_time)
    seconds = ((now or datetime.now(UTC)) - (then if then.tzinfo else then.replace(tzinfo=UTC))).total_seconds()
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"


class ConsoleRoute(APIRoute):
    """Console errors become pages: sign in again, not found, not allowed, no data yet."""

    def get_route_handler(self):
        handle = super().get_route_handler()

        async def handle_as_page(request: Request):
            try:
                return await handle(request)
            except LoginRequired:
                return redirect(login_url(request))
            except Exception as exc:  # noqa: BLE001 - every failure is a page; unexpected ones are logged
                return await run_in_threadpool(error_page, request, exc)

        return handle_as_page


def error_page(request: Request, exc: Exception) -> HTMLResponse:
    error = _as_page_error(request, exc)
    return render(request, "error.html", error.status, title=error.title, message=error.message)


def _as_page_error(request: Request, exc: Exception) -> PageError:
    if isinstance(exc, PageError):
        return exc
    if isinstance(exc, (handoffs.HandoffNotFound, SessionNotFound)):
        return PageError(404, "Not found", str(exc).strip("'\""))
    if isinstance(exc, handoffs.HandoffConflict):
        return PageError(409, "Hand-off not available", str(exc))
    if isinstance(exc, InputError):
        return PageError(422, "Please check what you entered", str(exc))
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{problem['loc'][-1]} {problem['msg']}" for problem in exc.errors()[:5])
        return PageError(422, "Please check what you entered", problems)
    if isinstance(exc, NoLiveData):
        return PageError(503, "No data yet", "No ingestion run has completed yet: run fargo ingest.")
    if isinstance(exc, StoreError):
        return PageError(503, "Data unavailable", "The bank's data store is not answering; try again in a moment.")
    if isinstance(exc, HTTPException):  # the request itself was refused: too slow, too large
        return PageError(exc.status_code, HTTPStatus(exc.status_code).phrase, f"{str(exc.detail).capitalize()}.")
    log.error("console page %s %s failed", request.method, request.url.path, exc_info=exc)
    return PageError(500, "Something went wrong", "Something went wrong on our side; it has been logged.")
