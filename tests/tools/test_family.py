"""recommend_family on a tiny hand-built bank: ranking, exact graph evidence, consent and age rules, and products
a customer opens on behalf of a child under 18 or a relative who does not bank here."""

from __future__ import annotations

import json
from datetime import date

import pytest

from retrieval.graph import RelativeView, build_graph, context_of, graph_tfidf
from tools.context import ToolContext
from tools.evidence import resolve
from tools.family import recommend_family, suits_them
from tools.requests.model import NeedHit, Request, StatedRelative
from tools.types import Evidence, EvidenceKind

RUN_ID = "run-1"
AS_OF = date(2026, 9, 30)
SPOUSES = "spouse aged 36-50"
PARENTS = "parent aged 65+"
CHILDREN = "child aged 18-25"
WITH_YOUNG_CHILD = "customers with a child aged 6-12"
WITH_OLD_PARENT = "customers with a parent aged 65+"

FAMILIES = ("families",)
PRODUCTS = {  # name, category, min_age, min_income, target_segments
    "P_CHECK": ("Everyday Checking", "deposit", 18, 0, ()),
    "P_SAVE": ("High-Yield Savings", "deposit", 18, 0, ()),
    "P_RICH": ("Premier Card", "card", 21, 100_000, ()),
    "P_SENIOR": ("Senior Checking", "deposit", 60, 0, ()),
    "P_STUDENT": ("Student Card", "card", 18, 0, ()),
    "P_SECRET": ("Yacht Loan", "loan", 18, 0, ()),
    # what parents of young children (H01-H08) hold
    "P_529": ("529 College Savings Plan", "education_savings", 18, 0, FAMILIES),
    "P_CUSTODY": ("Custodial Account", "education_savings", 18, 0, FAMILIES),
    "P_JUNIOR": ("Junior Saver", "deposit", 18, 0, FAMILIES),
    "P_LIFE": ("Term Life Insurance", "insurance", 18, 100_000, FAMILIES),
    "P_COVER": ("Coverdell ESA", "education_savings", 18, 0, FAMILIES),
    "P_HOME": ("Homeowners Insurance", "insurance", 18, 0, ("homeowners",)),
    "P_CASH": ("Cash Back Card", "card", 18, 0, FAMILIES),
    "P_FAMCHECK": ("Family Checking", "deposit", 18, 0, FAMILIES),
    "P_LTC": ("Long-Term Care Insurance", "insurance", 40, 0, ("caregivers",)),
}
# H01-H08 each hold the products whose count reaches their number: P_529 for H01-H07, P_COVER for H01-H04.
PARENTS_HOLD = {"P_529": 7, "P_CUSTODY": 5, "P_JUNIOR": 5, "P_LIFE": 6, "P_COVER": 4, "P_HOME": 6, "P_CASH": 6,
                "P_FAMCHECK": 5, "P_LTC": 5}

# The requester C1: spouse C2 (a customer who does not share), parent C3 (a customer who shares), child K06
# (a customer aged 20 who does not share), child R1 (aged 8, not a customer), sibling C4. Others make the
# contexts big enough to count: H01-H10 are customers with spouses S01-S10, parents G01-G06, children K01-K06
# and young children M01-M08; N01-N15 are customers without relatives who hold Family Checking.
SECRET_NUMBERS = {98765.43, 13579.24, -4321.09, 4321.09, 24680.13}
SECRET_TEXTS = ("98765", "98,765", "13579", "13,579", "4321", "4,321", "24680", "24,680", "Zanzibar", "yacht", "Yacht",
                "P_SECRET", "A2", "D2", "C2:2026-09")


def _dob(age: int) -> str:
    return date(AS_OF.year - age, 1, 15).isoformat()


def _customer(customer_id: str, age: int, *, profiling: bool = True) -> dict:
    return {"_id": customer_id, "customer_id": customer_id, "date_of_birth": _dob(age), "city": "Austin",
            "consent": {"profiling": profiling, "health_data": False, "marketing": False, "share_with_family": False}}


def _features(customer_id: str, age: int, held: list[str], income: float = 50_000.0) -> dict:
    return {"_id": f"{RUN_ID}:{customer_id}", "run_id": RUN_ID, "customer_id": customer_id, "age": age,
            "products_held": sorted(held), "declared_income": income, "income_estimate": income,
            "kyc_verified": True, "risk_appetite": "medium", "deposit_balance": 1000.0, "spend_12m": {}}


