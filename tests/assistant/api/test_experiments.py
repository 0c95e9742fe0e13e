"""GET /v1/experiments/ranking: the champion/challenger figures per arm, for supervisors and admins only."""

from __future__ import annotations

import pytest
from experiment_data import ADAPTIVE_RATE, EXPERIMENT, STATIC_RATE, experiment_app, seed
from ingested_bank import bearer

from assistant.auth import mint_widget_token

URL = "/v1/experiments/ranking"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with experiment_app(tmp_path_factory.mktemp("experiment")) as opened:
        seed(opened.app.state.store)
        yield opened


def arms_of(answer) -> dict[str, dict]:
    assert answer.status_code == 200, answer.text
    return {arm["arm"]: arm for arm in answer.json()["arms"]}


def test_a_supervisor_gets_each_arms_take_up_with_its_wilson_interval(client):
    answer = client.get(URL, params={"days": 30}, headers=bearer(client.keys["supervisor"]))

    arms = arms_of(answer)
    static, adaptive = arms["static"], arms["adaptive"]
    assert (static["decisions"], static["offers"], static["taken_up"], static["rate"]) == (4, 8, 2, STATIC_RATE)
    assert (adaptive["decisions"], adaptive["offers"], adaptive["taken_up"], adaptive["rate"]) == (2, 4, 2, ADAPTIVE_RATE)
    # 95% Wilson intervals as published tables give them: 2 of 8 and 2 of 4
    assert (static["low"], static["high"]) == (pytest.approx(0.0715, abs=5e-4), pytest.approx(0.5907, abs=5e-4))
    assert (adaptive["low"], adaptive["high"]) == (pytest.approx(0.1500, abs=5e-4), pytest.approx(0.8500, abs=5e-4))
    body = answer.json()
    assert body["ratio"] == pytest.approx(2.0)
    assert (body["experiment"], body["adaptive_share"]) == (EXPERIMENT, 0.5)


def test_a_longer_period_takes_in_older_decisions_and_the_default_is_30_days(client):
    admin = bearer(client.keys["admin"])

    year = arms_of(client.get(URL, params={"days": 366}, headers=admin))["adaptive"]
    default = arms_of(client.get(URL, headers=admin))["adaptive"]

    assert (year["decisions"], year["offers"], year["taken_up"]) == (3, 6, 4)
    assert (default["decisions"], default["offers"], default["taken_up"]) == (2, 4, 2)


@pytest.mark.parametrize("role", ["agent", "developer"])
def test_other_keys_are_refused(client, role):
    answer = client.get(URL, headers=bearer(client.keys[role]))

    assert answer.status_code == 403
    assert "supervisor or admin" in answer.json()["error"]["message"]


def test_a_customer_token_is_refused(client):
    token, _ = mint_widget_token(client.app.state.token_secret(), "C-s0", 600)

    answer = client.get(URL, headers=bearer(token))

    assert answer.status_code == 403


@pytest.mark.parametrize("days", ["0", "367", "a month"])
def test_a_period_out_of_range_is_a_422_naming_days(client, days):
    answer = client.get(URL, params={"days": days}, headers=bearer(client.keys["supervisor"]))

    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "days"
