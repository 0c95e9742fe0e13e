"""Responses to offers and the decision log, through the API on a small ingested bank."""

from __future__ import annotations

import json

import pytest
from ingested_bank import bearer

QUESTION = "what card suits my spending?"


@pytest.fixture(scope="module")
def customers(bank) -> list[str]:
    """Customers with offers, the first three by id."""
    _, runtime = bank
    ids = [doc["_id"] for doc in runtime.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)])]
    return [cid for cid in ids if runtime.engine.tools.call("recommend_personal", runtime.ctx, cid, k=3)][:3]


def token(client, keys, customer_id: str) -> dict[str, str]:
    minted = client.post("/v1/widget/tokens", json={"customer_id": customer_id, "ttl_s": 600},
                         headers=bearer(keys["developer"]))
    return bearer(minted.json()["token"])


def ask(client, headers, message: str = QUESTION, **body) -> dict:
    answer = client.post("/v1/chat", json={"message": message, **body}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def respond(client, headers, decision_id: str, product_id: str, kind: str, **extra):
    return client.post("/v1/responses", json={"decision_id": decision_id, "product_id": product_id, "kind": kind,
                                              **extra}, headers=headers)


def test_an_answer_with_offers_writes_a_decision_whose_id_each_offer_carries(client, keys, customers, bank):
    me = token(client, keys, customers[0])

    answer = ask(client, me, f"{QUESTION} my email is jo.doe@example.com")

    decision_id = answer["explanation"]["decision_id"]
    assert decision_id and {rec["decision_id"] for rec in answer["recommendations"]} == {decision_id}
    stored = client.app.state.store["decisions"].find_one({"_id": decision_id})
    assert stored["customer_id"] == customers[0] and stored["channel"] == "widget"
    assert "jo.doe@example.com" not in stored["request"] and "[EMAIL_1]" in stored["request"]
    assert [offer["product_id"] for offer in stored["offers"]] == [rec["product_id"] for rec in answer["recommendations"]]
    first, rec = stored["offers"][0], answer["recommendations"][0]
    assert first["reasons"] == rec["reasons"] and first["score"] == rec["score"]
    assert first["evidence_ids"] == [f"{e['collection']}/{e['record_id']}#{e['field']}" for e in rec["evidence"]]
    assert stored["tool"] == "recommend_personal" and stored["ranker_version"].startswith("tools.personal.ranking@")
    assert stored["run_id"] == bank[1].ctx.run_id


def test_a_why_follow_up_writes_no_new_decision_and_keeps_the_offers_ids(client, keys, customers):
    me = token(client, keys, customers[0])
    first = ask(client, me)
    before = client.app.state.store["decisions"].count_documents({"customer_id": customers[0]})

    why = ask(client, me, "why the first one?", session_id=first["session_id"])

    assert why["recommendations"][0]["decision_id"] == first["explanation"]["decision_id"]
    assert client.app.state.store["decisions"].count_documents({"customer_id": customers[0]}) == before


def test_a_customer_responds_to_their_own_offer(client, keys, customers):
    me = token(client, keys, customers[0])
    rec = ask(client, me)["recommendations"][0]

    answer = respond(client, me, rec["decision_id"], rec["product_id"], "why_opened")

    assert answer.status_code == 201, answer.text
    stored = client.app.state.store["responses"].find_one({"decision_id": rec["decision_id"]})
    assert (stored["kind"], stored["customer_id"], stored["product_id"]) == ("why_opened", customers[0], rec["product_id"])


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"decision_id": "0" * 32}, 404, "no decision"),
    ({"product_id": "P-NOT-OFFERED"}, 422, "did not offer product 'P-NOT-OFFERED'"),
    ({"kind": "opened"}, 403, "comes from the bank's records"),
    ({"kind": "accepted", "reason": "too dear"}, 422, "reason is given only with kind 'dismissed'"),
    ({"kind": "liked"}, 422, "kind"),
])
def test_a_response_to_an_unknown_offer_or_of_a_kind_a_customer_cannot_give_is_refused(
        client, keys, customers, change, status, words):
    me = token(client, keys, customers[0])
    rec = ask(client, me)["recommendations"][0]
    body = {"decision_id": rec["decision_id"], "product_id": rec["product_id"], "kind": "dismissed"} | change

    answer = client.post("/v1/responses", json=body, headers=me)

    assert answer.status_code == status
    assert words in answer.text


def test_a_customer_cannot_respond_to_another_customers_offer(client, keys, customers):
    mine, other = customers[:2]
    rec = ask(client, token(client, keys, other))["recommendations"][0]

    answer = respond(client, token(client, keys, mine), rec["decision_id"], rec["product_id"], "dismissed")

    assert answer.status_code == 403
    assert "made for another customer" in answer.json()["error"]["message"]
    assert client.app.state.store["responses"].count_documents({"decision_id": rec["decision_id"]}) == 0


def test_a_developer_key_cannot_respond_and_an_agent_can_audited(client, keys, customers):
    rec = ask(client, token(client, keys, customers[1]))["recommendations"][0]

    refused = respond(client, bearer(keys["developer"]), rec["decision_id"], rec["product_id"], "accepted")
    taken = respond(client, bearer(keys["agent"]), rec["decision_id"], rec["product_id"], "opened")

    assert refused.status_code == 403
    assert taken.status_code == 201
    audit = client.app.state.store["audit"].find_one({"action": "response", "customer_id": customers[1]})
    assert audit is not None and audit["allowed"]