def _link(link_id: str, customer_id: str, relative_id: str, relation: str, consent: bool,
          age: int | None = None) -> dict:
    return {"_id": link_id, "relationship_id": link_id, "customer_id": customer_id, "relative_id": relative_id,
            "relation": relation, "relative_is_customer": age is None, "consent_to_share": consent,
            "relative_name": "Rae Doe" if age is not None else None,
            "relative_date_of_birth": _dob(age) if age is not None else None}


def _bank(c1_profiling: bool = True, parent_consent: bool = True, parent_is_customer: bool = True,
          second_parent_age: int | None = None):
    customers, holdings, links = [_customer("C1", 40, profiling=c1_profiling)], {"C1": ["P_CHECK", "P_JUNIOR"]}, []
    ages = {"C1": 40}
    # spouse aged 36-50: S01-S10 plus C2; P_CHECK 8 of 11, P_SAVE 7 (C2 too), P_RICH 5, P_SECRET only C2.
    for i in range(1, 11):
        spouse = f"S{i:02d}"
        ages[spouse] = 45
        holdings[spouse] = [p for p, n in (("P_CHECK", 8), ("P_SAVE", 6), ("P_RICH", 5)) if i <= n]
        links.append(_link(f"LS{i:02d}", f"H{i:02d}", spouse, "spouse", False))
    ages["C2"], holdings["C2"] = 45, ["P_SAVE", "P_SECRET"]
    links.append(_link("L1", "C1", "C2", "spouse", False))
    # parent aged 65+: G01-G06 plus C3; P_SENIOR 7 of 7 (C3 too), P_CHECK 5, P_RICH 5.
    for i in range(1, 7):
        parent = f"G{i:02d}"
        ages[parent] = 70
        holdings[parent] = ["P_SENIOR"] + (["P_CHECK", "P_RICH"] if i <= 5 else [])
        links.append(_link(f"LG{i:02d}", f"H{i:02d}", parent, "parent", False))
    ages["C3"], holdings["C3"] = 70, ["P_SENIOR"]
    links.append(_link("L2", "C1", "C3", "parent", parent_consent) if parent_is_customer
                 else _link("L2", "C1", "R3", "parent", False, age=70))
    # child aged 18-25: K01-K06 (K06 is C1's child too); P_STUDENT 6, P_SENIOR 5 (odd, but tests the age rule).
    for i in range(1, 7):
        kid = f"K{i:02d}"
        ages[kid] = 20
        holdings[kid] = ["P_STUDENT"] + (["P_SENIOR"] if i <= 5 else [])
        links.append(_link(f"LK{i:02d}", f"H{i:02d}", kid, "child", False))
    links.append(_link("L5", "C1", "K06", "child", False))
    # customers with a child aged 6-12: H01-H08 (children M01-M08, not customers) plus C1 (child R1).
    links.append(_link("L3", "C1", "R1", "child", False, age=8))
    for i in range(1, 9):
        links.append(_link(f"LM{i:02d}", f"H{i:02d}", f"M{i:02d}", "child", False, age=8))
    links.append(_link("L4", "C1", "C4", "sibling", False))
    if second_parent_age is not None:  # not a customer
        links.append(_link("L6", "C1", "R4", "parent", False, age=second_parent_age))
    ages["C4"], holdings["C4"] = 38, []
    for i in range(1, 11):
        ages[f"H{i:02d}"] = 48
        holdings[f"H{i:02d}"] = [p for p, n in PARENTS_HOLD.items() if i <= n]
    for i in range(1, 16):
        ages[f"N{i:02d}"], holdings[f"N{i:02d}"] = 30, ["P_FAMCHECK"]
    customers += [_customer(cid, age) for cid, age in ages.items() if cid != "C1"]
    return customers, holdings, links


