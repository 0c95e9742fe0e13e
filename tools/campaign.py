"""Campaign insight: outreach leads from what a customer posted or liked during social campaigns.

`campaign_insights(ctx, customer_id)` reads the customer's campaign events (the
ones tagged with their customer id, plus those written from one of their
social handles on that platform), infers the needs their posts express and
returns the products worth an agent's call, each quoting the post.

`infer_needs(texts, embeddings, product_needs)` is the pure part, shared with
the campaign batch worker: a text expresses a product's need when
- its embedding is close to one of the product's need statements
  (STRONG_MATCH; chatter such as "great bank" or "what's the fee?" stays below), or
- a life-event keyword fires ("closed on our first home", "third trimester")
  and the rule's plain statement of that need is close to the need statement.
A reaction without text, or a text that expresses no need, counts as weak
interest in the products the campaign features.

Scores follow the leads the worker stores (`retrieval.leads`): each event is a
signal weighted by how well it matched and what kind of event it was, combined
by noisy-or per product and campaign, so the console's leads and this tool agree.

Post text is untrusted: it is embedded and quoted (cleaned of control
characters, bounded), never interpreted; product ids or instructions inside a
post change nothing, and the opening line is built from catalogue and profile
fields only. A customer who withdrew profiling consent gets no leads; a
healthcare product is suggested only with consent to use health data; products
the customer holds or is not eligible for are left out.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from retrieval.docstore import handle_filter
from retrieval.leads import (
    LeadFacts,
    LeadSignal,
    combined_score,
    render_opening_line,
    render_reason,
    strongest,
)
from tools.eligibility import check, may_profile
from tools.evidence import field_evidence
from tools.spec import tool
from tools.text_vectors import TextVectors, text_vectors
from tools.types import Evidence, EvidenceKind, Recommendation

if TYPE_CHECKING:
    from retrieval.docstore import DocumentStore
    from retrieval.embeddings import Embedder
    from tools.context import ToolContext

STRONG_MATCH = 0.6  # MiniLM cosine at which a post plainly states a catalogue need on its own
RULE_MATCH = 0.55  # ... at which a keyword rule's statement of a need matches a catalogue need
MARGIN = 0.1  # needs this far below a text's best match are a different need, not the same one said twice
RULE_CONFIDENCE = 0.75  # a keyword is weaker evidence than the post's own wording
MAX_NEEDS_PER_TEXT = 3
# The similarity a reaction, or a post about nothing in particular, stands for; a stated need scores 0.5 and up.
WEAK_INTEREST = 0.3
HEALTHCARE = "healthcare"
# A close relative as a customer names them ("my late husband", "my mum passed away")
RELATIVE = (r"(?:husband|wife|partner|spouse|mother|father|mom|mum|dad|son|daughter|brother|sister|child|baby"
            r"|grand(?:ma|pa|mother|father|mom|dad))")


class NeedMatch(NamedTuple):
    product_id: str
    need: str  # the product's need statement the text matched
    similarity: float  # 0..1


@dataclass(frozen=True)
class NeedRule:
    """A life event said in everyday words, and what it means in a customer's words."""

    name: str
    pattern: re.Pattern
    statements: tuple[str, ...]
    goes_with: str | None = None  # the statement of what goes with the event, not what it asks for: one of them


def _rule(name: str, pattern: str, *statements: str, goes_with: str | None = None) -> NeedRule:
    return NeedRule(name, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE),
                    (*statements, goes_with) if goes_with else statements, goes_with)


