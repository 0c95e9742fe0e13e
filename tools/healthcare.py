"""Healthcare services: health plans, HSAs, medical financing and partner providers for one customer.

Candidates are the `healthcare_services` records; a plan, HSA or financing
service names the catalogue product behind it (`product_id`), whose
eligibility rules apply (age, income, identity, already held). Each service
collects signals, each with a weight, a reason and the evidence behind it:

- age: a plan made for 65 and over, a geriatrics practice;
- household: a family plan for customers with dependants, an individual plan
  for those without, a pediatrics practice for a child under 18 in the graph;
- spending: the last 12 months' medical and pharmacy spend sets the HSA's
  yearly tax saving (at ASSUMED_MARGINAL_TAX_RATE, stated in the reason) and
  makes financing worth a look above FINANCING_SPEND; rising spend adds weight;
- disclosures: what the customer told us, mapped by topic to the specialties
  and services that meet it (HEALTH_TOPIC_NEEDS, GOAL_TOPIC_NEEDS).

A service's score is the sum of its signals' weights, plus the HSA's value
(tanh of the saving over VALUE_SCALE). Providers score their strongest match
instead, and location decides their order: a provider in the customer's city
gets CITY_BONUS, one elsewhere counts OTHER_CITY_WEIGHT of its match and
needs a specialty match at all, so every same-city provider ranks above every
provider in another city. A service is only recommended with a reason.

Care asked for by name: `specialties_in` reads the specialties a customer
names in plain words ("a dentist near me", "physio after knee surgery"), and
`recommend_healthcare(specialty=...)` then answers with the partner providers
of that specialty only, those in the customer's city first, each with its
city and specialty as evidence. It reads the city alone: no disclosure, so no
health data, and nothing is scored but the place.

Health data: a health disclosure is used only when it carries
`explicit_consent` AND the customer's `consent.health_data` is true;
otherwise it is ignored entirely, never matched and never quoted. Medical and
pharmacy spend are the customer's own transactions at the bank, read under
their profiling consent. A customer who has opted out of profiling gets no
recommendations. Dependants and city are read besides the allow-listed
scoring fields: they are what a household plan and a nearby doctor depend on,
and neither is a protected attribute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retrieval.formats import money
from retrieval.graph import RelativeView, relatives_of
from tools.eligibility import check, credit_score_inputs, may_profile
from tools.evidence import GRAPH, field_evidence, unique_evidence
from tools.spec import tool
from tools.types import Evidence, EvidenceKind, Recommendation

if TYPE_CHECKING:
    from tools.context import ToolContext

ASSUMED_MARGINAL_TAX_RATE = 0.22  # the US federal bracket of a median household; HSA savings are estimated at it
HEALTH_SPEND = ("medical", "pharmacy")
VALUE_SCALE = 300.0  # dollars a year at which the value component reaches tanh(1) = 0.76
FINANCING_SPEND = 2000.0  # a year's medical and pharmacy spend from which spreading the cost is worth a look
RISING_SPEND = 20.0  # dollars a month of growth in medical or pharmacy spend that counts as rising
SENIOR_AGE = 65
ADULT_AGE = 18
CITY_BONUS = 0.5  # above any provider's match times OTHER_CITY_WEIGHT, so same-city providers come first
OTHER_CITY_WEIGHT = 0.4
NEARBY_PRIMARY_CARE = 0.2  # a family doctor in the customer's city, with no other reason
MAX_PER_KIND = 2  # so plans, the HSA, financing and providers all get a place in the answer
EXTRA_FIELDS = ("dependants", "city")  # read besides credit_score_inputs (see the module docstring)
SPECIFIC_FINANCING_WORDS = ("maternity", "newborn")  # financing for one purpose, not any medical bill

TERMS = "terms"  # a signal that only states a service's terms: no weight, no component
WEIGHTS = {
    "health_disclosure": 1.0,  # what the customer told us about their health
    "goal_disclosure": 0.8,  # a life goal touching health
    "secondary_specialty": 0.7,  # factor for a specialty that helps but is not the first answer
    "senior_plan": 1.0,
    "family_plan": 1.0,
    "individual_plan": 0.6,
    "pediatrics": 0.7,
    "geriatrics": 0.7,
    "financing_spend": 0.4,
    "rising_spend": 0.2,
}


@dataclass(frozen=True)
class Need:
    """What a disclosure topic asks for: provider specialties (best first) and the services that meet it."""

    specialties: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # any of them in a service's name or description (lower case)
    kinds: tuple[str, ...] = ()  # every service of these kinds
    financing: bool = False  # a cost worth spreading with general medical financing


HEALTH_TOPIC_NEEDS = {
    "pregnancy": Need(("obstetrics",), ("maternity",)),
    "chronic_condition": Need(("family_medicine",), ("telehealth",), ("hsa",)),
    "planned_surgery": Need(("orthopedics", "physical_therapy"), financing=True),
    "dental_treatment": Need(("dentistry",), ("dental",), financing=True),
    "physical_therapy": Need(("physical_therapy", "orthopedics")),
    "vision": Need(("ophthalmology",), ("vision",), financing=True),
}
GOAL_TOPIC_NEEDS = {
    "new_baby": Need(("obstetrics", "pediatrics"), ("maternity",)),
    "health_coverage": Need(kinds=("health_plan", "hsa")),
    "elder_care": Need(("geriatrics",), financing=True),
}


@dataclass(frozen=True)
class Signal:
    component: str
    weight: float
    reason: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Disclosed:
    """A disclosure the tool may use, with what its topic asks for."""

    record: Mapping
    need: Need
    weight: float
    consent: Evidence | None = None  # the customer's health-data consent, for a health disclosure


@dataclass(frozen=True)
class HealthProfile:
    """Everything about one customer the healthcare scores are computed from, read once per request."""

    features: Mapping  # allow-listed features plus EXTRA_FIELDS, with `_id`
    disclosed: tuple[Disclosed, ...] = ()
    minor_children: tuple[RelativeView, ...] = ()
    hsa_rate: float = ASSUMED_MARGINAL_TAX_RATE


@dataclass
class Scored:
    service: Mapping
    signals: list[Signal] = field(default_factory=list)
    value: float = 0.0


@tool
def recommend_healthcare(
    ctx: ToolContext, customer_id: str, k: int = 5, specialty: str | None = None
) -> list[Recommendation]:
    """Recommend health plans, HSAs, medical financing and partner providers near the customer, best first.

    Uses their age, dependants, children under 18, the last 12 months' medical and pharmacy spending and its
    trend, what they told us (health disclosures only with their explicit consent to use health data) and their
    city (providers there come first, matched to what they need: pediatrics for young children, the specialty a
    disclosed condition calls for). Reasons quote the figures; an HSA's estimated yearly tax saving assumes a 22%
    marginal tax rate. At most two services of one kind; empty when there is no current profile, the customer
    opted out of profiling, or nothing fits. With a specialty: only partner providers of it, those in the
    customer's city first, then those elsewhere; empty when the bank has no partner of that specialty.

    Args:
        customer_id: The customer the recommendations are for: always the current customer.
        specialty: The kind of care the customer asked for by name, when they ask for a doctor or practice:
            one of family_medicine, obstetrics, pediatrics, cardiology, orthopedics, dentistry, geriatrics,
            dermatology, ophthalmology, mental_health, physical_therapy. Leave empty for plans, HSAs, financing
            and providers matched to their profile.
    """
    features = ctx.features(customer_id)
    customer = ctx.customer(customer_id) or {}
    if k < 1 or features is None or not may_profile(customer):
        return []
    asked = known_specialty(specialty)
    if asked:
        return providers_of(ctx.healthcare_services, ctx.products, asked, health_view(features), k)
    profile = HealthProfile(
        features=health_view(features),
        disclosed=tuple(usable_disclosures(customer, ctx.store["disclosures"].find({"customer_id": customer_id}))),
        minor_children=tuple(_minor_children(ctx, customer_id)),
    )
    return rank_services(ctx.healthcare_services, ctx.products, profile, k)


def health_view(features: Mapping) -> dict:
    return credit_score_inputs(features) | {name: features[name] for name in EXTRA_FIELDS if name in features}


def usable_disclosures(customer: Mapping, disclosures: Iterable[Mapping]) -> list[Disclosed]:
    """The disclosures whose topic touches health; a health one only with both consents, else never seen."""
    health_consent = (customer.get("consent") or {}).get("health_data") is True
    usable = []
    for disclosure in sorted(disclosures, key=lambda disclosure: disclosure["_id"]):
        topic = disclosure.get("topic")
        if disclosure.get("kind") == "health":
            if health_consent and disclosure.get("explicit_consent") is True and topic in HEALTH_TOPIC_NEEDS:
                consent = field_evidence(EvidenceKind.profile_field, "customers", customer, "consent.health_data",
                                         "your consent to use health data")
                usable.append(Disclosed(disclosure, HEALTH_TOPIC_NEEDS[topic], WEIGHTS["health_disclosure"], consent))
        elif topic in GOAL_TOPIC_NEEDS:
            usable.append(Disclosed(disclosure, GOAL_TOPIC_NEEDS[topic], WEIGHTS["goal_disclosure"]))
    return usable


def _minor_children(ctx: ToolContext, customer_id: str) -> list[RelativeView]:
    children = relatives_of(ctx.graph, customer_id, ["child"], as_of=ctx.as_of)
    return [child for child in children if child.age is not None and child.age < ADULT_AGE]


# --- ranking (pure) -----------------------------------------------------------------------------------


def rank_services(
    services: Iterable[Mapping], catalogue: Mapping[str, Mapping], profile: HealthProfile, k: int
) -> list[Recommendation]:
    """The k best services the customer is eligible for, at most MAX_PER_KIND of a kind."""
    recommendations = []
    for service in sorted(services, key=lambda service: service["_id"]):
        if not _eligible(service, catalogue, profile.features):
            continue
        scored = score_service(service, profile)
        if scored.signals:
            recommendations.append(_recommendation(scored))
    recommendations.sort(key=lambda recommendation: (-recommendation.score, recommendation.product_id))
    chosen, taken = [], {}
    for recommendation in recommendations:
        if taken.get(recommendation.category, 0) < MAX_PER_KIND:
            chosen.append(recommendation)
            taken[recommendation.category] = taken.get(recommendation.category, 0) + 1
    return chosen[:k]


def _eligible(service: Mapping, catalogue: Mapping[str, Mapping], features: Mapping) -> bool:
    """The catalogue product's rules when the service has one (it may be held already), else the service's own."""
    product_id = service.get("product_id")
    if product_id and product_id not in catalogue:
        return False
    return not check(catalogue[product_id] if product_id else service, features)


def score_service(service: Mapping, profile: HealthProfile) -> Scored:
    scored = Scored(service)
    if service["kind"] == "provider":
        scored.signals = _provider_signals(service, profile)
        return scored
    scored.signals = [*_age_signals(service, profile), *_household_signals(service, profile),
                      *_disclosure_signals(service, profile)]
    if service["kind"] == "hsa":
        value_signal = _hsa_signal(service, profile)
        if value_signal is not None:
            scored.value = value_signal[0]
            scored.signals.insert(0, value_signal[1])
    if _general_financing(service):
        scored.signals += _financing_spend_signals(profile)
    if scored.signals and (service["kind"] == "hsa" or _general_financing(service)):
        scored.signals += _rising_spend_signals(profile)
    if scored.signals and _general_financing(service):
        scored.signals.append(Signal(TERMS, 0.0, _financing_terms(service), _financing_evidence(service)))
    return scored


def _recommendation(scored: Scored) -> Recommendation:
    service = scored.service
    components: dict[str, float] = {}
    if service["kind"] == "provider":
        match = max((signal.weight for signal in scored.signals if signal.component != "location"), default=0.0)
        components["need"] = match
        components["location"] = sum(signal.weight for signal in scored.signals if signal.component == "location")
    else:
        for signal in scored.signals:
            if signal.component == TERMS:
                continue
            components[signal.component] = components.get(signal.component, 0.0) + signal.weight
    signals = sorted(scored.signals, key=lambda signal: (signal.component == "location", -signal.weight))
    return Recommendation(
        product_id=service.get("product_id") or service["_id"],
        name=service["name"],
        category=service["kind"],
        score=round(sum(components.values()), 4),
        reasons=list(dict.fromkeys(signal.reason for signal in signals)),
        evidence=unique_evidence(item for signal in signals for item in signal.evidence),
        components={name: round(weight, 4) for name, weight in components.items()},
        estimated_annual_value=scored.value or None,
    )


# --- signals ------------------------------------------------------------------------------------------


def _text(service: Mapping) -> str:
    return f"{service.get('name', '')} {service.get('description', '')}".lower()


def _feature(profile: HealthProfile, path: str, label: str) -> Evidence:
    kind = EvidenceKind.transaction_aggregate if path.startswith("spend") else EvidenceKind.profile_field
    return field_evidence(kind, "features", profile.features, path, label)


def _service_evidence(service: Mapping, path: str, label: str) -> Evidence:
    kind = EvidenceKind.product_terms if path.startswith(("terms", "eligibility")) else EvidenceKind.document_passage
    return field_evidence(kind, "healthcare_services", service, path, f"{service['name']}: {label}")


def _words(name: str) -> str:
    return name.replace("_", " ")


def _age_signals(service: Mapping, profile: HealthProfile) -> list[Signal]:
    age = profile.features.get("age")
    min_age = (service.get("eligibility") or {}).get("min_age", 0)
    if service["kind"] != "health_plan" or age is None or age < SENIOR_AGE or min_age < SENIOR_AGE:
        return []
    reason = f"At {age} you qualify for {service['name']}, made for customers {min_age} and over."
    evidence = (_feature(profile, "age", "your age"), _service_evidence(service, "eligibility.min_age", "minimum age"))
    return [Signal("age", WEIGHTS["senior_plan"], reason, evidence)]


def _household_signals(service: Mapping, profile: HealthProfile) -> list[Signal]:
    dependants = profile.features.get("dependants")
    text = _text(service)
    if service["kind"] != "health_plan" or dependants is None:
        return []
    evidence = (_feature(profile, "dependants", "your dependants"), *_premium_evidence(service))
    if dependants > 0 and "family" in text:
        plural = "dependant" if dependants == 1 else "dependants"
        reason = f"You have {dependants} {plural}; {service['name']} covers the whole family{_premium(service)}."
        return [Signal("household", WEIGHTS["family_plan"], reason, evidence)]
    if dependants == 0 and "individual" in text:
        reason = f"With no dependants on file, an individual plan fits: {service['name']}{_premium(service)}."
        return [Signal("household", WEIGHTS["individual_plan"], reason, evidence)]
    return []


def _premium(service: Mapping) -> str:
    premium = (service.get("terms") or {}).get("premium_monthly")
    return f" for {money(premium)} a month" if premium else ""


def _premium_evidence(service: Mapping) -> tuple[Evidence, ...]:
    if not (service.get("terms") or {}).get("premium_monthly"):
        return ()
    return (_service_evidence(service, "terms.premium_monthly", "monthly premium"),)


def _disclosure_signals(service: Mapping, profile: HealthProfile) -> list[Signal]:
    signals = []
    for disclosed in profile.disclosed:
        need = disclosed.need
        if service["kind"] in need.kinds or any(word in _text(service) for word in need.words):
            reason = f'You told us: "{disclosed.record["text"]}" {service["name"]}: {service["description"]}'
            evidence = (*_disclosure_evidence(disclosed), _service_evidence(service, "description", "description"))
            signals.append(Signal("disclosure", disclosed.weight, reason, evidence))
        elif need.financing and _general_financing(service):
            reason = f'You told us: "{disclosed.record["text"]}"'
            signals.append(Signal("disclosure", disclosed.weight, reason, _disclosure_evidence(disclosed)))
    return signals


def _disclosure_evidence(disclosed: Disclosed) -> tuple[Evidence, ...]:
    record = disclosed.record
    label = f"what you told us ({_words(record['topic'])})"
    text = field_evidence(EvidenceKind.disclosure, "disclosures", record, "text", label)
    return (text, disclosed.consent) if disclosed.consent else (text,)


def _general_financing(service: Mapping) -> bool:
    specific = any(word in _text(service) for word in SPECIFIC_FINANCING_WORDS)
    return service["kind"] == "medical_financing" and not specific


def _financing_terms(service: Mapping) -> str:
    terms = service.get("terms") or {}
    parts = []
    if terms.get("term_months"):
        parts.append(f"over {terms['term_months']} months")
    if terms.get("apr") is not None:
        parts.append(f"at {terms['apr'] * 100:.2f}% APR")
    limit = f", up to {money(terms['max_amount'])}" if terms.get("max_amount") else ""
    return f"{service['name']} spreads the cost{''.join(' ' + part for part in parts)}{limit}."


def _financing_evidence(service: Mapping) -> tuple[Evidence, ...]:
    terms = service.get("terms") or {}
    labels = {"term_months": "months to repay", "apr": "APR", "max_amount": "largest amount"}
    return tuple(_service_evidence(service, f"terms.{name}", label) for name, label in labels.items()
                 if terms.get(name) is not None)


def _health_spend(profile: HealthProfile) -> dict[str, float]:
    spend = profile.features.get("spend_12m") or {}
    return {category: spend[category] for category in HEALTH_SPEND if (spend.get(category) or 0) > 0}


def _spend_phrase(spend: Mapping[str, float]) -> str:
    phrases = {"medical": "on medical care", "pharmacy": "at the pharmacy"}
    return " and ".join(f"{money(amount)} {phrases[category]}" for category, amount in spend.items())


def _spend_evidence(profile: HealthProfile, spend: Mapping[str, float]) -> tuple[Evidence, ...]:
    return tuple(_feature(profile, f"spend_12m.{category}", f"{category} spend, last 12 months") for category in spend)


def hsa_tax_saving(spent: float, limit: float | None, rate: float) -> float:
    """Tax saved in a year by paying `spent` of medical costs from an HSA, up to its contribution `limit`."""
    return float(round(min(spent, limit if limit else math.inf) * rate))


def _hsa_signal(service: Mapping, profile: HealthProfile) -> tuple[float, Signal] | None:
    spend = _health_spend(profile)
    limit = (service.get("terms") or {}).get("max_amount")
    value = hsa_tax_saving(sum(spend.values()), limit, profile.hsa_rate)
    if value <= 0:
        return None
    capped = limit is not None and sum(spend.values()) > limit
    reason = (f"You spent {_spend_phrase(spend)} in the last 12 months; {service['name']} lets you pay "
              f"{'up to ' + money(limit) + ' of ' if capped else ''}such costs pre-tax, saving about {money(value)} "
              f"a year at an assumed {profile.hsa_rate * 100:.0f}% marginal tax rate "
              "(an HSA goes with an HSA-eligible high-deductible health plan).")
    evidence = _spend_evidence(profile, spend)
    if capped:
        evidence += (_service_evidence(service, "terms.max_amount", "yearly contribution limit"),)
    return value, Signal("value", math.tanh(value / VALUE_SCALE), reason, evidence)


def _financing_spend_signals(profile: HealthProfile) -> list[Signal]:
    spend = _health_spend(profile)
    if sum(spend.values()) < FINANCING_SPEND:
        return []
    reason = f"You spent {_spend_phrase(spend)} in the last 12 months."
    return [Signal("spending", WEIGHTS["financing_spend"], reason, _spend_evidence(profile, spend))]


def _rising_spend_signals(profile: HealthProfile) -> list[Signal]:
    trends = profile.features.get("spend_trend") or {}
    rising = [(trends[category], category) for category in HEALTH_SPEND if (trends.get(category) or 0) >= RISING_SPEND]
    if not rising:
        return []
    slope, category = max(rising)
    reason = f"Your {category} spending has been rising by about {money(slope)} a month."
    evidence = (_feature(profile, f"spend_trend.{category}", f"{category} spend trend, dollars a month"),)
    return [Signal("rising", WEIGHTS["rising_spend"], reason, evidence)]


# providers ---------------------------------------------------------------------------------------------


def _provider_signals(service: Mapping, profile: HealthProfile) -> list[Signal]:
    """What the provider's specialty answers, then where it is; elsewhere only for a specialty match."""
    specialty = service.get("specialty") or ""
    signals = [*_specialty_signals(service, specialty, profile)]
    same_city = bool(service.get("city")) and service.get("city") == profile.features.get("city")
    if not signals and same_city and specialty == "family_medicine":
        reason = f"{service['name']} is a partner family medicine practice near you."
        signals.append(Signal("primary_care", NEARBY_PRIMARY_CARE, reason, ()))
    if not signals:
        return []
    return _located(signals, service, profile, same_city)


