"""Durable background jobs: enqueue, run inside the bound account, report progress, reap."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Iterator

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, DomainError, InsufficientCredits, NotFound
from app.extensions import db
from app.models import Account, Job
from app.modules import MODULE_LABELS
from app.queue import get_queue, redis_connection
from app.services import job_fence
from app.services.job_errors import failure_report
from app.services.job_fence import JobLost
from app.services.job_kinds import JOB_KINDS, Progress, kind_for
from app.services.notifications import notify
from app.timeutil import utcnow

JOBS = Job.__table__
log = logging.getLogger(__name__)
SUBMIT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_submission: ContextVar[str | None] = ContextVar("igny8_submit_token", default=None)


def new_submit_token() -> str:
    """A one-time token for a form that spends credits (rendered as a hidden field)."""
    return uuid.uuid4().hex


@contextmanager
def submission(token: str | None) -> Iterator[None]:
    """Jobs enqueued within the block carry the form's one-time token: a second submit finds the first job."""
    token = (token or "").strip()
    reset = _submission.set(token if SUBMIT_TOKEN_RE.match(token) else None)
    try:
        yield
    finally:
        _submission.reset(reset)


def _work_key(kind: str, payload: dict, site_id: int | None) -> str:
    body = json.dumps([kind, site_id, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _same_work(*, submit_token: str | None, work_key: str | None) -> Job | None:
    """The job this submission already made, or the identical spending job still queued or running."""
    if submit_token:
        job = db.session.scalars(select(Job).where(Job.submit_token == submit_token)).first()
        if job is not None:
            return job
    if work_key:
        return db.session.scalars(select(Job).where(
            Job.work_key == work_key, Job.status.in_(("queued", "running")))).first()
    return None


def enqueue_job(
    *, kind: str, payload: dict, created_by_id: int | None, site_id: int | None = None, title: str = "",
    reserve_credits: int = 0, operation: str | None = None, reserve_each: list[tuple[str, int]] | None = None,
) -> Job:
    """Reserve the estimate, record a queued job in the bound account, commit, then hand its id to RQ.

    reserve_each: instead of one reservation, one per part (key suffix, credits), each settled or refunded on
    its own as the part succeeds or fails (e.g. one per image), so a crash mid-run returns only what was not made.

    Spending is idempotent: a job started from a form carrying a one-time token (see `submission`) is
    made once per token, and a second identical spending job is not made while the first is queued or
    running; either way the first job is returned and nothing more is reserved.
    """
    job_kind = kind_for(kind)
    account = db.session.scalars(select(Account)).one()
    _check_module(account, job_kind.module)
    submit_token = _submission.get()
    parts = [(str(suffix), int(amount)) for suffix, amount in (reserve_each or ()) if amount]
    work_key = _work_key(kind, payload, site_id) if reserve_credits or parts else None
    existing = _same_work(submit_token=submit_token, work_key=work_key)
    if existing is not None:
        return existing
    job = Job(kind=kind, title=title or job_kind.title, status="queued", phase="INIT", progress=0,
              message="Waiting for a worker…", payload=payload, site_id=site_id,
              created_by_id=created_by_id, submit_token=submit_token, work_key=work_key)
    try:
        with db.session.begin_nested():  # the unique indexes settle a race between two submits
            db.session.add(job)
    except IntegrityError:
        existing = _same_work(submit_token=submit_token, work_key=work_key)
        if existing is None:
            raise Conflict("This work was already started; see Jobs.") from None
        return existing
    if reserve_credits or parts:
        from app.services.billing import credits

        try:
            if parts:
                needed, available = sum(a for _, a in parts), credits.balance_in_session(account.id) or 0
                if needed > available:  # the whole run, not the part that happened to run out
                    raise InsufficientCredits(needed=needed, available=available, what=job.title.lower())
            for suffix, amount in parts or [("", reserve_credits)]:
                credits.reserve(account_id=account.id, amount=amount, operation=operation or kind,
                                key=f"job:{job.id}:{suffix}" if suffix else f"job:{job.id}", job_id=job.id,
                                site_id=site_id, description=job.title, commit=False)
        except DomainError:
            db.session.rollback()  # neither the job nor a reservation is kept
            raise
    db.session.commit()  # committed before enqueueing, so a fast worker always finds the row
    rq_id = f"job-{job.id}"
    try:
        get_queue(job_kind.queue).enqueue_call(
            "workers.tasks.run_job", args=(job.id,), job_id=rq_id, timeout=job_kind.timeout,
            result_ttl=3600, failure_ttl=86400,
        )
    except Exception as exc:
        _finish(job.id, status="failed", message="Could not reach the job queue.",
                error=f"The job queue is unavailable ({type(exc).__name__}). Try again shortly.")
        _release(job, "the job queue was unavailable")
        raise DomainError("The job queue is unavailable right now. Nothing was started; try again shortly.") from exc
    db.session.execute(update(Job).where(Job.id == job.id).values(rq_id=rq_id))
    db.session.commit()
    return job


def _check_module(account: Account, module: str | None) -> None:
    if module and not account.module_enabled(module):
        raise DomainError(
            f"The {MODULE_LABELS[module]} module is turned off for this account. "
            "An owner or admin can turn it on in Settings → Modules."
        )


def get_job(job_id: int) -> Job:
    """A job of the bound account, or NotFound."""
    job = db.session.scalars(select(Job).where(Job.id == job_id)).first()
    if job is None:
        raise NotFound("That job does not exist or you do not have access to it.")
    return job


def recent_jobs(*, limit: int = 50) -> list[Job]:
    """The bound account's newest jobs."""
    return list(db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def _finish(job_id: int, *, status: str, message: str, error: str | None = None,
            only_if: tuple[str, ...] = ("queued", "running"), owner_token: str | None = None,
            skip_locked: bool = False, reached: int | None = None) -> bool:
    """End the job unless it already ended (or, given the owner's token, unless another owner has it).

    skip_locked (the reaper): leave a job alone whose row is locked — its worker is committing right now.
    reached: the percent the job really got to, so "stopped at N %" is true.
    """
    values = dict(status=status, message=message, error=error, finished_at=utcnow())
    if reached is not None:
        values["progress"] = reached
    condition = (JOBS.c.id == job_id) & JOBS.c.status.in_(only_if)
    if owner_token is not None:
        condition &= JOBS.c.owner_token == owner_token
    if skip_locked:
        condition = JOBS.c.id.in_(select(JOBS.c.id).where(condition).with_for_update(key_share=True, skip_locked=True))
    with db.engine.begin() as conn:
        changed = conn.execute(JOBS.update().where(condition).values(**values)).rowcount
    return changed == 1


class _Reporter:
    """Throttled progress writes (about once a second, always on a phase change), fenced by the owner token:
    once the job is no longer this worker's, the next report raises JobLost and the work stops."""

    def __init__(self, job_id: int, token: str, throttle: float, heartbeat: job_fence.Heartbeat) -> None:
        self.job_id, self.token, self.throttle, self.heartbeat = job_id, token, throttle, heartbeat
        self.last_write = 0.0
        self.last_phase = None
        self.reached: int | None = None  # the last percent reported, written or throttled

    def __call__(self, *, phase: str, percent: int, message: str = "", force: bool = False) -> None:
        if self.heartbeat.lost.is_set():
            raise JobLost(self.job_id)
        now = time.monotonic()
        self.reached = max(0, min(99, int(percent)))
        if not force and phase == self.last_phase and now - self.last_write < self.throttle:
            return
        self.last_write, self.last_phase = now, phase
        if not job_fence.write_owned(self.job_id, self.token, phase=phase, message=message,
                                     progress=max(0, min(99, int(percent))), heartbeat_at=utcnow()):
            raise JobLost(self.job_id)


def execute_job(job_id: int) -> None:
    """The worker wrapper: bind the job's account, claim it, run its kind, record the outcome (fenced)."""
    job_fence.install()
    job = db.session.scalars(select(Job).where(Job.id == job_id).execution_options(all_accounts=True)).first()
    if job is None or job.status != "queued":
        return  # unknown, cancelled or already handled by another worker
    tenancy.bind(job.account_id)
    app = current_app._get_current_object()
    token = uuid.uuid4().hex
    heartbeat = job_fence.Heartbeat(app, job.id, token, app.config["JOB_HEARTBEAT_SECONDS"])
    claimed = False
    reporter = _Reporter(job.id, token, app.config["JOB_PROGRESS_THROTTLE_SECONDS"], heartbeat)
    try:
        job_kind = kind_for(job.kind)
        account = db.session.scalars(select(Account)).one()
        claimed = _write_if(job.id, "queued", status="running", phase="INIT", progress=1, owner_token=token,
                            message="Starting…", started_at=utcnow(), heartbeat_at=utcnow())
        if not claimed:
            return
        heartbeat.start()
        _check_module(account, job_kind.module)
        progress = Progress(reporter)
        db.session.refresh(job)
        with job_fence.fenced(job.id, token):
            result = job_kind.run(job, progress)
            job_fence.complete(job.id, token, result or {})  # output, settlement and status commit together
        _notify_outcome(job, succeeded=True)
    except JobLost:
        db.session.rollback()  # nothing saved, nothing charged; the row keeps what the reaper wrote
        log.warning("Job %s lost its worker's ownership (reaped); its work was discarded", job_id)
    except Exception as exc:
        db.session.rollback()
        message, detail = failure_report(exc, job.id)  # never raw exception text for customers
        # Once claimed, only this worker's claim may fail the job: a reaped job keeps the reaper's words.
        # "Stopped at N %" on the card is where the job really got to, not the last throttled write.
        ended = _finish(job.id, status="failed", message="Failed", error=message, owner_token=token,
                        reached=reporter.reached) if claimed \
            else _finish(job.id, status="failed", message="Failed", error=message, only_if=("queued",))
        if ended:
            if detail:
                _write_if(job.id, "failed", error_detail=detail)
            _release(job, message)
            _notify_outcome(job, succeeded=False, error=message)
        if not isinstance(exc, DomainError):
            raise
    finally:
        heartbeat.stop()
        if claimed:
            _wake_waiting_run(job_id)
        tenancy.unbind()


def _wake_waiting_run(job_id: int) -> None:
    """An automation run may be waiting on this job: wake it now that the outcome is stored. Never fails the
    job; a wake-up lost here is caught by the minute tick (`kick_stalled_runs`)."""
    from app.services.automation.runner import wake_runs_waiting_on

    try:
        db.session.rollback()
        wake_runs_waiting_on(job_id)
    except Exception:  # noqa: BLE001 - the job's outcome is already stored; the tick recovers the run
        db.session.rollback()
        log.exception("Could not wake the automation run waiting on job %s", job_id)


def _write_if(job_id: int, current_status: str, /, **values) -> bool:
    """Update the row only while it still has current_status (values may set a new status)."""
    with db.engine.begin() as conn:
        return conn.execute(
            JOBS.update().where(JOBS.c.id == job_id, JOBS.c.status == current_status).values(**values)
        ).rowcount == 1


def _notify_outcome(job: Job, *, succeeded: bool, error: str = "") -> None:
    if job.created_by_id is None:
        return
    title = f"{job.title or job.kind} finished" if succeeded else f"{job.title or job.kind} failed"
    notify(account_id=job.account_id, title=title, body="" if succeeded else error,
           link=f"/jobs/{job.id}", level="success" if succeeded else "error",
           user_ids=[job.created_by_id])


def cancel_job(*, job_id: int) -> Job:
    """Cancel a job that has not started yet."""
    job = get_job(job_id)
    if job.status != "queued":
        raise Conflict("Only a job that is still waiting can be cancelled.")
    if _finish(job.id, status="cancelled", message="Cancelled", only_if=("queued",)):
        _release(job, "cancelled before it started")
        try:
            RQJob.fetch(job.rq_id or "", connection=redis_connection()).cancel()
        except NoSuchJobError:
            pass
        db.session.commit()
    db.session.refresh(job)
    return job


def reap_stale_jobs() -> int:
    """Fail jobs whose worker vanished (no heartbeat) or whose queue entry was lost."""
    config = current_app.config
    now = utcnow()
    reaped = 0
    with tenancy.all_accounts():
        running = db.session.scalars(select(Job).where(Job.status == "running")).all()
        queued = db.session.scalars(select(Job).where(Job.status == "queued")).all()
    stale_running = now - timedelta(seconds=config["JOB_STALE_AFTER_SECONDS"])
    for job in running:
        last_sign = job.heartbeat_at or job.started_at or job.created_at
        if last_sign < stale_running:
            reaped += _reap(job, "The worker running this job stopped unexpectedly. "
                                 "Nothing more was done and any reserved credits were returned.")
    stale_queued = now - timedelta(seconds=config["JOB_QUEUED_STALE_AFTER_SECONDS"])
    for job in queued:
        if job.created_at < stale_queued or not _rq_job_exists(job.rq_id):
            if job.created_at > now - timedelta(seconds=30):
                continue  # just enqueued; give RQ a moment
            reaped += _reap(job, "This job was lost from the queue before a worker picked it up. "
                                 "Nothing was done; start it again.", only_if=("queued",))
    return reaped


def _release(job: Job, reason: str) -> None:
    """Undo a job that did not finish: its kind's hook, then every open credit reservation."""
    from app.services.billing import credits

    with tenancy.account_scope(job.account_id):
        if job.kind in JOB_KINDS:
            kind_for(job.kind).on_failure(job)
        credits.refund_job(job_id=job.id, reason=f"{job.title or job.kind} — {reason}"[:250], commit=False)
        db.session.commit()


def _rq_job_exists(rq_id: str | None) -> bool:
    if not rq_id:
        return False
    return redis_connection().exists(f"rq:job:{rq_id}") == 1


def _reap(job: Job, message: str, only_if: tuple[str, ...] = ("running",)) -> int:
    if not _finish(job.id, status="failed", message="Failed", error=message, only_if=only_if, skip_locked=True):
        return 0
    with tenancy.account_scope(job.account_id):
        _release(job, message)
        _notify_outcome(job, succeeded=False, error=message)
    return 1
