"""Schemathesis over the app's own OpenAPI schema, on a small ingested bank, with a real admin key.

The schema is read at collection time from an app that is built but never
started (nothing opens), so every operation the app documents becomes one
test case per test below. Requests are generated (a bounded number per
operation), sent in-process through the ASGI transport (nothing leaves the
test) to an app serving a real ingested bank, and fail the operation on a 5xx
or on a documented response that does not match its schema.

- The first test runs schemathesis's own phases: schema examples, boundary and
  malformed values (coverage), then random valid ones (fuzzing).
- The second swaps about half of the generated customer and session ids for
  ones that exist, so requests reach the tools and the stored sessions, not
  only the 404s.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.python import asgi

from assistant.app import create_app
from assistant.auth import create_key
from assistant.settings import Settings
from ingested_bank import build_app

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, response_schema_conformance]

schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir="unused")).openapi())


@dataclass
class Known:
    """Ids that exist in the bank under test, by the parameter name that carries them."""

    ids: dict[str, list[str]]
    headers: dict[str, str]


@pytest.fixture(scope="module")
def served_app(bank):
    app = build_app(bank, requests_per_minute=1_000_000)
    with asgi.get_client(app) as client:  # starts the app's lifespan, kept until the module ends
        assert client.get("/healthz").status_code == 200
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def known(served_app) -> Known:
    store = served_app.state.store
    key, _ = create_key(store, "admin", "schemathesis")
    headers = {"Authorization": f"Bearer {key}"}
    customers = [doc["_id"] for doc in store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=3)]
    with asgi.get_client(served_app) as client:
        turns = [client.post("/v1/chat", json={"message": "what should I get?", "customer_id": customer},
                             headers=headers) for customer in customers]
    assert all(turn.status_code == 200 for turn in turns)
    return Known({"customer_id": customers, "session_id": [turn.json()["session_id"] for turn in turns]}, headers)


def point_some_ids_at_known_records(case, draw, known: Known) -> None:
    """Swap, at random, generated customer and session ids (path, query or JSON body) for existing ones."""
    for values in (case.path_parameters, case.query, case.body):
        if not isinstance(values, dict):
            continue
        for name in sorted(set(values) & set(known.ids)):
            if draw(st.booleans()):
                values[name] = draw(st.sampled_from(known.ids[name]))


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_boundary_and_malformed_requests_never_get_a_server_error(case, served_app, known):
    case.call_and_validate(app=served_app, headers=known.headers, checks=CHECKS)


@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_requests_about_existing_customers_and_sessions_answer_as_documented(case, data, served_app, known):
    point_some_ids_at_known_records(case, data.draw, known)
    case.call_and_validate(app=served_app, headers=known.headers, checks=CHECKS)