def _context(store, **bank_options) -> ToolContext:
    customers, holdings, links = _bank(**bank_options)
    graph = build_graph(customers, links, holdings)
    store["customers"].insert_many(customers)
    store["relationships"].insert_many(links)
    store["products"].insert_many([
        {"_id": pid, "product_id": pid, "name": name, "category": category, "description": name,
         "eligibility": {"min_age": min_age, "max_age": 120, "min_income": income, "requires_verified_kyc": True,
                         "risk_appetite": []}, "target_segments": list(segments)}
        for pid, (name, category, min_age, income, segments) in PRODUCTS.items()
    ])
    store["features"].insert_many([
        _features("C1", 40, ["P_CHECK", "P_JUNIOR"]),
        _features("C3", 70, ["P_SENIOR"], income=20_000.0),
        {**_features("C2", 45, ["P_SAVE", "P_SECRET"]), "deposit_balance": 98765.43, "spend_12m": {"travel": 13579.24}},
    ])
    store["accounts"].insert_one({"_id": "A2", "account_id": "A2", "customer_id": "C2", "product_id": "P_SECRET",
                                  "balance": 24680.13, "status": "open"})
    store["transactions"].insert_one({"_id": "C2:2026-09", "customer_id": "C2", "month": "2026-09", "transactions": [
        {"transaction_id": "T1", "amount": -4321.09, "merchant": "Zanzibar Marina", "category": "travel",
         "date": "2026-09-03", "channel": "card_present", "account_id": "A2", "customer_id": "C2"}]})
    store["disclosures"].insert_one({"_id": "D2", "disclosure_id": "D2", "customer_id": "C2", "kind": "life_goal",
                                     "topic": "boat", "text": "Saving for a yacht to sail to Zanzibar.",
                                     "explicit_consent": True})
    return ToolContext(store, None, None, graph, graph_tfidf(graph, AS_OF), RUN_ID)


class SpyContext(ToolContext):
    """Records whose features the tool reads."""

    def features(self, customer_id: str):
        self.read = [*getattr(self, "read", []), customer_id]
        return super().features(customer_id)


def _spy(ctx: ToolContext) -> SpyContext:
    return SpyContext(ctx.store, ctx.vectors, ctx.embedder, ctx.graph, ctx.graph_stats, ctx.run_id)


def _strings(recommendations) -> list[str]:
    """Everything a reader of the recommendations could see, as text."""
    texts = []
    for r in recommendations:
        texts += [r.product_id, r.name, *r.reasons]
        for e in r.evidence:
            texts += [e.record_id, e.field, e.label, json.dumps(e.value, default=str)]
    return texts


def _numbers(recommendations) -> list[float]:
    return [e.value for r in recommendations for e in r.evidence
            if isinstance(e.value, (int, float)) and not isinstance(e.value, bool)]


def test_spouse_gets_the_most_distinctive_products_of_their_context_with_exact_graph_evidence(store):
    ctx = _context(store)
    recommendations = recommend_family(ctx, "C1", ["spouse"])
    # P_SAVE is rarer than P_CHECK across contexts (higher idf), which outweighs its lower share
    assert [r.product_id for r in recommendations] == ["P_SAVE", "P_CHECK", "P_RICH"]
    assert {(r.for_person, r.relation) for r in recommendations} == {("C2", "spouse")}
    top = recommendations[0]
    stat = ctx.graph_stats.get(SPOUSES, "P_SAVE")
    people = ctx.graph.graph.number_of_nodes()  # the graph the test built, in memory
    assert (stat.holders, stat.context_size, stat.bank_holders, people) == (7, 11, 7, 60)
    assert top.evidence == [
        Evidence(EvidenceKind.graph_edge, "graph", "L1", "relation", "spouse", "relation to you"),
        Evidence(EvidenceKind.graph_edge, "graph", "L1", "consent_to_share", False, "shares their accounts with you"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", SPOUSES, "P_SAVE.tf", 7 / 11,
                 f"{SPOUSES}: share of the context holding it"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", SPOUSES, "P_SAVE.holders", 7,
                 f"{SPOUSES}: people in the context holding it"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", SPOUSES, "P_SAVE.context_size", 11,
                 f"{SPOUSES}: people in the context"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", SPOUSES, "P_SAVE.lift", (7 / 11) / (7 / 60),
                 f"{SPOUSES}: times the bank-wide rate"),
    ]
    assert top.reasons[0] == (
        "64% of customers' spouses aged 36-50 (7 of 11) hold High-Yield Savings, 5.5x the bank-wide rate."
    )
    assert top.score == round(stat.tfidf, 4)


