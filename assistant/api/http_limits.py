"""How long a client may take over a request, and the uvicorn options both servers (`fargo up`, `fargo
campaign-server`) run with.

Uvicorn times only the idle wait between requests, and every byte that arrives restarts that wait, so a
client that trickles its body holds a connection and a request for as long as it likes.
`BodyDeadlineMiddleware` gives the whole body a deadline, counted from when the headers arrived: past it
the request is answered 408 and the connection closed. A response sent before its request's body has all
arrived closes the connection too, so the rest of a body nobody reads cannot keep it open either.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings

DEFAULT_BODY_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
CONNECTION_CLOSE = (b"connection", b"close")


class RequestBodyTimeout(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, timeout_s: float):
        super().__init__(408, f"the request body did not arrive within {timeout_s:g} s", {"Connection": "close"})


def _expects_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() not in (b"0", b"")


class BodyDeadlineMiddleware:
    """Answers 408 and closes the connection when the request body takes longer than `timeout_s` to arrive."""

    def __init__(self, app: ASGIApp, timeout_s: float = DEFAULT_BODY_TIMEOUT_S):
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout_s
        body_done, started = not _expects_body(scope), False

        async def receive_by_deadline() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise RequestBodyTimeout(self.timeout_s) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def send_closing_unread(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not body_done and CONNECTION_CLOSE not in headers:
                    message = {**message, "headers": [*headers, CONNECTION_CLOSE]}
            await send(message)

        try:
            await self.app(scope, receive_by_deadline, send_closing_unread)
        except RequestBodyTimeout as timeout:
            if started:
                raise
            await send_error(send, 408, "request_timeout", timeout.detail, CONNECTION_CLOSE)



async def send_error(send: Send, status: int, kind: str, message: str, *headers: tuple[bytes, bytes]) -> None:
    """An error answer in the API's shape, sent from a middleware (before or outside any route)."""
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments: X-Forwarded-For believed only from `trusted_proxies` (by default from
    nobody, so the connection's peer is the client), and the keep-alive wait between requests."""
    proxies = list(settings.trusted_proxies)
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None, "timeout_keep_alive": KEEP_ALIVE_S}
