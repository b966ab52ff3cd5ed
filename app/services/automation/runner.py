"""The automation runner: short RQ steps that walk a run's stages, one batch at a time, never blocking a worker
on another job. A Redis lock keeps one step per run at a time; the run row holds everything needed to go on."""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import func, select

from app import tenancy
from app.errors import DomainError, InsufficientCredits
from app.extensions import db
from app.models import Account, AutomationItem, AutomationRun, Job
from app.models.jobs import TERMINAL_STATUSES
from app.queue import get_queue, redis_connection
from app.services.automation.settings import STAGE_BY_NUMBER
from app.services.automation.stages import FINDERS, Done, made_by, schedule_approved
from app.services.notifications import notify
from app.timeutil import utcnow

MAX_FAILURES = 3  # consecutive failed batches before the run pauses instead of burning through items
MAX_BATCHES_PER_STEP = 50


def enqueue_step(run_id: int) -> None:
    """Hand the run to a worker (ids only)."""
    get_queue("default").enqueue_call("workers.tasks.run_automation", args=(run_id,), result_ttl=600,
                                      failure_ttl=86400, timeout=1800)


def wake_runs_waiting_on(job_id: int) -> None:
    """A stage job ended: queue one step for the run waiting on it, so no worker sleeps or polls meanwhile.

    Called by the job wrapper once the job's outcome is committed. A run whose waking is lost (its worker died
    between the two) is picked up by the minute tick's `kick_stalled_runs`."""
    with tenancy.all_accounts():
        run_ids = db.session.scalars(select(AutomationRun.id).where(
            AutomationRun.stage_job_id == job_id,
            AutomationRun.status.in_(("queued", "running", "paused", "cancelling")))).all()
    for run_id in run_ids:
        enqueue_step(run_id)


def _stage_job_ended(run_id: int) -> bool:
    with tenancy.all_accounts():
        job_id = db.session.scalar(select(AutomationRun.stage_job_id).where(AutomationRun.id == run_id))
        ended = job_id is not None and db.session.scalar(
            select(Job.status).where(Job.id == job_id)) in TERMINAL_STATUSES
    db.session.remove()
    return ended


def lock_key(run_id: int) -> str:
    return f"automation-run:{run_id}"


def release_dead_lock(run_id: int) -> None:
    """Free the step lock of a run whose worker was killed while holding it (the reaper judged it dead)."""
    redis_connection().delete(lock_key(run_id))


def step(run_id: int) -> None:
    """Advance one run as far as it can go without waiting; then hand it back to the queue if it must wait."""
    lock = redis_connection().lock(lock_key(run_id), timeout=1800, blocking=False)
    if not lock.acquire():
        return  # another worker is stepping this run
    wait: str | bool = False
    try:
        with tenancy.all_accounts():
            account_id = db.session.scalar(select(AutomationRun.account_id).where(AutomationRun.id == run_id))
        if account_id is None:
            return
        with tenancy.account_scope(account_id):
            wait = _advance(run_id)
    finally:
        db.session.remove()
        lock.release()
    # The stage job wakes the run when it ends (`wake_runs_waiting_on`). A job that ended while this step still
    # held the lock found it taken, so its wake-up was dropped: look once more now that the lock is free.
    if isinstance(wait, str):
        if _stage_job_ended(run_id):
            enqueue_step(run_id)
    elif wait:  # a job without a queue entry: look again shortly
        time.sleep(current_app.config.get("AUTOMATION_POLL_SECONDS", 1.0))
        enqueue_step(run_id)


def _log(run: AutomationRun, stage: int, outcome: str, message: str, **values) -> AutomationItem:
    item = AutomationItem(run_id=run.id, site_id=run.site_id, stage=stage, outcome=outcome, message=message,
                          item_ids=values.pop("item_ids", []), input_ids=values.pop("input_ids", []), **values)
    db.session.add(item)
    return item


def _stage_sum(run: AutomationRun, stage: int, column) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(column), 0)).where(
        AutomationItem.run_id == run.id, AutomationItem.stage == stage)) or 0


