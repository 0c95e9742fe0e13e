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
- The third does the same, starts some bodies from requests that succeed,
  and puts one hostile character into one string of the path, the query and
  the body: a lone surrogate (bodies only: a JSON escape such as "\\ud83d"
  carries one, a URL cannot), a character beyond U+FFFF, a noncharacter or a
  control character. Schemathesis's own strings are what UTF-8 can encode,
  astral characters included, never a lone surrogate.
"""

from __future__ import annotations

import copy
import functools
import operator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from ingested_bank import build_app
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.python import asgi

from assistant.api.app import create_app
from assistant.auth import create_key
from assistant.settings import Settings

EXAMPLES_PER_OPERATION = 25
ASTRAL = st.characters(min_codepoint=0x10000)
LONE_SURROGATE = st.characters(categories=["Cs"])
NONCHARACTER = st.sampled_from(["\ufffe", "\uffff", "\ufdd0", "\U0001fffe", "\U0010ffff"])
CONTROL = st.characters(categories=["Cc"])
HOSTILE_IN_URLS = st.one_of(ASTRAL, NONCHARACTER, CONTROL)
HOSTILE_IN_JSON = st.one_of(LONE_SURROGATE, HOSTILE_IN_URLS)
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


# A body each operation answers with success (ids are pointed at existing records as above), so that hostile text
# put into its strings gets past validation into the turn, the search and the stores.
WORKING_BODIES = {
    ("POST", "/v1/chat"): {"message": "what card suits my spending?"},
    ("POST", "/v1/chat/completions"): {"model": "fargo", "messages": [{"role": "user", "content": "what is a HELOC?"}]},
    ("POST", "/v1/handoffs"): {"reason": "I need help with a payment", "session_id": "any"},
    ("POST", "/v1/feedback"): {"session_id": "any", "rating": "up", "comment": "helpful, thanks"},
}


def start_some_bodies_from_working_ones(case, draw) -> None:
    working = WORKING_BODIES.get((case.method, case.path))
    if working is not None and isinstance(case.body, dict) and draw(st.booleans()):
        case.body.clear()
        case.body.update(copy.deepcopy(working))


def string_places(value, place=()):
    """Where the strings inside `value` are, as paths of keys and indexes."""
    if isinstance(value, str):
        yield place
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_places(item, (*place, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_places(item, (*place, key))


def salt_one_string(container, draw, characters) -> None:
    """Put a character from `characters` at a random place in one of the strings of a generated dict or list.

    In place: schemathesis takes in-place edits as the case's values, while a new value assigned to the case is
    checked against the schema again by a validator that cannot take lone surrogates.
    """
    if not isinstance(container, (dict, list)) or not (places := list(string_places(container))):
        return
    # longest first: hypothesis leans to the first choice, and the longest string is most likely free text
    places.sort(key=lambda place: -len(functools.reduce(operator.getitem, place, container)))
    *parents, last = draw(st.sampled_from(places))
    holder = functools.reduce(operator.getitem, parents, container)
    at = draw(st.integers(0, len(holder[last])))
    holder[last] = holder[last][:at] + draw(characters) + holder[last][at:]


@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_strings_beyond_the_bmp_with_lone_surrogates_or_noncharacters_never_get_a_server_error(case, data, served_app,
                                                                                               known):
    start_some_bodies_from_working_ones(case, data.draw)
    point_some_ids_at_known_records(case, data.draw, known)
    salt_one_string(case.path_parameters, data.draw, HOSTILE_IN_URLS)
    salt_one_string(case.query, data.draw, HOSTILE_IN_URLS)
    salt_one_string(case.body, data.draw, HOSTILE_IN_JSON)
    case.call_and_validate(app=served_app, headers=known.headers, checks=CHECKS)