def _specialty_signals(service: Mapping, specialty: str, profile: HealthProfile) -> list[Signal]:
    name, practice = service["name"], f"a partner {_words(specialty)} practice"
    signals = []
    for disclosed in profile.disclosed:
        if specialty in disclosed.need.specialties:
            factor = 1.0 if disclosed.need.specialties[0] == specialty else WEIGHTS["secondary_specialty"]
            reason = f'You told us: "{disclosed.record["text"]}" {name} is {practice}.'
            signals.append(Signal("disclosure", disclosed.weight * factor, reason, _disclosure_evidence(disclosed)))
    if specialty == "pediatrics" and profile.minor_children:
        child = profile.minor_children[0]
        edge = Evidence(EvidenceKind.graph_edge, GRAPH, child.relationship_id, "relation", child.relation, "your child")
        reason = f"Your child aged {child.age_band} could see {name}, {practice}."
        signals.append(Signal("household", WEIGHTS["pediatrics"], reason, (edge,)))
    age = profile.features.get("age")
    if specialty == "geriatrics" and age is not None and age >= SENIOR_AGE:
        reason = f"At {age}, {name}, {practice}, focuses on care for older adults."
        signals.append(Signal("age", WEIGHTS["geriatrics"], reason, (_feature(profile, "age", "your age"),)))
    return signals


