"""recommend_healthcare on hand-built data: ranking, exact evidence, health consent and provider location."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ingest.synth.catalogue import healthcare_services
from retrieval.graph import build_graph, graph_tfidf
from tools.context import ToolContext
from tools.evidence import resolve
from tools.healthcare import (
    ASSUMED_MARGINAL_TAX_RATE,
    recommend_healthcare,
    specialties_in,
)
from tools.types import Evidence, EvidenceKind

RUN_ID = "run-1"
AS_OF = date(2026, 9, 30)
PREGNANCY = "I'm pregnant and due in March; please take it into account for health cover."
CATARACT = "I need cataract surgery in both eyes."
CROWNS = "I need several crowns and a dental implant."


def _eligibility(min_age=18, max_age=120, min_income=0.0, kyc=True) -> dict:
    return {"min_age": min_age, "max_age": max_age, "min_income": min_income, "requires_verified_kyc": kyc,
            "risk_appetite": []}


PRODUCTS = [
    ("P049", "Health Saver HSA", _eligibility(max_age=64)),
    ("P050", "Family Health Plan PPO", _eligibility(max_age=64)),
    ("P051", "Individual Bronze HDHP", _eligibility(max_age=64)),
    ("P052", "Medicare Supplement Plan G", _eligibility(min_age=65)),
    ("P053", "Medical Expense Financing", _eligibility(min_income=15_000.0)),
    ("P054", "Dental & Vision Plus", _eligibility(min_age=0, kyc=False)),
    ("P055", "Maternity & Newborn Care Plan", _eligibility(min_income=15_000.0)),
]


def _service(service_id, kind, name, description, product_id=None, city=None, specialty=None, eligibility=None,
             **terms) -> dict:
    return {"_id": service_id, "service_id": service_id, "kind": kind, "name": name, "description": description,
            "city": city, "specialty": specialty, "product_id": product_id, "terms": terms,
            "eligibility": eligibility or _eligibility(min_age=0, kyc=False)}


SERVICES = [
    _service("S001", "health_plan", "Family Health Plan PPO", "Family PPO with pediatric and maternity care.", "P050",
             premium_monthly=1450.0),
    _service("S002", "health_plan", "Individual Bronze HDHP", "Low-premium high-deductible plan for individuals.",
             "P051", premium_monthly=310.0),
    _service("S003", "health_plan", "Medicare Supplement Plan G", "Medigap Plan G for customers 65 and over.", "P052",
             eligibility=_eligibility(min_age=65), premium_monthly=165.0),
    _service("S004", "health_plan", "Dental & Vision Plus", "Dental cleanings, eye exams and a frame allowance.",
             "P054", premium_monthly=32.0),
    _service("S006", "hsa", "Health Saver HSA", "Triple-tax-advantaged savings for medical costs.", "P049",
             max_amount=8300.0, apy=0.025),
    _service("S007", "medical_financing", "Medical Expense Financing", "Spread large medical bills.", "P053",
             apr=0.1499, max_amount=25000.0, term_months=24),
    _service("S008", "medical_financing", "Maternity & Newborn Care Plan", "Financing for maternity costs.", "P055",
             max_amount=15000.0, term_months=12),
    _service("S101", "provider", "Capitol Pediatrics", "Pediatric care.", city="Austin", specialty="pediatrics"),
    _service("S102", "provider", "Austin Women's Health", "Obstetrics.", city="Austin", specialty="obstetrics"),
    _service("S103", "provider", "Lakeshore Obstetrics", "Obstetrics.", city="Chicago", specialty="obstetrics"),
    _service("S104", "provider", "Houston Children's Partners", "Pediatric care.", city="Houston",
             specialty="pediatrics"),
    _service("S105", "provider", "Hill Country Family Medicine", "Primary care.", city="Austin",
             specialty="family_medicine"),
    _service("S106", "provider", "Liberty Eye Associates", "Eye care.", city="Philadelphia", specialty="ophthalmology"),
    _service("S107", "provider", "Rocky Mountain Family Medicine", "Primary care.", city="Denver",
             specialty="family_medicine"),
]


def _customer(customer_id, age, city, *, health_data=True, profiling=True) -> dict:
    return {"_id": customer_id, "customer_id": customer_id, "date_of_birth": date(AS_OF.year - age, 1, 15).isoformat(),
            "city": city, "consent": {"profiling": profiling, "health_data": health_data, "marketing": False,
                                      "share_with_family": False}}


def _features(customer_id, age, city, *, dependants=0, spend=None, trend=None, held=(), kyc=True) -> dict:
    return {"_id": f"{RUN_ID}:{customer_id}", "run_id": RUN_ID, "customer_id": customer_id, "age": age, "city": city,
            "dependants": dependants, "marital_status": "married", "spend_12m": spend or {}, "spend_trend": trend or {},
            "products_held": list(held), "declared_income": 80_000.0, "income_estimate": 80_000.0,
            "kyc_verified": kyc, "risk_appetite": "medium"}


def _disclosure(disclosure_id, customer_id, kind, topic, text, consent=True) -> dict:
    return {"_id": disclosure_id, "disclosure_id": disclosure_id, "customer_id": customer_id, "kind": kind,
            "topic": topic, "text": text, "disclosed_at": "2026-09-01", "explicit_consent": consent}


def _context(store, customers, features, disclosures=(), links=(), services=SERVICES) -> ToolContext:
    store["products"].insert_many([
        {"_id": pid, "product_id": pid, "name": name, "category": "healthcare", "description": name,
         "eligibility": eligibility}
        for pid, name, eligibility in PRODUCTS
    ])
    store["healthcare_services"].insert_many(list(services))
    store["customers"].insert_many(customers)
    store["features"].insert_many(features)
    if disclosures:
        store["disclosures"].insert_many(list(disclosures))
    graph = build_graph(customers, list(links), {})
    return ToolContext(store, None, None, graph, graph_tfidf(graph, AS_OF), RUN_ID)


def _expecting_parent(store, *, health_data=True, explicit_consent=True) -> ToolContext:
    """C100: 34, Austin, two dependants, a child aged 4, medical spend rising, a pregnancy disclosed."""
    child = {"_id": "L1", "relationship_id": "L1", "customer_id": "C100", "relative_id": "R1", "relation": "child",
             "relative_is_customer": False, "relative_name": "Kid Doe", "relative_date_of_birth": "2022-05-01",
             "consent_to_share": False}
    return _context(
        store,
        [_customer("C100", 34, "Austin", health_data=health_data)],
        [_features("C100", 34, "Austin", dependants=2, spend={"medical": 1240.0, "pharmacy": 310.4, "travel": 900.0},
                   trend={"medical": 30.0, "pharmacy": 2.5})],
        [_disclosure("D1", "C100", "health", "pregnancy", PREGNANCY, consent=explicit_consent)],
        [child],
    )


def _ids(recommendations) -> list[str]:
    return [r.product_id for r in recommendations]


def _evidence(path, value, label, kind=EvidenceKind.profile_field, record="C100") -> Evidence:
    return Evidence(kind, "features", f"{RUN_ID}:{record}", path, value, label)


def test_expecting_parent_gets_family_plan_local_providers_hsa_and_maternity_financing_in_order(store):
    ctx = _expecting_parent(store)
    recommendations = recommend_healthcare(ctx, "C100", k=5)
    assert _ids(recommendations) == ["P050", "S102", "S101", "P049", "P055"]
    family, obstetrics, pediatrics, hsa, maternity = recommendations
    assert family.components == {"household": 1.0, "disclosure": 1.0}
    assert family.reasons[0] == (
        "You have 2 dependants; Family Health Plan PPO covers the whole family for $1,450 a month.")
    assert obstetrics.components == {"need": 1.0, "location": 0.5}
    assert obstetrics.reasons == [
        f'You told us: "{PREGNANCY}" Austin Women\'s Health is a partner obstetrics practice.',
        "It is in Austin, where you live.",
    ]
    assert obstetrics.evidence == [
        Evidence(EvidenceKind.disclosure, "disclosures", "D1", "text", PREGNANCY, "what you told us (pregnancy)"),
        Evidence(EvidenceKind.profile_field, "customers", "C100", "consent.health_data", True,
                 "your consent to use health data"),
        _evidence("city", "Austin", "your city"),
        Evidence(EvidenceKind.document_passage, "healthcare_services", "S102", "city", "Austin",
                 "Austin Women's Health: city"),
    ]
    assert pediatrics.reasons[0] == "Your child aged 0-5 could see Capitol Pediatrics, a partner pediatrics practice."
    assert pediatrics.evidence[0] == Evidence(EvidenceKind.graph_edge, "graph", "L1", "relation", "child", "your child")
    assert maternity.category == "medical_financing" and maternity.components == {"disclosure": 1.0}


def test_hsa_quotes_the_medical_spend_and_estimates_the_tax_saving_at_the_stated_rate(store):
    ctx = _expecting_parent(store)
    hsa = next(r for r in recommend_healthcare(ctx, "C100", k=10) if r.product_id == "P049")
    assert ASSUMED_MARGINAL_TAX_RATE == 0.22
    assert hsa.estimated_annual_value == round((1240.0 + 310.4) * 0.22) == 341
    assert hsa.reasons == [
        "You spent $1,240 on medical care and $310 at the pharmacy in the last 12 months; Health Saver HSA lets you "
        "pay such costs pre-tax, saving about $341 a year at an assumed 22% marginal tax rate (an HSA goes with an "
        "HSA-eligible high-deductible health plan).",
        "Your medical spending has been rising by about $30 a month.",
    ]
    assert hsa.evidence == [
        _evidence("spend_12m.medical", 1240.0, "medical spend, last 12 months", EvidenceKind.transaction_aggregate),
        _evidence("spend_12m.pharmacy", 310.4, "pharmacy spend, last 12 months", EvidenceKind.transaction_aggregate),
        _evidence("spend_trend.medical", 30.0, "medical spend trend, dollars a month",
                  EvidenceKind.transaction_aggregate),
    ]


def test_hsa_saving_is_capped_at_the_contribution_limit(store):
    ctx = _context(store, [_customer("C1", 50, "Austin")],
                   [_features("C1", 50, "Austin", spend={"medical": 12000.0})])
    hsa = next(r for r in recommend_healthcare(ctx, "C1", k=10) if r.product_id == "P049")
    assert hsa.estimated_annual_value == round(8300 * 0.22)
    assert "pay up to $8,300 of such costs pre-tax" in hsa.reasons[0]
    assert hsa.evidence[-1] == Evidence(EvidenceKind.product_terms, "healthcare_services", "S006", "terms.max_amount",
                                        8300.0, "Health Saver HSA: yearly contribution limit")


def _mentions_pregnancy(recommendations) -> bool:
    text = json.dumps([r.to_dict() for r in recommendations], default=str).lower()
    return "pregnan" in text or "D1" in text or "obstetrics" in text or "maternity & newborn" in text


def test_health_disclosure_is_ignored_without_the_customers_health_data_consent(store):
    ctx = _expecting_parent(store, health_data=False)
    recommendations = recommend_healthcare(ctx, "C100", k=10)
    assert recommendations and not _mentions_pregnancy(recommendations)
    assert "P055" not in _ids(recommendations) and "S102" not in _ids(recommendations)
    assert all(e.collection != "disclosures" for r in recommendations for e in r.evidence)


def test_health_disclosure_without_explicit_consent_on_the_record_is_ignored(store):
    ctx = _expecting_parent(store, explicit_consent=False)
    assert not _mentions_pregnancy(recommend_healthcare(ctx, "C100", k=10))


def test_same_city_provider_ranks_above_a_better_matched_one_in_another_city(store):
    ctx = _context(store, [_customer("C2", 40, "Denver")], [_features("C2", 40, "Denver")],
                   [_disclosure("D2", "C2", "health", "vision", CATARACT)])
    providers = [r for r in recommend_healthcare(ctx, "C2", k=10) if r.category == "provider"]
    assert _ids(providers) == ["S107", "S106"]
    local, remote = providers
    assert local.components == {"need": 0.2, "location": 0.5}
    assert remote.components == {"need": 0.4, "location": 0.0}
    assert remote.reasons == [f'You told us: "{CATARACT}" Liberty Eye Associates is a partner ophthalmology practice.',
                              "It is in Philadelphia, not in your city (Denver)."]


def test_procedure_and_high_spend_bring_financing_with_its_terms(store):
    ctx = _context(store, [_customer("C3", 58, "Austin")],
                   [_features("C3", 58, "Austin", spend={"medical": 2500.0}, trend={"medical": 45.0})],
                   [_disclosure("D3", "C3", "health", "dental_treatment", CROWNS)])
    financing = next(r for r in recommend_healthcare(ctx, "C3", k=10) if r.product_id == "P053")
    assert financing.components == {"disclosure": 1.0, "spending": 0.4, "rising": 0.2}
    assert financing.reasons == [
        f'You told us: "{CROWNS}"',
        "You spent $2,500 on medical care in the last 12 months.",
        "Your medical spending has been rising by about $45 a month.",
        "Medical Expense Financing spreads the cost over 24 months at 14.99% APR, up to $25,000.",
    ]
    assert [(e.collection, e.record_id, e.field, e.value) for e in financing.evidence] == [
        ("disclosures", "D3", "text", CROWNS),
        ("customers", "C3", "consent.health_data", True),
        ("features", f"{RUN_ID}:C3", "spend_12m.medical", 2500.0),
        ("features", f"{RUN_ID}:C3", "spend_trend.medical", 45.0),
        ("healthcare_services", "S007", "terms.term_months", 24),
        ("healthcare_services", "S007", "terms.apr", 0.1499),
        ("healthcare_services", "S007", "terms.max_amount", 25000.0),
    ]


def test_eligibility_follows_the_linked_product_age_and_holdings(store):
    ctx = _context(store, [_customer("C4", 70, "Austin"), _customer("C5", 40, "Austin")],
                   [_features("C4", 70, "Austin", spend={"medical": 900.0}),
                    _features("C5", 40, "Austin", spend={"medical": 900.0}, held=["P049"])])
    senior = recommend_healthcare(ctx, "C4", k=10)
    assert "P052" in _ids(senior) and "P049" not in _ids(senior)  # HSA only up to 64
    medicare = senior[_ids(senior).index("P052")]
    assert medicare.reasons == ["At 70 you qualify for Medicare Supplement Plan G, made for customers 65 and over."]
    assert "P049" not in _ids(recommend_healthcare(ctx, "C5", k=10))  # already held


def test_every_evidence_item_resolves_to_the_stored_value(store):
    ctx = _expecting_parent(store)
    recommendations = recommend_healthcare(ctx, "C100", k=10)
    assert recommendations
    for evidence in (e for r in recommendations for e in r.evidence):
        assert resolve(ctx, evidence) == evidence.value


def test_no_profile_or_profiling_opt_out_gives_nothing(store):
    ctx = _context(store, [_customer("C6", 40, "Austin", profiling=False)],
                   [_features("C6", 40, "Austin", spend={"medical": 900.0})])
    assert recommend_healthcare(ctx, "C6") == []
    assert recommend_healthcare(ctx, "nobody") == []


def test_the_catalogue_is_the_contexts_a_replaced_provider_shows_from_the_next_context_on(store):
    ctx = _expecting_parent(store)
    before = _ids(recommend_healthcare(ctx, "C100"))
    assert "S101" in before
    store["healthcare_services"].delete_one({"_id": "S101"})
    store["healthcare_services"].insert_one(
        _service("S108", "provider", "South Austin Pediatrics", "Pediatric care.", city="Austin",
                 specialty="pediatrics"))
    assert _ids(recommend_healthcare(ctx, "C100")) == before  # the live context answers from its own run's data
    next_run = ToolContext(store, None, None, ctx.graph, ctx.graph_stats, RUN_ID)
    assert _ids(recommend_healthcare(next_run, "C100")) == [pid if pid != "S101" else "S108" for pid in before]


# --- care asked for by name ---------------------------------------------------------------------------

CARE_IN_PLAIN_WORDS = [
    ("a dentist near me", "dentistry"),
    ("Are there dentists in Austin?", "dentistry"),
    ("I'm due a dental cleaning", "dentistry"),
    ("I've had a toothache for a week", "dentistry"),
    ("my teeth hurt", "dentistry"),
    ("I need a cardiologist in my city", "cardiology"),
    ("a heart doctor for my dad", "cardiology"),
    ("I keep getting chest pains", "cardiology"),
    ("a pediatrician for my son", "pediatrics"),
    ("we're looking for a paediatrician", "pediatrics"),
    ("a kids’ doctor", "pediatrics"),
    ("a doctor for my 4 year old daughter", "pediatrics"),
    ("I need an OB/GYN", "obstetrics"),
    ("an obgyn please", "obstetrics"),
    ("somewhere for prenatal visits", "obstetrics"),
    ("antenatal appointments", "obstetrics"),
    ("a midwife", "obstetrics"),
    ("where can I go for pregnancy check-ups?", "obstetrics"),
    ("a gynaecologist", "obstetrics"),
    ("someone to talk to about my anxiety", "mental_health"),
    ("I think I need a therapist", "mental_health"),
    ("counselling for my depression", "mental_health"),
    ("a counselor", "mental_health"),
    ("a psychiatrist", "mental_health"),
    ("physio after knee surgery", "physical_therapy"),
    ("a physiotherapist", "physical_therapy"),
    ("physical therapy", "physical_therapy"),
    ("a physical therapist, not a talking one", "physical_therapy"),
    ("rehab after surgery", "physical_therapy"),
    ("an eye doctor", "ophthalmology"),
    ("an optometrist", "ophthalmology"),
    ("I need new glasses", "ophthalmology"),
    ("an ophthalmologist", "ophthalmology"),
    ("a skin doctor", "dermatology"),
    ("dermatologists near me", "dermatology"),
    ("I have a rash that won't go away", "dermatology"),
    ("help with my acne", "dermatology"),
    ("someone for my bones and joints", "orthopedics"),
    ("an orthopaedic surgeon", "orthopedics"),
    ("an orthopedist", "orthopedics"),
    ("a knee surgeon", "orthopedics"),
    ("a GP", "family_medicine"),
    ("a family doctor", "family_medicine"),
    ("primary care near me", "family_medicine"),
    ("I'm due a checkup", "family_medicine"),
    ("an annual check-up", "family_medicine"),
    ("elderly care for my mum", "geriatrics"),
    ("a geriatrician", "geriatrics"),
    ("care for my elderly father", "geriatrics"),
]


@pytest.mark.parametrize(("text", "specialty"), CARE_IN_PLAIN_WORDS)
def test_care_named_in_plain_words_is_recognised_as_its_specialty(text, specialty):
    assert specialties_in(text)[0] == specialty


@pytest.mark.parametrize("text", [
    "open a joint account with my wife",
    "I'd like financial counselling about my debts",
    "credit counseling",
    "do you have dental insurance?",
    "I want a dental and vision plan",
    "Does the plan cover glasses?",
    "is there someone to talk to about my mortgage?",
    "I want to talk to someone at the bank",
    "I lost my sunglasses",
    "what health plan should I get?",
    "",
])
def test_words_that_ask_for_no_care_name_no_specialty(text):
    assert specialties_in(text) == []


def test_care_named_outright_comes_before_care_hinted_at():
    assert specialties_in("my elderly mum needs a cardiologist") == ["cardiology", "geriatrics"]
    assert specialties_in("physio after knee surgery")[0] == "physical_therapy"
    assert specialties_in("a dental checkup") == ["dentistry"]  # a checkup alone is a family doctor's
    assert specialties_in("I need a dentist, does my plan cover it?") == ["dentistry"]


def _austin_and_denver(store, **customer) -> ToolContext:
    return _context(store, [_customer("C7", 38, "Austin", **customer), _customer("C8", 38, "Denver", **customer)],
                    [_features("C7", 38, "Austin", dependants=1), _features("C8", 38, "Denver", dependants=1)])


def test_specialty_asked_for_gives_its_partner_providers_the_customers_city_first(store):
    ctx = _austin_and_denver(store)
    local, remote = recommend_healthcare(ctx, "C7", specialty="obstetrics")
    assert (local.product_id, remote.product_id) == ("S102", "S103")
    assert local.category == remote.category == "provider"
    assert local.reasons == ["Austin Women's Health is a partner obstetrics practice in Austin, your city."]
    elsewhere = "Lakeshore Obstetrics is a partner obstetrics practice in Chicago, not in your city (Austin)."
    assert remote.reasons == [elsewhere]
    assert local.score > remote.score
    assert local.evidence == [
        Evidence(EvidenceKind.document_passage, "healthcare_services", "S102", "specialty", "obstetrics",
                 "Austin Women's Health: specialty"),
        Evidence(EvidenceKind.document_passage, "healthcare_services", "S102", "city", "Austin",
                 "Austin Women's Health: city"),
        _evidence("city", "Austin", "your city", record="C7"),
    ]
    for evidence in (e for r in (local, remote) for e in r.evidence):
        assert resolve(ctx, evidence) == evidence.value


def test_with_no_partner_in_the_customers_city_the_others_say_so(store):
    ctx = _austin_and_denver(store)
    recommendations = recommend_healthcare(ctx, "C8", specialty="obstetrics")
    assert _ids(recommendations) == ["S102", "S103"]
    assert recommendations[1].reasons == [
        "Lakeshore Obstetrics is a partner obstetrics practice in Chicago; no partner of this kind in your city yet."]
    assert _ids(recommend_healthcare(ctx, "C8", k=1, specialty="obstetrics")) == ["S102"]


def test_the_specialty_may_come_spelled_as_the_customer_said_it(store):
    ctx = _austin_and_denver(store)
    assert _ids(recommend_healthcare(ctx, "C7", specialty="Family medicine")) == ["S105", "S107"]
    assert _ids(recommend_healthcare(ctx, "C7", specialty="paediatrician")) == ["S101", "S104"]


def test_the_columbus_customer_asking_for_physio_gets_the_columbus_practice_first(store):
    catalogue = [record.model_dump(mode="json") for record in healthcare_services()]
    services = [{**record, "_id": record["service_id"]} for record in catalogue]
    ctx = _context(store, [_customer("C9", 52, "Columbus")], [_features("C9", 52, "Columbus")], services=services)
    recommendations = recommend_healthcare(ctx, "C9", specialty=specialties_in("physio after knee surgery")[0])
    assert [(r.product_id, r.name) for r in recommendations] == [
        ("S038", "Buckeye Physical Therapy"), ("S021", "Coastal Physical Therapy")]
    assert recommendations[0].reasons == [
        "Buckeye Physical Therapy is a partner physical therapy practice in Columbus, your city."]


def test_a_specialty_search_needs_no_health_data_and_quotes_no_disclosure(store):
    ctx = _expecting_parent(store, health_data=False)
    assert _ids(recommend_healthcare(ctx, "C100", specialty="obstetrics")) == ["S102", "S103"]
    with_consent = _expecting_parent_again(store)
    recommendations = recommend_healthcare(with_consent, "C101", specialty="obstetrics")
    assert _ids(recommendations) == ["S102", "S103"]
    assert not any(PREGNANCY in reason for r in recommendations for reason in r.reasons)
    assert all(e.collection != "disclosures" for r in recommendations for e in r.evidence)


def _expecting_parent_again(store) -> ToolContext:
    """C101: C100's twin with the same disclosure, consented, in a store that already holds the catalogue."""
    store["customers"].insert_one(_customer("C101", 34, "Austin"))
    store["features"].insert_one(_features("C101", 34, "Austin", dependants=2))
    store["disclosures"].insert_one(_disclosure("D101", "C101", "health", "pregnancy", PREGNANCY))
    return ToolContext(store, None, None, build_graph([], [], {}), None, RUN_ID)


def test_a_customer_who_opted_out_of_profiling_gets_no_providers_either(store):
    ctx = _austin_and_denver(store, profiling=False)
    assert recommend_healthcare(ctx, "C7", specialty="obstetrics") == []


def test_an_unknown_specialty_gets_the_recommendations_it_gets_today(store):
    ctx = _expecting_parent(store)
    today = recommend_healthcare(ctx, "C100")
    assert recommend_healthcare(ctx, "C100", specialty="oncology") == today
    assert recommend_healthcare(ctx, "C100", specialty="") == today


def test_a_specialty_no_partner_practises_gives_nothing_rather_than_something_else(store):
    ctx = _austin_and_denver(store)
    assert recommend_healthcare(ctx, "C7", specialty="cardiology") == []