def test_relative_without_consent_has_no_private_data_in_any_reason_or_evidence(store):
    ctx = _spy(_context(store))
    recommendations = recommend_family(ctx, "C1", ["spouse", "child", "parent", "sibling"])
    spouse = [r for r in recommendations if r.for_person == "C2"]
    assert spouse, "the spouse still gets recommendations from relation and age band"
    texts = _strings(recommendations)
    for secret in SECRET_TEXTS:
        assert not [text for text in texts if secret in text], secret
    assert not SECRET_NUMBERS & set(_numbers(recommendations))
    assert "C2" not in getattr(ctx, "read", [])  # their features were never even read
    assert all(e.collection in ("graph", "graph_stats") for r in spouse for e in r.evidence)
    assert spouse[0].reasons[1] == (
        "Checked against the age limits only (your spouse is aged 36-50); income and identity are checked when "
        "they apply. They have not shared their accounts with you, so they may already hold it."
    )


def test_a_statistic_with_fewer_than_five_holders_is_never_used(store):
    ctx = _context(store)
    assert ctx.graph_stats.get(SPOUSES, "P_SECRET").holders == 1  # only the spouse, who did not consent
    recommendations = recommend_family(ctx, "C1", ["spouse"], k=10)
    assert "P_SECRET" not in {r.product_id for r in recommendations}


def test_relative_with_consent_is_not_offered_what_they_hold_nor_what_their_income_rules_out(store):
    ctx = _spy(_context(store))
    assert ctx.graph_stats.top_products(PARENTS, 1)[0].product_id == "P_SENIOR"
    recommendations = recommend_family(ctx, "C1", ["parent"])
    assert [r.product_id for r in recommendations] == ["P_CHECK"]  # P_SENIOR held; P_RICH needs $100,000
    assert ctx.read == ["C3"]
    assert recommendations[0].reasons[1] == (
        "Your parent shares their accounts with you: they qualify and do not hold it yet.")
    assert recommendations[0].evidence[1].value is True
    assert recommendations[0].evidence[-1] == Evidence(
        EvidenceKind.profile_field, "features", f"{RUN_ID}:C3", "products_held", ["P_SENIOR"],
        "products your parent holds (shared with you)")


def test_without_consent_the_same_parent_is_checked_on_age_only(store):
    ctx = _context(store, parent_consent=False)
    recommendations = recommend_family(ctx, "C1", ["parent"])
    assert [r.product_id for r in recommendations] == ["P_SENIOR", "P_CHECK", "P_RICH"]


def test_relative_too_young_for_a_product_is_not_offered_it(store):
    ctx = _context(store)
    recommendations = [r for r in recommend_family(ctx, "C1", ["children"], k=5) if r.for_person == "K06"]
    assert [r.product_id for r in recommendations] == ["P_STUDENT"]  # P_SENIOR from 60
    assert recommendations[0].evidence[0].record_id == "L5"
    assert recommendations[0].reasons[1].startswith("Checked against the age limits only (your child is aged 18-25)")


def test_one_parent_of_a_stated_age_is_the_one_on_file_nearest_it(store):
    ctx = _context(store, second_parent_age=80)
    assert {r.for_person for r in recommend_family(ctx, "C1", ["parent"])} == {"C3", "R4"}

    def asked(age: int, count: int = 1) -> set[str | None]:
        request = Request(relatives=(StatedRelative("parent", age, count),))
        return {r.for_person for r in recommend_family(ctx, "C1", request=request)}

    assert asked(72) == {"C3"}  # "my mum is 72": C3 is 70, R4 is 80
    assert asked(79) == {"R4"}
    assert asked(75, count=2) == {"C3", "R4"}  # "my parents are in their seventies"


def test_default_covers_spouse_children_and_parents_in_that_order(store):
    ctx = _context(store)
    recommendations = recommend_family(ctx, "C1", k=1)
    assert [(r.relation, r.for_person) for r in recommendations] == [
        ("spouse", "C2"), ("child", "K06"), ("child", "R1"), ("parent", "C3")]


