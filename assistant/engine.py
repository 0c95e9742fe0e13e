"""The turn engine: classify -> choose tools and arguments -> run -> compose.

Independent of HTTP. At most one message embedding per turn is computed here
and shared by the intent classifier and retrieval (a follow-up, answered
from the session, needs none). Follow-ups ("why?", "what
about for my wife?", "the second one", "anything cheaper?") are resolved from
the session's state. A customer may only ask about themselves; an agent asks
about the customer they act for.

A session is about one customer for life (`check_session_access` says who may
use it): a customer's session is about them from its start, a developer key's
holds no customer, and a session an agent opens without naming a customer
takes the customer of its first turn that names one. A turn about another
customer in it is refused (`SessionCustomerConflict`) and changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from assistant.callers import STAFF_ROLES, Caller, Role
from assistant.compose import HITS_SHOWN, render_answer
from assistant.decisions import channel_of
from assistant.disclosure import shown_to_customer
from assistant.escalation import (
    DISPUTE_INTENTS,
    UNSERVED_STATE,
    ConversationRules,
    goes_to_person,
    handoff_kind,
    may_be_dispute,
    offers_person,
    unserved_in_a_row,
    unserved_reason,
    with_disclosure,
    worries_about_a_scam,
)
from assistant.followups import (
    FollowUp,
    by_rate,
    detect_followup,
    monthly_payment,
    pick_shown,
    refers_back,
    yearly_cost,
)
from assistant.hard_times import (
    HARD_TIME_STATE,
    HardTime,
    care_note,
    hard_time_in,
    hard_time_named,
    without_new_credit,
    without_the_loss,
)
from assistant.offers import Offers
from assistant.sessions import Session, SessionStore
from retrieval.errors import FargoError
from retrieval.graph import ADULT_AGE
from tools.eligibility import may_profile
from tools.evidence import field_evidence
from tools.healthcare import specialties_in
from tools.requests import Request, understand, with_needs
from tools.requests.fit import (
    PLAIN_NEED,
    STRONG_NEED,
    UNMET_PREFIX,
    conditions,
    far_from_need,
    violations,
)
from tools.requests.slots import other_relative
from tools.search import FAQ
from tools.types import EvidenceKind, Recommendation

MAX_MESSAGE_CHARS = 2000
LISTED_HITS = 3  # the product-question answer quotes this many hits; its products are numbered for follow-ups
CUSTOMER_INTENTS = {"personal_recommendation", "family_recommendation", "healthcare", "campaign_insight"}
HANDOFF_INTENTS = {"account_servicing", "talk_to_human", *DISPUTE_INTENTS}
SMALL_TALK = {"greeting", "thanks", "goodbye", "out_of_scope"}
RELATION_WORDS = {"spouse": "spouse", "child": "children", "parent": "parents", "sibling": "siblings"}
ANSWER_SIZE = 3  # products shown for a request that names a need, a type or a constraint
# A need this plain in the request outweighs an intent the classifier is unsure of ("we got a kitten").
NEED_OVERRIDE = 0.75
GUIDE_ANSWERS = 0.7  # a guide passage this near in meaning, first in both rankings, holds the very question asked
# a judgement of their finances asked for, which a list of products does not give
JUDGEMENT = re.compile(
    r"\b(?:am i|are we) (?:on track|on course|doing (?:ok|okay|alright|all right|well|enough)|saving enough|ready)\b"
    r"|\b(?:is|will) (?:it|that|this|what i have|what we have|my \w+|our \w+) (?:be )?enough\b"
    r"|\bwill (?:i|we) (?:have enough|be (?:ok|okay|alright|all right|able to retire))\b|\bcan (?:i|we) afford\b"
    r"|\bhow am i doing\b", re.IGNORECASE)
JUDGED_TEMPLATES = ("personal_recommendation", "product_question")  # answers that say they cannot judge it
# answers that say how to reach a person about a scam the message fears
SCAM_NOTED_TEMPLATES = ("personal_recommendation", "family_recommendation", "product_question")
UNSURE = 0.6
JOINT = re.compile(r"\b(?:me and (?:my|the)|(?:my|the) \w+ and (?:I|me)|we|our|us)\b", re.IGNORECASE)
# words of a problem with an account the customer has, which a person or the servicing flow should take
SERVICING = re.compile(
    r"\b(?:lost|stolen|declined|blocked|frozen|freeze|pin|password|log ?in|locked|refund|dispute|charge ?back|pending|"
    r"fraud\w*|unauthori[sz]ed|hacked|wrong|error|fail\w*|not working|didn'?t (?:arrive|go through)|cancel\w*|close my|"
    r"update my|change my|statement|wire|atm|withdraw\w*|exchange rate|top ?up|verify|activate|replace(?:ment)?|"
    r"direct debit|direct deposit|set up|increase|raise my|limit|address|autopay|pay my bill|routing|overdraft fee|"
    r"late fee|missing)\b", re.IGNORECASE)
BROWSING = re.compile(
    r"\b(?:do you (?:have|offer|do)|(?:what|which) (?:\w+ ){0,3}(?:do you|are there|are available|could i get|can i get|"
    r"would you|should i)|show me|tell me about (?:your|ur|the)|options|any good|best)\b", re.IGNORECASE)
ABOUT_TERMS = re.compile(r"\b(?:fees?|apr|rates?|interest|minimum|penalt\w*|how (?:does|do|long|much|many)|when|limit)\b",
                         re.IGNORECASE)
FAMILY_WORDS = re.compile(r"\b(?:family|families|relatives?|loved ones|household|folks)\b", re.IGNORECASE)
PAYING = re.compile(r"\b(?:pay(?:ing|ment)?s?|cost\w*|afford\w*|financ\w*|bills?|premiums?|covers?|coverage|insurance|"
                    r"plans?|upfront|over time|installments?)\b", re.IGNORECASE)


class EngineError(FargoError):
    """A turn cannot be taken; the message says what to change."""


class InputError(EngineError, ValueError):
    status = 422
    kind = "invalid_request"

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message, field=field or ("customer_id" if "customer" in message else "message"))


class PermissionDenied(EngineError):
    status = 403
    kind = "permission_denied"


class SessionCustomerConflict(EngineError):
    """The turn asks about a customer other than the one its session is about."""

    status = 409
    kind = "conflict"


@dataclass
class Plan:
    template: str
    context: dict = field(default_factory=dict)
    recommendations: list[dict] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)
    handoff: bool = False
    held_back: list[dict] = field(default_factory=list)  # products the contact policy kept out, with the rule
    decision_id: str | None = None  # the decision record of the offers shown (assistant.decisions)


def refines_the_last(said: Request) -> bool:
    """Whether a turn's words narrow the last list ("only ones without an annual fee"): a constraint, and no life
    event, which is a new situation to answer ("I'm retiring in 10 years, am I on track?" is no "in 10 years" for
    the student loans shown before)."""
    return bool(said.constraints) and not said.life_events


def _show_only(plan: Plan, kept: list[dict]) -> None:
    """Keep only `kept` of the plan's recommendations, in its answer too."""
    if len(kept) < len(plan.recommendations):
        plan.recommendations = kept
        if "recs" in plan.context:
            plan.context["recs"] = [rec for rec in plan.context["recs"] if rec in kept]


