"""Sites and their sectors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText, mask
from app.extensions import db
from app.models.reference import Industry, IndustrySector
from app.models.ownership import SiteOwned, TenantOwned

MAX_SECTORS_PER_SITE = 5


class Site(TenantOwned, db.Model):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    industry_id: Mapped[int | None] = mapped_column(
        ForeignKey("industries.id", ondelete="SET NULL"), nullable=True
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(20), default="active")
    # The site's own AI settings (override the account's) and its default voice and strategy.
    ai_settings: Mapped[dict | None] = mapped_column(JSON)
    default_author_profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("author_profiles.id", ondelete="SET NULL"), nullable=True
    )
    default_strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_strategies.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # WordPress connection: the application password is encrypted at rest and never shown in full.
    wp_url: Mapped[str | None] = mapped_column(String(500))
    wp_username: Mapped[str | None] = mapped_column(String(200))
    wp_app_password: Mapped[str | None] = mapped_column(EncryptedText)
    # The last connection check ("doctor"): overall health, when, and each check's outcome.
    wp_health: Mapped[str] = mapped_column(String(20), default="unchecked", server_default="unchecked")
    wp_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wp_check: Mapped[dict | None] = mapped_column(JSON)

    industry: Mapped[Industry | None] = relationship()
    sectors: Mapped[list["Sector"]] = relationship(
        back_populates="site", order_by="Sector.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("wp_health IN ('unchecked', 'ok', 'warning', 'failed')", name="wp_health"),
        UniqueConstraint("account_id", "name"),
    )

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def wp_connected(self) -> bool:
        return bool(self.wp_url and self.wp_username and self.wp_app_password)

    @property
    def wp_app_password_masked(self) -> str:
        """The last characters only: the application password is never shown back in full."""
        return mask(self.wp_app_password) if self.wp_app_password else ""


class Sector(SiteOwned, db.Model):
    __tablename__ = "sectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    industry_sector_id: Mapped[int | None] = mapped_column(
        ForeignKey("industry_sectors.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    site: Mapped[Site] = relationship(back_populates="sectors")
    industry_sector: Mapped[IndustrySector | None] = relationship()

    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        # The target of keywords' one composite foreign key (their sector, site and account agree).
        UniqueConstraint("id", "site_id", "account_id", name="uq_sectors_id_site_account"),
    )
