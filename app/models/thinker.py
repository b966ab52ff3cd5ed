"""Thinker: prompt templates (platform defaults and account overrides), author profiles, strategies, settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.ownership import TenantOwned


class PromptDefault(db.Model):
    """The platform's template for one AI function (operators edit it)."""

    __tablename__ = "prompt_defaults"

    function: Mapped[str] = mapped_column(String(60), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class PromptOverride(TenantOwned, db.Model):
    """An account's own template for one AI function, used instead of the platform default."""

    __tablename__ = "prompt_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    function: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (UniqueConstraint("account_id", "function"),)


class AuthorProfile(TenantOwned, db.Model):
    """The voice articles are written in."""

    __tablename__ = "author_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    tone: Mapped[str] = mapped_column(String(200), default="", server_default="")
    audience: Mapped[str] = mapped_column(String(300), default="", server_default="")
    point_of_view: Mapped[str] = mapped_column(String(40), default="second", server_default="second")
    language: Mapped[str] = mapped_column(String(60), default="English", server_default="English")
    reading_level: Mapped[str] = mapped_column(String(60), default="", server_default="")
    banned_phrases: Mapped[str] = mapped_column(Text, default="", server_default="")
    sample_paragraph: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (UniqueConstraint("account_id", "name"),)

    @property
    def banned_phrase_list(self) -> list[str]:
        """The banned phrases, one per line, blanks dropped."""
        return [line.strip() for line in (self.banned_phrases or "").splitlines() if line.strip()]


class ContentStrategy(TenantOwned, db.Model):
    """What articles aim for: goals, guidelines, length, extras."""

    __tablename__ = "content_strategies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    goals: Mapped[str] = mapped_column(Text, default="", server_default="")
    guidelines: Mapped[str] = mapped_column(Text, default="", server_default="")
    target_words: Mapped[int] = mapped_column(Integer, default=1500, server_default="1500")
    add_faq: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    add_tables: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (UniqueConstraint("account_id", "name"),)


class PlatformSetting(db.Model):
    """A platform-wide setting (e.g. the AI defaults), edited by operators."""

    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