def test_young_child_gets_what_customers_with_such_a_child_hold_opened_in_the_requesters_name(store):
    ctx = _spy(_context(store))
    recommendations = [r for r in recommend_family(ctx, "C1", ["child"]) if r.for_person == "R1"]
    assert [r.product_id for r in recommendations] == ["P_529", "P_CUSTODY"]
    assert {r.relation for r in recommendations} == {"child"}
    stat = ctx.graph_stats.get(WITH_YOUNG_CHILD, "P_529")
    # H01-H08 and C1 have a child aged 6-12; H01-H07 hold the 529; 51 customers, 7 of them hold it
    assert (stat.holders, stat.context_size, stat.bank_holders, stat.people) == (7, 9, 7, 51)
    assert (stat.df_contexts, stat.n_contexts) == (4, 5)  # not held by C1, the only customer with a sibling
    top = recommendations[0]
    assert top.reasons == [
        "78% of customers with a child aged 6-12 (7 of 9) hold 529 College Savings Plan, 5.7x the bank-wide rate.",
        "For your child (aged 6-12), opened in your name: you qualify and do not hold it yet.",
    ]
    assert top.evidence == [
        Evidence(EvidenceKind.graph_edge, "graph", "L3", "relation", "child", "relation to you"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", WITH_YOUNG_CHILD, "P_529.tf", 7 / 9,
                 f"{WITH_YOUNG_CHILD}: share of the context holding it"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", WITH_YOUNG_CHILD, "P_529.holders", 7,
                 f"{WITH_YOUNG_CHILD}: people in the context holding it"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", WITH_YOUNG_CHILD, "P_529.context_size", 9,
                 f"{WITH_YOUNG_CHILD}: people in the context"),
        Evidence(EvidenceKind.graph_statistic, "graph_stats", WITH_YOUNG_CHILD, "P_529.lift", (7 / 9) / (7 / 51),
                 f"{WITH_YOUNG_CHILD}: times the bank-wide rate"),
        Evidence(EvidenceKind.profile_field, "features", f"{RUN_ID}:C1", "products_held", ["P_CHECK", "P_JUNIOR"],
                 "products you hold"),
    ]
    assert top.score == round(stat.tfidf, 4)
    assert recommendations[1].reasons[0] == (
        "56% of customers with a child aged 6-12 (5 of 9) hold Custodial Account, 5.7x the bank-wide rate.")
    assert ctx.read == ["C1"]  # the requester's own features, nobody else's


def test_on_behalf_skips_what_the_requester_holds_or_cannot_have_and_what_is_not_opened_for_a_child(store):
    ctx = _context(store)
    recommended = {r.product_id for r in recommend_family(ctx, "C1", ["child"], k=10) if r.for_person == "R1"}
    assert recommended == {"P_529", "P_CUSTODY"}
    skipped = {pid: (stat.holders, round(stat.lift, 4)) for pid in
               ("P_JUNIOR", "P_LIFE", "P_COVER", "P_HOME", "P_CASH", "P_FAMCHECK", "P_LTC")
               for stat in [ctx.graph_stats.get(WITH_YOUNG_CHILD, pid)]}
    assert skipped == {
        "P_JUNIOR": (6, 5.6667),  # the requester holds it (and is one of the six)
        "P_LIFE": (6, 5.6667),  # needs an income of $100,000; the requester has $50,000
        "P_COVER": (4, 5.6667),  # fewer than five holders
        "P_HOME": (6, 5.6667),  # insurance, but aimed at homeowners, not families
        "P_CASH": (6, 5.6667),  # a card is not opened for a child
        "P_FAMCHECK": (5, 1.4167),  # N01-N15 hold it too: hardly more common among parents than bank-wide
        "P_LTC": (5, 5.6667),  # aimed at caregivers: opened for a parent, not a child
    }


def test_an_adult_relative_who_is_not_a_customer_gets_what_people_like_them_hold(store):
    ctx = _context(store, parent_is_customer=False)
    recommendations = recommend_family(ctx, "C1", ["parent"], k=3)

    assert recommendations and all(r.for_person == "R3" for r in recommendations)
    statistic_contexts = {e.record_id for r in recommendations for e in r.evidence if e.collection == "graph_stats"}
    assert statistic_contexts == {context_of("parent", "65+")}  # their own context, not what customers open for them
    assert "P_LTC" not in {r.product_id for r in recommendations}


def test_nothing_is_opened_on_behalf_of_a_customer_without_live_features(store):
    ctx = _context(store)
    store["features"].delete_many({"customer_id": "C1"})
    assert [r for r in recommend_family(ctx, "C1", ["child"]) if r.for_person == "R1"] == []