@dataclass
class TurnResult:
    session_id: str
    answer: str
    recommendations: list[dict]
    explanation: dict
    handoff: bool = False
    customer_id: str | None = None  # the session's customer after the turn (whose data it showed)

    @property
    def intent(self) -> str:
        return self.explanation["intent"]


class Engine:
    """Takes turns; holds the long-lived parts (tools' context, classifier, LLM), nothing per request."""

    def __init__(self, ctx, classifier, sessions: SessionStore, embedder, tools, llm=None, slot_reader=None,
                 normaliser=None, rules: ConversationRules | None = None, offers: Offers | None = None):
        self.ctx = ctx
        self.offers = offers or Offers(tools, ctx)  # the contact policy and the decision log, when given
        self.rules = rules or ConversationRules()
        self.normalise = normaliser or (lambda text: text)  # tools.requests.normalise.Normaliser
        self.classifier = classifier
        self.sessions = sessions
        self.embedder = embedder
        self.tools = tools  # assistant.toolbox.Toolbox: the tool functions by name
        self.llm = llm
        from tools.requests.slots import extract_slots

        self.read_slots = slot_reader or extract_slots

    # -- the turn --------------------------------------------------------------------------------------------------
    def turn(self, caller: Caller, message: str, session_id: str | None = None, customer_id: str | None = None,
             phrase: bool = True, channel: str | None = None) -> TurnResult:
        """One turn; `phrase=False` keeps the template answer even when an LLM is configured (a replayed turn);
        `channel` is where the answer is shown (by default, what the caller's credential says)."""
        started = time.perf_counter()
        message = _checked_message(message)
        session = self.session_for(caller, session_id)
        typed, message = message, self.normalise(message)  # read as meant; remembered as typed
        slots = self.read_slots(message)
        subject = self._subject(caller, session, customer_id, slots)
        said = understand(None, message)  # its words only: a follow-up needs no embedding
        hard = hard_time_in(message)  # told in this turn; kept for the rest of the session
        followup = None if may_be_dispute(message) else detect_followup(
            message, session.state, list(slots.relations), refines=refines_the_last(said))
        unsure = False  # out of scope only because no intent was likely enough
        if followup is not None:  # answered from the session
            intent, confidence = f"followup:{followup.kind}", 1.0
            plan = self._follow_up(followup, session, subject, slots, said)
        else:
            embedding = self.embedder.embed_one(message)
            prediction = self.classifier.predict(message, embedding=embedding)
            request = self._about_the_last(with_needs(said, self.ctx, self._need_embedding(message, embedding, hard)),
                                           session.state)
            intent = "out_of_scope" if prediction.out_of_scope else prediction.label
            unsure = prediction.out_of_scope and any(label != "out_of_scope" for label, _ in prediction.scores[:1])
            specialty = next(iter(specialties_in(message)), None)
            browsing = subject is not None and browses(message) and not names_a_product(message, self.ctx.products)
            intent, confidence = routed_intent(intent, prediction.confidence, request, self.ctx.products, specialty,
                                               browsing)
            plan = self._plan(intent, caller, subject, message, slots, embedding, request, specialty)
        if plan.template in JUDGED_TEMPLATES:
            plan.context["judgement"] = asks_for_a_judgement(message)
        if plan.template in SCAM_NOTED_TEMPLATES:
            plan.context["scam_worry"] = worries_about_a_scam(message)
        misses = 0 if plan.handoff else unserved_in_a_row(session.state, intent, plan)
        if goes_to_person(self.rules, session.state, misses, message):
            plan, misses = Plan("handoff", {"kind": "unserved"}, handoff=True), 0
        ongoing = hard or hard_time_named(session.state.get(HARD_TIME_STATE))
        _show_only(plan, without_new_credit(ongoing, message, plan.recommendations))
        if session.opened_by_customer:
            shown_to_customer(plan.recommendations, self.tools, self.ctx, subject)
        plan.decision_id = self.offers.decide(plan, subject, channel or channel_of(caller), session.session_id, typed,
                                              intent)
        seed = f"{session.session_id}:{len(session.turns)}"
        answer = render_answer(plan.template, seed, **plan.context)
        llm_outcome = self._phrase(caller, subject, typed, session, answer, plan) if phrase else None
        if llm_outcome is not None:
            answer = llm_outcome.text
        if offers_person(self.rules, misses):
            answer = f"{answer}\n\n{render_answer('offer_person', seed)}"
        if hard is not None:
            answer = f"{care_note(hard, plan.handoff)}\n\n{answer}"
        if not session.turns:
            answer = with_disclosure(answer, self.rules)
        explanation = self._explanation(intent, confidence, plan, llm_outcome, started)
        self._remember(session, typed, answer, intent, plan, subject, misses, unserved_reason(intent, plan, unsure),
                       ongoing.kind if ongoing else None)
        return TurnResult(session.session_id, answer, plan.recommendations, explanation, plan.handoff,
                          session.customer_id)

    def session_for(self, caller: Caller, session_id: str | None) -> Session:
        """The session to continue, once `check_session_access` allows it; a new one when session_id is None
        (a customer's is about them, anyone else's about no one until a turn names a customer)."""
        if session_id is None:
            return self.sessions.new(caller.owner, caller.customer_id if caller.role is Role.customer else None)
        session = self.sessions.get(session_id)
        check_session_access(caller, session)
        return session

    def _subject(self, caller: Caller, session: Session, customer_id: str | None, slots) -> str | None:
        """Whose data this turn may read."""
        if caller.role is Role.customer:
            asked = customer_id or next(iter(slots.customer_ids), None)
            if asked and asked != caller.customer_id:
                raise PermissionDenied("a customer can only ask about their own accounts")
            return caller.customer_id
        if caller.role in STAFF_ROLES:
            asked = customer_id or next(iter(slots.customer_ids), None)
            if asked and session.customer_id and asked != session.customer_id:
                raise SessionCustomerConflict(
                    f"session {session.session_id} is about another customer and stays so: start a new session "
                    f"(without session_id) to ask about {asked}")
            subject = asked or session.customer_id
            if subject and self.ctx.customer(subject) is None:
                raise InputError(f"no customer with id {subject!r}")
            return subject
        return None  # developers: product questions only, no customer data

    def _about_the_last(self, request: Request, state: Mapping) -> Request:
        """`request` for what the last one was about, when it names a kind of product for it ("ok and insurance for
        it?" after "we're buying our first house"): the last request's needs of that kind, what it ruled out and its
        sums, rather than the closest statements to "insurance for it" (renters insurance, for a buyer)."""
        if not request.categories or request.life_events or not refers_back(request.text):
            return request
        before = _last_request(state)
        named = set(request.categories)
        needs = tuple(hit for hit in before.needs
                      if (self.ctx.products.get(hit.product_id) or {}).get("category") in named)
        if not needs:
            return request
        sums = replace(before.constraints, categories=(), excluded_categories=())
        return replace(request, needs=needs, needs_carried=True, life_events=before.life_events,
                       ruled_out=tuple(sorted(set(request.ruled_out) | set(before.ruled_out))),
                       constraints=sums.merged(request.constraints))

    def _need_embedding(self, message: str, embedding, hard: HardTime | None):
        """The embedding to match the catalogue's needs with: of the message without a death it tells of."""
        asked = without_the_loss(hard, message)
        return embedding if asked == message else self.embedder.embed_one(asked)

    # -- planning ---------------------------------------------------------------------------------------------------
    def _plan(self, intent: str, caller: Caller, subject: str | None, message: str, slots, embedding,
              request: Request | None = None, specialty: str | None = None) -> Plan:
        if intent == "account_servicing" and not SERVICING.search(message) and not may_be_dispute(message):
            # a question about how accounts work ("what happens if I overdraw?") that the guide holds is answered
            # from it; one about their own account, naming a problem with it or in a dispute's words goes to a person
            guide = self._search(message, subject, slots, embedding)
            if guide_holds_the_question(guide.context["hits"]):
                return guide
        if intent in HANDOFF_INTENTS:
            return Plan("handoff", {"kind": handoff_kind(intent, message)}, handoff=True)
        if intent in SMALL_TALK:
            return Plan(intent)
        if intent == "product_question":
            return self._search(message, subject, slots, embedding, _not_asked(request, self.ctx.products))
        if intent == "campaign_insight" and caller.role not in STAFF_ROLES:
            return Plan("refused", {"message": "Campaign insights are for bank staff. I can recommend products for you instead."})
        if subject is None and caller.role == Role.developer:  # no customer data: what the catalogue offers
            return self._search(message, None, slots, embedding, _not_asked(request, self.ctx.products))
        if subject is None:
            who = "Which customer? Give me their customer id (like C0000123)." if caller.role in STAFF_ROLES else (
                "I need to know who you are to recommend products: sign in through your bank's app."
            )
            return Plan("refused", {"message": who})
        if intent == "personal_recommendation":
            plan = self._personal(subject, request or understand(None, message))
            if plan.recommendations or not request or not request.needs or request.needs[0].score < PLAIN_NEED:
                return plan
            # a plain need nothing open to them meets ("how do I stop paying overdraft fees?" at 48, when the
            # account for it is a student's): what the guide says about it answers, and names what keeps it from them
            return _guide_first(self._search(message, subject, slots, embedding, _not_asked(request, self.ctx.products)))
        if intent == "family_recommendation":
            return self._family(subject, list(slots.relations), request)
        if intent == "healthcare":
            return self._recommend("recommend_healthcare", "healthcare", subject, specialty=specialty)
        if intent == "campaign_insight":
            return self._recommend("campaign_insights", "campaign_insight", subject)
        return Plan("out_of_scope")

    def _recommend(self, tool: str, template: str, subject: str, request: Request | None = None, **arguments) -> Plan:
        arguments = {key: value for key, value in arguments.items() if value is not None}
        asks = conditions(request) or (request is not None and bool(request.relatives))
        extra = {"request": request} if asks and self.tools.takes_request(tool) else {}
        recs, held = self.offers.ranked(tool, subject, arguments, **extra)
        shown = [rec.to_dict() for rec in recs]
        call = _call(tool, customer_id=subject, **arguments)
        if extra:
            call["arguments"]["request"] = request.to_dict()
        profiled = may_profile(self.ctx.customer(subject) or {})
        return Plan(template, {"recs": shown, "profiled": profiled, **_asked(request if extra else None, shown)},
                    shown, [call], held_back=held)

    def _personal(self, subject: str, request: Request) -> Plan:
        named = request.categories if len(request.categories) == 1 and not _plainly_another_type(
            request, self.ctx.products) else ()
        k = ANSWER_SIZE if conditions(request) else None
        return self._recommend("recommend_personal", "personal_recommendation", subject, request,
                               category=next(iter(named), None), k=k)

    def _family(self, subject: str, relations: list[str], request: Request | None = None) -> Plan:
        other = other_relative(request.text) if request and not relations and not request.relatives else None
        if other:  # "what should my grandma open?" is not answered with the spouse's and children's products
            return Plan("family_recommendation", {"other_relative": other})
        plan = self._recommend("recommend_family", "family_recommendation", subject, request,
                               relations=relations or None)
        plan.context["relation_words"] = " and ".join(RELATION_WORDS.get(r, r) for r in relations)
        plan.context["no_relatives"] = not plan.recommendations and not self.tools.has_relatives(self.ctx, subject, relations)
        plan.context["unanswered"] = self._unanswered(subject, request, plan.recommendations)
        return plan

    def _unanswered(self, subject: str, request: Request | None, recs: Sequence[Mapping]) -> list[dict]:
        """Relatives the request names who got nothing, while others did ("my mom and my son, he's 12"): whether
        they are on record, and the customer's word for them, so the answer says why and what would help."""
        if not recs or request is None:
            return []
        answered = {rec.get("relation") for rec in recs}
        return [{"word": relative.word or RELATION_WORDS.get(relative.relation, relative.relation),
                 "ask_age": relative.age is None and not self.tools.has_relatives(self.ctx, subject, [relative.relation])}
                for relative in request.relatives if relative.relation not in answered]

    def _search(self, message: str, subject: str | None, slots, embedding, exclude: Sequence[str] = ()) -> Plan:
        category = next(iter(slots.product_categories), None)
        extra = {"exclude": list(exclude)} if exclude else {}
        hits = self.tools.call(
            "search_products", self.ctx, message, customer_id=subject, category=category, query_embedding=embedding,
            **extra,
        )
        shown = [self.tools.hit_dict(hit) for hit in hits]
        call = _call("search_products", query=message, customer_id=subject, category=category, **extra)
        return Plan("product_question", {"hits": shown}, [], [call])

    # -- follow-ups -------------------------------------------------------------------------------------------------
    def _follow_up(self, followup: FollowUp, session: Session, subject: str | None, slots, said: Request) -> Plan:
        state = session.state
        shown = state.get("recommendations", [])
        if followup.kind == "why":
            picked = pick_shown(shown, followup.position) if followup.position else None
            if followup.position and picked is None:  # "why the third one?" after two
                return Plan("details", {"product": None, "rec": None, "shown": len(shown)})
            recs = [picked] if picked else shown
            return Plan("explain", {"recs": recs}, recs)
        if followup.kind == "compare":
            picked = [rec for position in followup.positions if (rec := pick_shown(shown, position))]
            rows = [(rec, self.ctx.products.get(rec["product_id"]) or {}) for rec in picked]
            return Plan("compare", {"rows": rows, "shown": [rec.get("name", "") for rec in shown]}, picked)
        if followup.kind == "cheapest":
            rows = sorted(((rec, self.ctx.products.get(rec["product_id"]) or {}) for rec in shown),
                          key=lambda row: yearly_cost(row[1]))
            return Plan("compare", {"rows": rows, "costs": [yearly_cost(product) for _, product in rows],
                                    "shown": [rec.get("name", "") for rec in shown]},
                        [rec for rec, _ in rows])
        if followup.kind == "rate":
            return self._by_rate(shown, followup.rate or "best")
        if followup.kind == "payment":
            return self._payments(shown, said, state)
        if followup.kind == "nothing_else":
            return Plan("nothing_else")
        if followup.kind in ("else", "refine"):
            return self._again(state, subject, said, exclude_shown=followup.kind == "else")
        if followup.kind == "details":
            rec = pick_shown(shown, followup.position or 1)
            product = self.ctx.products.get(rec["product_id"]) if rec else None
            return Plan("details", {"product": product, "rec": rec, "shown": len(shown)}, [rec] if rec else [])
        if followup.kind == "relative":
            if subject is None:
                return Plan("refused", {"message": "Which customer? Give me their customer id."})
            if said.needs:  # the follow-up states a need of its own: that need, for them
                return self._family(subject, list(slots.relations), said)
            before = _last_request(state)
            return self._family(subject, list(slots.relations), replace(said, needs=before.needs, needs_carried=True))
        return self._cheaper(state, shown, subject)

    def _by_rate(self, shown: list[dict], rate: str) -> Plan:
        """The shown list by its rate (`followups.by_rate`), naming those that lead and the rate after theirs."""
        products = [self.ctx.products.get(rec["product_id"]) or {} for rec in shown]
        field, order = by_rate(products, rate)
        rows = [(shown[i], products[i]) for i in order]
        rates = [(product.get("terms") or {}).get(field) for _, product in rows]
        leaders = [product.get("name") or rec.get("name", "") for (rec, product), value in zip(rows, rates)
                   if value is not None and value == rates[0]]
        following = next((value for value in rates[len(leaders):] if value is not None), None)
        return Plan("compare", {"rows": rows, "rate_field": field, "rate_asked": rate, "rates": rates,
                                "leaders": leaders, "next_rate": following}, [rec for rec, _ in rows])

    def _payments(self, shown: list[dict], said: Request, state: dict) -> Plan:
        """What each shown loan would cost a month on the sum asked (or the one said before), over the term asked
        (capped at the product's longest) or its longest: at its starting APR."""
        before = _last_request(state)
        last = state.get("payment") or {}  # the sum and term of the payment asked just before
        amount = said.constraints.amount or last.get("amount") or before.constraints.amount
        asked_months = said.constraints.term_months or last.get("months") or before.constraints.term_months
        rows = []
        for rec in shown:
            terms = (self.ctx.products.get(rec["product_id"]) or {}).get("terms") or {}
            if terms.get("apr") is None or not terms.get("term_months"):
                continue
            months = min(asked_months, terms["term_months"]) if asked_months else terms["term_months"]
            rows.append({"rec": rec, "apr": terms["apr"], "months": months,
                         "longest": asked_months is not None and asked_months > terms["term_months"],
                         "max_amount": terms.get("max_amount"),
                         "payment": monthly_payment(amount, terms["apr"], months) if amount else None})
        return Plan("payment", {"amount": amount, "asked_months": asked_months, "rows": rows},
                    [row["rec"] for row in rows])

    def _again(self, state: dict, subject: str | None, said: Request, exclude_shown: bool) -> Plan:
        """The last request again: refined by the constraints this turn adds, or without what was shown already."""
        tool, arguments = state.get("tool"), dict(state.get("arguments") or {})
        if subject is None or tool is None:
            return Plan("explain", {"recs": []})
        arguments.pop("customer_id", None)
        before = Request.from_dict(arguments.pop("request", None) or {})
        seen = set(state.get("seen") or []) if exclude_shown else set()
        request = replace(before, constraints=before.constraints.merged(said.constraints),
                          exclude=tuple(sorted(set(before.exclude) | seen)))
        arguments["k"] = ANSWER_SIZE + len(seen)
        if self.tools.takes_request(tool):
            recs, held = self.offers.ranked(tool, subject, arguments, request=request)
        else:  # a tool that does not rank for a request: its results are only checked against the constraints
            arguments["k"] = 25
            recs, held = self.offers.ranked(tool, subject, arguments)
            recs = [rec for rec in recs if not violations(self.ctx.products.get(rec.product_id) or {}, request.constraints)]
        shown = [rec.to_dict() for rec in recs if rec.product_id not in seen][:ANSWER_SIZE]
        call = _call(tool, customer_id=subject, **arguments)
        call["arguments"]["request"] = request.to_dict()
        template = state.get("template", "personal_recommendation")
        context = {"recs": shown, "relation_words": "", "no_relatives": False, **_asked(request, shown)}
        return Plan(template, context, shown, [call], held_back=held)

    def _cheaper(self, state: dict, shown: list[dict], subject: str | None) -> Plan:
        tool, arguments = state["tool"], dict(state.get("arguments") or {})
        if subject is None or tool is None:
            return Plan("explain", {"recs": []})
        ceiling, cheapest = min((yearly_cost(self.ctx.products.get(rec["product_id"], {})), rec["product_id"])
                                for rec in shown)
        arguments.pop("customer_id", None)
        if arguments.get("request") is not None:
            arguments["request"] = Request.from_dict(arguments["request"])
        arguments["k"] = 25
        candidates, held = self.offers.ranked(tool, subject, arguments)
        cheaper = [rec for rec in candidates if yearly_cost(self.ctx.products.get(rec.product_id, {})) < ceiling][:3]
        shown_now = [rec.to_dict() for rec in cheaper]
        template = state.get("template", "personal_recommendation")
        context = {"recs": shown_now, "relation_words": "", "no_relatives": False, "asked": [], "unmet": False,
                   "cheaper_than": (self.ctx.products.get(cheapest) or {}).get("name", "")}
        if arguments.get("request") is not None:  # kept in the session as the plain data it came from
            arguments["request"] = arguments["request"].to_dict()
        return Plan(template, context, shown_now, [_call(tool, customer_id=subject, **arguments)], held_back=held)

    # -- LLM, explanation, memory -----------------------------------------------------------------------------------
    def _phrase(self, caller: Caller, subject, message: str, session: Session, answer: str, plan: Plan):
        if self.llm is None or not (plan.recommendations or plan.context.get("hits")):
            return None
        return self.llm.respond(
            message=message,
            history=[{"role": turn["role"], "content": turn["text"]} for turn in session.turns[-6:]],
            template_answer=answer,
            recommendations=plan.recommendations,
            customer_id=subject,
            caller_role=caller.role,
            allowed_customer_id=subject,
            known_names=self._known_names(subject),
        )

    def _known_names(self, subject: str | None) -> list[str]:
        if subject is None:
            return []
        customer = self.ctx.customer(subject) or {}
        names = [customer.get("first_name", ""), customer.get("last_name", "")]
        names += [view.name for view in self.tools.relatives(self.ctx, subject) if view.name]
        return [name for name in names if name]

    def _explanation(self, intent, confidence, plan: Plan, llm_outcome, started: float) -> dict:
        return {
            "intent": intent,
            "confidence": round(float(confidence), 3),
            "tool_calls": plan.tool_calls,
            "recommendations": [
                {"product_id": r["product_id"], "name": r["name"], "reasons": r["reasons"], "evidence": r["evidence"],
                 "components": r.get("components", {}), "for_person": r.get("for_person")}
                for r in plan.recommendations
            ],
            "hits": [{"product_id": hit.get("product_id"), "name": hit.get("title") or hit.get("name")}
                     for hit in plan.context.get("hits") or () if hit.get("product_id")],
            "answer_source": "llm" if llm_outcome is not None and llm_outcome.used_llm else "template",
            "llm_fallback_reason": getattr(llm_outcome, "fallback_reason", None),
            "decision_id": plan.decision_id,
            "held_back": plan.held_back,
            "handoff": plan.handoff,
            "handoff_kind": plan.context.get("kind") if plan.handoff else None,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    def _remember(self, session: Session, message: str, answer: str, intent: str, plan: Plan, subject,
                  unserved: int = 0, unserved_why: str | None = None, hard_time: str | None = None) -> None:
        if session.customer_id is None:
            session.customer_id = subject
        session.turns.append({"role": "user", "text": message, "at": time.time()})
        session.turns.append(
            {"role": "assistant", "text": answer, "at": time.time(), "intent": intent,
             "recommendations": plan.recommendations, "handoff": plan.handoff, "unserved": unserved_why}
        )
        if plan.tool_calls and plan.recommendations:
            call = plan.tool_calls[0]
            seen = session.state.get("seen", []) if intent.startswith("followup:") else []
            session.state = {
                "intent": intent, "template": plan.template, "tool": call["name"], "arguments": call["arguments"],
                "recommendations": plan.recommendations,
                "seen": list(dict.fromkeys([*seen, *(rec["product_id"] for rec in plan.recommendations)])),
            }
        elif not intent.startswith("followup:"):
            listed = _listed_products(plan, self.ctx.products)  # "tell me more about the second one" after a product question
            session.state = {"intent": intent, "recommendations": listed, "tool": None,
                             "seen": [rec["product_id"] for rec in listed]}
        if plan.template == "payment":
            session.state["payment"] = {"amount": plan.context.get("amount"), "months": plan.context.get("asked_months")}
        if intent in RENUMBERING and plan.recommendations:  # "why the first?" after it means the first it listed
            session.state["recommendations"] = plan.recommendations
        session.state["handoff"] = plan.handoff or session.state.get("handoff", False)
        session.state[UNSERVED_STATE] = unserved
        if hard_time:
            session.state[HARD_TIME_STATE] = hard_time
        self.sessions.save(session)


RENUMBERING = frozenset({"followup:cheapest", "followup:rate", "followup:payment"})  # answers that list anew


def _listed_products(plan: Plan, products: Mapping[str, Mapping]) -> list[dict]:
    """The products a product-question answer listed, in order, as follow-ups read a list: each with the passage
    shown for it, pointing at the catalogue's description."""
    hits = (plan.context.get("hits") or [])[:LISTED_HITS] if plan.template == "product_question" else []
    return [Recommendation(hit["record_id"], hit["title"], hit.get("category", ""), hit["score"], [hit["passage"]],
                           [field_evidence(EvidenceKind.product_terms, "products", products[hit["record_id"]],
                                           "description", f"what {hit['title']} is")]).to_dict()
            for hit in hits if hit.get("collection") == "products" and hit["record_id"] in products]


def _not_asked(request: Request | None, products: Mapping[str, Mapping]) -> list[str]:
    """Products a product question leaves out: those it rules out, and, when it plainly asks for one need, those
    far from it ("can I refinance my truck loan" is not about student loans)."""
    if request is None:
        return []
    return sorted({*request.ruled_out, *far_from_need(request, products)})


def _asked(request: Request | None, shown: list[dict]) -> dict:
    """What a recommendation answer says of the request: the constraints it kept to (none when the tool did not rank
    for a request) and whether nothing met them (the shown products lead with the shortfall)."""
    return {"asked": request.constraints.words() if request is not None else [],
            "unmet": any(rec["reasons"][0].startswith(UNMET_PREFIX) for rec in shown)}


def routed_intent(intent: str, confidence: float, request: Request, products, specialty: str | None = None,
                  browsing: bool = False) -> tuple[str, float]:
    """The intent to act on: what the request plainly states outweighs a classification that does not fit it.

    Care named by kind ("a dentist near me") is healthcare, unless the request is about paying for it; a request
    with a product type and a constraint ("only cards with no yearly fee"), or a customer browsing a type ("what
    mortgages do you have?", `browsing`), asks for products, not about one; a plain need for a product outside healthcare
    ("we're redoing the bathroom, how do I pay for it?") is not a health question; a need with no relative named is
    not about the family. Talking to a person is never overridden; a dispute, fraud or a complaint only when the
    message uses none of their words and plainly asks for a product ("the kids talked us into a kitten, how much to
    insure her?").
    """
    recommending = "family_recommendation" if any(r.age is not None for r in request.relatives) else "personal_recommendation"
    if intent in DISPUTE_INTENTS and not may_be_dispute(request.text) and request.needs and (
            request.needs[0].score >= PLAIN_NEED):
        return recommending, request.needs[0].score  # asks plainly for a product, in no dispute's or fraud's words
    if intent in {"talk_to_human", "campaign_insight", *DISPUTE_INTENTS}:
        return intent, confidence
    paying = bool(PAYING.search(request.text))
    if specialty and not paying and intent in SMALL_TALK | {"personal_recommendation", "product_question",
                                                            "account_servicing"}:
        return "healthcare", confidence
    if intent in ("product_question", "account_servicing") and request.categories and (
            request.constraints or browsing) and not SERVICING.search(request.text):
        return recommending, confidence
    if intent == "healthcare" and not specialty and for_another_adult(request):
        return "family_recommendation", confidence  # the healthcare tool reads the customer's own health and age
    top = request.needs[0] if request.needs else None
    if top is None or top.score < NEED_OVERRIDE:
        return intent, confidence
    category = (products.get(top.product_id) or {}).get("category")
    if intent in SMALL_TALK and confidence < UNSURE:
        return recommending, top.score
    if intent == "account_servicing" and not SERVICING.search(request.text):
        return recommending, top.score  # asks for a product, names no problem with an account
    if intent == "healthcare" and (paying or (not specialty and (category != "healthcare" or top.score >= PLAIN_NEED))):
        # a plain need for a product (a payment plan for a bill, a plan for a parent) is answered by the products
        # that meet it; the healthcare tool's own ranking reads health data for the general question
        return recommending, top.score
    if intent == "family_recommendation" and not FAMILY_WORDS.search(request.text) and (
            not request.relatives or (JOINT.search(request.text) and all(r.relation == "spouse" for r in request.relatives))):
        return "personal_recommendation", confidence  # no relative, or the couple's own need ("my fiance and I")
    return intent, confidence


def _last_request(state: Mapping) -> Request:
    """The request the session's last ranked answer was for (an empty one when there was none)."""
    return Request.from_dict((state.get("arguments") or {}).get("request") or {})


def _guide_first(plan: Plan) -> Plan:
    """The guide's answers before the products closed to the customer: a need answered from the guide leads with
    what they can do (link savings for overdraft protection), then names the account they cannot open and why."""
    hits = plan.context["hits"]
    plan.context["hits"] = sorted(hits[:HITS_SHOWN], key=lambda hit: hit.get("eligible") is False) + hits[HITS_SHOWN:]
    return plan


def guide_holds_the_question(hits: Sequence[Mapping]) -> bool:
    """Whether the first hit is a guide answer to the question itself: both rankings put it first and its meaning is
    near (`GUIDE_ANSWERS`), as for "What happens if I overdraw my account?", not merely words in common."""
    top = hits[0] if hits else None
    parts = top.get("components", {}) if top else {}
    return (top is not None and top.get("collection") == FAQ and parts.get("lexical_rank") == 1
            and parts.get("vector_rank") == 1 and parts.get("vector_score", 0.0) >= GUIDE_ANSWERS)


def for_another_adult(request: Request) -> bool:
    """Whether the request is about an adult of a stated age other than the customer and their partner: a parent,
    a sibling, a grown-up child ("my dad is 72, what health cover should he look at?"). Without an age, paying
    for a parent's care is often the customer's own question."""
    return any(relative.relation != "spouse" and relative.age is not None and relative.age >= ADULT_AGE
               for relative in request.relatives)


def browses(message: str) -> bool:
    """Whether `message` asks what there is of a kind ("what mortgages do you have?"), not about its terms."""
    return bool(BROWSING.search(message)) and not ABOUT_TERMS.search(message)


def asks_for_a_judgement(message: str) -> bool:
    """Whether `message` asks Fargo to judge their situation ("am I on track to retire?", "can we afford it?"),
    which its product answers cannot do."""
    return bool(JUDGEMENT.search(message))


def names_a_product(message: str, products) -> bool:
    """Whether `message` names one of the catalogue's products ("the Voyager Travel Rewards Card")."""
    text = message.lower()
    return any(product["name"].lower() in text for product in products.values())


def check_session_access(caller: Caller, session: Session) -> None:
    """Who may read or continue a session: staff any (audited by the routes), a customer only the sessions they
    opened, which are about them, a developer key only its own sessions, which hold no customer."""
    if caller.role in STAFF_ROLES:
        return
    if session.owner != caller.owner:
        raise PermissionDenied("this session belongs to someone else")
    if session.customer_id != caller.customer_id:
        raise PermissionDenied("this session is about a customer you may not see: start a new session")


def _checked_message(message: str) -> str:
    text = (message or "").strip()
    if not text:
        raise InputError("message is empty: write a question")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(f"message is {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}")
    return text


def _plainly_another_type(request: Request, products: Mapping[str, Mapping]) -> bool:
    """The request plainly asks for a product outside the type its words name: the vet's "surgery" names a health
    product, but pet insurance is what is asked for; card debt names cards, but a consolidation loan answers too."""
    return any(hit.score >= STRONG_NEED and (products.get(hit.product_id) or {}).get("category") not in request.categories
               for hit in request.needs)


def _call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": {key: value for key, value in arguments.items() if value is not None}}
