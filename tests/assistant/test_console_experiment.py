"""The console's experiment page: each ranking arm's take-up as a plot with its table, for supervisors and admins."""

from __future__ import annotations

import re

import pytest
from experiment_data import EXPERIMENT, experiment_app, seed
from fastapi.testclient import TestClient

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with experiment_app(tmp_path_factory.mktemp("experiment")) as opened:
        seed(opened.app.state.store)
        yield opened


def signed_in(client: TestClient, role: str) -> TestClient:
    browser = TestClient(client.app, follow_redirects=False)
    form = browser.get("/console/login")
    answer = browser.post("/console/login", data={"api_key": client.keys[role], "next": "/console/customers",
                                                  "csrf_token": CSRF_FIELD.search(form.text).group(1)})
    assert answer.status_code == 303, answer.text
    return browser


def test_a_supervisor_sees_each_arms_rate_plotted_with_its_interval_and_how_to_change_the_split(client):
    page = signed_in(client, "supervisor").get("/console/experiment", params={"days": 7})

    assert page.status_code == 200
    rows = dict(re.findall(r'<th scope="row">(\w+) [^<]*</th>(.*?)</tr>', page.text, re.DOTALL))
    assert re.findall(r'<td class="num">([^<]*)</td>', rows["static"]) == ["4", "8", "2", "25.0%", "7.1% – 59.1%"]
    assert re.findall(r'<td class="num">([^<]*)</td>', rows["adaptive"]) == ["2", "4", "2", "50.0%", "15.0% – 85.0%"]
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page.text))
    assert facts == {"Experiment": EXPERIMENT, "Customers on adaptive": "50%", "Adaptive / static": "2.00×"}
    assert page.text.count('<svg role="img"') == 1 and "25.0%" in page.text.split("</svg>")[0]
    assert "FARGO_ADAPTIVE_SHARE" in page.text and "FARGO_EXPERIMENT" in page.text
    assert 'href="/console/experiment" aria-current="page"' in page.text


def test_an_admin_sees_it_too_and_an_empty_period_says_so_without_a_plot(client):
    page = signed_in(client, "admin").get("/console/experiment", params={"from": "2019-05-01", "to": "2019-05-02"})

    assert page.status_code == 200
    assert "No offers shown in this period." in page.text and "<svg" not in page.text


def test_an_agent_is_refused_like_the_figures_page_and_not_offered_the_link(client):
    agent = signed_in(client, "agent")

    page = agent.get("/console/experiment")

    assert page.status_code == 403 and "for supervisors and admins" in page.text
    refusal = {"action": "console: /console/experiment", "allowed": False}
    assert client.app.state.store["audit"].find_one(refusal) is not None
    assert 'href="/console/experiment"' not in agent.get("/console/customers").text


def test_a_bad_period_is_a_422_page_naming_it(client):
    page = signed_in(client, "supervisor").get("/console/experiment?days=90")

    assert page.status_code == 422 and "days must be one of 1, 7, 30" in page.text
