"""The right to object over the API: GET/PUT /v1/customers/{id}/consents, audited, honoured at once and after
the next ingestion run."""

from __future__ import annotations

import pytest
from ingested_bank import bearer

from assistant.auth import create_key, mint_widget_token, token_secret
from assistant.worker import run_ingest_now
from retrieval.leads import LEADS


@pytest.fixture(scope="module")
def staff(client) -> dict[str, dict[str, str]]:
    store = client.app.state.store
    return {role: bearer(create_key(store, role, f"consent test {role}")[0]) for role in ("developer", "agent", "admin")}


@pytest.fixture(scope="module")
def profiled(client) -> list[str]:
    """Customers who allow profiling and marketing, in id order."""
    found = client.app.state.store["customers"].find({"consent.profiling": True, "consent.marketing": True},
                                                     {"_id": 1}, sort=[("_id", 1)], limit=4)
    assert len(found) == 4, "the test bank needs four customers who allow profiling and marketing"
    return [doc["_id"] for doc in found]


def token_for(client, customer_id: str) -> dict[str, str]:
    return bearer(mint_widget_token(token_secret(client.app.state.settings), customer_id, 600)[0])


def audit_actions(client, admin, customer_id: str) -> list[tuple[str, str]]:
    entries = client.get("/v1/audit", params={"customer_id": customer_id}, headers=admin).json()["entries"]
    return [(entry["who"], entry["action"]) for entry in entries]


def evidence_about(customer_id: str, recommendations: list[dict]) -> list[dict]:
    """The evidence read from the customer's own records (features, profile, transactions)."""
    return [evidence for rec in recommendations for evidence in rec["evidence"]
            if customer_id in evidence["record_id"]]


def test_a_customer_reads_their_own_consents_but_not_anothers(client, profiled):
    me, other = profiled[0], profiled[1]

    mine = client.get(f"/v1/customers/{me}/consents", headers=token_for(client, me))
    theirs = client.get(f"/v1/customers/{other}/consents", headers=token_for(client, me))

    assert mine.status_code == 200, mine.text
    assert mine.json() == {"customer_id": me, "consent": {"marketing": True, "profiling": True,
                                                          "health_data": mine.json()["consent"]["health_data"],
                                                          "share_with_family": mine.json()["consent"]["share_with_family"]}}
    assert theirs.status_code == 403


def test_a_developer_key_may_not_read_or_change_consents(client, staff, profiled):
    customer = profiled[0]
    assert client.get(f"/v1/customers/{customer}/consents", headers=staff["developer"]).status_code == 403
    put = client.put(f"/v1/customers/{customer}/consents", json={"marketing": False}, headers=staff["developer"])
    assert put.status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"newsletter": False}, "newsletter"),
    ({"marketing": "no"}, "marketing"),
    ({"profiling": 0}, "profiling"),
    ({"profiling": None}, "profiling"),
    ({}, None),
])
def test_unknown_consents_and_non_booleans_are_422_naming_the_field(client, staff, profiled, body, field):
    answer = client.put(f"/v1/customers/{profiled[0]}/consents", json=body, headers=staff["agent"])

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    if field is not None:
        assert error["field"] == field and field in error["message"]
    else:
        assert "at least one consent" in error["message"]
    assert client.app.state.store["consent_changes"].find_one({"_id": profiled[0]}) is None


def test_an_unknown_customer_is_404(client, staff):
    assert client.put("/v1/customers/C999999/consents", json={"marketing": False},
                      headers=staff["agent"]).status_code == 404


def test_a_customer_may_withdraw_but_not_give_consent_through_the_api(client, staff, profiled):
    customer = profiled[1]
    client.put(f"/v1/customers/{customer}/consents", json={"health_data": False}, headers=staff["agent"])

    answer = client.put(f"/v1/customers/{customer}/consents", json={"health_data": True},
                        headers=token_for(client, customer))

    assert answer.status_code == 403
    assert "health_data" in answer.json()["error"]["message"]
    assert client.get(f"/v1/customers/{customer}/consents", headers=staff["agent"]).json()["consent"][
        "health_data"] is False


def test_withdrawing_profiling_stops_personal_recommendations_at_once_and_is_audited(client, staff, profiled):
    customer = profiled[0]
    me = token_for(client, customer)
    before = client.get(f"/v1/customers/{customer}/recommendations", headers=me).json()["recommendations"]
    assert evidence_about(customer, before), "the customer's recommendations should start personal"

    withdrawn = client.put(f"/v1/customers/{customer}/consents", json={"profiling": False}, headers=me)
    after = client.get(f"/v1/customers/{customer}/recommendations", headers=me).json()["recommendations"]

    assert withdrawn.status_code == 200 and withdrawn.json()["consent"]["profiling"] is False
    assert after, "an opted-out customer still gets the products opened most lately"
    assert evidence_about(customer, after) == []
    assert (f"customer:{customer}", "consent:profiling:withdrawn") in audit_actions(client, staff["admin"], customer)


def test_withdrawing_marketing_marks_the_customers_leads_do_not_contact(client, staff, profiled):
    customer = profiled[2]
    store = client.app.state.store
    store[LEADS].insert_one({"_id": f"{customer}:P1:CAMP1", "customer_id": customer, "product_id": "P1",
                             "marketing_consent": True})

    answer = client.put(f"/v1/customers/{customer}/consents", json={"marketing": False}, headers=staff["agent"])

    assert answer.status_code == 200
    assert store[LEADS].find_one({"customer_id": customer})["marketing_consent"] is False
    entries = audit_actions(client, staff["admin"], customer)
    assert any(who.startswith("key:") and action == "consent:marketing:withdrawn" for who, action in entries)


def test_setting_a_consent_to_what_it_already_is_writes_no_audit_entry(client, staff, profiled):
    customer = profiled[3]
    before = audit_actions(client, staff["admin"], customer)

    client.put(f"/v1/customers/{customer}/consents", json={"marketing": True}, headers=staff["agent"])

    after = [action for action in audit_actions(client, staff["admin"], customer) if action not in before]
    assert all(not action.startswith("consent:") for _, action in after)


def test_the_next_ingestion_run_does_not_switch_a_withdrawal_back_on(bank, client, profiled):
    """Last in the module: a new ingestion run replaces the data the shared runtime serves."""
    settings, _ = bank
    store = client.app.state.store

    run_ingest_now(settings, mode="full")

    assert store["customers"].find_one({"_id": profiled[0]})["consent"]["profiling"] is False
    assert store["customers"].find_one({"_id": profiled[2]})["consent"]["marketing"] is False
    assert store["customers"].find_one({"_id": profiled[3]})["consent"]["marketing"] is True
