"""BM25 scoring and reciprocal rank fusion, on hand-made passages and rankings."""

from __future__ import annotations

import pytest

from retrieval.lexical import BM25, reciprocal_rank_fusion, tokenize

PASSAGES = {
    "travel": "Voyager Travel Card: points on flights and hotels, no foreign transaction fees.",
    "cash": "Everyday Cash Back Card: cash back on groceries and gas, no annual fee.",
    "coverdell": "Coverdell Education Savings Account for private school tuition.",
    "ira": "Roll over your old 401(k) into a Traditional IRA.",
    "long": "A card. " + "Card benefits and card features for every card holder. " * 6,
}


def test_tokenize_folds_case_plurals_stop_words_and_401k():
    assert tokenize("The Fees on my Cards") == ["fee", "card"]
    assert tokenize("401(k) rollover") == tokenize("401k ROLLOVER") == ["401k", "rollover"]
    assert tokenize("kids' college") == ["kid", "college"]


def test_a_rare_term_outranks_common_ones():
    index = BM25(PASSAGES)

    ranked = index.rank("coverdell card")

    assert ranked[0][0] == "coverdell"
    assert {key for key, _ in ranked} == {"coverdell", "travel", "cash", "long"}


def test_passages_without_a_query_term_are_not_ranked():
    index = BM25(PASSAGES)

    assert index.rank("mortgage") == []
    assert index.rank("") == []
    assert [key for key, _ in index.rank("401(k)")] == ["ira"]


def test_a_short_passage_beats_a_long_one_that_repeats_the_term():
    index = BM25({"short": "card fee", "long": PASSAGES["long"] + " fee"})

    scores = index.scores("fee")

    assert scores["short"] > scores["long"] > 0


def test_rank_keeps_index_order_on_ties_and_honours_k():
    index = BM25([("b", "gold card"), ("a", "gold card"), ("c", "silver card")])

    assert [key for key, _ in index.rank("gold")] == ["b", "a"]
    assert len(index.rank("card", k=2)) == 2


def test_empty_index_ranks_nothing():
    assert BM25({}).rank("anything") == []


def test_rrf_sums_one_over_k_plus_rank_across_lists():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)

    assert [key for key, _ in fused] == ["a", "c", "b", "d"]
    assert dict(fused) == pytest.approx({
        "a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63,
    })


def test_rrf_prefers_an_item_both_lists_agree_on_over_one_list_winner():
    fused = reciprocal_rank_fusion([["vector_only", "both"], ["lexical_only", "both"]])

    assert fused[0][0] == "both"


def test_rrf_ties_go_to_the_better_best_rank_then_the_first_list():
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "x"]])
    assert [key for key, _ in fused] == ["x", "y"]
    assert fused[0][1] == fused[1][1]

    mid = reciprocal_rank_fusion([["p", "q", "r"], ["s"]], k=0, weights=[1.0, 0.5])
    assert dict(mid)["q"] == dict(mid)["s"] == 0.5
    assert [key for key, _ in mid] == ["p", "s", "q", "r"]  # s was ranked 1st in its list, q only 2nd


def test_rrf_counts_a_repeated_item_once_per_list_and_checks_weights():
    assert reciprocal_rank_fusion([["a", "a", "b"]], k=0) == [("a", 1.0), ("b", 0.5)]
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])
