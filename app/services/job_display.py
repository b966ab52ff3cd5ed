"""How a job's state reads to a person: phase names in words, a time-left estimate, safe errors."""

from __future__ import annotations

import math
from datetime import datetime

from app.models import Job
from app.services.job_kinds import JOB_KINDS
from app.timeutil import utcnow

PHASE_WORDS = {
    "INIT": "Starting",
    "PREP": "Preparing",
    "AI_CALL": "Waiting for the AI model",
    "PARSE": "Checking the answer",
    "SAVE": "Saving",
    "DONE": "Done",
}
STATUS_WORDS = {"queued": "Waiting", "running": "Running", "succeeded": "Succeeded", "failed": "Failed",
                "cancelled": "Cancelled"}
# A time-left estimate appears once a job has run this long and has this much progress to go on.
ESTIMATE_AFTER_SECONDS = 5
ESTIMATE_FROM_PERCENT = 5


def phase_label(job: Job) -> str:
    """The job's current phase in words (its kind's own words where it has them)."""
    kind = JOB_KINDS.get(job.kind)
    labels = getattr(kind, "phase_labels", None) or {}
    return labels.get(job.phase) or PHASE_WORDS.get(job.phase) or (job.phase or "").replace("_", " ").capitalize()


def seconds_left(job: Job, now: datetime | None = None) -> int | None:
    """Linear estimate of the seconds a running job still needs, or None when it is too early to say."""
    if job.status != "running" or job.started_at is None:
        return None
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    percent = job.progress or 0
    if elapsed < ESTIMATE_AFTER_SECONDS or percent < ESTIMATE_FROM_PERCENT or percent >= 100:
        return None
    return max(1, math.ceil(elapsed * (100 - percent) / percent))


def time_left(job: Job, now: datetime | None = None) -> str:
    """'about 40 seconds left', 'about 3 minutes left' — or '' when there is no estimate."""
    seconds = seconds_left(job, now)
    if seconds is None:
        return ""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 90:
        return f"about {int(round(seconds, -1))} seconds left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minutes left"
    return f"about {round(minutes / 60)} hours left"
