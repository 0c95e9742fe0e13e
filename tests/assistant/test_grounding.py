"""The grounding check rejects any product, figure or claim the evidence does not hold."""

from __future__ import annotations

import pytest

from assistant.grounding import check_grounding
from tools.types import Evidence, EvidenceKind, Recommendation

CATALOGUE = {
    "P004": "High-Yield Savings",
    "P006": "12-Month Certificate of Deposit",
    "P010": "Voyager Travel Rewards Card",
    "P012": "Flat 2% Cash Card",
    "P017": "Dining & Entertainment Card",
    "P018": "Personal Loan",
    "P049": "Health Saver HSA",
}


def travel_card() -> Recommendation:
    return Recommendation(
        product_id="P010",
        name="Voyager Travel Rewards Card",
        category="card",
        score=0.91,
        reasons=["At your $7,680 a year on travel this card returns about $230 a year."],
        evidence=[
            Evidence(EvidenceKind.transaction_aggregate, "features", "run1:C0000001", "spend_12m.travel", 7680.0,
                     "travel spend, last 12 months"),
            Evidence(EvidenceKind.product_terms, "products", "P010", "terms.rewards", {"travel": 0.03, "dining": 0.02},
                     "reward rates"),
            Evidence(EvidenceKind.product_terms, "products", "P010", "terms.apr", 0.2199, "APR"),
            Evidence(EvidenceKind.product_terms, "products", "P010", "terms.annual_fee", 95, "annual fee"),
        ],
        estimated_annual_value=230.4,
    )


def problems(text: str, **kwargs) -> list[str]:
    return check_grounding(text, [travel_card()], CATALOGUE, **kwargs)


@pytest.mark.parametrize(
    "text",
    [
        "The Voyager Travel Rewards Card returns about $230 a year on your $7,680 of travel.",
        "the voyager travel rewards card is worth $230.40 a year to you",
        "It earns 3x on travel and 2 points per dollar on dining, with a 21.99% APR and a $95 annual fee.",
        "About 22% APR; roughly $7.68k a year of travel spend; $231 back.",
        "Its rewards beat a basic card. Your travel spend makes the Travel Rewards Card a fit.",
        "Nothing here is guaranteed, and you're not pre-approved: approval isn't automatic.",
        "You hold 2 cards today.",
    ],
)
def test_an_answer_held_by_the_evidence_passes(text):
    assert problems(text) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Try the Flat 2% Cash Card.", "product 'Flat 2% Cash Card' is not among the recommendations"),
        ("Or the Dining and Entertainment card.",
         "product 'Dining & Entertainment Card' is not among the recommendations"),
        ("A personal loan would help too.", "product 'Personal Loan' is not among the recommendations"),
        ("Our Platinum Elite Card is better.", "unknown product 'Platinum Elite Card'"),
        ("Open a Fargo Super Saver Account today.", "unknown product 'Fargo Super Saver Account'"),
        ("The Golden Years Plan suits you.", "unknown product 'Golden Years Plan'"),
        ("Ask about the Easy Home Mortgage.", "unknown product 'Easy Home Mortgage'"),
        ("A Quick Cash Loan covers it.", "unknown product 'Quick Cash Loan'"),
    ],
)
def test_a_product_not_recommended_is_rejected(text, problem):
    assert problems(text) == [problem]


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("The Voyager Travel Rewards Card returns $500 a year.", "$500"),
        ("It returns $240 a year.", "$240"),
        ("You spend $8k on travel.", "$8k"),
        ("The APR is 19.99%.", "19.99%"),
        ("It earns 5 points per dollar.", "5 points"),
        ("Earn 4x on travel.", "4x"),
        ("A 7 percent bonus.", "7 percent"),
    ],
)
def test_a_figure_not_in_the_evidence_is_rejected(text, figure):
    assert problems(text) == [f"figure {figure} not in evidence"]


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("Your return is guaranteed.", "guaranteed"),
        ("We guarantee the rate.", "guaranteed"),
        ("It's a risk-free choice.", "risk-free"),
        ("You are pre-approved!", "pre-approved"),
        ("You're preapproved.", "pre-approved"),
        ("Good news: you're approved.", "approved"),
    ],
)
def test_a_claim_the_evidence_does_not_make_is_rejected(text, claim):
    assert problems(text) == [f"claim '{claim}' not in evidence"]


def test_a_claim_the_evidence_makes_is_allowed():
    rec = travel_card()
    rec.reasons.append("You are pre-approved for this card.")

    assert check_grounding("You're pre-approved for it.", [rec], CATALOGUE) == []


def test_a_negated_claim_in_the_evidence_does_not_allow_the_claim():
    assert problems("Returns are guaranteed.", trusted_text="Returns are not guaranteed.") == [
        "claim 'guaranteed' not in evidence"
    ]


def test_trusted_text_may_hold_products_and_figures():
    text = "The Health Saver HSA earns 2.50% APY with no $5 fee."

    assert problems(text) != []
    assert problems(text, trusted_text="Health Saver HSA: 2.50% APY; fee waived ($5 otherwise).") == []


def test_a_product_id_in_the_evidence_allows_its_catalogue_name():
    rec = travel_card()
    rec.evidence.append(Evidence(EvidenceKind.profile_field, "features", "run1:C0000001", "products_held", ["P004"]))

    assert check_grounding("You already hold High-Yield Savings.", [rec], CATALOGUE) == []


def test_recommendations_in_their_dict_form_are_accepted():
    assert check_grounding("It returns $230 a year on $7,680.", [travel_card().to_dict()], CATALOGUE) == []
    assert check_grounding("It returns $500 a year.", [travel_card().to_dict()], CATALOGUE) == [
        "figure $500 not in evidence"
    ]


def test_plain_catalogue_list_works_without_ids():
    assert check_grounding("Try the Flat 2% Cash Card.", [travel_card()], list(CATALOGUE.values())) == [
        "product 'Flat 2% Cash Card' is not among the recommendations"
    ]


def test_figures_inside_a_product_name_are_not_figures():
    rec = Recommendation("P006", "12-Month Certificate of Deposit", "deposit", 0.5, reasons=["Locks in 4.25% APY."])

    assert check_grounding("The 12-Month Certificate of Deposit pays 4.25% APY.", [rec], CATALOGUE) == []


def test_every_problem_is_reported():
    found = problems("The Platinum Elite Card returns $999 and is guaranteed.")

    assert found == [
        "unknown product 'Platinum Elite Card'",
        "figure $999 not in evidence",
        "claim 'guaranteed' not in evidence",
    ]


def test_no_recommendations_means_no_product_may_be_named():
    assert check_grounding("Try the Voyager Travel Rewards Card.", [], CATALOGUE) == [
        "product 'Voyager Travel Rewards Card' is not among the recommendations"
    ]
