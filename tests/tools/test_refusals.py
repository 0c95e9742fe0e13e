"""What a request rules out: the other tenure's products, and a need the customer says is not theirs."""

from __future__ import annotations

import pytest

from retrieval.embeddings import get_embedder
from tools.requests.refusals import refused_phrases, ruled_out, tenure_in


def _product(product_id, name, category, segments, needs):
    return {"_id": product_id, "name": name, "category": category, "target_segments": list(segments),
            "need_statements": list(needs), "description": ""}


CATALOGUE = {product["_id"]: product for product in (
    _product("P_MORT", "30-Year Fixed Mortgage", "mortgage", ["homebuyers", "families"],
             ["a fixed-rate mortgage spread over 30 years"]),
    _product("P_FIRST", "First-Time Homebuyer Mortgage", "mortgage", ["homebuyers"],
             ["I'm buying my first home", "we're first-time home buyers"]),
    _product("P_HOME", "Homeowners Insurance", "insurance", ["homeowners", "homebuyers"], ["insurance for my new house"]),
    _product("P_RENT", "Renters Insurance", "insurance", ["renters", "students"], ["insurance for my apartment"]),
    _product("P_NEW", "New Auto Loan", "loan", ["families"], ["I'm buying a new car", "financing a brand-new car"]),
    _product("P_USED", "Used Auto Loan", "loan", ["students"], ["I want to buy a used car"]),
    _product("P_CARD", "Everyday Cash Back Card", "card", ["everyday_spenders"], ["cash back on groceries"]),
    _product("P_TRAVEL", "Travel Rewards Card", "card", ["frequent_travelers"], ["I travel a lot and want rewards"]),
    _product("P_529", "529 College Savings Plan", "education_savings", ["families"],
             ["start saving for my child's college tuition"]),
    _product("P_TERM", "Term Life Insurance", "insurance", ["families"], ["term life insurance while our kids are young"]),
    _product("P_BT", "Balance Transfer Card", "card", ["credit_builders"], ["I have credit card debt at a high rate"]),
    _product("P_STOCKS", "Self-Directed Brokerage", "investment", ["high_net_worth"], ["I want to pick my own stocks"]),
    _product("P_WHOLE", "Whole Life Insurance", "insurance", ["high_net_worth"], ["lifelong life insurance"]),
)}


HOUSING = {"P_MORT", "P_FIRST", "P_HOME", "P_RENT"}  # what a request about a car and no home rules out
CARS = {"P_NEW", "P_USED"}  # ... and one about a home and no vehicle


class CatalogueContext:
    """The parts of a tool context the request reader uses: the catalogue, the encoder, a memo."""

    def __init__(self, products, embedder):
        self.products, self.embedder, self.vectors, self._memo = products, embedder, None, {}

    def memo(self, key, factory):
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]


@pytest.fixture(scope="module")
def ctx():
    return CatalogueContext(CATALOGUE, get_embedder())


@pytest.mark.parametrize("text, tenure", [
    ("relocating to denver for work, going to rent for a year before deciding anything", "rent"),
    ("starting college and moving into a dorm with my laptop", "rent"),
    ("moving into my first apartment next month", "rent"),
    ("Just got the keys to the new house!! Do we need new insurance", "own"),
    ("we're done renting and want our first place, but there's no way we have 20% down", "own"),
    ("I'm tired of paying rent and want to buy", "own"),
    ("I rent, and want to buy a car", "rent"),
    ("what credit card should I get", None),
])
def test_the_home_a_customer_rents_or_owns_is_read_from_their_words(text, tenure):
    assert tenure_in(text) == tenure


@pytest.mark.parametrize("text, phrases", [
    ("30 year mortgage, fixed. It won't be our first home.", ["our first home", "buying my first home"]),
    ("We want it invested properly but neither of us wants to pick stocks.", ["pick stocks"]),
    ("health insurance for the family, not a savings account for medical stuff", ["a savings account for medical stuff"]),
    ("we sold the house and downsized, where should the money go?",
     ["buying my first home", "borrow against the equity in my house"]),  # no equity left to borrow against
    ("I do not want a card", []),
    ("not sure what I need", []),
])
def test_a_need_said_not_to_be_theirs_is_read(text, phrases):
    assert refused_phrases(text) == phrases


