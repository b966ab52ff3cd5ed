"""Fencing: a job's output and settlement commit only while its worker still owns the job row.

A worker claims a job by moving it from queued to running with a fresh owner token. Every write it
makes afterwards — progress, heartbeats, and every commit of its database session (the domain output
and the credit settlement) — is conditional on the row still being running under that token. The
reaper fails a job whose worker stopped beating and refunds it; if that worker wakes up later, its
next progress write or its commit finds the row changed and raises JobLost: the work stops, its
transaction is rolled back, nothing is saved or charged, and the row keeps what the reaper wrote.

The commit check locks the job row (SELECT … FOR UPDATE) in the same transaction as the output, so
the reaper cannot slip in between the check and the commit: it waits for the lock and then finds the
job no longer running.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Job
from app.timeutil import utcnow

log = logging.getLogger(__name__)
JOBS = Job.__table__
# A heartbeat or progress write waits at most this long for the job row (the worker's own final
# transaction may hold it briefly); a timeout counts as a failed beat and is retried.
WRITE_LOCK_TIMEOUT = "2s"
LOST_MESSAGE = "This job was taken away from its worker (it was failed by the reaper); its output was discarded."

_fence: ContextVar[tuple[int, str] | None] = ContextVar("igny8_job_fence", default=None)


class JobLost(Exception):
    """The worker no longer owns its job: stop, save nothing, charge nothing."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: {LOST_MESSAGE}")
        self.job_id = job_id


def _owned(job_id: int, token: str):
    return (JOBS.c.id == job_id) & (JOBS.c.status == "running") & (JOBS.c.owner_token == token)


@contextmanager
def fenced(job_id: int, token: str) -> Iterator[None]:
    """Within the block, every commit of a session first checks (and locks) the job's ownership."""
    reset = _fence.set((job_id, token))
    try:
        yield
    finally:
        _fence.reset(reset)


def _check_before_commit(session: Session) -> None:
    fence = _fence.get()
    if fence is None or session.in_nested_transaction():
        return  # a savepoint is not a commit; locking the row there would block progress writes until the end
    job_id, token = fence
    held = session.execute(select(JOBS.c.id).where(_owned(job_id, token)).with_for_update(key_share=True)).first()
    if held is None:
        raise JobLost(job_id)


def install(session_class=Session) -> None:
    """Check the fence on every commit made while a job runs."""
    if not event.contains(session_class, "before_commit", _check_before_commit):
        event.listen(session_class, "before_commit", _check_before_commit)


def complete(job_id: int, token: str, result: dict) -> None:
    """Mark the job succeeded in the worker's own transaction (with its output and settlement), or JobLost."""
    done = db.session.execute(JOBS.update().where(_owned(job_id, token)).values(
        status="succeeded", phase="DONE", progress=100, message="Done", error=None, result=result,
        finished_at=utcnow())).rowcount
    if done != 1:
        raise JobLost(job_id)
    checked = _fence.set(None)  # the UPDATE above was the check, and it holds the row lock until the commit
    try:
        db.session.commit()
    finally:
        _fence.reset(checked)


def write_owned(job_id: int, token: str, **values) -> bool:
    """Update the row in its own short transaction while the token still owns it; False once lost."""
    with db.engine.begin() as conn:
        conn.execute(text(f"SET LOCAL lock_timeout = '{WRITE_LOCK_TIMEOUT}'"))
        return conn.execute(JOBS.update().where(_owned(job_id, token)).values(**values)).rowcount == 1


class Heartbeat(threading.Thread):
    """Marks the job alive while it runs. A failed beat is logged and retried, never silently dropped;
    a beat that finds the job no longer ours sets `lost`, and the worker stops at its next step."""

    def __init__(self, app, job_id: int, token: str, every: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-job-{job_id}")
        self.app, self.job_id, self.token, self.every = app, job_id, token, every
        self.stopped = threading.Event()
        self.lost = threading.Event()
        self.failures = 0

    def run(self) -> None:
        delay = self.every
        while not self.stopped.wait(delay):
            try:
                with self.app.app_context():
                    ours = write_owned(self.job_id, self.token, heartbeat_at=utcnow())
            except Exception:
                self.failures += 1
                delay = min(self.every, 0.5 * 2 ** min(self.failures, 6))
                log.warning("Heartbeat of job %s failed (%s in a row); retrying in %.1f s",
                            self.job_id, self.failures, delay, exc_info=True)
                continue
            self.failures, delay = 0, self.every
            if not ours:
                log.warning("Job %s is no longer owned by this worker; stopping its work", self.job_id)
                self.lost.set()
                return

    def stop(self) -> None:
        self.stopped.set()
