"""Slow clients against real servers on loopback: a body that trickles in gets 408 and a closed connection within
the body deadline, on the API, the console and the campaign server alike."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from assistant.api.app import create_app
from assistant.api.http_limits import server_options
from assistant.campaign.server import create_campaign_app
from assistant.settings import Settings

DEADLINE_S = 0.5
MARGIN_S = 2.0
TRICKLE_EVERY_S = 0.1


@contextmanager
def serving(app) -> Iterator[int]:
    """The app served by uvicorn in a thread on a free loopback port; yields the port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - started < 20, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def trickle(port: int, head: str, give_up_after_s: float) -> tuple[bytes, float, bool]:
    """Send the request head, then one byte of body every TRICKLE_EVERY_S until the server answers.

    Returns (what the server sent, seconds until its first byte, whether it closed the connection).
    """
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(head.encode())
        started = time.monotonic()
        while time.monotonic() - started < give_up_after_s:
            try:
                connection.sendall(b"x")
            except OSError:  # closed by the server: its answer is already on the way
                break
            if select.select([connection], [], [], TRICKLE_EVERY_S)[0]:
                break
        answered_after = time.monotonic() - started
        received, closed = b"", False
        connection.settimeout(MARGIN_S)
        try:
            while chunk := connection.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
        return received, answered_after, closed


def post_head(path: str, content_type: str, **headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}", "Content-Length: 4096",
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, request_body_timeout_s=DEADLINE_S)


@pytest.mark.parametrize(
    ("path", "content_type", "shape"),
    [("/v1/chat", "application/json", b'"type":"http_error"'),
     ("/console/login", "application/x-www-form-urlencoded", b"Request Timeout")],
    ids=["api", "console"],
)
def test_a_body_trickling_into_the_api_gets_408_and_a_closed_connection_by_the_deadline(settings, path, content_type,
                                                                                         shape):
    with serving(create_app(settings)) as port:
        answer, seconds, closed = trickle(port, post_head(path, content_type), DEADLINE_S + 3 * MARGIN_S)

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 0.5 s" in answer and shape in answer
    assert seconds < DEADLINE_S + MARGIN_S
    assert closed


def test_a_body_trickling_into_the_campaign_server_gets_408_and_a_closed_connection_by_the_deadline(settings):
    head = post_head("/v1/campaign/events", "application/json", X_Fargo_Source="meta-webhook",
                     X_Fargo_Signature="sha256=" + "0" * 64)
    with serving(create_campaign_app(settings, secrets={"meta-webhook": "s3cret"})) as port:
        answer, seconds, closed = trickle(port, head, DEADLINE_S + 3 * MARGIN_S)

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 0.5 s" in answer
    assert seconds < DEADLINE_S + MARGIN_S
    assert closed


def test_an_answer_sent_before_its_body_arrived_closes_the_connection(settings):
    head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n"
    with serving(create_app(settings)) as port:
        answer, seconds, closed = trickle(port, head, 3 * MARGIN_S)

    assert answer.startswith(b"HTTP/1.1 200 ") and b"connection: close" in answer.lower()
    assert closed


def test_proxies_are_not_believed_unless_configured(tmp_path):
    assert server_options(Settings(data_dir=tmp_path))["proxy_headers"] is False
    behind_proxy = server_options(Settings(data_dir=tmp_path, trusted_proxies=["10.0.0.5"]))
    assert behind_proxy["proxy_headers"] is True and behind_proxy["forwarded_allow_ips"] == ["10.0.0.5"]
