"""Reading a request from its words, and honouring it: constraints, stated relatives, need-first ordering."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from tools.personal.ranking import _answered_elsewhere
from tools.requests.ages import for_age, quoted_for_their_age
from tools.requests.fit import far_from_need, fit_request, request_reason, violations
from tools.requests.model import Constraints, NeedHit, Request
from tools.requests.parse import (
    about_business,
    constraints_in,
    life_events_in,
    relatives_in,
)
from tools.requests.slots import find_product_categories


@pytest.mark.parametrize("text, expected", [
    ("Only cards with no yearly fee please", {"max_annual_fee": 0.0}),
    ("i dont want to pay an annual fee", {"max_annual_fee": 0.0}),
    ("I will not pay a monthly fee for checking", {"max_monthly_fee": 0.0}),
    ("a fee-free account", {"max_annual_fee": 0.0, "max_monthly_fee": 0.0}),
    ("I want a fixed rate loan for $15k over 5 years", {"rate_type": "fixed", "amount": 15000.0, "term_months": 60}),
    ("an adjustable rate mortgage", {"rate_type": "variable"}),
    ("low risk investments, nothing crazy", {"max_risk": "low"}),
    ("somewhere I can't lose a penny of it", {"max_risk": "none"}),
    ("I have cash for a year", {"term_months": 12}),
    ("a cashback card for the groceries, but NOT one with an annual fee", {"max_annual_fee": 0.0}),
    ("a 0% card but not if there's an annual fee", {"max_annual_fee": 0.0, "max_monthly_fee": None}),
    ("annual fee under 50 bucks", {"max_annual_fee": 50.0, "amount": None}),
    ("joint checking but we can't swing more than 5 bucks a month in fees", {"max_monthly_fee": 5.0}),
    ("my bank charges a monthly fee, I want one without", {"max_monthly_fee": 0.0}),
    ("business checking for my shop, but I don't want to pay more than $15 a month for it", {"max_monthly_fee": 15.0}),
    ("checking account with a personal banker, I'll pay up to $30 a month", {"max_monthly_fee": 30.0}),
    ("I can't pay more than $400 a month on a car loan", {"max_monthly_fee": None}),  # a payment, not a fee
    ("I won't pay more than 50 a month", {"max_monthly_fee": 50.0}),  # after a list of policies: their premiums
    ("we can't pay more than $900 a month on the mortgage", {"max_monthly_fee": None}),
    ("My old account charges me fees", {"max_annual_fee": None, "max_monthly_fee": None}),
    ("I don't mind an annual fee if the rewards are good", {"max_annual_fee": None}),
    ("no foreign transaction fees please", {"max_annual_fee": None, "max_monthly_fee": None}),
    ("I want the rate fixed for the whole loan, not one of those adjustable ones", {"rate_type": "fixed"}),
    ("it has to be a fixed rate, no teaser rate that jumps later", {"rate_type": "fixed"}),
    ("a line of credit against the house, a variable rate is fine by us", {"rate_type": "variable"}),
    ("I don't want an adjustable rate", {"rate_type": "fixed"}),
    ("picking stocks is too risky for us. Keep it moderate.", {"max_risk": "medium"}),
    ("I want it totally safe, no market stuff", {"max_risk": "none"}),
])
def test_constraints_said_in_plain_words_are_read(text, expected):
    read = constraints_in(text)
    assert {name: getattr(read, name) for name in expected} == expected


@pytest.mark.parametrize("text, only", [
    ("only savings accounts please", ("deposit",)),
    ("I only want a credit card", ("card",)),
    ("savings accounts only, no investments", ("deposit",)),
    ("I'm interested only in CDs", ("deposit",)),
    # a "just" of time is no limit to the type named later
    ("I just got a new job with a big raise, I want to start investing but I'm nervous about losing money", ()),
    ("just moved here and need a checking account", ()),
    ("I lost my employer's health insurance. I just need something cheap for myself", ("healthcare",)),
])
def test_only_a_type_is_a_limit_when_the_type_is_named_next_to_only(text, only):
    assert constraints_in(text, tuple(find_product_categories(text))).categories == only


def test_what_the_customer_already_has_is_not_what_they_ask_for():
    read = constraints_in("a sizeable sum for my 10-year-old's education. I already max out my 401k and IRA.")
    assert read.excluded_categories == ("retirement",)


def test_a_policys_length_is_no_relatives_age_and_fixed_premiums_are_no_rate():
    found = {relative.relation: relative for relative in relatives_in(
        "permanent cover to leave the kids something, not just a 20 year policy that runs out")}
    assert found["child"].age is None
    assert constraints_in("a life policy that lasts my whole life, premiums fixed").rate_type is None
    assert constraints_in("a car loan with a fixed rate").rate_type == "fixed"


def test_the_plumbing_business_and_the_shop_are_the_customers_business():
    assert about_business("want to buy a second van for the plumbing business, can the company borrow for it")
    assert about_business("I buy a ton of printer ink and software for the shop")
    assert not about_business("I work for the company that makes them")
    assert about_business("I just hired my first two employees, what do I need?")
    assert not about_business("my employer is hiring again")


def test_a_relatives_age_is_not_a_term_or_an_amount():
    read = constraints_in("my 12-year-old wants to start saving")
    assert read.term_months is None and read.amount is None and not read


@pytest.mark.parametrize("text, relation, age, count", [
    ("my 12-year-old wants to start saving", "child", 12, 1),
    ("my parents are in their eighties, what should they look at?", "parent", 82, 2),
    ("my mom is 72 and needs help", "parent", 72, 1),
    ("my mum and dad are 70, what should they look at?", "parent", 70, 2),
    ("my kids are starting school", "child", None, 2),
    ("my son is 19 and starting college", "child", 19, 1),
    ("my two kids are 8 and 10", "child", 8, 2),
    ("we have twins on the way", "child", 0, 2),
    ("our daughter starts university in september, she's 18. what should she open?", "child", 18, 1),
    ("my son got into college, he just turned 18", "child", 18, 1),
    ("what about my mom and my son, he's 12?", "child", 12, 1),
    ("what about my mom and my son, he's 12?", "parent", None, 1),  # the son's age was the mom's
])
def test_a_stated_relative_keeps_their_age_and_count(text, relation, age, count):
    found = {relative.relation: relative for relative in relatives_in(text)}
    assert (found[relation].age, found[relation].count) == (age, count)


def test_life_events_and_business_are_recognised():
    assert "pet" in life_events_in("we got a kitten")
    assert "wedding" in life_events_in("We're saving for our wedding next summer")
    for marrying in ("we're getting married in june", "Just got engaged last weekend!", "me and my fiance need a plan"):
        assert "marriage" in life_events_in(marrying)
    assert "marriage" not in life_events_in("My daughter's wedding is in fourteen months")  # the daughter marries
    assert "new_job" in life_events_in("my daughter is 16 and starting her first job")
    for leaving in ("my son is 19 and heading to college in the fall", "starting college in the fall", "off to uni soon"):
        assert "starting_college" in life_events_in(leaving)
    assert "starting_college" not in life_events_in("we want to save for college")  # a college fund, not a student
    assert "education" in life_events_in("we want to save for college")
    # off to college now: an account of their own, not a fund to save for it (a 529)
    assert life_events_in("I'm starting university in September") == ("starting_college",)
    assert "protect_family" in life_events_in("It has me thinking about what happens to my own family if I go too")
    assert "teen_driver" in life_events_in("our daughter turns 16 and wants to drive the old Corolla")
    for loss in ("I lost my son last year", "my late grandma left me money", "my brother died in March"):
        assert "bereavement" in life_events_in(loss)
    assert "bereavement" not in life_events_in("I lost my job and my brother is helping out")
    for born in ("my wife and I just had our second kid", "we had a son last month", "our daughter was born in May",
                 "we just had twins"):
        assert "new_baby" in life_events_in(born)
    for other in ("I had a bad day", "my son had a girlfriend", "we had a childhood friend over"):
        assert "new_baby" not in life_events_in(other)
    assert about_business("I run my own bakery and need a card")
    assert not about_business("I need a card for my holidays")


CARDS = {
    "P010": {"_id": "P010", "name": "Travel", "category": "card", "terms": {"annual_fee": 95.0, "rate_type": "variable"}},
    "P011": {"_id": "P011", "name": "Cash", "category": "card", "terms": {"rate_type": "variable"}},
    "P012": {"_id": "P012", "name": "Flat", "category": "card", "terms": {"rate_type": "variable"}},
    "P018": {"_id": "P018", "name": "Loan", "category": "loan", "terms": {"rate_type": "fixed", "max_amount": 40000.0,
                                                                         "term_months": 60}},
}


def test_a_product_breaking_a_constraint_says_what_it_breaks():
    assert violations(CARDS["P010"], Constraints(max_annual_fee=0)) == ["a $95 annual fee"]
    assert violations(CARDS["P018"], Constraints(amount=50000)) == ["lends at most $40,000"]
    assert violations(CARDS["P018"], Constraints(term_months=84)) == ["terms of at most 60 months"]
    assert violations(CARDS["P011"], Constraints(max_annual_fee=0)) == []


def test_a_product_shown_for_constraints_it_breaks_is_never_said_to_meet_them():
    auto = {"_id": "P044", "name": "Auto Insurance", "category": "insurance",
            "need_statements": ["I'm adding my teenager to my car insurance"],
            "terms": {"monthly_fee": 0.0, "premium_monthly": 135.0}}
    capped = Request(text="I won't pay more than 50 a month", constraints=Constraints(max_monthly_fee=50))
    reason, _ = request_reason(capped, auto, "I'm adding my teenager to my car insurance")
    assert "meets what you set" not in reason
    cheap = {**auto, "terms": {"monthly_fee": 0.0, "premium_monthly": 28.0}}
    assert "meets what you set: a monthly premium of at most $50" in request_reason(capped, cheap, "")[0]
    checking = {"monthly_fee": 5.0, "apy": 0.001}
    assert capped.constraints.words(checking) == ["a monthly fee of at most $50"]
    assert capped.constraints.words() == ["a monthly cost of at most $50"]  # what they set, of no one product


def test_a_monthly_cap_holds_cover_to_its_premium_and_never_calls_a_premium_no_fee():
    plan = {"_id": "P050", "name": "Family Health Plan PPO", "category": "healthcare", "terms": {"premium_monthly": 1450.0}}
    term_life = {"_id": "P041", "name": "Term Life", "category": "insurance", "terms": {"premium_monthly": 28.0}}
    assert violations(plan, Constraints(max_monthly_fee=0)) == ["a $1,450 monthly premium"]
    assert violations(term_life, Constraints(max_monthly_fee=50)) == []
    assert violations(CARDS["P018"], Constraints(max_monthly_fee=0)) == []  # a loan's payment is no fee


def test_the_stated_need_comes_first_whatever_the_personal_scores():
    request = Request(needs=(NeedHit("P012", 0.9, "simple cash back"), NeedHit("P011", 0.7, "groceries"), NeedHit("P010", 0.3, "trips")))
    answer = fit_request(request, list(CARDS.values()), {"P010": 9.0, "P011": 1.0, "P012": 0.1, "P018": 5.0}, 3)
    # P010 answers another need (too far below the best) and P018 none, however they score for the customer
    assert [item.product_id for item in answer.shown] == ["P012", "P011"]


def test_a_constraint_filters_and_nothing_passing_gives_the_closest_with_why():
    fee_free = Request(categories=("card",), constraints=Constraints(max_annual_fee=0))
    shown = fit_request(fee_free, list(CARDS.values()), {"P010": 9.0, "P011": 1.0, "P012": 0.5}, 3)
    assert [item.product_id for item in shown.shown] == ["P011", "P012"] and not shown.unmet
    travel_only = Request(needs=(NeedHit("P010", 0.9, "miles"),), constraints=Constraints(max_annual_fee=0))
    closest = fit_request(travel_only, [CARDS["P010"]], {}, 3)
    assert closest.unmet and closest.shown[0].unmet == ("a $95 annual fee",)


@pytest.mark.parametrize("text, categories, said, field", [
    ("which card should I get?", ("card",), "It fits what you asked: it is one of our cards.", "category"),
    ("I need a new credit card", ("card",), "It fits what you asked: it is one of our cards.", "category"),
    ("what card suits me?", ("card",), "It fits what you asked: it is one of our cards.", "category"),
    ("which card for my trip overseas?", ("card",), 'It fits what you asked: it is for "miles on trips abroad".',
     "need_statements.0"),
    ("something for my trip overseas", (), 'It fits what you asked: it is for "miles on trips abroad".',
     "need_statements.0"),
    # no statement came close enough to quote (its phrase is the product's name) and no kind was named
    ("something for my trip overseas", (), "It is close to what you asked: it is one of our cards.", "category"),
])
def test_a_reason_quotes_what_a_product_is_for_only_when_the_customer_said_what_they_need(text, categories, said,
                                                                                         field):
    # the need statement matched: a request that names only a kind matches one on the sentence's form alone
    travel = {**CARDS["P010"], "need_statements": ["miles on trips abroad"]}
    request = Request(text=text, categories=categories, needs=(NeedHit("P010", 0.7, "miles on trips abroad"),))
    phrase = "miles on trips abroad" if field.startswith("need") or categories else travel["name"]
    reason, evidence = request_reason(request, travel, phrase)
    assert reason == said
    assert (evidence[0].collection, evidence[0].field) == ("products", field)


def test_a_request_round_trips_through_its_dict_and_bad_fields_are_named():
    request = Request(needs=(NeedHit("P012", 0.9, "x"),), categories=("card",),
                      constraints=Constraints(max_annual_fee=0, max_risk="low"))
    assert Request.from_dict(request.to_dict()).to_dict() == request.to_dict()
    with pytest.raises(ValueError, match="max_risk"):
        Request.from_dict({"constraints": {"max_risk": "yolo"}})
    with pytest.raises(ValueError, match="categories"):
        Request.from_dict({"categories": ["crypto"]})


def test_a_mortgage_of_another_term_breaks_a_stated_term_and_a_loan_may_be_shorter():
    thirty_year = {"_id": "P_M30", "category": "mortgage", "terms": {"term_months": 360, "rate_type": "fixed"}}
    assert violations(thirty_year, Constraints(term_months=72)) == ["a 30-year term"]
    assert violations(thirty_year, Constraints(term_months=360)) == []
    assert violations(CARDS["P018"], Constraints(term_months=36)) == []


def test_a_reason_says_only_the_constraints_the_product_speaks_to():
    insurance = {"_id": "P_INS", "name": "Auto Insurance", "category": "insurance", "terms": {"premium_monthly": 90.0}}
    constraints = Constraints(term_months=72, rate_type="fixed")
    assert constraints.words(insurance["terms"]) == []
    assert constraints.words(CARDS["P018"]["terms"]) == ["a fixed rate", "a term of 6 years"]


def test_what_they_already_hold_answering_the_need_keeps_other_needs_out():
    # car insurance asked for, and held: homeowners cover is another need, however it fits what is left
    insurance = [{"_id": "P043", "name": "Home", "category": "insurance", "terms": {}},
                 {"_id": "P048", "name": "Renters", "category": "insurance", "terms": {}}]
    request = Request(categories=("insurance",), needs=(NeedHit("P044", 0.77, "car insurance"),
                                                        NeedHit("P048", 0.4, "x"), NeedHit("P043", 0.33, "y")))
    assert [item.product_id for item in fit_request(request, insurance, {}, 3).shown] == ["P048", "P043"]
    assert fit_request(request, insurance, {}, 3, answered_elsewhere=0.77).shown == []


def test_the_cover_they_hold_sets_the_bar_when_the_request_plainly_asks_for_it_even_naming_a_type():
    auto = {"_id": "P044", "name": "Auto", "category": "insurance", "terms": {"premium_monthly": 135.0}}
    savings = {"_id": "P004", "name": "High-Yield Savings", "category": "deposit", "terms": {"apy": 0.042}}
    ctx = SimpleNamespace(products={"P044": auto, "P004": savings})
    holder = {"products_held": ["P044", "P004"], "age": 40, "kyc_verified": True}
    car = Request(categories=("insurance",), needs=(NeedHit("P044", 0.77, "car insurance"),))
    assert _answered_elsewhere(ctx, car, holder, []) == 0.77  # pet or life cover answers another need
    browsing = Request(categories=("insurance",), needs=(NeedHit("P044", 0.45, "insurance"),))
    assert _answered_elsewhere(ctx, browsing, holder, []) == 0.0  # others of the type stay options
    earn_more = Request(categories=("deposit",), needs=(NeedHit("P004", 1.0, "my savings to earn more"),))
    assert _answered_elsewhere(ctx, earn_more, holder, []) == 0.0  # a CD stands in for the savings account


def test_not_a_savings_account_rules_out_any_account_earning_interest_but_asking_for_one_means_a_bank_account():
    hsa = {"_id": "P049", "category": "healthcare", "terms": {"apy": 0.025}}
    plan = {"_id": "P050", "category": "healthcare", "terms": {"premium_monthly": 1450.0}}
    refused = Constraints(categories=("healthcare",), excluded_categories=("deposit",))
    assert violations(hsa, refused) == ["it is deposit, which you ruled out"]
    assert violations(plan, refused) == []
    assert violations(hsa, Constraints(categories=("deposit",)))  # a savings account asked for: a bank account


def test_products_the_request_rules_out_are_not_shown():
    request = Request(categories=("card",), ruled_out=("P011",))
    shown = fit_request(request, list(CARDS.values()), {"P010": 1.0, "P011": 9.0, "P012": 0.5}, 3)
    assert "P011" not in [item.product_id for item in shown.shown]


def test_about_their_business_a_customer_gets_business_products_unless_they_plainly_ask_for_another():
    business_card = {"_id": "P016", "name": "Business Rewards", "category": "card", "terms": {},
                     "target_segments": ["small_business"]}
    business_loan = {"_id": "P024", "name": "Small Business Loan", "category": "loan", "terms": {},
                     "target_segments": ["small_business"]}
    products = [*CARDS.values(), business_card, business_loan]
    request = Request(needs=(NeedHit("P024", 0.9, "a loan to grow my business"), NeedHit("P018", 0.7, "a loan")),
                      business=True)
    shown = fit_request(request, products, {"P018": 9.0}, 3)
    assert [item.product_id for item in shown.shown] == ["P024"]
    plainly = Request(text="a loan for my business, and a personal loan too",
                      needs=(NeedHit("P024", 0.9, "a business loan"), NeedHit("P018", 0.85, "a personal loan")),
                      business=True)
    assert [item.product_id for item in fit_request(plainly, products, {}, 3).shown] == ["P024", "P018"]
    # the food truck's fuel: a business card answers that kind of need, however plainly a personal card does
    truck = Request(text="bought a food truck, want cash back on the fuel I buy for it", business=True,
                    needs=(NeedHit("P011", 1.0, "cash back when I fill up the car"), NeedHit("P016", 0.35, "x")))
    assert [item.product_id for item in fit_request(truck, products, {}, 3).shown] == ["P016"]


def test_an_old_employer_is_not_the_customers_business_and_paying_a_contractor_is_not_being_one():
    assert not about_business("starting a new job monday. what do i do with the 401k from my old company")
    assert not about_business("paying my contractor in chunks over the next few months")
    assert about_business("I'm an independent contractor and need a retirement account")


def test_a_term_the_customer_does_not_want_is_no_term_they_ask_for():
    assert constraints_in("what's the shortest mortgage you do? I hate paying interest for 30 years").term_months is None
    assert constraints_in("not a 30-year, a 15-year mortgage please").term_months == 180


def test_for_a_relative_of_a_stated_age_products_aimed_at_that_age_come_first():
    products = {"P050": {"_id": "P050", "target_segments": ["families", "new_parents"]},
                "P052": {"_id": "P052", "target_segments": ["retirees"]},
                "P049": {"_id": "P049", "target_segments": ["families", "pre_retirees"]},
                "P043": {"_id": "P043", "target_segments": ["homeowners"]}}
    request = Request(needs=(NeedHit("P050", 1.0, "x"), NeedHit("P049", 0.77, "x"), NeedHit("P052", 0.68, "x"),
                             NeedHit("P043", 0.5, "x")))
    dad = for_age(request, products, 72)
    assert [hit.product_id for hit in dad.needs] == ["P052", "P050", "P049", "P043"]
    assert dad.need_score("P043") == 0.5  # a segment that is no age says nothing
    assert for_age(request, products, 40).needs[0].product_id == "P050"  # a 40-year-old is no retiree
    assert for_age(request, products, 12) == request  # a minor's products are the parent's to open


def test_needs_carried_from_an_earlier_turn_keep_only_close_answers_the_relative_is_of_an_age_for():
    products = {"P055": {"_id": "P055", "target_segments": ["new_parents", "families"]},
                "P041": {"_id": "P041", "target_segments": ["families", "pre_retirees"]},
                "P046": {"_id": "P046", "target_segments": ["pre_retirees", "retirees"]},
                "P043": {"_id": "P043", "target_segments": ["homeowners"]}}
    baby = Request(needs=(NeedHit("P055", 0.9, "we're having a baby"), NeedHit("P041", 0.8, "new parents"),
                          NeedHit("P046", 0.7, "my mother's care"), NeedHit("P043", 0.5, "my new house")))
    mum = for_age(replace(baby, needs_carried=True), products, 72)
    assert [hit.product_id for hit in mum.needs] == ["P046"]  # no maternity plan; the house was never close
    assert for_age(replace(baby, needs_carried=True), products, 30).needs[0].product_id == "P055"
    assert {hit.product_id for hit in for_age(baby, products, 72).needs} == set(products)  # asked for her: moved only
    assert Request.from_dict(replace(baby, needs_carried=True).to_dict()).needs_carried  # kept in the session


def test_asked_for_a_type_for_a_relative_products_of_it_aimed_at_their_age_answer_as_plainly_as_the_best():
    products = {"P046": {"_id": "P046", "category": "insurance", "terms": {"premium_monthly": 165.0},
                         "target_segments": ["pre_retirees", "retirees"]},
                "P052": {"_id": "P052", "name": "Medicare Supplement Plan G", "category": "healthcare",
                         "terms": {"premium_monthly": 165.0}, "target_segments": ["retirees"]},
                "P009": {"_id": "P009", "category": "deposit", "terms": {"premium_monthly": None},
                         "target_segments": ["retirees"]},
                "P053": {"_id": "P053", "category": "healthcare", "terms": {"apr": 0.15}, "target_segments": ["families"]}}
    request = Request(text="what insurance does my 70 year old father need?", categories=("insurance",),
                      needs=(NeedHit("P046", 0.85, "my dad may need in-home care"),))
    father = for_age(request, products, 70)
    assert {hit.product_id for hit in father.needs} == {"P046", "P052"}  # a health plan is insurance; checking is not
    assert father.need_score("P052") == pytest.approx(father.need_score("P046") - 0.1)  # an option, not ahead
    assert for_age(request, products, 40).need_score("P052") == 0  # not aimed at a 40-year-old
    assert [item.product_id for item in fit_request(father, list(products.values()), {}, 3).shown] == ["P046", "P052"]
    savings = Request(text="how does my dad, 66, make his savings last", categories=("deposit",),
                      needs=(NeedHit("P036", 0.9, "make my savings last in retirement"),))
    assert for_age(savings, {"P009": products["P009"] | {"category": "deposit"}}, 66).need_score("P009") == 0


def test_a_loan_for_a_car_is_not_answered_by_a_mortgage():
    mortgage = {"_id": "P025", "name": "30-Year Fixed", "category": "mortgage", "terms": {"rate_type": "fixed"}}
    loan = CARDS["P018"]
    needs = (NeedHit("P025", 0.54, "a predictable payment"), NeedHit("P018", 0.44, "a loan"))
    car = Request(text="if i finance a car i want a fixed payment", categories=("loan",), needs=needs)
    assert [item.product_id for item in fit_request(car, [mortgage, loan], {}, 3).shown] == ["P018"]
    house = Request(text="what loans are there to buy a house", categories=("loan",), needs=needs)
    assert [item.product_id for item in fit_request(house, [mortgage, loan], {}, 3).shown] == ["P025", "P018"]
    assert "loan" in find_product_categories("if i finance a car at my age")


def test_a_product_question_with_a_plain_need_leaves_out_products_of_other_needs():
    truck = Request(needs=(NeedHit("P021", 0.98, "refinance my car loan"), NeedHit("P023", 0.72, "student loans"),
                           NeedHit("P026", 0.70, "a lower mortgage rate")))
    catalogue = {"P021": {"category": "loan"}, "P023": {"category": "loan"}, "P026": {"category": "mortgage"},
                 "P099": {"category": "card"}}
    assert far_from_need(truck, catalogue) == ["P023", "P026", "P099"]
    vague = Request(needs=(NeedHit("P021", 0.5, "x"),))
    assert far_from_need(vague, catalogue) == []  # no plain need: the question decides
    loans = Request(needs=truck.needs, categories=("loan",))  # "which loan ...": every loan stays an option
    assert far_from_need(loans, catalogue) == ["P026", "P099"]


def test_a_relative_keeps_the_customers_word_and_one_the_graph_has_no_relation_for_is_found():
    from tools.requests.slots import find_relations, other_relative

    assert [(r.relation, r.word) for r in relatives_in("what about my mom and my son, he's 12?")] == [
        ("parent", "mom"), ("child", "son")]
    assert other_relative("what should my grandma open?") == "grandma"
    # in-laws are of a parent's generation, which their products go by; one word, one relative
    assert [(r.relation, r.age, r.count, r.word) for r in relatives_in("my mother-in-law is 70")] == [
        ("parent", 70, 1, "mother-in-law")]
    assert [(r.relation, r.count) for r in relatives_in("The in-laws (70 and 73) just moved in")] == [("parent", 2)]
    assert find_relations("my sister-in-law, she is 30") == ["sibling"] and other_relative("my mother-in-law") is None
    assert other_relative("my mom is 70") is None and find_relations("my mom is 70") == ["parent"]
    # a grandchild is read as a child (products for a child are what suit them) and keeps the customer's word
    assert [(r.relation, r.age, r.word) for r in relatives_in("My grandson is turning 1")] == [("child", 1, "grandson")]


def test_a_need_statement_of_a_product_for_other_ages_is_not_quoted_back_as_what_they_asked():
    roth = {"_id": "P035", "name": "Roth IRA", "category": "retirement", "target_segments": ["young_professionals"],
            "need_statements": ["I just started working and want to save for retirement early"]}
    planner = {"_id": "P036", "name": "Retirement Income Planner", "category": "retirement",
               "target_segments": ["retirees"], "need_statements": ["make my savings last through retirement"]}
    products = {"P035": roth, "P036": planner}
    asked = Request(text="I'm retiring next month, how do I make my savings last?", needs=(
        NeedHit("P036", 1.0, "make my savings last through retirement"),
        NeedHit("P035", 0.9, "I just started working and want to save for retirement early")))

    retiree = quoted_for_their_age(asked, products, 70)
    assert "started working" not in request_reason(retiree, roth, retiree.need_phrase("P035"))[0]
    assert '"make my savings last through retirement"' in request_reason(retiree, planner, retiree.need_phrase("P036"))[0]
    assert [hit.score for hit in retiree.needs] == [1.0, 0.9]  # the order stays
    starting_out = quoted_for_their_age(asked, products, 24)
    assert "started working" in request_reason(starting_out, roth, starting_out.need_phrase("P035"))[0]


def test_a_product_aimed_at_travellers_as_well_as_an_age_is_quoted_to_a_traveller_of_any_age():
    voyager = {"_id": "P010", "name": "Voyager Travel Rewards Card", "category": "card",
               "target_segments": ["frequent_travelers", "young_professionals"],
               "need_statements": ["a card with no foreign transaction fees"]}
    asked = Request(text="is there a card with no foreign fees? going to Japan in the spring",
                    needs=(NeedHit("P010", 1.0, "a card with no foreign transaction fees"),), categories=("card",))
    at_60 = quoted_for_their_age(asked, {"P010": voyager}, 60)
    # was "It fits what you asked: it is one of our cards."
    assert '"a card with no foreign transaction fees"' in request_reason(at_60, voyager, at_60.need_phrase("P010"))[0]