def _located(signals: list[Signal], service: Mapping, profile: HealthProfile, same_city: bool) -> list[Signal]:
    """The provider's strongest match decides its need; its city decides whether it comes first."""
    city = profile.features.get("city")
    evidence = (_feature(profile, "city", "your city"), _service_evidence(service, "city", "city"))
    if same_city:
        location = Signal("location", CITY_BONUS, f"It is in {city}, where you live.", evidence)
        return [*signals, location]
    scaled = [Signal(s.component, s.weight * OTHER_CITY_WEIGHT, s.reason, s.evidence) for s in signals]
    return [*scaled, Signal("location", 0.0, f"It is in {service['city']}, not in your city ({city}).", evidence)]


# care asked for by name ----------------------------------------------------------------------------------


def providers_of(
    services: Iterable[Mapping], catalogue: Mapping[str, Mapping], specialty: str, features: Mapping, k: int
) -> list[Recommendation]:
    """Up to k partner providers of `specialty` the customer may use: those in their city first, then the others."""
    city = features.get("city")
    providers = [service for service in sorted(services, key=lambda service: service["_id"])
                 if service["kind"] == "provider" and service.get("specialty") == specialty
                 and _eligible(service, catalogue, features)]
    local = [service for service in providers if city and service.get("city") == city]
    elsewhere = [service for service in providers if service not in local]
    return [_asked_for(service, features, local=service in local, any_local=bool(local))
            for service in [*local, *elsewhere]][:k]


