"""The shipped request set and how `fargo eval requests` judges an answer."""

from __future__ import annotations

import pytest

from assistant.request_eval import (
    Case,
    CaseError,
    constraint_violations,
    eval_settings,
    followup_ok,
    format_report,
    judge,
    load_cases,
    load_profiles,
    summarise,
)
from assistant.settings import Settings
from ingest.synth.catalogue import products


@pytest.fixture(scope="module")
def cases():
    return load_cases()


@pytest.fixture(scope="module")
def catalogue():
    return {product.product_id: product.model_dump(mode="json") for product in products()}


def test_the_shipped_set_covers_what_the_issue_asks(cases, catalogue):
    single = [case for case in cases if len(case.turns) == 1]
    multi = [case for case in cases if len(case.turns) > 1]
    assert len(single) >= 300 and len(multi) >= 60
    for kind in ("relative", "constraint", "life_event"):
        assert sum(kind in case.kinds for case in single) >= 40, kind
    named = {product for case in cases for product in case.fits}
    assert {pid for pid in catalogue} <= named  # every product answers some request
    assert {case.split for case in cases} == {"dev", "test"}
    assert {case.profile for case in cases} == set(load_profiles())


def test_a_bad_case_line_is_named(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"id": "a", "split": "prod", "profile": "student", "turns": ["hi"]}\n')
    with pytest.raises(CaseError, match=r"x.jsonl:1: split"):
        load_cases(tmp_path, profiles=["student"])


def test_an_answer_is_judged_on_fit_constraints_misfits_and_duplicates(catalogue):
    case = Case(id="c", split="test", profile="student", kinds=("constraint",), turns=("no annual fee card",),
                fits=("P011", "P012"), out_of_place=("P016",), constraints={"max_annual_fee": 0})
    outcome = judge(case, catalogue, ["P010", "P016", "P011", "P011"], [["You told us: x"]], "personal", [], [])
    assert outcome.hit and not outcome.top1
    assert [v.split(":")[0] for v in outcome.violations] == ["P010", "P016"]
    assert outcome.out_of_place == ["P016"] and outcome.duplicates == ["P011"]
    report = summarise([outcome])
    assert report["all"]["hit@3"] == 1.0 and report["all"]["constraint_violations"] == 2
    assert constraint_violations(catalogue["P029"], {"rate_type": "fixed"}) == ["rate type"]


def test_follow_ups_are_judged_on_what_they_say():
    why = Case(id="w", split="dev", profile="student", kinds=("followup",), turns=("a", "why the 2nd?"),
               followup={"kind": "why_one", "position": 2})
    assert followup_ok(why, ["A", "B", "C"], ["B"], ["B"]) is True
    assert followup_ok(why, ["A", "B", "C"], ["A", "B", "C"], ["A", "B", "C"]) is False
    other = Case(id="o", split="dev", profile="student", kinds=("followup",), turns=("a", "anything else"),
                 followup={"kind": "something_else"})
    assert followup_ok(other, ["A", "B"], ["C"], ["C"]) and not followup_ok(other, ["A", "B"], ["B", "C"], [])
    rate = Case(id="r", split="dev", profile="student", kinds=("followup",), turns=("a", "which pays most interest?"),
                followup={"kind": "rate", "rate": "earn"})
    catalogue = {"A": {"terms": {"apy": 0.01}}, "B": {"terms": {"apy": 0.04}}, "C": {"terms": {}}}
    assert followup_ok(rate, ["A", "B", "C"], ["B", "A", "C"], [], catalogue)
    assert not followup_ok(rate, ["A", "B", "C"], ["A", "B", "C"], [], catalogue)  # not by rate
    assert not followup_ok(rate, ["A", "B", "C"], ["B", "A"], [], catalogue)  # one dropped
    assert followup_ok(rate, ["B"], ["B"], [], catalogue) and not followup_ok(rate, ["C"], ["C"], [], catalogue)
    payment = Case(id="p", split="dev", profile="student", kinds=("followup",), turns=("a", "monthly payment on 9k?"),
                   followup={"kind": "payment"})
    loans = {"L": {"terms": {"apr": 0.07, "term_months": 60}}, "I": {"terms": {"premium_monthly": 20.0}}}
    assert followup_ok(payment, ["L", "I"], ["L"], [], loans)
    assert not followup_ok(payment, ["L", "I"], ["L", "I"], [], loans) and not followup_ok(payment, ["L"], [], [], loans)


def test_the_report_says_which_examples_the_intent_model_learnt_from():
    report = summarise([])
    with_public = format_report({**report, "intent_training": {"source": "shipped", "public_examples": 1240}})
    assert "intent model: trained on the shipped set and 1,240 public examples" in with_public
    assert "no public datasets" not in with_public
    without = format_report({**report, "intent_training": {"source": "shipped", "public_examples": 0}})
    assert "no public datasets at" in without and "shared/datasets" in without


def test_a_run_on_a_fresh_demo_bank_leaves_no_bank_behind(tmp_path):
    live = Settings(data_dir=tmp_path / "live")
    with eval_settings(live, reuse=False) as settings:
        assert settings.data_dir != live.data_dir and settings.mongodb_uri is None
        (settings.data_dir / "fargo.db").write_bytes(b"a demo bank")
        made = settings.data_dir
    assert not made.exists()  # each run left its 36 MB demo bank in the temporary folder
    with eval_settings(live, reuse=True) as settings:
        assert settings is live