@pytest.mark.parametrize("parent_is_customer", [True, False])
def test_every_evidence_item_resolves_to_the_stored_value(store, parent_is_customer):
    ctx = _context(store, parent_is_customer=parent_is_customer)
    recommendations = recommend_family(ctx, "C1", ["spouse", "child", "parent"], k=3)
    assert {"C2", "K06", "R1"} <= {r.for_person for r in recommendations}
    for evidence in (e for r in recommendations for e in r.evidence):
        assert resolve(ctx, evidence) == evidence.value


def test_customer_who_opted_out_of_profiling_or_unknown_relation(store):
    ctx = _context(store, c1_profiling=False)
    assert recommend_family(ctx, "C1") == []
    assert recommend_family(ctx, "nobody") == []
    with pytest.raises(ValueError, match="cousin"):
        recommend_family(ctx, "C1", ["cousin"])


def test_a_relative_on_file_is_taken_at_the_age_the_customer_says():
    from retrieval.graph import RelativeView
    from tools.family import _as_stated

    on_file = RelativeView("K1", "child", True, 19, "18-25", False, "L1")
    said = {"child": StatedRelative("child", 22)}  # "my 22-year-old ... can she refinance?": refinancing starts at 21
    assert [(v.relative_id, v.age) for v in _as_stated([on_file], said, ["child"])] == [("K1", 22)]
    two = {"child": StatedRelative("child", 22, count=2)}  # "my two kids are 22": each keeps their own age
    assert [v.age for v in _as_stated([on_file], two, ["child"])] == [19]


def _relative(relation: str, age: int) -> RelativeView:
    return RelativeView(relative_id="R9", relation=relation, is_customer=False, age=age, age_band="",
                        consent_to_share=False, relationship_id="L9")


def test_a_college_fund_is_for_a_minor_and_a_plan_for_a_birth_never_for_an_older_child():
    fund = {"name": "529 College Savings Plan", "category": "education_savings"}
    birth = {"name": "Maternity & Newborn Care Plan", "category": "healthcare"}
    assert suits_them(fund, _relative("child", 8))
    assert not suits_them(fund, _relative("child", 19))  # away at university: a new 529 is no use to them
    assert not suits_them(fund, _relative("spouse", 40), asked=0.75)  # was "for your spouse" after a new baby
    assert suits_them(fund, _relative("child", 19), asked=0.9)  # "how do we save for our kids' education"
    assert suits_them(birth, _relative("spouse", 32)) and suits_them(birth, _relative("child", 0))
    assert not suits_them(birth, _relative("child", 9))  # was "for your child aged 6-12" after a new baby
    assert suits_them({"name": "Family Health Plan PPO", "category": "healthcare"}, _relative("child", 9))


def test_a_college_fund_plainly_asked_for_goes_to_a_grown_child_only_when_their_age_is_not_said(store):
    ctx = _context(store)
    fund = NeedHit("P_529", 0.95, "529 College Savings Plan")
    unsaid = Request(text="how do we save for our kids' education", needs=(fund,), relatives=(StatedRelative("child"),))
    said = Request(text="our son is 20 and at university, how do we save for his education", needs=(fund,),
                   relatives=(StatedRelative("child", age=20),))
    assert "P_529" in {r.product_id for r in recommend_family(ctx, "C1", ["child"], request=unsaid)
                       if r.for_person == "K06"}  # the child on record may not be the one they mean
    assert [r for r in recommend_family(ctx, "C1", ["child"], request=said) if r.product_id == "P_529"] == []


def test_a_grandchild_not_on_record_is_named_by_the_customers_word_not_as_their_child(store):
    ctx = _context(store)
    fund = (NeedHit("P_529", 0.95, "529 College Savings Plan"),)
    request = Request(text="my grandson is turning 3, what can I start for his college?", needs=fund,
                      relatives=(StatedRelative("child", age=3, word="grandson"),))
    recommendations = recommend_family(ctx, "C1", request=request)
    assert [(r.product_id, r.relation, r.word) for r in recommendations] == [("P_529", "child", "grandson")]
    son = Request(text="my son is 3, what can I start for his college?", needs=fund,
                  relatives=(StatedRelative("child", age=3, word="son"),))
    assert [(r.product_id, r.word) for r in recommend_family(ctx, "C1", request=son)] == [("P_529", None)]
