"""Images of articles (pipeline stages 5–6): one featured and N in-article images per article."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.planner import _in
from app.models.ownership import SiteOwned

IMAGE_KINDS = ("featured", "in_article")
IMAGE_STATUSES = ("pending", "generated", "failed")


class ContentImage(SiteOwned, db.Model):
    """One image of an article: its prompt, where it goes, and (once generated) its stored file."""

    __tablename__ = "content_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The H2 heading (its text) the image follows; empty for the featured image.
    placement: Mapped[str] = mapped_column(String(300), default="", server_default="")
    prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    caption: Mapped[str] = mapped_column(String(500), default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    # A storage key the server made (never from user input); None until generated.
    file_key: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    mime: Mapped[str | None] = mapped_column(String(40))
    bytes: Mapped[int | None] = mapped_column(Integer)
    model_used: Mapped[str] = mapped_column(String(120), default="", server_default="")
    credits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=0, server_default="0")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))  # the last image run
    prompt_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (
        CheckConstraint(_in("kind", IMAGE_KINDS), name="kind"),
        CheckConstraint(_in("status", IMAGE_STATUSES), name="status"),
        Index("ix_content_images_site_status", "site_id", "status"),
    )

    @property
    def featured(self) -> bool:
        return self.kind == "featured"