def _asked_for(service: Mapping, features: Mapping, *, local: bool, any_local: bool) -> Recommendation:
    """A provider of the specialty asked for, placed as `_located` places one: need 1, and the city bonus or not."""
    city = features.get("city")
    if local:
        where = f"in {city}, your city"
    elif not city:
        where = f"in {service['city']}; we have no city on file for you"
    elif any_local:
        where = f"in {service['city']}, not in your city ({city})"
    else:
        where = f"in {service['city']}; no partner of this kind in your city yet"
    evidence = [_service_evidence(service, "specialty", "specialty"), _service_evidence(service, "city", "city")]
    if city:
        evidence.append(field_evidence(EvidenceKind.profile_field, "features", features, "city", "your city"))
    components = {"need": 1.0 if local else OTHER_CITY_WEIGHT, "location": CITY_BONUS if local else 0.0}
    return Recommendation(
        product_id=service["_id"],
        name=service["name"],
        category=service["kind"],
        score=round(sum(components.values()), 4),
        reasons=[f"{service['name']} is a partner {_words(service['specialty'])} practice {where}."],
        evidence=evidence,
        components=components,
    )


def known_specialty(asked: str | None) -> str | None:
    """The specialty `asked` names, as a provider record spells it ("Physical therapy", "dentist"), else None."""
    if not asked or not asked.strip():
        return None
    spelled = re.sub(r"[\s-]+", "_", asked.strip().lower())
    if spelled in SPECIALTIES:
        return spelled
    named = specialties_in(asked)
    return named[0] if named else None


