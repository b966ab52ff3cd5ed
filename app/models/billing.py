"""The credit ledger, reservations, usage log, prices, packages and orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.ownership import TenantOwned

TRANSACTION_TYPES = ("grant", "subscription", "topup", "reservation", "charge", "refund", "adjustment")
TRANSACTION_LABELS = {
    "grant": "Grant",
    "subscription": "Monthly credits",
    "topup": "Top-up",
    "reservation": "Reserved",
    "charge": "Charge",
    "refund": "Refund",
    "adjustment": "Adjustment",
}


class CreditTransaction(TenantOwned, db.Model):
    """One change of an account's balance. The balance always equals the sum of these rows."""

    __tablename__ = "credit_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300), default="")
    related_type: Mapped[str | None] = mapped_column(String(40))
    related_id: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    __table_args__ = (
        CheckConstraint(
            "type IN ('grant', 'subscription', 'topup', 'reservation', 'charge', 'refund', 'adjustment')",
            name="type",
        ),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
    )

    @property
    def label(self) -> str:
        return TRANSACTION_LABELS.get(self.type, self.type)


class CreditReservation(TenantOwned, db.Model):
    """Credits held for a piece of work until it is settled (charged) or refunded."""

    __tablename__ = "credit_reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(Integer)
    charged: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'settled', 'refunded')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class CreditUsageLog(TenantOwned, db.Model):
    """What a settled piece of work consumed: credits, model, tokens, images and provider cost."""

    __tablename__ = "credit_usage_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(40), index=True)
    credits: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(120))
    provider: Mapped[str | None] = mapped_column(String(60))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=0)
    related_type: Mapped[str | None] = mapped_column(String(40))
    related_id: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_reservations.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class OperationPrice(db.Model):
    """Configured price of an operation that is not priced by an AI model (local work)."""

    __tablename__ = "operation_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(40), unique=True)
    unit: Mapped[str] = mapped_column(String(40), default="item")
    credits_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=1)
    min_credits: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str] = mapped_column(Text, default="")


class CreditPackage(db.Model):
    __tablename__ = "credit_packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    credits: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("credits > 0", name="credits_positive"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )


class Order(TenantOwned, db.Model):
    """A purchase of credits through a payment provider."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("credit_packages.id", ondelete="SET NULL"))
    # Set for a plan order: paying it starts (or renews) that plan; credits are then its monthly credits.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(200))
    credits: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    provider: Mapped[str] = mapped_column(String(30))
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    # The buy form carries a one-time token, so a double click cannot create two orders.
    request_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    package: Mapped[CreditPackage | None] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'paid', 'cancelled', 'failed')", name="status"),
        CheckConstraint("credits >= 0", name="credits_not_negative"),
    )

    @property
    def is_plan_order(self) -> bool:
        return self.plan_id is not None
