"""The RQ work horse (the forked process running a job, in a process group of its own) never outlives its worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.conftest import TEST_DATABASE_URL, make_account
from tests.integration import slow_job_kind
from tests.integration.test_jobs import PYTHON, ROOT, WORKER_CODE, _process_gone, enqueue, job_row


def test_a_work_horse_dies_with_its_worker_even_when_the_worker_is_killed_outright(app, tmp_path):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    redis = app.extensions["redis"]
    job_id = enqueue(app, account_id, user_id, slow_job_kind.NAME, {"sleep": 120})
    env = {**os.environ, "IGNY8_ENV": "testing", "TEST_DATABASE_URL": TEST_DATABASE_URL,
           "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"]}
    log_path = tmp_path / "worker.log"
    horse_pid = None
    with open(log_path, "w") as log:
        worker = subprocess.Popen([str(PYTHON), "-c", WORKER_CODE, "--burst"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (job_row(app, job_id)["progress"] == 30 and redis.get(slow_job_kind.PID_KEY)):
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the job never started:\n" + log_path.read_text()
            time.sleep(0.05)
        horse_pid = int(redis.get(slow_job_kind.PID_KEY))
        assert os.getpgid(horse_pid) != os.getpgid(worker.pid)  # RQ's own group: killing the worker's misses it

        os.killpg(worker.pid, signal.SIGKILL)  # the worker's whole process group, as a supervisor would
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _process_gone(horse_pid):
            assert time.monotonic() < deadline, "the work horse outlived its worker"
            time.sleep(0.05)
    finally:
        for pid in (worker.pid, horse_pid):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        worker.wait(timeout=10)