def _finish(run: AutomationRun, status: str, reason: str, *, level: str = "info") -> None:
    run.status, run.reason, run.finished_at, run.current_item = status, reason, utcnow(), ""
    db.session.commit()
    words = {"completed": "finished", "stopped": "stopped", "cancelled": "was cancelled", "failed": "failed",
             "paused": "paused"}
    notify(account_id=run.account_id, title=f"Automation run #{run.id} {words.get(status, status)}",
           body=reason, link=f"/automation/runs/{run.id}", level=level,
           user_ids=[run.started_by_id] if run.started_by_id else None)


def _pause(run: AutomationRun, reason: str) -> None:
    run.status, run.reason, run.current_item = "paused", reason, ""
    db.session.commit()
    notify(account_id=run.account_id, title=f"Automation run #{run.id} paused", body=reason,
           link=f"/automation/runs/{run.id}", level="warning",
           user_ids=[run.started_by_id] if run.started_by_id else None)


def _collect(run: AutomationRun, job: Job) -> None:
    """Record a finished stage job once: what it made, what it charged, or why it failed."""
    item = db.session.scalars(select(AutomationItem).where(AutomationItem.run_id == run.id,
                                                           AutomationItem.job_id == job.id)).first()
    run.stage_job_id = None
    if item is None or item.outcome != "running":
        return
    item_type, made = made_by(item.stage, job.id)
    item.item_type, item.item_ids, item.credits = item_type, made, job.credits_charged or 0
    run.credits_used += item.credits
    if job.status == "succeeded":
        run.failures = 0
        item.outcome = "done"
        item.message = (job.result or {}).get("summary") or f"Made {len(made)} {item_type or 'item'}(s)."
    else:
        run.failures += 1
        item.outcome = "failed"
        item.message = job.error or "The job was cancelled before it started; its reserved credits were returned."
        item.input_ids = []  # not made: offered again (the failure count stops a provider that keeps failing)
        item.count = 0


def _stop_for_budget(run: AutomationRun, stage: int, estimate: int) -> str | None:
    from app.services.billing import credits

    available = credits.balance(run.account_id)
    if available < estimate:
        return f"The account's credit balance ran out: {available:,} left and the next item needs about {estimate:,}."
    cap = run.credit_cap
    if run.credits_used + estimate > cap:
        return (f"The run's credit budget ran out: {run.credits_used:,} of {cap:,} credits used and the next item "
                f"needs about {estimate:,}.")
    share = run.config["stages"][str(stage)].get("budget") or 0
    if share:
        allowed = cap * share // 100
        used = _stage_sum(run, stage, AutomationItem.credits)
        if used + estimate > allowed:
            return (f"Stage {stage}'s share of the budget ran out: {used:,} of {allowed:,} credits ({share} %) used "
                    f"and the next item needs about {estimate:,}.")
    return None


def _advance(run_id: int) -> str | bool:
    """Do what can be done now; when the run waits for a stage job, that job's RQ id (True if it has none)."""
    run = db.session.scalars(select(AutomationRun).where(AutomationRun.id == run_id)).first()
    if run is None or run.status not in ("queued", "running", "paused", "cancelling"):
        return False
    run.heartbeat_at = utcnow()
    account = db.session.scalars(select(Account)).one()
    if not account.module_enabled("automation"):
        if run.status != "paused":
            _finish(run, "stopped", "The Automation module was turned off for this account.", level="warning")
        return False
    for _ in range(MAX_BATCHES_PER_STEP):
        if run.stage_job_id:
            job = db.session.get(Job, run.stage_job_id)
            db.session.refresh(job)
            if job.status == "queued" and run.status == "cancelling":
                from app.services.jobs import cancel_job

                job = cancel_job(job_id=job.id)  # not started: its reservation goes back
            if not job.is_finished:
                db.session.commit()
                return job.rq_id or True
            _collect(run, job)
            db.session.commit()
            if run.failures >= MAX_FAILURES and run.status in ("running", "queued"):
                _pause(run, f"Paused after {run.failures} failures in a row. The last one: {job.error or 'unknown'}")
                return False
        if run.status == "cancelling":
            _finish(run, "cancelled", "Cancelled. Work that had not started was not charged.")
            return False
        if run.status == "paused":
            db.session.commit()
            return False
        if run.status == "queued":
            run.status, run.started_at = "running", utcnow()
        if run.stage > 7:
            outcome, message, made = schedule_approved(run)
            _log(run, 7, outcome, message, item_type="content" if made else None, item_ids=made)
            if outcome == "stopped":
                _finish(run, "stopped", message, level="warning")
            else:
                _finish(run, "completed", f"All stages finished. {message}", level="success")
            return False
        if not _run_stage_piece(run):
            continue
        db.session.commit()
        if not run.stage_job_id:
            return False
        return db.session.get(Job, run.stage_job_id).rq_id or True
    db.session.commit()
    enqueue_step(run.id)  # a long synchronous stretch: let other runs have the worker
    return False


