"""The source records Fargo ingests: one pydantic model per record kind.

Every source file holds one kind of record. `SOURCES` maps each file name to
its model, the document-store collection it lands in and its key field; the
synthetic bank writes these files and the loaders read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True)


class MaritalStatus(StrEnum):
    single = "single"
    married = "married"
    partnered = "partnered"
    divorced = "divorced"
    widowed = "widowed"


class RiskAppetite(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Consent(Record):
    marketing: bool = False
    profiling: bool = True
    health_data: bool = False
    share_with_family: bool = False


class Customer(Record):
    """CIP record: who the customer is."""

    customer_id: str = Field(min_length=1)
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    date_of_birth: date
    gender: str | None = None
    city: str = Field(min_length=1)
    address: str = ""
    occupation: str = ""
    employer: str = ""
    annual_income: float = Field(ge=0)
    marital_status: MaritalStatus
    dependants: int = Field(0, ge=0, le=20)
    email: str = ""
    phone: str = ""
    social_handles: dict[str, str] = Field(default_factory=dict)
    risk_appetite: RiskAppetite = RiskAppetite.medium
    consent: Consent = Field(default_factory=Consent)
    customer_since: date | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, value: date) -> date:
        if value > date.today() or value.year < 1900:
            raise ValueError("date of birth must be between 1900 and today")
        return value


class KycStatus(StrEnum):
    verified = "verified"
    pending = "pending"
    expired = "expired"
    rejected = "rejected"


class KycDocument(Record):
    document_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    doc_type: str = Field(min_length=1)
    status: KycStatus
    verified_at: datetime | None = None


class DisclosureKind(StrEnum):
    life_goal = "life_goal"
    upcoming_event = "upcoming_event"
    health = "health"


class Disclosure(Record):
    """Something the customer chose to tell the bank."""

    disclosure_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    kind: DisclosureKind
    topic: str = Field(min_length=1)
    text: str = Field(min_length=1)
    amount: float | None = Field(None, ge=0)
    target_date: date | None = None
    disclosed_at: date
    explicit_consent: bool = False

    @model_validator(mode="after")
    def _health_needs_consent(self) -> Disclosure:
        if self.kind == DisclosureKind.health and not self.explicit_consent:
            raise ValueError("a health disclosure needs explicit_consent=true")
        return self


class Account(Record):
    """A product the customer holds."""

    account_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    product_id: str = Field(min_length=1)
    opened_at: date
    balance: float | None = None
    credit_limit: float | None = Field(None, ge=0)
    status: str = "open"


class Channel(StrEnum):
    card_present = "card_present"
    online = "online"
    atm = "atm"
    transfer = "transfer"
    direct_debit = "direct_debit"
    payroll = "payroll"


class Transaction(Record):
    """One posted transaction; negative amounts leave the account, positive ones arrive."""

    transaction_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1)
    date: date
    amount: float
    merchant: str = ""
    category: str = Field(min_length=1)
    mcc: str = ""
    channel: Channel


class Relation(StrEnum):
    spouse = "spouse"
    parent = "parent"
    child = "child"
    sibling = "sibling"


class Relationship(Record):
    """`relative_id` is the customer's `relation` (their spouse, parent, ...).

    `consent_to_share` is the relative's consent to let the customer's
    recommendations use the relative's private data. A relative who is not a
    customer carries their own name and date of birth.
    """

    relationship_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    relative_id: str = Field(min_length=1)
    relation: Relation
    relative_is_customer: bool
    relative_name: str | None = None
    relative_date_of_birth: date | None = None
    consent_to_share: bool = False

    @model_validator(mode="after")
    def _outsider_needs_birth_date(self) -> Relationship:
        if not self.relative_is_customer and self.relative_date_of_birth is None:
            raise ValueError("a relative who is not a customer needs relative_date_of_birth")
        if self.relative_id == self.customer_id:
            raise ValueError("a customer cannot be their own relative")
        return self


class ProductCategory(StrEnum):
    deposit = "deposit"
    card = "card"
    loan = "loan"
    mortgage = "mortgage"
    investment = "investment"
    retirement = "retirement"
    education_savings = "education_savings"
    insurance = "insurance"
    healthcare = "healthcare"


class RateType(StrEnum):
    fixed = "fixed"
    variable = "variable"


class RiskLevel(StrEnum):
    """How much of the money put in can be lost, least first (`RISK_ORDER`)."""

    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


RISK_ORDER = tuple(RiskLevel)


class ProductTerms(Record):
    """Numbers a value estimate can use; rates are fractions (0.035 = 3.5%)."""

    apr: float | None = Field(None, ge=0, le=1)
    apy: float | None = Field(None, ge=0, le=1)
    annual_fee: float = Field(0, ge=0)
    monthly_fee: float = Field(0, ge=0)
    rewards: dict[str, float] = Field(default_factory=dict, description="spend category -> reward rate")
    base_reward_rate: float = Field(0, ge=0, le=1)
    point_value: float = Field(0.01, ge=0, description="dollars per reward point")
    min_balance: float = Field(0, ge=0)
    max_amount: float | None = Field(None, ge=0, description="credit limit or loan ceiling")
    term_months: int | None = Field(None, ge=1)
    coverage: float | None = Field(None, ge=0)
    premium_monthly: float | None = Field(None, ge=0)
    employer_match: float | None = Field(None, ge=0, le=1)
    rate_type: RateType | None = Field(None, description="whether the rate can change during the term")
    risk_level: RiskLevel | None = Field(None, description="none for insured deposits up to high for self-directed trading")


class Eligibility(Record):
    min_age: int = Field(0, ge=0)
    max_age: int = Field(120, ge=0)
    min_income: float = Field(0, ge=0)
    requires_verified_kyc: bool = True
    risk_appetite: list[RiskAppetite] = Field(default_factory=list, description="empty means any")


class Product(Record):
    product_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    category: ProductCategory
    description: str = Field(min_length=1)
    need_statements: list[str] = Field(default_factory=list)
    terms: ProductTerms = Field(default_factory=ProductTerms)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    target_segments: list[str] = Field(default_factory=list)


class HealthcareKind(StrEnum):
    health_plan = "health_plan"
    hsa = "hsa"
    medical_financing = "medical_financing"
    provider = "provider"


class HealthcareService(Record):
    service_id: str = Field(min_length=1)
    kind: HealthcareKind
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    city: str | None = None
    specialty: str | None = None
    product_id: str | None = Field(None, description="the catalogue product behind a plan, HSA or financing")
    terms: ProductTerms = Field(default_factory=ProductTerms)
    eligibility: Eligibility = Field(default_factory=Eligibility)

    @model_validator(mode="after")
    def _provider_needs_city(self) -> HealthcareService:
        if self.kind == HealthcareKind.provider and not self.city:
            raise ValueError("a partner provider needs a city")
        return self


class FaqDocument(Record):
    faq_id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    category: str = Field(min_length=1)
    product_ids: list[str] = Field(default_factory=list)


class Campaign(Record):
    campaign_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    platform: str = Field(min_length=1)
    product_ids: list[str] = Field(default_factory=list)
    starts_at: date
    ends_at: date

    @model_validator(mode="after")
    def _ordered_dates(self) -> Campaign:
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        return self


class CampaignEventType(StrEnum):
    post = "post"
    comment = "comment"
    like = "like"
    share = "share"
    mention = "mention"
    message = "message"


class CampaignEvent(Record):
    """A social-media post or reaction tied to a campaign; its text is untrusted."""

    event_id: str = Field(min_length=1)
    campaign_id: str = Field(min_length=1)
    platform: str = Field(min_length=1)
    author_handle: str = Field(min_length=1)
    customer_id: str | None = None
    type: CampaignEventType
    text: str = ""
    timestamp: datetime


@dataclass(frozen=True)
class Source:
    """One source file: its record model, target collection and key."""

    file_name: str
    model: type[Record]
    collection: str
    key: str


# Order matters: the catalogue and customers load before the records that point at them.
SOURCES: tuple[Source, ...] = (
    Source("products.jsonl", Product, "products", "product_id"),
    Source("healthcare_services.jsonl", HealthcareService, "healthcare_services", "service_id"),
    Source("faq.jsonl", FaqDocument, "faq", "faq_id"),
    Source("customers.jsonl", Customer, "customers", "customer_id"),
    Source("kyc_documents.jsonl", KycDocument, "kyc_documents", "document_id"),
    Source("disclosures.jsonl", Disclosure, "disclosures", "disclosure_id"),
    Source("accounts.jsonl", Account, "accounts", "account_id"),
    Source("relationships.jsonl", Relationship, "relationships", "relationship_id"),
    Source("campaigns.jsonl", Campaign, "campaigns", "campaign_id"),
    Source("campaign_events.jsonl", CampaignEvent, "campaign_events", "event_id"),
    Source("transactions.csv", Transaction, "transactions", "transaction_id"),
)

SOURCE_BY_FILE = {source.file_name: source for source in SOURCES}

# Where the synthetic bank writes the answers Fargo must never read while serving.
GROUND_TRUTH_DIR = "ground_truth"
TRANSACTION_COLUMNS = tuple(Transaction.model_fields)
