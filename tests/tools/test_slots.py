import pytest

from tools.requests.slots import (
    extract_slots,
    find_amounts,
    find_city,
    find_customer_ids,
    find_ordinal,
    find_product_categories,
    find_relations,
    find_time_periods,
)

CITIES = ("Chicago", "New York", "York", "Denver", "San Francisco")


@pytest.mark.parametrize(
    ("text", "relations"),
    [
        ("what should I get for my wife?", ["spouse"]),
        ("my husband and my kids", ["spouse", "child"]),
        ("something for my mum and dad", ["parent"]),
        ("My Parents are retiring", ["parent"]),
        ("my daughter's first account", ["child"]),
        ("our children need savings", ["child"]),
        ("my partner is self employed", ["spouse"]),
        ("my sister and brother", ["sibling"]),
        ("my grandson's education", []),
    ],
)
def test_relation_words_map_to_graph_relations(text, relations):
    assert find_relations(text) == relations


def test_partner_means_a_provider_when_it_qualifies_a_clinic():
    assert find_relations("which partner clinics take payment plans?") == []
    assert find_relations("my business partner wants a loan") == []


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("which credit card has no annual fee", ["card"]),
        ("I want a mortgage", ["mortgage"]),
        ("compare the home loan and the personal loan", ["mortgage", "loan"]),
        ("best savings account or a CD?", ["deposit"]),
        ("should I open a 529 for college", ["education_savings"]),
        ("college savings plan for my son", ["education_savings"]),
        ("health insurance for my family", ["healthcare"]),
        ("life insurance quote", ["insurance"]),
        ("is an HSA worth it", ["healthcare"]),
        ("roth IRA or 401k for retirement", ["retirement"]),
        ("I want to invest in ETFs", ["investment"]),
        ("a card and then a mortgage", ["card", "mortgage"]),
        ("should we refinance?", ["mortgage"]),
        ("can I refinance my student loans?", ["loan"]),  # another debt refinanced is no mortgage
        ("refi my auto loan", ["loan"]),
        ("hello there", []),
    ],
)
def test_product_categories_use_the_catalogue_vocabulary(text, categories):
    assert find_product_categories(text) == categories


@pytest.mark.parametrize(
    ("text", "value", "per"),
    [
        ("I have $5k saved", 5_000, None),
        ("about 5,000 dollars", 5_000, None),
        ("$1.2 million house", 1_200_000, None),
        ("I earn 80k a year", 80_000, "year"),
        ("I spend $640/month on travel", 640, "month"),
        ("put 2 grand aside", 2_000, None),
        ("USD 300 per week", 300, "week"),
    ],
)
def test_amounts_are_read_in_dollars(text, value, per):
    assert [(amount.value, amount.per) for amount in find_amounts(text)] == [(value, per)]


def test_several_amounts_come_in_order_of_mention():
    assert [amount.value for amount in find_amounts("between 20k and $300")] == [20_000, 300]


@pytest.mark.parametrize(
    "text",
    ["my 16 year old son", "should I max my 401k", "customer C0000123", "a 15 year fixed mortgage", "option 2"],
)
def test_numbers_without_a_money_marker_are_not_amounts(text):
    assert find_amounts(text) == []


@pytest.mark.parametrize(
    ("text", "count", "unit", "months"),
    [
        ("we are buying a house next year", 1, "year", 12),
        ("I need the money in 6 months", 6, "month", 6),
        ("within two years", 2, "year", 24),
        ("over the next 5 years", 5, "year", 60),
        ("a year from now", 1, "year", 12),
        ("in a few weeks", 3, "week", pytest.approx(3 * 12 / 52)),
    ],
)
def test_time_periods_count_from_now(text, count, unit, months):
    (period,) = find_time_periods(text)
    assert (period.count, period.unit, period.months) == (count, unit, months)


def test_age_is_not_a_time_period():
    assert find_time_periods("my 16 year old wants a card") == []


def test_city_comes_from_the_known_list_in_its_canonical_spelling():
    assert find_city("any partner dentists in new york?", CITIES) == "New York"
    assert find_city("leads in DENVER please", CITIES) == "Denver"
    assert find_city("I live in Yorkshire", CITIES) is None
    assert find_city("I live in Paris", CITIES) is None
    assert find_city("moving from Chicago to Denver", CITIES) == "Chicago"


def test_customer_ids_are_upper_cased_and_unique():
    text = "compare c0000123 with C7654321 and C0000123; not C123456 or C12345678"
    assert find_customer_ids(text) == ["C0000123", "C7654321"]


@pytest.mark.parametrize(
    ("text", "ordinal"),
    [
        ("tell me more about the second one", 2),
        ("I'll take the first", 1),
        ("the 3rd card looks good", 3),
        ("option 2 please", 2),
        ("#4", 4),
        ("what about the last one?", -1),
        ("second one", 2),
        ("I just started my first job", None),
        ("the first time homebuyer program", None),
        ("a second card for my wife", None),
    ],
)
def test_ordinal_references_point_at_a_listed_option(text, ordinal):
    assert find_ordinal(text) == ordinal


def test_extract_slots_reads_every_kind_at_once():
    slots = extract_slots(
        "Customer C0048213 wants a savings account for her daughter in Chicago, about $5k, in 6 months",
        known_cities=CITIES,
    )
    assert slots.customer_ids == ("C0048213",)
    assert slots.relations == ("child",)
    assert slots.product_categories == ("deposit",)
    assert [amount.value for amount in slots.amounts] == [5_000]
    assert [(period.count, period.unit) for period in slots.time_periods] == [(6, "month")]
    assert slots.city == "Chicago"
    assert slots.ordinal is None
