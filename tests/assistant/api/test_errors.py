"""One handler answers every Fargo error kind with its own status, type, field and headers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api import errors
from assistant.api.deps import Forbidden, RateLimited
from assistant.auth import AuthError
from assistant.engine import InputError, SessionCustomerConflict
from assistant.sessions import SessionNotFound
from retrieval.errors import FargoError, StoreUnavailable
from retrieval.vectors import VectorStoreError
from tools.context import NoLiveData

CASES = [
    (InputError("message is empty: write a question"), 422, "invalid_request", "message", {}),
    (InputError("no customer with id 'C9'"), 422, "invalid_request", "customer_id", {}),
    (AuthError("unknown or revoked API key"), 401, "unauthorized", None, {"www-authenticate": "Bearer"}),
    (Forbidden("this needs a key with role admin"), 403, "permission_denied", None, {}),
    (SessionNotFound("no session 'abc'"), 404, "not_found", None, {}),
    (SessionCustomerConflict("start a new session"), 409, "conflict", None, {}),
    (RateLimited(2.5), 429, "rate_limited", None, {"retry-after": "3"}),
    (NoLiveData("no run yet"), 503, "no_data", None, {"retry-after": "60"}),
    (StoreUnavailable("MongoDB at db1:27017: timed out"), 503, "store_unavailable", None, {"retry-after": "5"}),
]


def client_raising(exc: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom():
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("exc", "status", "kind", "field", "headers"), CASES,
                         ids=[type(case[0]).__name__ + str(case[1]) for case in CASES])
def test_each_error_kind_answers_with_its_status_type_field_and_headers(exc, status, kind, field, headers):
    response = client_raising(exc).get("/boom")
    body = response.json()["error"]
    assert response.status_code == status and body["type"] == kind
    assert body.get("field") == field
    assert exc.message in body["message"] or kind == "no_data"
    assert {name: response.headers.get(name) for name in headers} == headers


@pytest.mark.parametrize("exc", [VectorStoreError("chroma index products__v3 is missing"), FargoError("disk path /x")])
def test_an_error_meant_for_operators_is_a_generic_500_that_shows_nothing_of_it(exc):
    response = client_raising(exc).get("/boom")
    assert response.status_code == 500 and response.json()["error"]["type"] == "internal_error"
    assert exc.message not in response.text
