"""Durable records of background work and scheduler claims."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.ownership import TenantOwned

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
PHASES = ("INIT", "PREP", "AI_CALL", "PARSE", "SAVE", "DONE")


class Job(TenantOwned, db.Model):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    phase: Mapped[str] = mapped_column(String(20), default="INIT")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)  # shown to the account's people
    error_detail: Mapped[str | None] = mapped_column(Text)  # operators only: exception and traceback
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    rq_id: Mapped[str | None] = mapped_column(String(100))
    credits_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits_charged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the job concerns one site: editors and viewers see only the jobs of their granted sites.
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Fencing: the claim that made the job running. Output and settlement commit only while the row
    # is still running under this token (a reaped job's late worker finds it changed).
    owner_token: Mapped[str | None] = mapped_column(String(32))
    # The one-time token of the form that asked for the work: a second submit finds this job.
    submit_token: Mapped[str | None] = mapped_column(String(64))
    # What the work is (kind and input): at most one queued or running copy per account.
    work_key: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_jobs_account_id_submit_token", "account_id", "submit_token", unique=True,
              postgresql_where=text("submit_token IS NOT NULL")),
        Index("uq_jobs_account_id_work_key_active", "account_id", "work_key", unique=True,
              postgresql_where=text("work_key IS NOT NULL AND status IN ('queued', 'running')")),
    )

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class SchedulerClaim(db.Model):
    """One row per recurring task and time slot: whoever inserts it runs the slot."""

    __tablename__ = "scheduler_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    slot: Mapped[str] = mapped_column(String(40))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("task", "slot"),)
