"""A request read for a relative of a stated age: products the catalogue aims at people of that age come first.

The catalogue says whom a product is for in `target_segments`; some segments
are ages of life. For an adult relative whose age is known ("my dad, he's
72"), a product aimed at their age group answers the request more plainly, and
one aimed only at other ages (a family health plan, for a 72-year-old) less.
Minors are left alone: what is opened for them is opened by a parent, and the
segments describe the holder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from retrieval.graph import ADULT_AGE
from tools.requests.fit import NEED_MARGIN, is_cover, product_kinds
from tools.requests.model import NeedHit, Request

AGE_SEGMENTS = {  # the ages a segment plainly covers, generous at both ends
    "students": (16, 26),
    "young_professionals": (21, 45),
    "new_parents": (20, 50),
    "families": (22, 64),
    "pre_retirees": (45, 67),
    "retirees": (58, 120),
}
AGE_FIT = 0.25  # how much a product aimed at the relative's age (or only at other ages) moves its need score
BELOW_BEST = 0.1  # where a product of the type asked, aimed at the relative's age, comes: an option beside the best
LIFTING_SEGMENTS = frozenset({"students", "retirees"})  # aimed at an age by name; the others only rule ages out


def for_age(request: Request, products: Mapping[str, Mapping], age: int | None) -> Request:
    """`request` with each need moved by whether its product is aimed at people aged `age`, best first: up for
    a product for students or retirees when they are one, down for one aimed only at other ages. Needs carried
    from an earlier turn were not asked for this person: only those that answered it closely are kept, bar one
    aimed only at other ages (a maternity plan asked about before "what about for my mum? she's 72")."""
    if age is None or age < ADULT_AGE or not request.needs:
        return request
    needs = request.needs
    if request.needs_carried:
        needs = tuple(hit for hit in needs if hit.score >= needs[0].score - NEED_MARGIN
                      and not _only_other_ages(products.get(hit.product_id) or {}, age))
        if not needs:
            return replace(request, needs=())
    moved = [_moved(hit, products.get(hit.product_id) or {}, age) for hit in needs]
    moved.sort(key=lambda hit: -hit.score)
    return replace(request, needs=tuple(_of_named_kind(request, products, age, moved)))


def quoted_for_their_age(request: Request, products: Mapping[str, Mapping], age: int | None) -> Request:
    """The customer's own `request`, its need statements of products aimed only at other ages than theirs no longer
    quoted back as what they asked ("I just started working" of a Roth IRA, to a retiree): the product's name stands
    instead. The needs' scores stay: only what the answer quotes changes."""
    if age is None:
        return request
    needs = tuple(replace(hit, phrase=products[hit.product_id].get("name", ""))
                  if hit.product_id in products and _for_other_ages_alone(products[hit.product_id], age) else hit
                  for hit in request.needs)
    return replace(request, needs=needs)


def _for_other_ages_alone(product: Mapping, age: int) -> bool:
    """The catalogue aims the product at ages of life only, none of them `age`: a card for frequent travellers and
    young professionals is for a traveller of 60 too."""
    segments = product.get("target_segments") or ()
    return all(segment in AGE_SEGMENTS for segment in segments) and _only_other_ages(product, age)


def _of_named_kind(request: Request, products: Mapping[str, Mapping], age: int, needs: list[NeedHit]) -> list[NeedHit]:
    """Asked for cover for them ("what insurance does my 70-year-old father need?"), cover of that type aimed at
    their age by name answers it, just below the best match: the words may have matched the relative rather than
    a need, but a product the request plainly asks for stays first. Only cover: it is made and priced by age
    (Medicare from 65), while "his savings" names what they have, not an account for seniors."""
    named = set(request.categories)
    if not named:
        return needs
    best = round(needs[0].score - BELOW_BEST, 4)
    scores = {hit.product_id: hit for hit in needs}
    for product_id, product in products.items():
        if is_cover(product) and product_kinds(product) & named and LIFTING_SEGMENTS & set(_aimed_at(product, age)):
            hit = scores.get(product_id)
            if hit is None or hit.score < best:
                scores[product_id] = NeedHit(product_id, best, hit.phrase if hit else product.get("name", ""))
    return sorted(scores.values(), key=lambda hit: -hit.score)


def _aimed_at(product: Mapping, age: int) -> list[str]:
    return [segment for segment in product.get("target_segments") or ()
            if segment in AGE_SEGMENTS and AGE_SEGMENTS[segment][0] <= age <= AGE_SEGMENTS[segment][1]]


def _only_other_ages(product: Mapping, age: int) -> bool:
    """The catalogue aims the product at ages of life, none of them `age`."""
    return any(segment in AGE_SEGMENTS for segment in product.get("target_segments") or ()) and not _aimed_at(product, age)


def _moved(hit: NeedHit, product: Mapping, age: int) -> NeedHit:
    if _only_other_ages(product, age):
        score = max(0.0, hit.score - AGE_FIT)
    elif LIFTING_SEGMENTS.intersection(_aimed_at(product, age)):
        score = min(1.0, hit.score + AGE_FIT)
    else:
        return hit
    return replace(hit, score=round(score, 4))
