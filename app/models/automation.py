"""Automation: per-site settings, runs of the seven stages and their log."""

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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.ownership import SiteOwned

FREQUENCIES = ("hourly", "daily", "weekly")
RUN_STATUSES = ("queued", "running", "paused", "cancelling", "cancelled", "completed", "stopped",
                "interrupted", "failed")
# A site has at most one run in these states (a partial unique index holds it in the database).
ACTIVE_STATUSES = ("queued", "running", "paused", "cancelling", "interrupted")
ITEM_OUTCOMES = ("running", "done", "skipped", "failed", "info", "stopped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AutomationSettings(SiteOwned, db.Model):
    __tablename__ = "automation_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    frequency: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    run_time: Mapped[str] = mapped_column(String(5), default="02:00", server_default="02:00")  # site's timezone
    weekday: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 0 = Monday
    stages: Mapped[dict] = mapped_column(JSON, default=dict)  # "1".."7" -> the stage matrix row
    item_delay: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # seconds
    stage_delay: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credit_cap: Mapped[int | None] = mapped_column(Integer)  # None: what the balance allows
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("site_id", name="uq_automation_settings_site"),
        CheckConstraint(_in("frequency", FREQUENCIES), name="frequency"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        Index("ix_automation_settings_due", "next_run_at", postgresql_where=text("enabled")),
    )


class AutomationRun(SiteOwned, db.Model):
    __tablename__ = "automation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", server_default="queued")
    trigger: Mapped[str] = mapped_column(String(10), default="manual", server_default="manual")
    stage: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")  # the stage pointer
    config: Mapped[dict] = mapped_column(JSON, default=dict)  # the settings the run started with
    progress: Mapped[dict] = mapped_column(JSON, default=dict)  # "1".."7" -> status/done/credits
    credit_cap: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stage_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    current_item: Mapped[str] = mapped_column(Text, default="", server_default="")
    failures: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # consecutive
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    slot: Mapped[str | None] = mapped_column(String(40))  # scheduled runs: the due moment they serve
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint("stage BETWEEN 1 AND 8", name="stage"),
        Index("uq_automation_runs_one_active", "site_id", unique=True,
              postgresql_where=text(_in("status", ACTIVE_STATUSES))),
        UniqueConstraint("site_id", "slot", name="uq_automation_runs_site_slot"),
        Index("ix_automation_runs_site_created", "site_id", text("id DESC")),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class AutomationItem(SiteOwned, db.Model):
    """One line of a run's log: a stage, an item (or a batch) and what happened and why."""

    __tablename__ = "automation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id", ondelete="CASCADE"), index=True)
    stage: Mapped[int] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text, default="")
    item_type: Mapped[str | None] = mapped_column(String(20))  # what was made: cluster/idea/task/content
    item_ids: Mapped[list] = mapped_column(JSON, default=list)
    input_ids: Mapped[list] = mapped_column(JSON, default=list)  # taken in: never offered again in this run
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # input items handled
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    credits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint(_in("outcome", ITEM_OUTCOMES), name="outcome"),
                      UniqueConstraint("run_id", "job_id", name="uq_automation_items_job"))
