"""Fargo's one settings class: every knob is an environment variable.

`FARGO_*` for Fargo's own settings; the LLM keeps the names the OpenAI
clients already use (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from huey import crontab
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting has a value Fargo cannot use; the message names the variable."""


@dataclass(frozen=True)
class Cron:
    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str

    def schedule(self):
        return crontab(self.minute, self.hour, self.day, self.month, self.day_of_week, strict=True)


def parse_cron(expression: str) -> Cron:
    """Parse a five-field cron expression ('0 2 * * *'); ValueError names what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron needs 5 fields (minute hour day month day-of-week), got {len(fields)}: {expression!r}")
    cron = Cron(*fields)
    cron.schedule()  # strict crontab validates every field now, not at 2 a.m.
    return cron


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FARGO_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path("./fargo-data"), description="Where embedded stores, models and demo data live.")
    mongodb_uri: SecretStr | None = Field(None, description="MongoDB URI; unset means the embedded NeoSQLite store.")
    database_name: str = Field("fargo", min_length=1, description="Database name inside MongoDB or NeoSQLite.")
    chroma_url: str | None = Field(None, description="Chroma server URL; unset means an embedded PersistentClient.")
    redis_url: SecretStr | None = Field(
        None, description="Redis URL for job queues, rate limits and shared counters; unset: SQLite queues, limits "
                          "per process.")
    requests_per_minute: int = Field(120, ge=1, le=10_000_000, description="Requests a minute per caller (and burst).")
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "FARGO_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "FARGO_OPENAI_BASE_URL")
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name at the OpenAI-compatible endpoint.")
    host: str = Field("127.0.0.1", description="Address `fargo up` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `fargo up` listens on.")
    token_secret: SecretStr | None = Field(
        None, min_length=32, description="Signs widget tokens; in demo mode a secret is kept in the data dir."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser.")
    auth_failure_limit: int = Field(
        20, ge=1, le=100_000, description="Failed credentials a client address may send within the window before 429."
    )
    auth_failure_window_s: float = Field(60.0, gt=0, le=86_400, description="The window failed credentials count in.")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Reverse proxies (addresses or networks) whose X-Forwarded-For is believed."
    )
    request_body_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Longest a client may take to send a request body before 408."
    )
    campaign_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Campaign event senders: JSON object of source name -> HMAC secret."
    )
    campaign_port: int = Field(8001, ge=1, le=65535, description="Port of `fargo campaign-server`.")
    campaign_queue_limit: int = Field(100_000, ge=1, description="Events waiting before the campaign server answers 429.")
    campaign_batch_size: int = Field(256, ge=1, le=10_000, description="Events the campaign worker takes per batch.")
    campaign_batch_window_s: float = Field(2.0, gt=0, le=600, description="Longest wait to fill a campaign batch.")
    campaign_trusted_sources: list[str] = Field(
        default_factory=list, description="Campaign sources whose events may name the author's customer_id."
    )
    source_dir: Path | None = Field(
        None, description="Directory of source files each ingestion run loads; default: the demo bank in demo mode."
    )
    ingest_cron: str = Field("0 2 * * *", description="When the nightly ingestion runs (cron, server local time).")
    feature_engine: Literal["duckdb", "spark", "python"] = Field(
        "duckdb", description="What computes features: embedded DuckDB, Spark (`pip install 'fargo-ai[spark]'`), "
        "or python (record by record, the old path)."
    )
    spark_master: str | None = Field(None, description="Spark master URL for feature_engine=spark; unset: local[*].")
    demo_customers: int = Field(500, ge=1, le=1_000_000, description="Size of the demo bank `fargo up` creates.")
    demo_seed: int = Field(7, description="Seed of the demo bank.")
    embedding_cache_texts: int = Field(
        4096, ge=0, description="Recent message texts whose embedding is kept (1.5 KiB each); 0 embeds every message."
    )
    pseudonym_key: SecretStr | None = Field(
        None, min_length=32, description="Keys the hashes that replace erased customers' ids; demo mode keeps one."
    )
    session_retention_days: int = Field(90, ge=1, le=36_500, description="Conversations older than this are purged.")
    audit_retention_days: int = Field(760, ge=1, le=36_500, description="Audit entries older than this are purged.")
    campaign_post_retention_days: int = Field(
        365, ge=1, le=36_500, description="Campaign events (posts) older than this are purged, with their vectors."
    )
    decision_retention_days: int = Field(
        760, ge=1, le=36_500, description="Decision records (what was offered, why) older than this are purged; "
                                          "default 25 months, the record-keeping period of US Regulation B.")
    contact_dismissals: int = Field(1, ge=1, le=100, description="Dismissals of a product that suppress it.")
    contact_dismissal_window_days: int = Field(90, ge=1, le=3650, description="Days those dismissals must fall in.")
    contact_suppress_days: int = Field(90, ge=1, le=3650, description="Days a dismissed product is not offered.")
    contact_just_opened_days: int = Field(
        30, ge=0, le=3650, description="Days a product the customer applied for or opened is not offered again.")
    contact_weekly_proactive_offers: int = Field(
        3, ge=0, le=1000, description="Campaign offers (distinct products) per customer per channel in 7 days.")
    levers_file: Path | None = Field(None, description="JSON file of arbitration levers (assistant.levers); unset: no levers.")
    adaptive_share: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of customers whose offers are ranked adaptively (the challenger arm); "
                                         "the rest keep the static ranker. 0: nobody, 1: everybody.")
    experiment: str = Field("ranking", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                            description="The ranking experiment's name: customers are dealt to arms by it; a new "
                                        "name deals them again.")

    assistant_disclosure: str = Field(
        "You're chatting with Fargo, an automated assistant, not a person. To reach a person at any time, say "
        "\"talk to a person\".", min_length=1, max_length=1000,
        description="Opens the first answer of every conversation: that this is an automated assistant, and how to "
                    "reach a person.")
    person_offer_after: int = Field(
        2, ge=1, le=20, description="Turns in a row Fargo could not serve before it offers a person; one more hands off.")

    encoder: str = Field(
        "minilm", description="Sentence encoder: minilm, mpnet (once installed) or a sentence-transformers folder.")

    @field_validator("encoder")
    @classmethod
    def _installed_encoder(cls, value: str) -> str:
        from retrieval.encoders import EncoderError, encoder_folder, encoder_setting

        value = encoder_setting(value)
        try:
            encoder_folder(value)
        except EncoderError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value

    @field_validator("chroma_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _ip_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (10.0.0.5, 10.0.0.0/24)") from None
        return value

    @field_validator("levers_file")
    @classmethod
    def _valid_levers(cls, value: Path | None) -> Path | None:
        from assistant.levers import load_levers

        load_levers(value, products=None)  # its form now; its products against the catalogue when the data opens
        return value

    @field_validator("ingest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        parse_cron(value)
        return value

    @property
    def resolved_source_dir(self) -> Path | None:
        if self.source_dir is not None:
            return self.source_dir
        return self.data_dir / "demo-bank" if self.demo_mode else None

    @property
    def demo_mode(self) -> bool:
        """Demo mode means the embedded defaults: no external database configured."""
        return self.mongodb_uri is None

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None


def _variable_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"FARGO_{field.upper()}"


def load_settings(**overrides) -> Settings:
    """Read settings from the environment; raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{_variable_name(field)}: {error['msg']}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