NEED_RULES: tuple[NeedRule, ...] = (
    _rule("home_purchase",
          r"first (?:home|house|place|apartment)|new (?:home|house)|closed on (?:our|my|the) (?:home|house|place)"
          r"|closing on|house[- ]hunting|home ?buyers?|first[- ]time (?:home ?)?buyers?|buying (?:a|our|my) (?:home|house)|down ?payment",
          "I'm buying my first home and need a mortgage", goes_with="I need insurance for my new home"),
    _rule("renovation", r"renovat\w*|remodel\w*|contractors?|home repairs?|new roof|home improvements?"
          r"|redo(?:ing)? (?:the |our |my )?(?:bathroom|kitchen|basement|house|home|roof)"
          r"|(?:bathroom|kitchen|basement|attic) (?:reno\w*|redo|makeover|upgrade)|fix(?:ing)? up (?:the|our|my) (?:house|home|place)",
          "I'm renovating my home and need to pay for the repairs"),
    _rule("new_baby", r"baby|babies|expecting|pregnan\w*|trimester|nursery|newborn|maternity"
          r"|had (?:twins|(?:a|our|my|another)(?: first| second| third| new)?"
          r" (?:kid|child|son|daughter|little one|boy|girl))"
          r"|(?:son|daughter|kid|child|twins) (?:was |were |is |are )?(?:just )?born|gave birth",
          "we're having a baby and want to plan for the costs", "life insurance to protect my growing family",
          goes_with="a tax-free college fund for my baby"),
    _rule("education", r"college|tuition|kindergarten|universit\w*|school fees?",
          "I want to save for my kids' college education"),
    # a student leaving for college needs an account of their own, beside any college fund
    _rule("starting_college", r"(?:heading|going|off|leaving|moving)(?: off)? to (?:college|university|uni)"
          r"|start(?:s|ing)? (?:college|university|uni)|(?:college|university) freshman|freshman year|dorm(?:itory)?"
          r"|first (?:year|semester) (?:of|at) (?:college|university|uni)",
          "I'm heading off to college and need my own bank account"),
    _rule("retirement", r"retir\w*|401\(?k\)?|pension", "I'm retiring soon and want income in retirement"),
    _rule("travel", r"travel\w*|trips?|flights?|flying|airport|abroad|vacation|foreign fees?|air ?miles",
          "I travel a lot and want travel rewards with no foreign transaction fees"),
    _rule("debt", r"debts?|apr|consolidat\w*|paying off|pay off my|card interest|credit card bills?",
          "I have credit card debt at a high interest rate and want to consolidate it"),
    _rule("student_loan", r"student loans?", "my student loan rate is too high and I want to refinance"),
    _rule("cash_back", r"cash ?back|groceries|grocery|gas", "I want cash back on groceries and gas"),
    _rule("business", r"llc|(?:my|her|his|our|their) (?:own )?business|small business(?:es)?|side hustle|self[- ]employed"
          r"|start[- ]?up|freelanc\w*|business account"
          r"|(?:hired|hiring) (?:my |our )?(?:first )?(?:\w+ )?(?:employees?|staff)"
          r"|(?:start|starting|open|opening|launch\w*) (?:a|an|her|his|their|my|our)"
          r" (?:own )?(?:\w+ )?(?:business|company|shop|bakery|restaurant|salon|cafe|practice)",
          "I'm starting a business and need a business account"),
    _rule("car", r"new car|used car|car loan|auto loan|buying a car|car payment",
          "I'm buying a car and need car financing", goes_with="insurance for my new car"),
    _rule("wedding", r"wedding|engaged|getting married|fianc\w*", "I'm saving for my wedding"),
    # the customer marrying, not paying for a child's wedding: a household of two to set up and to protect
    _rule("marriage", r"(?:we're|we are|i'm|i am|we just|just|we|i) (?:getting married|got engaged|got married|married)"
          r"|(?:we're|we are|i'm|i am|just) engaged|newlyweds?|my (?:fianc\w*|new (?:wife|husband|spouse))|me and my fianc\w*",
          "we just got married and want a joint account for the two of us",
          "life insurance so my new spouse is provided for if I die"),
    _rule("pet", r"puppy|kitten|my dog|my cat|vet bills?", "insurance for my pet"),
    _rule("new_job", r"new job|started (?:a |my )?(?:new )?job|start(?:s|ing)? (?:a |her |his |my |their )?(?:first |new |summer |part[- ]time )+job|got (?:a|her|his|my|their) (?:first |summer |part[- ]time )?job"
          r"|changing jobs|changed jobs|switch(?:ed|ing) jobs|got hired"
          r"|left my job", "I started a new job and need a checking account for my paycheck"),
    _rule("rollover", r"old (?:employer'?s )?401\(?k\)?|401\(?k\)? from (?:my|the|our) (?:old|last|previous|former) \w+"
          r"|roll(?:ing)? ?over (?:my |the |an? )?(?:old )?(?:401\(?k\)?|ira|pension)",
          "I changed jobs and want to roll over my old 401(k)"),
    _rule("moving", r"moving (?:out|house|into|to a new)|relocat\w*|new apartment|first apartment|signed a lease",
          "insurance for my apartment"),
    _rule("bereavement", rf"passed away|inherit\w*|life insurance payout|widow\w*|lost my {RELATIVE}"
          rf"|{RELATIVE} (?:passed|died)|funeral (?:was|is)|my late {RELATIVE}"
          r"|left (?:me|us) (?:some |a |an |the |his |her |their )?(?:\w+ )?(?:money|savings|house|home|estate|sum)",
          "somewhere safe to keep a large sum of money"),
    _rule("windfall", r"(?:insurance|policy) (?:check|cheque|payout|paid out|money|proceeds)|paid out|lump sum|windfall"
          r"|sale of (?:the|our|my|her|his|their) (?:house|home|place|business)"
          r"|(?:sold|sell|selling) (?:the|our|my|her|his|their) (?:house|home|place)|downsiz\w*"
          r"|(?:year-end |annual )?bonus|where (?:to|should i|do i|can i) (?:put|park|keep) (?:it|the money)|park it",
          "somewhere safe to keep a large sum of money", "better interest on a large sum while I decide what to do"),
    _rule("long_term_care", r"nursing home|assisted living|in-home care|long[- ]term care|memory care",
          "long-term care insurance for nursing care"),
    _rule("teen_driver", r"learning to drive|learner'?s permit|driver'?s licen[cs]e|teen driver|started driving|driving test"
          r"|(?:got|gets|getting) (?:his|her|their) (?:driver'?s )?licen[cs]e|wants? to drive|(?:start|starts|starting) to drive",
          "I'm adding my teenager to my car insurance"),
    _rule("protect_family", r"if (?:i|we) (?:die|died|pass away|passed away|go too|were gone|was gone)"
          r"|if (?:anything|something) (?:happens|happened|were to happen|was to happen) to (?:me|us)"
          r"|what happens to (?:my|our) (?:own )?(?:family|kids|children|wife|husband)|provide for (?:my|our) (?:family|kids)"
          r"|breadwinner|leave (?:my|our) family", "life insurance to protect my family if I die"),
)


