"""Accounts, people, plans and access grants."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_login import UserMixin
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
    Index,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.modules import MODULE_LABELS
from app.models.ownership import TenantOwned

ROLES = ("owner", "admin", "editor", "viewer")
ROLE_LABELS = {
    "owner": "Owner",
    "admin": "Admin",
    "editor": "Editor",
    "viewer": "Viewer",
}
MODULES = tuple(MODULE_LABELS)


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    monthly_credits: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=0)
    billing_cycle: Mapped[str] = mapped_column(String(10), default="monthly")
    support_level: Mapped[str] = mapped_column(String(40), default="community")
    features: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("billing_cycle IN ('monthly', 'yearly')", name="billing_cycle"),
        CheckConstraint("monthly_credits >= 0", name="monthly_credits_positive"),
        # At most one default plan, enforced by the database.
        Index("uq_plans_one_default", "is_default", unique=True,
              postgresql_where=text("is_default")),
    )


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="active")
    credits: Mapped[int] = mapped_column(Integer, default=0)
    modules: Mapped[dict] = mapped_column(JSON, default=lambda: {m: True for m in MODULES})
    low_balance_threshold: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    low_balance_notified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The account's overrides of the platform AI defaults (see app.services.ai.settings).
    ai_settings: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    users: Mapped[list["User"]] = relationship(back_populates="account", order_by="User.id")
    subscription: Mapped["Subscription | None"] = relationship(
        back_populates="account", uselist=False
    )

    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("credits >= 0", name="credits_not_negative"),
    )

    @property
    def is_suspended(self) -> bool:
        return self.status == "suspended"

    def module_enabled(self, module: str) -> bool:
        return bool((self.modules or {}).get(module, True))


class Subscription(TenantOwned, db.Model):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    current_period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Monthly credit periods are counted from started_at; the last one granted is remembered.
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    credits_granted_through: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    # A plan with a price gives its monthly credits only for periods paid for by an order.
    paid_through: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    account: Mapped[Account] = relationship(back_populates="subscription")
    plan: Mapped[Plan] = relationship()

    __table_args__ = (UniqueConstraint("account_id"),)


class User(UserMixin, db.Model):
    """A person who signs in. Tenant users belong to one account; operators may have none."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    active_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    active_sector_id: Mapped[int | None] = mapped_column(
        ForeignKey("sectors.id", ondelete="SET NULL"), nullable=True
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    account: Mapped[Account | None] = relationship(back_populates="users")
    site_grants: Mapped[list["SiteAccess"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'editor', 'viewer')", name="role"),
        CheckConstraint("account_id IS NOT NULL OR is_operator", name="tenant_or_operator"),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    # The sign-in this object was loaded for (see app.services.accounts.sessions); not a column.
    session_key = None

    def get_id(self) -> str:
        # The version changes on password change, "sign out everywhere" or deactivation, ending
        # every session; the key names one sign-in, which logout revokes on the server.
        return f"{self.id}:{self.session_version}:{self.session_key or ''}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def sees_all_sites(self) -> bool:
        return self.role in ("owner", "admin")


class SiteAccess(TenantOwned, db.Model):
    """A grant of one site to an editor or viewer."""

    __tablename__ = "site_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="site_grants")

    __table_args__ = (UniqueConstraint("user_id", "site_id"),)


class Invitation(TenantOwned, db.Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    site_ids: Mapped[list] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    invited_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'editor', 'viewer')", name="role"),
    )


class PasswordResetToken(db.Model):
    """A single-use password reset link. Not tenant-owned: it is used before sign-in."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """One sign-in of a person (a browser session and its "keep me signed in" cookie)."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
