"""The AI engine's platform tables: providers (with encrypted keys) and the model catalogue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db

MODEL_TYPES = ("text", "image", "embedding")
TIERS = ("testing", "live")
TIER_LABELS = {"testing": "Testing", "live": "Live"}


class AIProvider(db.Model):
    """A platform-wide AI provider: its kind, endpoint and API key (encrypted at rest)."""

    __tablename__ = "ai_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # the registry entry that talks to it
    name: Mapped[str] = mapped_column(String(80))
    base_url: Mapped[str | None] = mapped_column(String(300))
    api_key: Mapped[str | None] = mapped_column(EncryptedText)
    timeout_seconds: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=60, server_default="60")
    max_retries: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    needs_key: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_message: Mapped[str | None] = mapped_column(String(500))
    last_tested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("max_retries >= 0 AND max_retries <= 10", name="max_retries_range"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
    )

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


class AIModel(db.Model):
    """A model in the catalogue: what it costs us and what it costs the customer in credits."""

    __tablename__ = "ai_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("ai_providers.id", ondelete="RESTRICT"), index=True)
    model_id: Mapped[str] = mapped_column(String(120))  # the provider's own model name
    name: Mapped[str] = mapped_column(String(120))
    model_type: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(20))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    cost_per_1k_input: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=0, server_default="0")
    cost_per_1k_output: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=0, server_default="0")
    cost_per_image: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=0, server_default="0")
    tokens_per_credit: Mapped[int] = mapped_column(Integer, default=1000, server_default="1000")
    credits_per_image: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    min_credits: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_input_tokens: Mapped[int] = mapped_column(Integer, default=16000, server_default="16000")
    max_output_tokens: Mapped[int] = mapped_column(Integer, default=2000, server_default="2000")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    provider: Mapped[AIProvider] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("model_type IN ('text', 'image', 'embedding')", name="model_type"),
        CheckConstraint("tier IN ('testing', 'live')", name="tier"),
        CheckConstraint("tokens_per_credit > 0", name="tokens_per_credit_positive"),
        CheckConstraint("credits_per_image >= 0 AND min_credits >= 0", name="prices_not_negative"),
        CheckConstraint("max_input_tokens > 0 AND max_output_tokens > 0", name="limits_positive"),
        # One active Testing model per type, and one active default Live model per type.
        Index("uq_ai_models_one_testing_per_type", "model_type", unique=True,
              postgresql_where=text("tier = 'testing' AND is_active")),
        Index("uq_ai_models_one_default_live_per_type", "model_type", unique=True,
              postgresql_where=text("tier = 'live' AND is_default AND is_active")),
    )

    @property
    def tier_label(self) -> str:
        return TIER_LABELS.get(self.tier, self.tier)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.provider.name})"
