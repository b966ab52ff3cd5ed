"""Writer: articles (content), their versions, and each site's writer settings (pipeline stages 4–7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from app.extensions import db
from app.models.planner import CONTENT_TYPES, STRUCTURES, Cluster, Task, _in
from app.models.ownership import SiteOwned

CONTENT_STATUSES = ("draft", "review", "approved", "scheduled", "published")
CONTENT_SOURCES = ("generated", "imported")
VERSION_REASONS = ("generation", "edit", "restore", "linker", "optimizer", "import")


class Content(SiteOwned, db.Model):
    """An article of a site: written from a task (stage 4) or imported."""

    __tablename__ = "content"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id", ondelete="SET NULL"), index=True)
    # At most one article per task: a double click or a retried job cannot make two.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), unique=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(20), default="generated", server_default="generated")
    title: Mapped[str] = mapped_column(String(300))
    body_html: Mapped[str] = deferred(mapped_column(Text, default="", server_default="", nullable=False))
    meta_title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    meta_description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    slug: Mapped[str] = mapped_column(String(200))
    excerpt: Mapped[str] = mapped_column(Text, default="", server_default="")
    primary_keyword: Mapped[str] = mapped_column(String(200), default="", server_default="")
    secondary_keywords: Mapped[list] = mapped_column(JSON, default=list)
    content_type: Mapped[str] = mapped_column(String(20), default="post", server_default="post")
    structure: Mapped[str] = mapped_column(String(20), default="guide", server_default="guide")
    word_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    target_words: Mapped[int | None] = mapped_column(Integer)
    outline: Mapped[list] = mapped_column(JSON, default=list)  # the body's headings: [{"level", "text"}]
    author_profile_id: Mapped[int | None] = mapped_column(ForeignKey("author_profiles.id", ondelete="SET NULL"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("content_strategies.id", ondelete="SET NULL"))
    model_used: Mapped[str] = mapped_column(String(120), default="", server_default="")
    tokens_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    review_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The number of the latest version: an editor save names the version it started from.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    task: Mapped[Task | None] = relationship()
    cluster: Mapped[Cluster | None] = relationship()

    __table_args__ = (
        UniqueConstraint("site_id", "slug", name="uq_content_site_slug"),
        CheckConstraint(_in("status", CONTENT_STATUSES), name="status"),
        CheckConstraint(_in("source", CONTENT_SOURCES), name="source"),
        CheckConstraint(_in("content_type", CONTENT_TYPES), name="content_type"),
        CheckConstraint(_in("structure", STRUCTURES), name="structure"),
        Index("ix_content_site_status", "site_id", "status", text("id DESC")),
    )


class ContentVersion(SiteOwned, db.Model):
    """One state of an article's body and meta, with who or what made it and when."""

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body_html: Mapped[str] = deferred(mapped_column(Text, default="", server_default="", nullable=False))
    meta_title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    meta_description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    slug: Mapped[str] = mapped_column(String(200), default="", server_default="")
    excerpt: Mapped[str] = mapped_column(Text, default="", server_default="")
    word_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("content_id", "number", name="uq_content_versions_number"),
        CheckConstraint(_in("reason", VERSION_REASONS), name="reason"),
    )


class WriterSettings(SiteOwned, db.Model):
    """A site's writer settings; a site without a row uses the defaults."""

    __tablename__ = "writer_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Off by default: nothing is approved unreviewed unless the customer turns it on.
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Images: the count and style choice are AI settings (site level); these add what only images need.
    image_style_note: Mapped[str] = mapped_column(String(300), default="", server_default="")
    featured_size: Mapped[str] = mapped_column(String(20), default="1200x630", server_default="1200x630")
    in_article_size: Mapped[str] = mapped_column(String(20), default="1024x768", server_default="1024x768")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (UniqueConstraint("site_id", name="uq_writer_settings_site"),)
