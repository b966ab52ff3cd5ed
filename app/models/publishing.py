"""Publishing: each site's schedule and publish settings, and one publication record per article and
site with the steps it took on WordPress (media, terms, the post) so a retry reuses what exists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.planner import _in
from app.models.writer import Content
from app.tenancy import SiteOwned

DEFAULT_DAYS = [0, 1, 2, 3, 4]  # Monday–Friday (Python's weekday numbers)
DEFAULT_SLOTS = ["09:00", "14:00"]
CATEGORY_SOURCES = ("cluster", "default", "both", "none")
PUBLICATION_STATUSES = ("scheduled", "queued", "publishing", "retrying", "future", "published", "failed",
                        "unpublished", "trashed")
STEP_KINDS = ("media", "category", "tag", "post")
STEP_STATUSES = ("started", "done", "failed")


class PublishSettings(SiteOwned, db.Model):
    """A site's publishing schedule and options; a site without a row uses the defaults."""

    __tablename__ = "publish_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    publish_days: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_DAYS))
    publish_slots: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_SLOTS))
    # Off by default: nothing reaches a customer's site unreviewed unless they turn it on.
    auto_publish: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    category_source: Mapped[str] = mapped_column(String(20), default="cluster", server_default="cluster")
    default_category: Mapped[str] = mapped_column(String(200), default="", server_default="")
    max_tags: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    fix_missed_schedule: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # What the site's REST schema said about SEO meta fields (checked once a day), and the note shown once.
    seo_fields: Mapped[dict | None] = mapped_column(JSON)
    seo_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seo_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("site_id", name="uq_publish_settings_site"),
        CheckConstraint(_in("category_source", CATEGORY_SOURCES), name="category_source"),
    )


class Publication(SiteOwned, db.Model):
    """One article on one WordPress site: when, where it is, and how the last attempt went."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written into the post body as an HTML comment: how a retry recognises a post as ours.
    marker: Mapped[str] = mapped_column(String(64), unique=True)
    wp_type: Mapped[str] = mapped_column(String(20), default="posts", server_default="posts")
    wp_post_id: Mapped[int | None] = mapped_column(Integer)
    wp_link: Mapped[str | None] = mapped_column(String(1000))
    wp_status: Mapped[str | None] = mapped_column(String(20))
    published_version: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    problems: Mapped[list] = mapped_column(JSON, default=list)  # read-back mismatches and missed schedules
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A lease, not a lock held across HTTP calls: one worker at a time works on the publication.
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    content: Mapped[Content] = relationship()
    steps: Mapped[list["PublicationStep"]] = relationship(back_populates="publication", order_by="PublicationStep.id",
                                                          cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("content_id", "site_id", name="uq_publications_content_site"),
        CheckConstraint(_in("status", PUBLICATION_STATUSES), name="status"),
        Index("ix_publications_due", "status", "scheduled_at"),
    )


class PublicationStep(SiteOwned, db.Model):
    """One thing made on WordPress for a publication (an uploaded image, a term, the post)."""

    __tablename__ = "publication_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="started", server_default="started")
    wp_id: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(1000))
    detail: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    publication: Mapped[Publication] = relationship(back_populates="steps")

    __table_args__ = (
        UniqueConstraint("publication_id", "kind", "key", name="uq_publication_steps_key"),
        CheckConstraint(_in("kind", STEP_KINDS), name="kind"),
        CheckConstraint(_in("status", STEP_STATUSES), name="status"),
    )