# Each specialty's words, in three strengths: the practitioner or practice named ("a dentist"), a complaint
# or situation that calls for it ("toothache"), and a general visit ("a checkup") that counts only when
# nothing else is named. A named one comes before a hinted one, so "my elderly mum needs a cardiologist" is
# cardiology first; within a strength the first mentioned comes first. A message about cover or cost ("does
# the plan cover glasses?") asks for a plan, not a provider: there only care named outright counts.
_COVER = (r"(?!(?:\s*(?:and|&)\s*(?:vision|eye|dental))?"
          r"\s+(?:insurance|plans?|cover(?:age)?|polic(?:y|ies)|benefits?|plus))")
_FINANCE_TOPIC = (r"(?!\s+(?:about|for|with|at|in)\s+(?:my\s+|our\s+|the\s+|a\s+|an\s+|your\s+)?(?:loans?|mortgages?|"
                  r"accounts?|cards?|bills?|payments?|claims?|plans?|insurance|polic(?:y|ies)|cover(?:age)?|finances|"
                  r"money|budget|debts?|savings|investments?|hsa|options|bank|branch))")
_NOT_BODY_THERAPY = r"(?<!physical )(?<!physio )(?<!occupational )(?<!speech )(?<!massage )(?<!retail )"
_NOT_MONEY_COUNSEL = r"(?<!financial )(?<!credit )(?<!debt )(?<!career )(?<!legal )(?<!budget )(?<!mortgage )"
_CHILD = r"(?:sons?|daughters?|kids?|child|children|bab(?:y|ies)|toddlers?|little one|boy|girl)"
_OLDER_RELATIVE = r"(?:parents?|mother|father|mum|mom|dad|grandparents?|grandmother|grandfather|grandma|grandpa)"