# --- inferring needs (pure, given the embedder) ------------------------------------------------------------


_statement_vectors: weakref.WeakKeyDictionary[Embedder, TextVectors] = weakref.WeakKeyDictionary()
_statement_lock = threading.Lock()


def statement_vectors(embedder, statements: Sequence[str]) -> np.ndarray:
    """Vectors of catalogue and rule statements, embedded once per embedder.

    They are a fixed set, so all are kept; per embedder rather than per context because the campaign
    worker matches them without a context.
    """
    with _statement_lock:
        kept = _statement_vectors.setdefault(embedder, TextVectors(limit=None))
    return kept.embed(embedder, statements)


# a rule that, when it fires, stands for another's words: off to college now, the student needs an account of their
# own, not a fund to save for college (a 529, for "I'm starting university in September")
SUPERSEDES = {"starting_college": "education"}


def fired_rules(text: str) -> list[NeedRule]:
    fired = [rule for rule in NEED_RULES if rule.pattern.search(text)]
    superseded = {SUPERSEDES[rule.name] for rule in fired if rule.name in SUPERSEDES}
    return [rule for rule in fired if rule.name not in superseded]


def infer_needs(texts: Sequence[str], embeddings, product_needs: Mapping[str, Sequence[str]], *,
                embedder=None) -> list[list[NeedMatch]]:
    """The catalogue needs each text expresses, best first, at most one per product.

    `embeddings` are the texts' vectors, one row per text (the caller embeds a
    batch once); `product_needs` maps product id -> need statements; `embedder`
    embeds those statements in the same space (default: the process-wide
    MiniLM embedder), once per embedder. Returns one list per text, empty when
    the text states no need in particular.
    """
    texts = list(texts)
    needs = [(product_id, need) for product_id in sorted(product_needs) for need in product_needs[product_id]]
    if not texts or not needs:
        return [[] for _ in texts]
    embedder = embedder if embedder is not None else _default_embedder()
    need_vectors = statement_vectors(embedder, [need for _, need in needs])
    text_vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32).reshape(len(texts), -1))
    if text_vectors.shape[1] != need_vectors.shape[1]:
        raise ValueError(
            f"the texts' embeddings have {text_vectors.shape[1]} dimensions but the need statements "
            f"{need_vectors.shape[1]}: pass embedder= the embedder that embedded the texts"
        )
    similarities = text_vectors @ _unit_rows(need_vectors).T
    return [_text_needs(text, row, needs, need_vectors, embedder)
            for text, row in zip(texts, similarities, strict=True)]


