"""Goal match: how plainly what the customer told us, their spending and their stage of life ask for a product.

A goal source is one text about the customer (a non-health disclosure, a
spending pattern, their stage of life) with the reason and evidence to quote;
`goal_similarities` compares the sources with each product's indexed text and
need statements, and `goal_closeness` turns similarity into how plainly a
source asks for a product. A likely goal is one the customer has not told us
but likely has (`tools.lookalike.GoalPropensity`), matched through the words
of the customers who did tell us (`goal_products`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from retrieval.formats import money
from tools.campaign import statement_vectors
from tools.evidence import field_evidence
from tools.lookalike import Trait
from tools.personal.models import live_models
from tools.personal.value import SKIPPED_SPEND, category_words, spend_evidence
from tools.text_vectors import text_vectors
from tools.types import Evidence, EvidenceKind

if TYPE_CHECKING:
    from tools.context import ToolContext

GOAL_FLOOR = 0.25  # MiniLM cosine similarity at or below which a text says nothing about a product
GOAL_FULL = 0.45  # ... and at or above which it plainly asks for it
GOAL_SHARPNESS = 2.0  # how fast a product's goal match fades as it falls behind the source's best match
PROFILE_WEIGHT = 0.5  # stage of life and occupation hint at needs; a disclosure states them
SPENDING_WEIGHT = 0.75  # so does spending, more plainly
RISING_SLOPE = 25.0  # dollars a month more each month: a rising category (as in the profile summary)
MAX_RISING = 2
# Payments that show a debt held elsewhere or a tenancy: category -> (text to match, words for a reason).
OBLIGATIONS = {
    "debt_payment": ("paying off credit card debt", "card payments to other lenders"),
    "student_loan_payment": ("paying off student loans", "student loan payments"),
    "rent": ("paying rent", "rent"),
}
GOAL_EXAMPLES = 50  # distinct disclosure texts per goal that say which products the goal asks for
GOAL_PRODUCTS_KEY = "tools.personal.goal_products"  # its ToolContext.memo key
DISCLOSURE_FIELDS = {"topic": 1, "kind": 1, "customer_id": 1, "text": 1}


@dataclass(frozen=True)
class GoalSource:
    """Something about the customer to match products against: a disclosure, a spending pattern, their stage of life."""

    text: str
    reason: str
    evidence: tuple[Evidence, ...]
    weight: float = 1.0  # what the customer told us counts fully; what we infer counts less


def goal_sources(features: Mapping, disclosures: Iterable[Mapping]) -> list[GoalSource]:
    """The texts product descriptions are compared with; never a health disclosure or health spend."""
    return [*_disclosure_sources(disclosures), *_spending_sources(features), *_profile_sources(features)]


def _disclosure_sources(disclosures: Iterable[Mapping]) -> list[GoalSource]:
    return [
        GoalSource(
            disclosure["text"],
            f'You told us: "{disclosure["text"]}"',
            (field_evidence(EvidenceKind.disclosure, "disclosures", disclosure, "text",
                            f"your {category_words(disclosure['topic'])} goal"),),
        )
        for disclosure in sorted(disclosures, key=lambda disclosure: disclosure["_id"])
        if disclosure.get("kind") != "health"
    ]


def _spending_sources(features: Mapping) -> list[GoalSource]:
    """Spending that hints at a need: categories rising month on month, and payments to other lenders or a landlord."""
    spend, trend = features.get("spend_12m") or {}, features.get("spend_trend") or {}
    rising = sorted(
        (category for category, slope in trend.items()
         if slope >= RISING_SLOPE and category not in SKIPPED_SPEND and spend.get(category, 0) > 0),
        key=lambda category: -trend[category],
    )[:MAX_RISING]
    sources = [
        GoalSource(
            f"rising spending on {category_words(category)}",
            f"Your spending on {category_words(category)} is rising: {money(spend[category])} in the last 12 months.",
            (field_evidence(EvidenceKind.transaction_aggregate, "features", features, f"spend_trend.{category}",
                            f"monthly change in {category_words(category)} spend"),
             spend_evidence(features, category)),
            SPENDING_WEIGHT,
        )
        for category in rising
    ]
    sources += [
        GoalSource(
            text,
            f"You paid {money(spend[category])} in {words} in the last 12 months.",
            (spend_evidence(features, category),),
            SPENDING_WEIGHT,
        )
        for category, (text, words) in OBLIGATIONS.items()
        if spend.get(category, 0) > 0
    ]
    return sources


def _profile_sources(features: Mapping) -> list[GoalSource]:
    if not features.get("life_stage"):
        return []
    stage, occupation = features["life_stage"], features.get("occupation") or ""
    evidence = [field_evidence(EvidenceKind.profile_field, "features", features, "life_stage", "stage of life")]
    if occupation:
        evidence.append(field_evidence(EvidenceKind.profile_field, "features", features, "occupation", "occupation"))
    # a retiree's occupation is "Retired" too: "(retired)", not "(retired, retired)"
    said = stage if occupation.lower() in ("", stage.lower()) else f"{stage}, {occupation.lower()}"
    return [GoalSource(
        f"{stage} {occupation}".strip(),
        f"It suits where you are in life ({said}).",
        tuple(evidence),
        PROFILE_WEIGHT,
    )]


def goal_similarities(ctx: ToolContext, sources: Sequence[GoalSource], product_ids: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each source (rows) to each product (columns), from one embedding batch."""
    similarities = np.zeros((len(sources), len(product_ids)), dtype=np.float32)
    if not sources or not product_ids or ctx.vectors is None or ctx.embedder is None:
        return similarities
    column = {product_id: j for j, product_id in enumerate(product_ids)}
    vectors = text_vectors(ctx).embed(ctx.embedder, [source.text for source in sources])
    indexed, matrix = ctx.index_vectors("products")
    scores = vectors @ matrix.T  # exactly what a vector query over the whole index would score
    for k, product_id in enumerate(indexed):
        if product_id in column:
            similarities[:, column[product_id]] = scores[:, k]
    return np.maximum(similarities, _need_statement_similarities(ctx, vectors, product_ids))


