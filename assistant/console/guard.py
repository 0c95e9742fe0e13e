"""Dependencies that guard console pages: a signed-in agent, a supervisor or admin, an admin, a form with the
session's CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant import audit
from assistant.console.sessions import (
    SESSION_COOKIE,
    ConsoleUser,
    csrf_matches,
    signed_in_user,
)
from assistant.console.web import LoginRequired, PageError, form_fields


def signed_in(request: Request) -> ConsoleUser:
    user = signed_in_user(request.app.state.store, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise LoginRequired()
    request.state.console_user = user
    return user


SignedIn = Annotated[ConsoleUser, Depends(signed_in)]


def admin_only(request: Request, user: SignedIn) -> ConsoleUser:
    if not user.is_admin:
        audit.record(request.app.state.store, user.caller, None, f"console: {request.url.path}", allowed=False)
        raise PageError(403, "Admins only", "The audit log is for admins. Ask an admin if you need an entry from it.")
    return user


def supervisor_or_admin(request: Request, user: SignedIn) -> ConsoleUser:
    if not user.sees_figures:
        audit.record(request.app.state.store, user.caller, None, f"console: {request.url.path}", allowed=False)
        raise PageError(403, "Supervisors only", "The contact centre's figures are for supervisors and admins.")
    return user


async def posted_form(request: Request, user: SignedIn) -> dict[str, str]:
    """The posted fields, once the form's CSRF token is the session's."""
    fields = await form_fields(request)
    if not csrf_matches(user.csrf_token, fields.get("csrf_token")):
        raise PageError(403, "This form has expired",
                        "The form did not carry this session's security token. Go back, reload the page and try again.")
    return fields


Admin = Annotated[ConsoleUser, Depends(admin_only)]
Supervisor = Annotated[ConsoleUser, Depends(supervisor_or_admin)]
PostedForm = Annotated[dict[str, str], Depends(posted_form)]
