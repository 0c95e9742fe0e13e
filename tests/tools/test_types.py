"""A recommendation and its evidence as dicts: what `dataclasses.asdict` would give, and independent copies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from tools.types import Evidence, EvidenceKind, Recommendation


def _recommendation() -> Recommendation:
    evidence = [
        Evidence(EvidenceKind.transaction_aggregate, "features", "run-1:C1", "spend_12m.travel", 640.5, "travel spend"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", "child 6-12", "holders",
                 {"count": 3, "of": [1, 2, (3, 4)], "as_of": date(2026, 9, 30)}),
        Evidence(EvidenceKind.disclosure, "disclosures", "D1", "text", None),
    ]
    return Recommendation("P_TRAVEL", "Voyager Travel Card", "card", 0.72, ["At your $640 a year on travel"],
                          evidence, {"value": 0.5, "goal": 0.22}, 230.0, "R7", "child")


def test_to_dict_is_what_asdict_gives_with_the_kind_as_text():
    recommendation = _recommendation()
    expected = asdict(recommendation)
    expected["evidence"] = [asdict(item) | {"kind": str(item.kind)} for item in recommendation.evidence]
    assert recommendation.to_dict() == expected
    assert list(recommendation.to_dict()) == list(expected)
    assert [list(item) for item in recommendation.to_dict()["evidence"]] == [list(e) for e in expected["evidence"]]
    assert type(recommendation.to_dict()["evidence"][0]["kind"]) is str


def test_to_dict_copies_so_a_change_to_the_dict_leaves_the_recommendation_as_it_was():
    recommendation = _recommendation()
    data = recommendation.to_dict()
    data["reasons"].append("changed")
    data["components"]["value"] = 9
    data["evidence"][1]["value"]["of"].append(5)
    assert recommendation.reasons == ["At your $640 a year on travel"]
    assert recommendation.components == {"value": 0.5, "goal": 0.22}
    assert recommendation.evidence[1].value["of"] == [1, 2, (3, 4)]


def test_a_subclass_keeps_its_own_fields_in_the_dict():
    from tools.campaign import CampaignLead

    fields = {name: getattr(_recommendation(), name) for name in ("product_id", "name", "category", "score",
                                                                    "reasons", "evidence")}
    lead = CampaignLead(**fields, opening_line="Hi Ann, congratulations on the new home!")
    expected = asdict(lead)
    expected["evidence"] = [asdict(item) | {"kind": str(item.kind)} for item in lead.evidence]
    assert lead.to_dict() == expected and lead.to_dict()["opening_line"].startswith("Hi Ann")