def _text_needs(text: str, similarities: np.ndarray, needs: list[tuple[str, str]], need_vectors: np.ndarray,
                embedder) -> list[NeedMatch]:
    """One text's needs: those its own words plainly state, and those a life-event keyword in it means."""
    scores = {column: float(similarities[column]) for column in _close(similarities, STRONG_MATCH)}
    for row in _rule_similarities(text, need_vectors, embedder):
        for column in _close(row, RULE_MATCH):
            keyword = max(float(similarities[column]), RULE_CONFIDENCE * float(row[column]))
            scores[column] = max(scores.get(column, 0.0), keyword)
    best: dict[str, NeedMatch] = {}
    for column, score in scores.items():
        product_id, need = needs[column]
        if product_id not in best or score > best[product_id].similarity:
            best[product_id] = NeedMatch(product_id, need, round(min(1.0, score), 4))
    return sorted(best.values(), key=lambda match: (-match.similarity, match.product_id))[:MAX_NEEDS_PER_TEXT]


def _rule_similarities(text: str, need_vectors: np.ndarray, embedder) -> np.ndarray:
    """Similarity of each statement of the rules `text` fires (rows) to each need (columns)."""
    statements = [statement for rule in fired_rules(text) for statement in rule.statements]
    if not statements:
        return np.empty((0, len(need_vectors)), dtype=np.float32)
    return _unit_rows(statement_vectors(embedder, statements)) @ _unit_rows(need_vectors).T


def _close(row: np.ndarray, floor: float) -> list[int]:
    """Columns at or above `floor` and within MARGIN of the row's best."""
    top = float(row.max())
    if top < floor:
        return []
    return [int(column) for column in np.flatnonzero(row >= max(floor, top - MARGIN))]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _default_embedder():
    from retrieval.embeddings import get_embedder

    return get_embedder()


# --- the customer's campaign events ------------------------------------------------------------------------


def handle_spellings(handle: str) -> list[str]:
    """A handle as platforms write it: as stored, without or with a leading @, lower case.

    Other capitalisations are not found (the events' `author_handle` is matched by equality,
    through its index).
    """
    bare = handle.strip().lstrip("@")
    return list(dict.fromkeys([handle.strip(), bare, "@" + bare, bare.lower(), "@" + bare.lower()]))


def own_handles(store: DocumentStore, customer: Mapping) -> list[tuple[str, str]]:
    """(platform, handle) pairs only this customer claims; a handle two customers share names neither."""
    owned = []
    for platform, handle in sorted((customer.get("social_handles") or {}).items()):
        # One indexed query per handle: an $or of them scans the whole collection.
        claimants = store["customers"].find(handle_filter(platform, handle), projection={"_id": 1}, limit=2)
        if handle and [doc["_id"] for doc in claimants] == [customer["_id"]]:
            owned.append((platform, handle))
    return owned


