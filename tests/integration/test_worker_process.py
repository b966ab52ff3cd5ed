"""The RQ work horse (the forked process running a job, in a process group of its own) never outlives its worker."""

from __future__ import annotations

import os
import signal

from tests.conftest import make_account
from tests.integration import slow_job_kind
from tests.integration.worker_support import (
    enqueue,
    wait_until_gone,
    worker_running_slow_job,
)


def test_a_work_horse_dies_with_its_worker_even_when_the_worker_is_killed_outright(app, tmp_path):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    job_id = enqueue(app, account_id, user_id, slow_job_kind.NAME, {"sleep": 120})
    with worker_running_slow_job(app, job_id, tmp_path / "worker.log") as (worker, horse_pid):
        assert os.getpgid(horse_pid) != os.getpgid(worker.pid)  # RQ's own group: killing the worker's misses it

        os.killpg(worker.pid, signal.SIGKILL)  # the worker's whole process group, as a supervisor would
        worker.wait(timeout=10)
        wait_until_gone(horse_pid, "the work horse outlived its worker")
