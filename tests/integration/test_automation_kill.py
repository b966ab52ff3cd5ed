"""A real RQ worker process is killed (SIGKILL) in the middle of an automation run: the reapers notice, the run
shows as interrupted, a new worker process carries it on after Resume, and nothing is made or charged twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import Content, CreditUsageLog, Job
from app.services.automation import runs as run_service
from tests.conftest import TEST_DATABASE_URL
from tests.integration.ai_support import ledger, setup_account
from tests.integration.automation_support import counts, job_charges, run_row
from tests.integration.helpers import add_site
from tests.integration.test_automation_runs import control, image_counts, tasks_ready, writes_only
from tests.integration.worker_support import PYTHON, ROOT

WORKER = "from workers.worker import main; main()"


@pytest.fixture
def world(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def start_worker(tmp_path, name: str, *, burst: bool) -> tuple[subprocess.Popen, object]:
    env = {**os.environ, "IGNY8_ENV": "testing", "TEST_DATABASE_URL": TEST_DATABASE_URL,
           "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"], "IMAGE_STORAGE_DIR": str(tmp_path / "images")}
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen([str(PYTHON), "-c", WORKER] + (["--burst"] if burst else []), cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return worker, log_path


def kill(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, no goodbye
    except ProcessLookupError:
        pass
    worker.wait(timeout=10)


def wait_for(app, world, run_id, condition, worker, log_path, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run = run_row(app, world["account"], run_id)
        if condition(run):
            return run
        assert worker.poll() is None or condition(run), log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, f"the run never got there: {run}\n{log_path.read_text()[-3000:]}"
        time.sleep(0.05)


def written(run) -> int:
    return sum(1 for stage, outcome, _, _, _ in run["log"] if stage == 4 and outcome == "done")


def test_a_worker_killed_mid_run_leaves_an_interrupted_run_that_a_new_worker_finishes_once(app, world, tmp_path):
    tasks_ready(app, world)  # four tasks to write (in-process workers)
    before = job_charges(app, world["account"])
    writes_only(app, world, item_delay=2)  # writing, image prompts, images, approval, scheduling
    with app.app_context(), tenancy.account_scope(world["account"]):
        run_id = run_service.start_run(site_id=world["site"], user_id=world["user"]).id
        db.session.remove()

    first, first_log = start_worker(tmp_path, "first", burst=False)
    try:
        # Two articles are written and the run is waiting before the third: the worker dies there.
        mid = wait_for(app, world, run_id, lambda r: written(r) >= 2 and r["stage"] == 4 and r["stage_job_id"] is None
                       and r["status"] == "running", first, first_log)
    finally:
        kill(first)
    assert counts(app, world["account"])["articles"] == written(mid) < 4

    # Nothing moves while no worker is alive; once the heartbeats are old, the reapers say what happened.
    app.config.update(JOB_STALE_AFTER_SECONDS=1, AUTOMATION_STALE_AFTER_SECONDS=1)
    try:
        time.sleep(1.5)
        with app.app_context():
            from app.services.jobs import reap_stale_jobs

            reap_stale_jobs()
            assert run_service.reap_runs() == 1
            assert run_service.reap_runs() == 0
            db.session.remove()
    finally:
        app.config.update(JOB_STALE_AFTER_SECONDS=90, AUTOMATION_STALE_AFTER_SECONDS=600)
    interrupted = run_row(app, world["account"], run_id)
    assert interrupted["status"] == "interrupted" and "stopped unexpectedly" in interrupted["reason"]
    assert interrupted["log"][-1][1:3] == ("info", f"Interrupted: {interrupted['reason']}")

    control(app, world, "resume", run_id)
    second, second_log = start_worker(tmp_path, "second", burst=True)
    try:
        done = wait_for(app, world, run_id, lambda r: r["status"] not in ("queued", "running"), second, second_log,
                        seconds=120)
    finally:
        kill(second)
    assert done["status"] == "completed", (done, second_log.read_text()[-3000:])

    # Each task became exactly one article, each with its images made once; the approved ones are scheduled.
    made = counts(app, world["account"])
    assert made["articles"] == 4 and made["approved"] == 4 and made["publications"] == 4
    assert written(done) == 4
    assert image_counts(app, world["account"]) == {"generated": 4 * 3}
    with app.app_context(), tenancy.account_scope(world["account"]):
        per_task = list(db.session.scalars(select(func.count()).select_from(Content).group_by(Content.task_id)))
        charged = dict(db.session.execute(select(Job.id, Job.credits_charged).where(Job.credits_charged > 0)).all())
        usage = dict(db.session.execute(select(CreditUsageLog.job_id, func.sum(CreditUsageLog.credits))
                                        .where(CreditUsageLog.credits > 0).group_by(CreditUsageLog.job_id)).all())
        writers = db.session.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "ai.content_generation", Job.credits_charged > 0))
        db.session.remove()
    assert per_task == [1, 1, 1, 1]
    assert usage == charged and writers == 4  # each article paid for once, by the job that wrote it
    assert done["credits_used"] == job_charges(app, world["account"]) - before == sum(e[3] for e in done["log"])
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])

    # The log tells the story: written, interrupted, resumed, then carried on from the third article.
    messages = [(stage, outcome, message) for stage, outcome, message, _, _ in done["log"]]
    at = next(i for i, (_, _, m) in enumerate(messages) if m.startswith("Interrupted:"))
    assert messages[at + 1][1:] == ("info", "Resumed after being interrupted; finished items are kept.")
    assert sum(1 for s, o, _ in messages[:at] if s == 4 and o == "done") == written(mid)
    assert [o for s, o, _ in messages if s in (5, 6)].count("done") >= 2
    assert done["log"][-1][1] == "done" and "Scheduled 4 approved article(s)" in done["log"][-1][2]
