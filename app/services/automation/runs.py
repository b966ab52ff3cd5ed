"""Automation runs: Run now, scheduled starts from the minute tick, pause/resume/cancel, the reaper."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, DomainError, NotFound
from app.extensions import db
from app.models import Account, AutomationItem, AutomationRun, AutomationSettings, Job, Site
from app.services.automation.runner import enqueue_step, release_dead_lock
from app.services.automation.settings import next_run_after, settings_for, stage_matrix
from app.timeutil import utcnow


def _snapshot(row: AutomationSettings) -> dict:
    """The settings a run keeps for its whole life (changes made during the run apply to the next one)."""
    return {"stages": stage_matrix(row), "item_delay": row.item_delay or 0, "stage_delay": row.stage_delay or 0,
            "credit_cap": row.credit_cap}


def start_run(*, site_id: int, user_id: int | None, trigger: str = "manual", slot: str | None = None) -> AutomationRun:
    """Record a queued run for the site (at most one active, held by the database), then enqueue its first step."""
    from app.services.billing import credits

    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    account = db.session.scalars(select(Account)).one()
    if not account.module_enabled("automation"):
        raise DomainError("The Automation module is turned off for this account. "
                          "An owner or admin can turn it on in Settings → Modules.")
    row = settings_for(site_id)
    config = _snapshot(row)
    cap = row.credit_cap or credits.balance(site.account_id)
    run = AutomationRun(site_id=site_id, status="queued", trigger=trigger, stage=1, config=config,
                        progress={}, credit_cap=cap, started_by_id=user_id, slot=slot)
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:
        db.session.rollback()
        active = active_run(site_id)
        raise Conflict(f"A run is already going on this site (run #{active.id if active else '?'}, "
                       f"{active.status if active else 'active'}). Pause, resume or cancel it first.")
    db.session.commit()
    enqueue_step(run.id)
    return run


def active_run(site_id: int) -> AutomationRun | None:
    return db.session.scalars(select(AutomationRun).where(AutomationRun.site_id == site_id,
                                                          AutomationRun.status.in_(("queued", "running", "paused",
                                                                                    "cancelling", "interrupted")))).first()


def get_run(run_id: int) -> AutomationRun:
    """A run of the bound account, or NotFound."""
    run = db.session.scalars(select(AutomationRun).where(AutomationRun.id == run_id)).first()
    if run is None:
        raise NotFound("That automation run does not exist or you do not have access to it.")
    return run


def _locked(run_id: int) -> AutomationRun:
    run = db.session.scalars(select(AutomationRun).where(AutomationRun.id == run_id).with_for_update()).first()
    if run is None:
        raise NotFound("That automation run does not exist or you do not have access to it.")
    return run


def pause_run(*, run_id: int) -> AutomationRun:
    """Pause after the item being worked on."""
    run = _locked(run_id)
    if run.status not in ("queued", "running"):
        db.session.rollback()
        raise Conflict(f"Only a running run can be paused; this one is {run.status}.")
    run.status, run.reason = "paused", "Paused by a person. The item being worked on finishes first."
    db.session.commit()
    return run


def resume_run(*, run_id: int) -> AutomationRun:
    """Carry on from where the run was; finished items are neither redone nor charged again."""
    run = _locked(run_id)
    if run.status not in ("paused", "interrupted"):
        db.session.rollback()
        raise Conflict(f"Only a paused or interrupted run can be resumed; this one is {run.status}.")
    waiting = run.stage_job_id is not None and run.status == "paused"
    db.session.add(AutomationItem(run_id=run.id, site_id=run.site_id, stage=min(run.stage, 7), outcome="info",
                                  message=f"Resumed after being {run.status}; finished items are kept.",
                                  item_ids=[], input_ids=[]))
    run.status, run.reason, run.failures, run.heartbeat_at = "running", "", 0, utcnow()
    db.session.commit()
    job = db.session.get(Job, run.stage_job_id) if run.stage_job_id else None
    if not (waiting and job is not None and not job.is_finished):
        enqueue_step(run.id)  # otherwise the step still waiting on the job carries on
    return run


def cancel_run(*, run_id: int) -> AutomationRun:
    """Cancel after the item being worked on; reserved credits of work not started are returned."""
    run = _locked(run_id)
    if run.status not in ("queued", "running", "paused", "interrupted"):
        db.session.rollback()
        raise Conflict(f"This run is already {run.status}.")
    run.status = "cancelling"
    db.session.commit()
    job = db.session.get(Job, run.stage_job_id) if run.stage_job_id else None
    if job is not None and job.status == "queued":
        from app.services.jobs import cancel_job

        cancel_job(job_id=job.id)  # not started: it never runs and its reserved credits go back
    enqueue_step(run.id)
    return run


def start_due(*, limit: int = 500) -> int:
    """Scheduler tick: start one run per enabled site whose next run time has come (claimed row by row)."""
    now, started = utcnow(), 0
    with tenancy.all_accounts():
        due = db.session.scalars(select(AutomationSettings).where(
            AutomationSettings.enabled.is_(True), AutomationSettings.next_run_at <= now)
            .order_by(AutomationSettings.next_run_at).limit(limit).with_for_update(skip_locked=True)).all()
        work = []
        for row in due:
            site = db.session.get(Site, row.site_id)
            work.append((row.account_id, row.site_id, row.next_run_at.strftime("%Y-%m-%dT%H:%M")))
            row.next_run_at = next_run_after(row, site.timezone if site else "UTC", now)
        db.session.commit()  # the claim: a second tick no longer sees these rows as due
    for account_id, site_id, slot in work:
        with tenancy.account_scope(account_id):
            interrupted = db.session.scalars(select(AutomationRun).where(
                AutomationRun.site_id == site_id, AutomationRun.status == "interrupted")).first()
            try:
                if interrupted is not None:
                    resume_run(run_id=interrupted.id)
                else:
                    start_run(site_id=site_id, user_id=None, trigger="scheduled", slot=slot)
                    started += 1
            except DomainError:
                db.session.rollback()  # a run is still going, or the module is off: this slot is skipped
    return started


def kick_stalled_runs() -> int:
    """Queue a step for running runs whose stage job has ended but whose next step never came (the minute tick).

    A stage job wakes its run when it ends; a worker killed between storing the outcome and queueing that step
    loses the wake-up. A step that arrives twice is harmless: steps take a per-run lock and every decision is
    read from the run row."""
    cutoff = utcnow() - timedelta(seconds=current_app.config.get("AUTOMATION_KICK_AFTER_SECONDS", 60))
    kicked = []
    with tenancy.all_accounts():
        runs = db.session.scalars(select(AutomationRun).where(
            AutomationRun.status.in_(("running", "cancelling")), AutomationRun.heartbeat_at < cutoff,
            AutomationRun.stage_job_id.is_not(None))).all()
        for run in runs:
            job = db.session.get(Job, run.stage_job_id)
            if job is not None and job.is_finished and (job.finished_at or job.created_at) < cutoff:
                kicked.append(run.id)
        db.session.commit()
    for run_id in kicked:
        enqueue_step(run_id)
    return len(kicked)


def reap_runs() -> int:
    """Mark runs whose steps stopped (the worker was killed) as interrupted, to be resumed."""
    cutoff = utcnow() - timedelta(seconds=current_app.config.get("AUTOMATION_STALE_AFTER_SECONDS", 600))
    reaped = 0
    with tenancy.all_accounts():
        stale = db.session.scalars(select(AutomationRun).where(
            AutomationRun.status.in_(("running", "cancelling")), AutomationRun.heartbeat_at < cutoff)
            .with_for_update(skip_locked=True)).all()
        for run in stale:
            job = db.session.get(Job, run.stage_job_id) if run.stage_job_id else None
            if job is not None and not job.is_finished:
                continue  # its stage job is still alive (the jobs reaper judges that one)
            run.status = "interrupted"
            run.reason = "The worker running this run stopped unexpectedly. Resume it to carry on from where it was."
            db.session.add(AutomationItem(run_id=run.id, site_id=run.site_id, account_id=run.account_id,
                                          stage=min(run.stage, 7), outcome="info", item_ids=[], input_ids=[],
                                          message=f"Interrupted: {run.reason}"))
            reaped += 1
        db.session.commit()
        for run in stale:
            if run.status == "interrupted":
                release_dead_lock(run.id)  # its killed step may have held the step lock
    return reaped