def customer_events(store: DocumentStore, customer: Mapping) -> list[dict]:
    """Campaign events by this customer: tagged with their id, or written from one of their handles."""
    customer_id = customer["_id"]
    events = {event["_id"]: event for event in store["campaign_events"].find({"customer_id": customer_id})}
    for platform, handle in own_handles(store, customer):
        spellings = handle_spellings(handle)
        # The platform is checked here: with it in the query the embedded store filters the $in in Python, far dearer.
        for event in store["campaign_events"].find({"author_handle": {"$in": spellings}}):
            # an event tagged with someone else is theirs
            if event.get("platform") == platform and event.get("customer_id") in (None, "", customer_id):
                events.setdefault(event["_id"], event)
    return sorted(events.values(), key=lambda event: (str(event.get("timestamp", "")), event["_id"]))


# --- leads -------------------------------------------------------------------------------------------------


@dataclass
class CampaignLead(Recommendation):
    """A recommendation for an agent's outreach, with what to say first."""

    opening_line: str = ""  # from catalogue and profile fields only, never from post text
    campaign_id: str = ""
    marketing_consent: bool = False  # False: answer if the customer gets in touch, do not reach out


def event_needs(ctx: ToolContext, events: Sequence[Mapping], product_needs: Mapping[str, Sequence[str]]
                ) -> dict[str, list[NeedMatch]]:
    """event id -> the needs its text expresses.

    A post the nightly run indexed (`campaign_posts`) is read with its stored vector; the others (newer
    events) are embedded, in one batch.
    """
    with_text = [event for event in events if event.get("text")]
    if not with_text or ctx.embedder is None:
        return {}
    stored = _indexed_vectors(ctx, [event["_id"] for event in with_text])
    texts = sorted({event["text"] for event in with_text if event["_id"] not in stored})
    embedded = dict(zip(texts, text_vectors(ctx).embed(ctx.embedder, texts), strict=True)) if texts else {}
    vectors = np.vstack([stored.get(event["_id"], embedded.get(event["text"])) for event in with_text])
    matches = infer_needs([event["text"] for event in with_text], vectors, product_needs, embedder=ctx.embedder)
    return {event["_id"]: found for event, found in zip(with_text, matches, strict=True)}