def _next_stage(run: AutomationRun, outcome: str | None = None, message: str = "") -> None:
    if outcome:
        _log(run, run.stage, outcome, message)
    run.stage += 1
    run.current_item = ""
    db.session.commit()
    delay = min(run.config.get("stage_delay") or 0, 60)
    if delay and run.stage <= 7:
        time.sleep(delay)


def _run_stage_piece(run: AutomationRun) -> bool:
    """Start the stage's next batch. False: the stage ended or the piece finished at once (go on looping)."""
    stage = STAGE_BY_NUMBER[run.stage]
    cfg = run.config["stages"][str(stage.number)]
    if not stage.available:
        _next_stage(run, "skipped", f"{stage.name} is not available yet; skipped.")
        return False
    if not cfg.get("enabled"):
        _next_stage(run, "skipped", f"{stage.name} is turned off in this run's settings; skipped.")
        return False
    done = _stage_sum(run, stage.number, AutomationItem.count)
    limit = cfg.get("limit") or 0
    if limit and done >= limit:
        _next_stage(run, "info", f"Reached the per-run limit of {limit} {stage.unit}.")
        return False
    size = min(cfg["batch"], limit - done) if limit else cfg["batch"]
    batch, _ = FINDERS[stage.number](run, cfg, size)
    if batch is None:
        if done:
            _next_stage(run, "info", f"{stage.name}: done, {done} {stage.unit} handled.")
        else:
            _next_stage(run, "skipped", f"{stage.name}: nothing to do, so skipped.")
        return False
    try:
        estimate = batch.estimate() if stage.ai else 0
        reason = _stop_for_budget(run, stage.number, estimate) if estimate else None
    except DomainError as exc:
        db.session.rollback()
        _log(run, stage.number, "failed", exc.message, input_ids=batch.input_ids, count=len(batch.input_ids))
        run.failures += 1
        db.session.commit()
        if run.failures >= MAX_FAILURES:
            _pause(run, f"Paused after {run.failures} failures in a row. The last one: {exc.message}")
            return True
        return False
    if reason:
        _log(run, stage.number, "stopped", reason)
        _finish(run, "stopped", reason, level="warning")
        return True
    run.current_item, run.heartbeat_at = batch.label, utcnow()
    db.session.commit()
    delay = min(run.config.get("item_delay") or 0, 60)
    if delay and done:
        time.sleep(delay)
        db.session.refresh(run)
        if run.status != "running":  # paused or cancelled while waiting: this item has not started
            run.current_item = ""
            db.session.commit()
            return False
    try:
        started = batch.start()
    except InsufficientCredits as exc:
        db.session.rollback()
        _log(run, stage.number, "stopped", exc.message)
        _finish(run, "stopped", f"The account's credit balance ran out. {exc.message}", level="warning")
        return True
    except DomainError as exc:
        db.session.rollback()
        run = db.session.get(AutomationRun, run.id)
        run.failures += 1
        _log(run, stage.number, "failed", exc.message)
        db.session.commit()
        if run.failures >= MAX_FAILURES:
            _pause(run, f"Paused after {run.failures} failures in a row. The last one: {exc.message}")
            return True
        return False
    run = db.session.get(AutomationRun, run.id)
    if isinstance(started, Done):
        _log(run, stage.number, "done", started.message, item_type=started.item_type, item_ids=started.made,
             input_ids=batch.input_ids, count=len(batch.input_ids))
        run.failures = 0
        db.session.commit()
        return False
    _log(run, stage.number, "running", batch.label, job_id=started.id, input_ids=batch.input_ids,
         count=len(batch.input_ids))
    run.stage_job_id = started.id
    return True