def test_a_dismissed_product_is_held_back_from_the_next_answer_and_the_explanation_says_why(client, keys, customers):
    me = token(client, keys, customers[2])
    first = ask(client, me)
    dismissed = first["recommendations"][0]
    assert respond(client, me, dismissed["decision_id"], dismissed["product_id"], "dismissed",
                   reason="not interested").status_code == 201

    again = ask(client, me)

    assert dismissed["product_id"] not in [rec["product_id"] for rec in again["recommendations"]]
    kept = [rec["product_id"] for rec in first["recommendations"] if rec is not dismissed]
    assert [rec["product_id"] for rec in again["recommendations"]][:len(kept)] == kept
    held = again["explanation"]["held_back"]
    assert [(item["product_id"], item["rule"]) for item in held] == [(dismissed["product_id"], "dismissed")]
    decision = client.app.state.store["decisions"].find_one({"_id": again["explanation"]["decision_id"]})
    assert decision["held_back"] == held


def test_staff_read_a_customers_decisions_with_what_the_customer_did(client, keys, customers):
    me = token(client, keys, customers[0])
    rec = ask(client, me)["recommendations"][0]
    respond(client, me, rec["decision_id"], rec["product_id"], "accepted")

    answer = client.get(f"/v1/customers/{customers[0]}/decisions", headers=bearer(keys["agent"]))
    refused = client.get(f"/v1/customers/{customers[0]}/decisions", headers=me)

    assert answer.status_code == 200 and refused.status_code == 403
    latest = answer.json()["decisions"][0]
    assert latest["decision_id"] == rec["decision_id"]
    offer = next(item for item in latest["offers"] if item["product_id"] == rec["product_id"])
    assert [response["kind"] for response in offer["responses"]] == ["accepted"]


def test_a_customers_export_holds_the_offers_made_to_them_and_their_responses(client, keys, customers):
    me = token(client, keys, customers[0])
    rec = ask(client, me)["recommendations"][0]
    respond(client, me, rec["decision_id"], rec["product_id"], "why_opened")

    data = client.get(f"/v1/admin/customers/{customers[0]}/export", headers=bearer(keys["admin"])).json()["data"]

    assert rec["decision_id"] in {decision["_id"] for decision in data["decisions"]}
    assert {(r["decision_id"], r["kind"]) for r in data["responses"]} >= {(rec["decision_id"], "why_opened")}


def test_a_lever_lifts_an_eligible_offer_in_a_real_answer_and_cannot_add_an_ineligible_one(bank, customers, tmp_path):
    import copy

    from assistant.callers import Caller
    from assistant.decisions import DecisionLog
    from assistant.levers import load_levers
    from assistant.offers import Offers
    from tools.eligibility import check

    _, runtime = bank
    customer = customers[0]
    tools, ctx = runtime.engine.tools, runtime.ctx
    ranked = [rec.product_id for rec in tools.call("recommend_personal", ctx, customer, k=6)]
    features = ctx.features(customer)
    barred = next(pid for pid, product in ctx.products.items() if check(product, features))
    lifted = ranked[-1]  # sixth: out of a three-product answer without its lever
    path = tmp_path / "levers.json"
    path.write_text(json.dumps({"levers": [{"product_id": lifted, "weight": 10}, {"product_id": barred, "weight": 10}]}))
    engine = copy.copy(runtime.engine)
    engine.offers = Offers(tools, ctx, None, DecisionLog(runtime.store), load_levers(path, ctx.products))

    result = engine.turn(Caller(role="customer", customer_id=customer), "what should I get?")

    shown = [rec["product_id"] for rec in result.recommendations]
    assert shown[0] == lifted and barred not in shown
    lifted_rec = result.explanation["recommendations"][0]
    assert lifted_rec["components"]["lever"] == 10.0
    record = runtime.store["decisions"].find_one({"_id": result.explanation["decision_id"]})
    assert [(lever["product_id"], lever["factor"]) for lever in record["levers"]] == [(lifted, 10.0)]


def test_the_recommendations_endpoint_logs_its_decision_and_keeps_to_the_contact_policy(client, keys, customers):
    me = token(client, keys, customers[1])
    first = client.get(f"/v1/customers/{customers[1]}/recommendations", params={"k": 3}, headers=me).json()
    dismissed = first["recommendations"][0]
    assert respond(client, me, dismissed["decision_id"], dismissed["product_id"], "dismissed").status_code == 201

    again = client.get(f"/v1/customers/{customers[1]}/recommendations", params={"k": 3}, headers=me).json()

    assert dismissed["product_id"] not in [rec["product_id"] for rec in again["recommendations"]]
    decision = client.app.state.store["decisions"].find_one({"_id": again["recommendations"][0]["decision_id"]})
    assert decision["channel"] == "widget" and decision["tool"] == "recommend_personal"
    assert (dismissed["product_id"], "dismissed") in [(item["product_id"], item["rule"]) for item in decision["held_back"]]