@pytest.mark.parametrize("text, out", [
    ("going to rent for a year, what insurance do I need", {"P_MORT", "P_FIRST", "P_HOME", *CARS}),
    ("just got the keys to our new house, do we need insurance", {"P_FIRST", "P_RENT", *CARS}),  # bought: no buying
    ("30 year mortgage, fixed, for the house we're moving to. It won't be our first home.", {"P_FIRST", "P_RENT", *CARS}),
    ("we're selling our place and moving up to something bigger, so we'll need a mortgage", {"P_FIRST", "P_RENT", *CARS}),
    ("i want a fixed payment i can budget around. it's a used SUV", {"P_NEW", *HOUSING}),
    ("I'm not a big spender, what card would suit me", set()),
    ("just bought my first car (used, 2017 civic) and the dealer's financing is 14%", {"P_NEW", *HOUSING}),
    ("a simple cash back card please. I don't travel much so points are useless to me", {"P_TRAVEL"}),
    ("We just became empty nesters. Kids are out, tuition's done, time to catch up on retirement", {"P_529"}),
    ("for estate planning I'd like a life policy that lasts my whole life", {"P_TERM"}),
    ("Looking for permanent cover to leave the kids something", {"P_TERM"}),
    ("we travel a lot, which card", set()),
    ("just bought my first car and need insurance before I can drive it home", HOUSING),
    ("we bought a house and a car this year, what insurance do we need", {"P_RENT"}),
    ("I'm thinking about buying a house next year", {"P_RENT", *CARS}),  # a home and no vehicle: no car loan
    ("insurance for our new house, can you bundle the auto too", {"P_RENT"}),
    ("I put everything on one card and pay it off every month", {"P_BT"}),
    ("i dont even know what an ETF is. can someone just do it for me", {"P_STOCKS"}),
    ("My sister just got a life insurance check. She asked me where to put it.", {"P_TERM", "P_WHOLE"}),
])
def test_a_request_rules_out_the_products_it_says_are_not_for_them(ctx, text, out):
    assert set(ruled_out(ctx, text)) == out


ACCOUNTS = {product["_id"]: product for product in (
    _product("P_CHK", "Everyday Checking", "deposit", [], ["a checking account for my paycheck"]),
    _product("P_SNR", "Senior Advantage Checking", "deposit", ["retirees"], ["somewhere for my pension deposits"]),
    _product("P_HYS", "High-Yield Savings", "deposit", [], ["a savings account that earns more"]),
    _product("P_CD", "12-Month Certificate of Deposit", "deposit", [], ["lock in a rate for a year"]),
    _product("P_HSA", "Health Saver HSA", "healthcare", [], ["a health savings account"]),
)}


@pytest.mark.parametrize("text, out", [
    ("what savings accounts do you have?", {"P_CHK", "P_SNR"}),
    ("a savings account that beats my checking account's interest", {"P_CHK", "P_SNR"}),
    ("what checking do you have for seniors", {"P_HYS", "P_CD"}),
    ("I want to move my savings out of checking", set()),  # the checking is theirs; the savings is the ask
    ("all I have is a savings acct lol. what should I open", set()),
    ("I've got a chunk of cash in a savings account doing basically nothing", set()),
    ("want better interest than checking", set()),
    ("a savings or checking account, whichever pays", set()),
])
def test_asked_for_one_kind_of_bank_account_the_other_kind_is_ruled_out(text, out):
    assert set(ruled_out(CatalogueContext(ACCOUNTS, None), text)) == out


def test_a_first_time_buyer_is_buying_a_home():
    assert tenure_in("first time buyer and I want the rate fixed for the whole loan") == "own"
