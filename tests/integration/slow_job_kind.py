"""A job kind that takes its time, for tests that kill the worker running it.

The worker subprocess imports this module so the kind is registered there too:
    python -c "import tests.integration.slow_job_kind; from workers.worker import main; main()"
"""

from __future__ import annotations

import os
import time

from flask import current_app

from app.models import Job
from app.services.job_kinds import JobKind, Progress, register

NAME = "test.slow"
PID_KEY = "igny8:test:slow-job:pid"  # the work-horse process running the job
ON_FAILURE_KEY = "igny8:test:slow-job:on-failure"  # incremented by each on_failure call


@register
class SlowJob(JobKind):
    name = NAME
    title = "Slow test job"
    timeout = 300

    def run(self, job: Job, progress: Progress) -> dict:
        redis = current_app.extensions["redis"]
        redis.set(PID_KEY, os.getpid())
        progress("AI_CALL", 30, "Thinking very slowly…", force=True)
        time.sleep(float(job.payload.get("sleep", 120)))
        return {"summary": "Woke up"}

    def on_failure(self, job: Job) -> None:
        current_app.extensions["redis"].incr(ON_FAILURE_KEY)
