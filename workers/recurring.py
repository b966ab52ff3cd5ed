"""Recurring work driven by the one scheduler process, claimed per slot in the database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.extensions import db
from app.models import SchedulerClaim


def _reap() -> None:
    from app.services.jobs import reap_stale_jobs

    reap_stale_jobs()


def _replenish() -> None:
    from app.services.billing.subscriptions import replenish_all

    replenish_all()


def _publish_due() -> None:
    from app.services.publishing.runner import publish_due

    publish_due()


def _recheck_published() -> None:
    from app.services.publishing.runner import recheck_published

    recheck_published()


def _automation() -> None:
    from app.services.automation.runs import kick_stalled_runs, reap_runs, start_due

    reap_runs()
    kick_stalled_runs()
    start_due()


def _keyword_search() -> None:
    from app.services.planner.keyword_copy import index_stale_search

    index_stale_search()


def _purge_claims() -> None:
    cutoff = datetime.now(timezone.utc) - timedelta(days=7)
    db.session.execute(delete(SchedulerClaim).where(SchedulerClaim.claimed_at < cutoff))
    db.session.commit()


# name → (interval in seconds, function). Later features add their ticks here.
RECURRING: dict[str, tuple[int, Callable[[], None]]] = {
    "reap-stale-jobs": (60, _reap),
    "publish-due": (60, _publish_due),
    "recheck-published-posts": (3600, _recheck_published),
    "automation-due": (60, _automation),
    "keyword-search-entries": (60, _keyword_search),
    "replenish-subscriptions": (3600, _replenish),
    "purge-scheduler-claims": (86400, _purge_claims),
}


def slot_for(interval: int, now: datetime) -> str:
    """The slot a moment falls in, e.g. '2026-11-22T10:05' for a one-minute task."""
    start = int(now.timestamp()) // interval * interval
    return datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def claim(task: str, slot: str) -> bool:
    """Insert the (task, slot) claim; False when someone already has it."""
    try:
        with db.session.begin_nested():
            db.session.add(SchedulerClaim(task=task, slot=slot))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def run_task(task: str) -> None:
    """Run a recurring task across all accounts."""
    _, function = RECURRING[task]
    with tenancy.all_accounts():
        function()