def _indexed_vectors(ctx: ToolContext, event_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of these events in the live campaign_posts index (none without vector indexes)."""
    if ctx.vectors is None:
        return {}
    return ctx.vectors.vectors_of("campaign_posts", event_ids)


def _signal(customer_id: str, event: Mapping, product_id: str, need: str, similarity: float) -> LeadSignal:
    return LeadSignal(
        event_id=event["_id"], customer_id=customer_id, product_id=product_id, campaign_id=event["campaign_id"],
        platform=event.get("platform", ""), type=event.get("type", ""), text=event.get("text") or "",
        timestamp=str(event.get("timestamp", "")), need=need, similarity=similarity,
    )


def event_signals(customer_id: str, event: Mapping, matches: list[NeedMatch],
                  campaign: Mapping | None) -> list[LeadSignal]:
    """The products one event points at: the needs its text states, else the campaign's products (weakly)."""
    if matches:
        return [_signal(customer_id, event, match.product_id, match.need, match.similarity) for match in matches]
    featured = (campaign or {}).get("product_ids") or []
    return [_signal(customer_id, event, product_id, "", WEAK_INTEREST) for product_id in featured]


def may_offer(product: Mapping | None, customer: Mapping, features: Mapping | None) -> bool:
    """Whether a lead may suggest `product`: it exists, the customer may have it and does not hold it,
    and a healthcare product only with consent to use health data (eligibility is skipped without features)."""
    if product is None:
        return False
    consent = customer.get("consent") or {}
    if product.get("category") == HEALTHCARE and not consent.get("health_data", False):
        return False
    return features is None or not check(product, features)


def _lead_evidence(signal: LeadSignal, event: Mapping, product: Mapping, campaign: Mapping | None) -> list[Evidence]:
    kind = EvidenceKind.campaign_post
    day = signal.timestamp[:10]
    if signal.text:
        label = f"{signal.type} on {signal.platform}, {day}"
        evidence = [field_evidence(kind, "campaign_events", event, "text", label)]
    else:
        evidence = [field_evidence(kind, "campaign_events", event, "type", f"reaction on {signal.platform}, {day}")]
    if signal.need in (product.get("need_statements") or []):
        path = f"need_statements.{product['need_statements'].index(signal.need)}"
        evidence.append(field_evidence(EvidenceKind.document_passage, "products", product, path, "the need it serves"))
    if campaign is not None:
        evidence.append(field_evidence(kind, "campaigns", campaign, "name", "campaign"))
        featured = campaign.get("product_ids") or []
        if not signal.need and signal.product_id in featured:
            path = f"product_ids.{featured.index(signal.product_id)}"
            evidence.append(field_evidence(kind, "campaigns", campaign, path, "a product the campaign features"))
    return evidence


def _lead(signals: list[LeadSignal], events: Mapping[str, Mapping], product: Mapping, campaign: Mapping | None,
          customer: Mapping) -> CampaignLead:
    best = strongest(signals)
    consent = bool((customer.get("consent") or {}).get("marketing", False))
    facts = LeadFacts(customer.get("first_name", ""), consent, product["name"],
                      (campaign or {}).get("name", best.campaign_id))
    score = combined_score(signals)
    return CampaignLead(
        product_id=product["_id"], name=product["name"], category=product.get("category", ""), score=score,
        reasons=[render_reason(signals, facts)],
        evidence=_lead_evidence(best, events[best.event_id], product, campaign),
        components={"interest": score, "signals": float(len(signals)), "similarity": best.similarity},
        opening_line=render_opening_line(facts), campaign_id=best.campaign_id, marketing_consent=consent,
    )


@tool
def campaign_insights(ctx: ToolContext, customer_id: str, k: int = 3) -> list[CampaignLead]:
    """For bank staff only: outreach leads from the customer's social-media campaign posts and reactions.

    Each lead names a product, quotes the post (or the reaction) that suggests it, the catalogue need it matched,
    and a suggested opening line for the agent (`opening_line`); `marketing_consent` says whether the customer
    agreed to be contacted. At most one lead per product, strongest first. Empty when the customer is unknown, has
    withdrawn consent to profiling, or said nothing that points at a product they could open.

    Args:
        customer_id: The customer the leads are about: always the current customer.
    """
    customer = ctx.customer(customer_id)
    if k < 1 or customer is None or not may_profile(customer):
        return []
    events = customer_events(ctx.store, customer)
    if not events:
        return []
    campaign_ids = sorted({event["campaign_id"] for event in events})
    campaigns = {doc["_id"]: doc for doc in ctx.store["campaigns"].find({"_id": {"$in": campaign_ids}})}
    products, features = ctx.products, ctx.features(customer_id)
    needs = event_needs(ctx, events, {pid: doc.get("need_statements") or [] for pid, doc in products.items()})
    grouped: dict[tuple[str, str], list[LeadSignal]] = {}
    for event in events:
        campaign = campaigns.get(event["campaign_id"])
        for signal in event_signals(customer_id, event, needs.get(event["_id"], []), campaign):
            if may_offer(products.get(signal.product_id), customer, features):
                grouped.setdefault((signal.product_id, signal.campaign_id), []).append(signal)
    by_event = {event["_id"]: event for event in events}
    leads = [_lead(signals, by_event, products[product_id], campaigns.get(campaign_id), customer)
             for (product_id, campaign_id), signals in grouped.items()]
    leads.sort(key=lambda lead: (-lead.score, lead.product_id, lead.campaign_id))
    return _one_per_product(leads)[:k]


def _one_per_product(leads: list[CampaignLead]) -> list[CampaignLead]:
    """The best lead of each product (one product may feature in several campaigns)."""
    best: dict[str, CampaignLead] = {}
    for lead in leads:
        best.setdefault(lead.product_id, lead)
    return list(best.values())