NAMED_CARE = {
    "dentistry": (r"dentists?", r"dentistry", r"dental" + _COVER, r"orthodontists?", r"dental hygienists?"),
    "cardiology": (r"cardiologists?", r"cardiology", r"cardiac (?:doctors?|specialists?|clinic)",
                   r"heart (?:doctors?|docs?|specialists?|surgeons?|clinic)"),
    "pediatrics": (r"p(?:a|ae|e)diatricians?", r"p(?:a|ae|e)diatrics?",
                   _CHILD + r"(?:'s|s'|'|s)? (?:doctors?|docs?|physicians?|clinics?)",
                   r"(?:doctors?|docs?) for (?:my|our) (?:[\w-]+ ){0,3}?" + _CHILD),
    "obstetrics": (r"ob[ /-]?gyns?", r"obstetricians?", r"obstetrics?", r"gyn(?:a|ae|e)cologists?",
                   r"gyn(?:a|ae|e)cology", r"midwi(?:fe|ves|fery)", r"fertility (?:clinics?|specialists?|doctors?)",
                   r"pregnancy (?:check[ -]?ups?|scans?|appointments?|visits?|care|doctors?)"),
    "mental_health": (_NOT_BODY_THERAPY + r"therap(?:y|ies|ists?)", _NOT_MONEY_COUNSEL + r"counsel(?:l)?(?:ing|ors?)",
                      r"psychologists?", r"psychiatrists?", r"psychiatry", r"psychotherap(?:y|ists?)",
                      r"mental health" + _COVER),
    "physical_therapy": (r"physio(?:s|therapy|therapists?)?", r"physical therap(?:y|ies|ists?)",
                         r"rehab(?:ilitation)? (?:after|following|post)",
                         r"(?:post[ -]?(?:op|operative|surgery|surgical)|physical|sports|injury) rehab(?:ilitation)?",
                         r"(?:knee|hip|shoulder|back) rehab(?:ilitation)?"),
    "ophthalmology": (r"eye (?:doctors?|docs?|specialists?|surgeons?|clinics?|exams?|tests?|checks?|check[ -]?ups?)",
                      r"eye care" + _COVER, r"optometrists?", r"optometry", r"opticians?",
                      r"op(?:h)?thalmologists?", r"op(?:h)?thalmology"),
    "dermatology": (r"dermatologists?", r"dermatology", r"skin (?:doctors?|docs?|specialists?|clinics?|checks?)"),
    "orthopedics": (r"orthop(?:a|ae|e)dics?", r"orthop(?:a|ae|e)dists?",
                    r"bone (?:doctors?|docs?|specialists?)",
                    r"(?:knee|hip|shoulder|spine|spinal|ankle|elbow|wrist|foot|hand|joint) (?:surgeons?|specialists?)"),
    "family_medicine": (r"gps?", r"g\.p\.", r"general practitioners?", r"primary care", r"pcp",
                        r"family (?:doctors?|docs?|physicians?|medicine|practice|practitioners?)"),
    "geriatrics": (r"geriatrics?", r"geriatricians?", r"gerontologists?",
                   r"(?:elder|elderly|senior|aged|old[ -]age) care" + _COVER),
}
HINTED_CARE = {
    "dentistry": (r"tooth ?aches?", r"teeth", r"tooth", r"root canals?", r"cavit(?:y|ies)"),
    "cardiology": (r"chest pains?", r"palpitations", r"arrhythmias?", r"irregular heart ?beat",
                   r"heart (?:problems?|conditions?|issues?|disease|murmur|checks?|health)"),
    "pediatrics": (r"well[ -]child",),
    "obstetrics": (r"(?:pre|ante)[ -]?natal",),
    "mental_health": (r"anxiety", r"depression", r"depressed", r"panic attacks?", r"ptsd",
                      r"(?:someone|somebody) to talk to" + _FINANCE_TOPIC),
    "physical_therapy": (),
    "ophthalmology": (r"glasses", r"spectacles", r"contact lenses", r"eyesight", r"cataracts?", r"glaucoma",
                      r"blurr(?:y|ed) vision", r"vision (?:tests?|checks?|problems?|exams?)"),
    "dermatology": (r"rash(?:es)?", r"acne", r"eczema", r"psoriasis", r"rosacea", r"moles?",
                    r"skin (?:conditions?|problems?|issues?|cancer)"),
    "orthopedics": (r"bones?", r"broken (?:arm|leg|wrist|ankle)", r"fractures?d?", r"joints",
                    r"joint (?:pain|replacements?|problems?|injur(?:y|ies)|surgery)", r"arthritis",
                    r"torn (?:acl|ligaments?|meniscus)", r"ligaments?",
                    r"(?:knee|hip|shoulder|acl|ankle) (?:surgery|replacements?|injur(?:y|ies)|pain)"),
    "family_medicine": (),
    "geriatrics": (r"(?:elderly|ageing|aging|older|old) " + _OLDER_RELATIVE, r"care for (?:my|our) " + _OLDER_RELATIVE),
}
GENERAL_CARE = {
    "family_medicine": (r"check[ -]?ups?", r"(?:annual|yearly) physicals?", r"physical exams?", r"health checks?"),
}
SPECIALTIES = tuple(NAMED_CARE)
_ABOUT_COVER = re.compile(r"\b(?:insurance|insured|plans?|cover(?:s|ed|age)?|polic(?:y|ies)|premiums?|hsas?|"
                          r"financ(?:e|ing)|afford|pay for|costs?|deductibles?|reimburse\w*)\b", re.IGNORECASE)


def _compiled(table: Mapping[str, tuple[str, ...]]) -> dict[str, re.Pattern]:
    return {name: re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)
            for name, words in table.items() if words}


_NAMED, _HINTED, _GENERAL = _compiled(NAMED_CARE), _compiled(HINTED_CARE), _compiled(GENERAL_CARE)


def specialties_in(text: str) -> list[str]:
    """The provider specialties `text` asks for in plain words, the most explicit first; [] when it names none."""
    text = re.sub(r"\s+", " ", (text or "").replace("\u2019", "'"))
    if _ABOUT_COVER.search(text):
        return _mentioned(_NAMED, text)
    found = [*_mentioned(_NAMED, text), *_mentioned(_HINTED, text)] or _mentioned(_GENERAL, text)
    return list(dict.fromkeys(found))


def _mentioned(patterns: Mapping[str, re.Pattern], text: str) -> list[str]:
    """The specialties whose words occur in `text`, in the order they are first mentioned."""
    first = {name: match.start() for name, pattern in patterns.items() if (match := pattern.search(text))}
    return sorted(first, key=first.__getitem__)
