"""Data-subject requests: an admin exports a customer, then erases them; nothing of them is left anywhere, also
after the next ingestion run, while the audit log keeps its entries under a pseudonym."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingested_bank import bearer
from typer.testing import CliRunner

from assistant.auth import create_key, mint_widget_token, token_secret
from assistant.cli import app as fargo
from assistant.worker import run_ingest_now
from retrieval.vectors import open_client

runner = CliRunner()


@pytest.fixture(scope="module")
def staff(client) -> dict[str, dict[str, str]]:
    store = client.app.state.store
    return {role: bearer(create_key(store, role, f"privacy test {role}")[0]) for role in ("agent", "admin")}


@pytest.fixture(scope="module")
def subject(client) -> dict:
    """A customer with a family on record and campaign posts, whose full name no other customer has."""
    store = client.app.state.store
    posters = {doc["customer_id"] for doc in store["campaign_events"].find({"type": "post"}, {"customer_id": 1})
               if doc.get("customer_id")}
    with_family = {doc["customer_id"] for doc in store["relationships"].find({}, {"customer_id": 1})}
    customers = store["customers"].find({}, sort=[("_id", 1)])
    names = [f"{doc['first_name']} {doc['last_name']}" for doc in customers]
    for doc, name in zip(customers, names, strict=True):
        if doc["_id"] in posters & with_family and names.count(name) == 1:
            return doc
    pytest.fail("the test bank has no customer with family and campaign posts")


def needles(customer: dict) -> list[str]:
    return [customer["_id"], f"{customer['first_name']} {customer['last_name']}",
            *(value for value in (customer.get("email"), customer.get("phone")) if value),
            *customer.get("social_handles", {}).values()]


def traces(settings, store, customer: dict) -> list[str]:
    """Where any of the customer's identifiers still appears: document store, Chroma, graph files."""
    wanted = needles(customer)
    found = []
    for name in store.list_collection_names():
        for doc in store[name].find({}):
            text = json.dumps(doc, default=str)
            found += [f"{name}: {needle}" for needle in wanted if needle in text]
    for collection in open_client(settings).list_collections():
        held = collection.get(include=["documents", "metadatas"])
        text = json.dumps([held["ids"], held["documents"], held["metadatas"]], default=str)
        found += [f"chroma {collection.name}: {needle}" for needle in wanted if needle in text]
    for path in Path(settings.data_dir, "graph").glob("*.json"):
        text = path.read_text()
        found += [f"{path.name}: {needle}" for needle in wanted if needle in text]
    return found


def use_the_service(client, staff, customer_id: str) -> None:
    """What a customer leaves behind: a conversation, feedback, a hand-off, an agent's audited look."""
    me = bearer(mint_widget_token(token_secret(client.app.state.settings), customer_id, 600)[0])
    session_id = client.post("/v1/chat", json={"message": "which card suits me?"}, headers=me).json()["session_id"]
    assert client.post("/v1/feedback", json={"session_id": session_id, "rating": "up"}, headers=me).status_code == 201
    assert client.post("/v1/handoffs", json={"session_id": session_id}, headers=me).status_code in (200, 201)
    assert client.get(f"/v1/customers/{customer_id}/recommendations", headers=staff["agent"]).status_code == 200


def test_only_admins_may_export_or_erase(client, staff, subject):
    customer = subject["_id"]
    assert client.get(f"/v1/admin/customers/{customer}/export", headers=staff["agent"]).status_code == 403
    assert client.delete(f"/v1/admin/customers/{customer}", headers=staff["agent"]).status_code == 403
    assert client.app.state.store["customers"].find_one({"_id": customer}) is not None


def test_an_export_holds_everything_fargo_keeps_about_the_customer(client, staff, subject):
    customer = subject["_id"]
    use_the_service(client, staff, customer)

    answer = client.get(f"/v1/admin/customers/{customer}/export", headers=staff["admin"])

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["customer"]["first_name"] == subject["first_name"]
    for collection in ("accounts", "transactions", "features", "relationships", "campaign_events", "sessions",
                       "feedback", "handoffs", "audit"):
        assert data[collection], f"the export has no {collection}"
    assert all(entry["customer_id"] == customer for entry in data["audit"])


def test_an_unknown_customer_is_404(client, staff):
    assert client.get("/v1/admin/customers/C999999/export", headers=staff["admin"]).status_code == 404
    assert client.delete("/v1/admin/customers/C999999", headers=staff["admin"]).status_code == 404


def test_the_cli_exports_a_customer_to_a_file_and_erases_only_with_yes(bank, tmp_path, monkeypatch, subject):
    settings, _ = bank
    monkeypatch.setenv("FARGO_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "export.json"

    exported = runner.invoke(fargo, ["customer", "export", subject["_id"], "--out", str(out)])
    refused = runner.invoke(fargo, ["customer", "erase", subject["_id"]])

    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["data"]["customer"]["_id"] == subject["_id"]
    assert refused.exit_code == 2 and "--yes" in refused.output
    unknown = runner.invoke(fargo, ["customer", "export", "C999999"])
    assert unknown.exit_code == 2 and "C999999" in unknown.output


def test_after_erasure_nothing_of_the_customer_is_left_anywhere(bank, client, staff, subject):
    settings, _ = bank
    store = client.app.state.store
    assert traces(settings, store, subject), "the search should find the customer before the erasure"
    audited = len(store["audit"].find({"customer_id": subject["_id"]}))

    answer = client.delete(f"/v1/admin/customers/{subject['_id']}", headers=staff["admin"])

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["deleted"]["customers"] == 1 and report["vectors_deleted"] > 0 and report["graph_nodes_removed"] >= 1
    assert traces(settings, store, subject) == []
    kept = store["audit"].find({"customer_id": report["erased"]})
    assert len(kept) == audited + 1  # every entry kept, under the pseudonym, plus the erasure itself


def test_the_next_ingestion_run_skips_the_erased_customer_and_says_so(bank, client, staff, subject):
    settings, _ = bank
    store = client.app.state.store

    run = run_ingest_now(settings, mode="full")

    assert run.status == "succeeded" and run.skipped_erased > 0
    assert store["job_runs"].find_one({"_id": run.run_id})["skipped_erased"] == run.skipped_erased
    assert traces(settings, store, subject) == []
    assert client.get(f"/v1/customers/{subject['_id']}/recommendations", headers=staff["agent"]).status_code == 404


def test_the_erasure_list_holds_no_plain_id_and_loading_without_its_key_is_refused(bank, client, subject, tmp_path):
    from ingest.loader import load_directory
    from retrieval.privacy import PseudonymKeyMissing

    settings, _ = bank
    store = client.app.state.store
    listed = store["erasures"].find({})
    assert listed and all(subject["_id"] not in json.dumps(doc) for doc in listed)
    with pytest.raises(PseudonymKeyMissing):
        load_directory(store, settings.source_dir)
