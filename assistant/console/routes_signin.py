"""Signing in to the console with an agent or admin API key, and signing out."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from assistant.api.ratelimit import client_address
from assistant.console.guard import PostedForm
from assistant.console.sessions import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    SignInRefused,
    close_session,
    csrf_matches,
    open_session,
    signed_in_user,
    staff_key,
)
from assistant.console.web import HOME, ConsoleRoute, form_fields, redirect, render

router = APIRouter(route_class=ConsoleRoute)
LOGIN_COOKIE = "fargo_console_login"  # the sign-in form's CSRF token, before any session exists


@router.get("/login")
def login_page(request: Request, next: str = HOME) -> Response:
    if signed_in_user(request.app.state.store, request.cookies.get(SESSION_COOKIE)) is not None:
        return redirect(_safe_next(next))
    return _login_form(request, next)


@router.post("/login")
def login(request: Request, fields: Annotated[dict, Depends(form_fields)]) -> Response:
    next_page = _safe_next(fields.get("next", HOME))
    if not csrf_matches(request.cookies.get(LOGIN_COOKIE, ""), fields.get("csrf_token")):
        return _login_form(request, next_page, "The sign-in form expired: please try again.", 403)
    state, address = request.app.state, client_address(request.client.host if request.client else None)
    wait = state.auth_failures.wait(address) or state.limiter.acquire(f"console-login:{address}")
    if wait > 0:
        return _too_many_attempts(request, next_page, wait)
    store = state.store
    try:
        key = staff_key(store, fields.get("api_key", ""))
    except SignInRefused as refused:
        if refused.status == 401:  # a key that does not exist or was revoked: a guess, or a mistake, counted alike
            state.auth_failures.failed(address)
        return _login_form(request, next_page, str(refused), refused.status)
    response = redirect(next_page)
    response.set_cookie(SESSION_COOKIE, open_session(store, key), max_age=SESSION_TTL_S, path="/console",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, fields: PostedForm) -> Response:
    close_session(request.app.state.store, request.state.console_user)
    response = redirect("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _too_many_attempts(request: Request, next_page: str, wait: float) -> Response:
    seconds = math.ceil(wait)
    response = _login_form(request, next_page, f"Too many attempts: try again in {seconds} s.", 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _login_form(request: Request, next_page: str, error: str | None = None, status: int = 200):
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", status, error=error, next=_safe_next(next_page), csrf_token=token)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/console", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _safe_next(target: str) -> str:
    """Only a console page: never an open redirect to another site."""
    ok = (target == "/console" or target.startswith("/console/")) and "//" not in target and "\\" not in target
    return target if ok else HOME