def _need_statement_similarities(ctx: ToolContext, vectors: np.ndarray, product_ids: Sequence[str]) -> np.ndarray:
    """Per source (rows) and product (columns): the closest of the product's need statements, 0 without any.

    A disclosure is one short sentence; the product's indexed text is its name, description and needs run
    together, which dilutes it ("I'm leaving my job to start a consulting business" is close to "I'm
    starting a business and need to separate my finances" but not to the whole text).
    """
    closest = np.zeros((len(vectors), len(product_ids)), dtype=np.float32)
    owners = [(column, statement) for column, product_id in enumerate(product_ids)
              for statement in ctx.products.get(product_id, {}).get("need_statements") or ()]
    if owners:
        scores = vectors @ statement_vectors(ctx.embedder, [statement for _, statement in owners]).T
        for k, (column, _) in enumerate(owners):
            closest[:, column] = np.maximum(closest[:, column], scores[:, k])
    return closest


def goal_closeness(similarities: np.ndarray, sources: Sequence[GoalSource]) -> np.ndarray:
    """How plainly each source (rows) asks for each product (columns), in [0, source weight].

    Similarity is rescaled to [0, 1] between GOAL_FLOOR and GOAL_FULL, then
    discounted by how far the product falls behind the source's best match: a
    sentence usually states one need, and products merely near it (a mortgage
    for "pay off my student loans sooner") should not tie with the one it names.
    """
    if not len(sources) or not similarities.size:
        return similarities
    weights = np.array([source.weight for source in sources], dtype=np.float32)[:, None]
    absolute = np.clip((similarities - GOAL_FLOOR) / (GOAL_FULL - GOAL_FLOOR), 0.0, 1.0)
    above_floor = similarities - GOAL_FLOOR
    best = np.maximum(above_floor.max(axis=1, keepdims=True), 1e-6)
    relative = np.clip(above_floor / best, 0.0, 1.0) ** GOAL_SHARPNESS
    return absolute * relative * weights


def goal_products(ctx: ToolContext) -> dict[str, np.ndarray]:
    """Per goal the propensity model knows: how plainly its tellers' words ask for each product (sorted ids).

    The mean goal closeness of up to GOAL_EXAMPLES distinct texts the bank's customers wrote about it,
    computed on first use (it needs the embedder) and kept for the context.
    """
    return ctx.memo(GOAL_PRODUCTS_KEY, lambda: _goal_product_table(ctx))


def _goal_product_table(ctx: ToolContext) -> dict[str, np.ndarray]:
    models = live_models(ctx)
    examples: dict[str, set[str]] = {goal: set() for goal in models.goal_propensity.goals}
    # read a batch at a time, keeping each goal's first GOAL_EXAMPLES distinct texts in sorted order (and a few more)
    for batch in ctx.store["disclosures"].find_batches({}, DISCLOSURE_FIELDS):
        for disclosure in batch:
            texts = examples.get(disclosure.get("topic"))
            if texts is not None and disclosure.get("kind") != "health" and (
                    disclosure.get("customer_id") not in models.opted_out):
                texts.add(disclosure["text"])
        for goal, texts in examples.items():
            if len(texts) > 2 * GOAL_EXAMPLES:
                examples[goal] = set(sorted(texts)[:GOAL_EXAMPLES])
    product_ids, table = sorted(ctx.products), {}
    for goal, texts in examples.items():
        sources = [GoalSource(text, "", ()) for text in sorted(texts)[:GOAL_EXAMPLES]]
        if sources:
            table[goal] = goal_closeness(goal_similarities(ctx, sources, product_ids), sources).mean(axis=0)
    return table


def likely_goals(ctx: ToolContext, traits: Sequence[Trait], product_ids: Sequence[str]):
    """Per product, the goal the customer has not told us but likely has that asks for it most (chance x closeness)."""
    chances, raising = live_models(ctx).goal_propensity.estimates(traits)
    if not chances or ctx.vectors is None or ctx.embedder is None:
        return {}, {}
    table = goal_products(ctx)
    goals = [goal for goal in sorted(chances) if goal in table]
    if not goals or not product_ids:
        return {}, {}
    columns = {product_id: j for j, product_id in enumerate(sorted(ctx.products))}
    asks = np.stack([chances[goal] * table[goal] for goal in goals])[:, [columns[p] for p in product_ids]]
    strongest = asks.argmax(axis=0)  # the first goal (by name) among equals
    best = {product_id: (float(asks[strongest[j], j]), goals[strongest[j]])
            for j, product_id in enumerate(product_ids) if asks[strongest[j], j] > 0}
    return best, raising
