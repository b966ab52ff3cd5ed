"""A production-style RQ worker in a subprocess running the slow test job, for tests that kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Job
from app.services.jobs import enqueue_job
from tests.conftest import TEST_DATABASE_URL
from tests.integration import slow_job_kind

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
WORKER_CODE = "import tests.integration.slow_job_kind; from workers.worker import main; main()"
JOBS = Job.__table__


def enqueue(app, account_id: int, user_id: int | None, kind: str, payload: dict | None = None) -> int:
    """Start a job through the service, as a feature's view would."""
    with app.app_context(), tenancy.account_scope(account_id):
        return enqueue_job(kind=kind, payload=payload or {}, created_by_id=user_id).id


def job_row(app, job_id: int):
    """The job row as any other process sees it (its own connection, no tenancy filter)."""
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().one()


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie waiting for init is as dead as it gets


def wait_until_gone(pid: int, message: str, *, within: float = 10) -> None:
    """Wait for a process to end; fail with the message if it is still there after `within` seconds."""
    deadline = time.monotonic() + within
    while not process_gone(pid):
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def worker_running_slow_job(app, job_id: int, log_path: Path):
    """A worker that forks a work horse per job, in its own process group, once the horse has started the
    slow job: yields (worker, horse_pid). Both process groups are killed on the way out."""
    redis = app.extensions["redis"]
    env = {**os.environ, "IGNY8_ENV": "testing", "TEST_DATABASE_URL": TEST_DATABASE_URL,
           "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"]}
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
        yield worker, horse_pid
    finally:
        for pid in (worker.pid, horse_pid):
            if pid:
                kill_group(pid)
        worker.wait(timeout=10)
