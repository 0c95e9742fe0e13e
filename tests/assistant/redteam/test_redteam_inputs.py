"""Oversized and malformed input on every route the app serves, found by walking `app.routes` (a new route is
covered the day it is added): never a 5xx, and a 4xx that says what is wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ingested_bank import bearer
from redteam_bank import ATTACKER

from assistant.api.app import MAX_BODY_BYTES, create_app
from assistant.settings import Settings

SPARE_CUSTOMER = "C0000030"  # the one an erasure route may take away; no other case reads it
HUGE = "A" * (MAX_BODY_BYTES + 4096)
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def served_routes(routes, prefix: str = "") -> Iterator[tuple[str, str, bool]]:
    """(method, path, whether it reads a body) of every route, through included routers."""
    for route in routes:
        included = getattr(route, "include_context", None)
        if included is not None:
            yield from served_routes(included.included_router.routes, prefix + included.prefix)
            continue
        path = prefix + route.path
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
            console_form = path.startswith("/console") and method == "POST"
            yield method, path, getattr(route, "body_field", None) is not None or console_form


ROUTES = sorted(set(served_routes(create_app(Settings(data_dir="unused-by-route-listing")).routes)))


def malformed_inputs(method: str, path: str, reads_body: bool) -> Iterator[tuple[str, dict]]:
    """(case, request options) for one route; each a bad input a client could send."""
    if method in BODY_METHODS:
        yield "oversized body", {"content": json.dumps({"message": HUGE}), "expect": {413}}
    if reads_body:
        yield "truncated JSON", {"content": '{"message": "which card', "expect": "4xx"}
        yield "JSON of the wrong type", {"content": '[["message", 1]]', "expect": "4xx"}
        yield "lone surrogate in JSON", {"content": '{"message": "hi \\ud800", "model": "\\ud800"}', "expect": "4xx"}
        yield "form of junk", {"content": "csrf_token=%FF%FE&message=%00", "form": True, "expect": "4xx"}
    if "{" in path:
        yield "oversized path parameter", {"param": "C" + "9" * 5000, "expect": "4xx"}
        yield "control characters in a path parameter", {"param": "C0000003%00%0A", "expect": "4xx"}
    if method == "GET":
        yield "oversized query string", {"query": {"q": HUGE[:20_000], "limit": HUGE[:20_000],
                                                   "customer_id": HUGE[:20_000]}, "expect": "any"}


CASES = [pytest.param(method, path, case, options, id=f"{method} {path}: {case}")
         for method, path, reads_body in ROUTES for case, options in malformed_inputs(method, path, reads_body)]


@pytest.fixture(scope="module")
def signed_in(redteam) -> TestClient:
    """A client with an admin key and a console session, so each request gets past sign-in to its input."""
    client = TestClient(redteam.client.app, follow_redirects=False)
    form = client.get("/console/login")
    client.post("/console/login", data={"api_key": redteam.keys["admin"], "next": "/console/customers",
                                        "csrf_token": CSRF_FIELD.search(form.text).group(1)})
    client.headers.update(bearer(redteam.keys["admin"]))
    return client


def filled(path: str, param: str | None, session_id: str) -> str:
    def value(match: re.Match) -> str:
        if param is not None:
            return param
        return {"customer_id": SPARE_CUSTOMER, "session_id": session_id, "model": "fargo"}.get(match[1], "x")

    return re.sub(r"\{(\w+)\}", value, path)


@pytest.fixture(scope="module")
def session_id(redteam) -> str:
    asked = redteam.client.post("/v1/chat", json={"message": "what is a HELOC?", "customer_id": ATTACKER},
                                headers=bearer(redteam.keys["agent"]))
    return asked.json()["session_id"]


def test_every_route_the_app_serves_has_malformed_input_cases():
    covered = {(method, path) for method, path, *_ in (case.values for case in CASES)}

    assert len(ROUTES) >= 40 and covered == {(method, path) for method, path, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "case", "options"), CASES)
def test_malformed_input_is_refused_with_a_message_and_never_a_server_error(
        signed_in, session_id, method, path, case, options, record_property):
    record_property("redteam_kind", f"malformed input: {case}")
    headers = {"Content-Type": "application/x-www-form-urlencoded" if options.get("form") else "application/json"}

    answer = signed_in.request(method, filled(path, options.get("param"), session_id), content=options.get("content"),
                               params=options.get("query"), headers=headers)
    record_property("redteam_outcome", f"answered {answer.status_code // 100}xx")

    assert answer.status_code < 500, answer.text[:500]
    expected = options["expect"]
    if expected == "any":
        return
    assert (answer.status_code in expected) if isinstance(expected, set) else 400 <= answer.status_code < 500, (
        f"{answer.status_code}: {answer.text[:300]}")
    assert said_what_is_wrong(answer), answer.text[:300]


def said_what_is_wrong(answer) -> bool:
    if answer.headers.get("content-type", "").startswith("application/json"):
        error = answer.json().get("error") or {}
        return bool(error.get("message") if isinstance(error, dict) else error) or bool(answer.json().get("detail"))
    return len(re.sub(r"<[^>]+>|\s+", " ", answer.text).strip()) > 10
