"""Background jobs end to end: HTTP routes, a real RQ worker, real PostgreSQL and Redis."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.job import Job as RQJob
from sqlalchemy import select

from app import tenancy
from app.errors import DomainError
from app.extensions import db
from app.models import Job, Notification
from app.modules import MODULE_LABELS
from app.services.job_kinds import JobKind, register
from app.services.jobs import reap_stale_jobs
from app.timeutil import utcnow
from tests.conftest import Browserless, login, make_account
from tests.integration import slow_job_kind
from tests.integration.worker_support import (
    enqueue,
    job_row,
    kill_group,
    wait_until_gone,
    worker_running_slow_job,
)

HTMX = {"HX-Request": "true"}
JOBS = Job.__table__
NOTIFICATIONS = Notification.__table__

# Calls made by the test job kinds below (SimpleWorker runs them in this process).
RUNS: list[tuple[str, int]] = []
FAILURE_HOOK_CALLS: list[tuple[str, int]] = []


@register
class ExplodingJob(JobKind):
    """Reports some progress, then breaks."""

    name = "test.jobs.explodes"
    title = "Exploding test job"

    def run(self, job, progress):
        RUNS.append((self.name, job.id))
        progress("AI_CALL", 40, "Halfway there…", force=True)
        raise RuntimeError("the flux capacitor melted")

    def on_failure(self, job):
        FAILURE_HOOK_CALLS.append((self.name, job.id))


@register
class PlannerJob(JobKind):
    """A job of the Planner module."""

    name = "test.jobs.planner"
    title = "Planner test job"
    module = "planner"

    def run(self, job, progress):
        RUNS.append((self.name, job.id))
        return {"summary": "Planned"}

    def on_failure(self, job):
        FAILURE_HOOK_CALLS.append((self.name, job.id))


@register
class QuickJob(JobKind):
    """Does nothing much, successfully."""

    name = "test.jobs.quick"
    title = "Quick test job"

    def run(self, job, progress):
        RUNS.append((self.name, job.id))
        return {"summary": "All done quickly"}

    def on_failure(self, job):
        FAILURE_HOOK_CALLS.append((self.name, job.id))


@pytest.fixture(autouse=True)
def _forget_calls():
    RUNS.clear()
    FAILURE_HOOK_CALLS.clear()
    yield


# ----------------------------------------------------------------------------- helpers


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_site(app, account_id: int, *, url: str, name: str = "Blog") -> int:
    from app.services.accounts.sites import create_site

    with app.app_context(), tenancy.account_scope(account_id):
        site = create_site(name=name, url=url, timezone="UTC", industry_id=None,
                           sector_template_ids=[], sector_names=["General"])
        return site.id


def update_job(app, job_id: int, **values) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(JOBS.update().where(JOBS.c.id == job_id).values(**values))


def notifications_of(app, user_id: int) -> list:
    with app.app_context(), db.engine.connect() as conn:
        return list(conn.execute(
            select(NOTIFICATIONS).where(NOTIFICATIONS.c.user_id == user_id).order_by(NOTIFICATIONS.c.id)
        ).mappings())


def queue_of(app):
    return app.extensions["rq_queues"]["default"]


def run_worker(app) -> None:
    """A real RQ worker drains the queue in this process."""
    SimpleWorker([queue_of(app)], connection=app.extensions["redis"]).work(burst=True)


def job_id_from(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def bell_count(client) -> int:
    html = client.get("/notifications/bell").get_data(as_text=True)
    marker = 'data-testid="bell-count">'
    if marker not in html:
        return 0
    return int(html.split(marker, 1)[1].split("<", 1)[0])


# ----------------------------------------------------------------------------- site check, end to end


def test_site_check_started_by_owner_runs_on_a_worker_and_finds_wordpress(app, client, web, wordpress_site):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    site_id = make_site(app, account_id, url=wordpress_site)
    login(client, "owner@acme.example.com")

    job_id = job_id_from(web.post(f"/sites/{site_id}/check", token_from=f"/sites/{site_id}"))

    # While it waits, the fragment keeps polling.
    waiting = client.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert waiting.status_code == 200
    assert "HX-Trigger" not in waiting.headers
    html = waiting.get_data(as_text=True)
    assert 'hx-trigger="load delay:1s"' in html
    assert f'hx-get="/jobs/{job_id}/progress"' in html
    assert 'data-status="queued"' in html

    run_worker(app)

    row = job_row(app, job_id)
    assert row["status"] == "succeeded", row["error"]
    assert row["progress"] == 100
    assert row["error"] is None
    assert row["result"]["wordpress"] is True
    assert "WordPress REST API answers" in row["result"]["summary"]
    assert row["created_by_id"] == user_id and row["site_id"] == site_id

    # Finished: htmx is told to stop polling and the page hears about it.
    done = client.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert done.status_code == 286
    assert json.loads(done.headers["HX-Trigger"])["job-finished"] == {"id": job_id, "status": "succeeded"}
    html = done.get_data(as_text=True)
    assert "hx-trigger" not in html
    assert 'data-status="succeeded"' in html
    assert "WordPress REST API answers" in html
    assert 'aria-valuenow="100"' in html

    # A plain (non-htmx) request is an ordinary page fragment.
    assert client.get(f"/jobs/{job_id}/progress").status_code == 200
    assert "WordPress REST API answers" in client.get(f"/jobs/{job_id}").get_data(as_text=True)

    # The person who started it is told.
    assert bell_count(client) == 1
    [note] = notifications_of(app, user_id)
    assert note["level"] == "success" and note["link"] == f"/jobs/{job_id}"


def test_site_check_of_unreachable_site_fails_and_says_it_could_not_connect(app, client, web):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    site_id = make_site(app, account_id, url=f"http://127.0.0.1:{closed_port()}")
    login(client, "owner@acme.example.com")

    job_id = job_id_from(web.post(f"/sites/{site_id}/check", token_from=f"/sites/{site_id}"))
    run_worker(app)

    row = job_row(app, job_id)
    assert row["status"] == "failed"
    assert row["error"].startswith("Could not connect")
    html = client.get(f"/jobs/{job_id}/progress", headers=HTMX).get_data(as_text=True)
    assert "Could not connect" in html and ">Failed<" in html and "Succeeded" not in html
    assert bell_count(client) == 1


def test_job_that_raises_ends_failed_with_readable_error_and_undoes_its_side_effects(app, client):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    job_id = enqueue(app, account_id, user_id, ExplodingJob.name)

    run_worker(app)

    row = job_row(app, job_id)
    assert row["status"] == "failed"
    assert row["error"].startswith(f"Something went wrong on our side (reference E{job_id}-")
    assert "flux capacitor" not in row["error"]  # the detail is for operators (error_detail)
    assert "RuntimeError: the flux capacitor melted" in row["error_detail"]
    assert row["progress"] == 40
    assert row["finished_at"] is not None
    assert FAILURE_HOOK_CALLS == [(ExplodingJob.name, job_id)]

    [note] = notifications_of(app, user_id)
    assert note["level"] == "error"
    assert note["title"] == "Exploding test job failed"
    assert note["body"] == row["error"]

    login(client, "owner@acme.example.com")
    response = client.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert response.status_code == 286
    assert json.loads(response.headers["HX-Trigger"])["job-finished"]["status"] == "failed"
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html and "flux capacitor" not in html
    assert "stopped at 40%" in html
    assert bell_count(client) == 1


def test_job_row_is_committed_before_it_reaches_the_queue(app, monkeypatch):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    queue = queue_of(app)
    seen_by_worker: list[dict] = []
    real_enqueue_call = queue.enqueue_call

    def spying_enqueue_call(func, args=None, **kwargs):
        # What a worker that dequeues this very instant would find in the database.
        seen_by_worker.append(dict(job_row(app, args[0])))
        return real_enqueue_call(func, args=args, **kwargs)

    monkeypatch.setattr(queue, "enqueue_call", spying_enqueue_call)
    job_id = enqueue(app, account_id, user_id, QuickJob.name, {"n": 1})

    assert [r["status"] for r in seen_by_worker] == ["queued"]
    rq_job = RQJob.fetch(f"job-{job_id}", connection=app.extensions["redis"])
    assert rq_job.func_name == "workers.tasks.run_job"
    assert rq_job.args == (job_id,)
    assert rq_job.get_status() == "queued"
    assert queue.get_job_ids() == [f"job-{job_id}"]
    row = job_row(app, job_id)
    assert row["status"] == "queued" and row["rq_id"] == f"job-{job_id}"
    assert row["account_id"] == account_id and row["payload"] == {"n": 1}


# ----------------------------------------------------------------------------- switched-off modules


def switch_off(app, account_id: int, user_id: int, module: str) -> None:
    from app.services.modules import set_modules

    with app.app_context(), tenancy.account_scope(account_id):
        set_modules(enabled=set(MODULE_LABELS) - {module}, actor_id=user_id)


def test_job_of_switched_off_module_is_refused_with_a_message_naming_the_module(app):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    switch_off(app, account_id, user_id, "planner")

    with pytest.raises(DomainError) as refused:
        enqueue(app, account_id, user_id, PlannerJob.name)

    assert "The Planner module is turned off for this account" in refused.value.message
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(select(JOBS.c.id)).all() == []
    assert queue_of(app).count == 0


def test_job_whose_module_is_switched_off_after_enqueue_fails_on_the_worker(app):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    job_id = enqueue(app, account_id, user_id, PlannerJob.name)
    switch_off(app, account_id, user_id, "planner")

    run_worker(app)

    row = job_row(app, job_id)
    assert row["status"] == "failed"
    assert row["error"].startswith("The Planner module is turned off for this account.")
    assert RUNS == []
    assert FAILURE_HOOK_CALLS == [(PlannerJob.name, job_id)]
    [note] = notifications_of(app, user_id)
    assert note["level"] == "error" and "Planner module is turned off" in note["body"]


# ----------------------------------------------------------------------------- tenancy


def test_another_accounts_user_cannot_see_or_cancel_the_job(app, client):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    make_account(app, email="rival@other.example.com", account_name="Other Agency")
    job_id = enqueue(app, account_id, user_id, QuickJob.name)

    login(client, "rival@other.example.com")
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert client.get(f"/jobs/{job_id}/progress").status_code == 404
    assert client.get(f"/jobs/{job_id}/progress", headers=HTMX).status_code == 404
    assert Browserless(client).post(f"/jobs/{job_id}/cancel", token_from="/jobs/").status_code == 404
    assert "Quick test job" not in client.get("/jobs/").get_data(as_text=True)
    assert job_row(app, job_id)["status"] == "queued"


# ----------------------------------------------------------------------------- cancel


def test_queued_job_can_be_cancelled_and_a_worker_then_leaves_it_alone(app, client, web):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    job_id = enqueue(app, account_id, user_id, QuickJob.name)
    login(client, "owner@acme.example.com")
    assert 'action="/jobs/%d/cancel"' % job_id in client.get(f"/jobs/{job_id}").get_data(as_text=True)

    response = web.post(f"/jobs/{job_id}/cancel", token_from=f"/jobs/{job_id}")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Job cancelled." in page
    assert 'data-status="cancelled"' in page

    row = job_row(app, job_id)
    assert row["status"] == "cancelled" and row["finished_at"] is not None
    assert RQJob.fetch(f"job-{job_id}", connection=app.extensions["redis"]).get_status() == "canceled"

    run_worker(app)
    # Even a stale copy of the queue entry that a worker picks up does nothing.
    queue_of(app).enqueue_call("workers.tasks.run_job", args=(job_id,))
    run_worker(app)

    assert RUNS == []
    assert job_row(app, job_id)["status"] == "cancelled"


def test_cancel_from_the_progress_fragment_answers_with_the_fragment(app, client, web):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    job_id = enqueue(app, account_id, user_id, QuickJob.name)
    login(client, "owner@acme.example.com")

    response = web.post(f"/jobs/{job_id}/cancel", token_from=f"/jobs/{job_id}", headers=HTMX)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-status="cancelled"' in html
    assert "hx-trigger" not in html  # no more polling
    assert "/cancel" not in html  # nothing left to cancel


def test_running_or_finished_job_cannot_be_cancelled(app, client, web):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    finished_id = enqueue(app, account_id, user_id, QuickJob.name)
    run_worker(app)
    running_id = enqueue(app, account_id, user_id, QuickJob.name)
    update_job(app, running_id, status="running", started_at=utcnow(), heartbeat_at=utcnow(), progress=10)
    login(client, "owner@acme.example.com")

    for job_id, status in ((finished_id, "succeeded"), (running_id, "running")):
        response = web.post(f"/jobs/{job_id}/cancel", token_from=f"/jobs/{job_id}")
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Only a job that is still waiting can be cancelled." in page
        # From the card's Cancel button (htmx) the refusal is a flash, not the page swapped into the card.
        response = web.post(f"/jobs/{job_id}/cancel", token_from=f"/jobs/{job_id}", headers=HTMX)
        assert response.status_code == 409
        assert response.headers["HX-Retarget"] == "#flash"
        html = response.get_data(as_text=True)
        assert "Only a job that is still waiting can be cancelled." in html
        assert "<html" not in html
        assert job_row(app, job_id)["status"] == status
    assert FAILURE_HOOK_CALLS == []


# ----------------------------------------------------------------------------- reaper


def test_reaper_fails_job_whose_worker_was_killed_mid_job_once(app, tmp_path, monkeypatch):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    redis = app.extensions["redis"]
    job_id = enqueue(app, account_id, user_id, slow_job_kind.NAME, {"sleep": 120})
    with worker_running_slow_job(app, job_id, tmp_path / "worker.log") as (worker, horse_pid):
        assert horse_pid != worker.pid
        assert job_row(app, job_id)["status"] == "running"

        # A live worker is left alone.
        with app.app_context():
            assert reap_stale_jobs() == 0
        assert job_row(app, job_id)["status"] == "running"

        # The machine loses the worker: the worker and its work-horse (own process group) die at once.
        kill_group(worker.pid)
        kill_group(horse_pid)
        worker.wait(timeout=10)
        wait_until_gone(horse_pid, "work-horse survived SIGKILL")

    row = job_row(app, job_id)
    assert row["status"] == "running"  # nobody has noticed yet
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_SECONDS", 1)
    while utcnow() - row["heartbeat_at"] <= timedelta(seconds=1.05):
        time.sleep(0.05)

    with app.app_context():
        assert reap_stale_jobs() == 1

    row = job_row(app, job_id)
    assert row["status"] == "failed"
    assert "The worker running this job stopped unexpectedly" in row["error"]
    assert row["progress"] == 30
    assert int(redis.get(slow_job_kind.ON_FAILURE_KEY)) == 1
    [note] = notifications_of(app, user_id)
    assert note["level"] == "error" and "stopped unexpectedly" in note["body"]

    # Reaping again changes nothing and tells nobody twice.
    with app.app_context():
        assert reap_stale_jobs() == 0
    assert job_row(app, job_id) == row
    assert int(redis.get(slow_job_kind.ON_FAILURE_KEY)) == 1
    assert len(notifications_of(app, user_id)) == 1


def test_reaper_fails_queued_job_lost_from_the_queue_after_a_grace_period(app):
    account_id, user_id = make_account(app, email="owner@acme.example.com")
    lost_id = enqueue(app, account_id, user_id, QuickJob.name)
    waiting_id = enqueue(app, account_id, user_id, QuickJob.name)
    redis = app.extensions["redis"]
    # Redis lost the first job (e.g. restarted without persistence); the second still waits in line.
    redis.delete(f"rq:job:job-{lost_id}")
    redis.lrem(queue_of(app).key, 0, f"job-{lost_id}")
    assert queue_of(app).get_job_ids() == [f"job-{waiting_id}"]

    with app.app_context():
        assert reap_stale_jobs() == 0  # just enqueued: RQ gets a moment
    assert job_row(app, lost_id)["status"] == "queued"

    a_while_ago = utcnow() - timedelta(seconds=45)
    update_job(app, lost_id, created_at=a_while_ago)
    update_job(app, waiting_id, created_at=a_while_ago)
    with app.app_context():
        assert reap_stale_jobs() == 1

    row = job_row(app, lost_id)
    assert row["status"] == "failed"
    assert "lost from the queue" in row["error"]
    assert FAILURE_HOOK_CALLS == [(QuickJob.name, lost_id)]
    assert job_row(app, waiting_id)["status"] == "queued"  # a long queue is not a lost job
    [note] = notifications_of(app, user_id)
    assert "lost from the queue" in note["body"]

    run_worker(app)
    assert RUNS == [(QuickJob.name, waiting_id)]
    assert job_row(app, lost_id)["status"] == "failed"


def test_reaper_run_by_hand_reaps_stale_jobs_of_every_account(app):
    """`flask reap-jobs` calls the reaper with no account bound."""
    first_account, first_user = make_account(app, email="owner@acme.example.com")
    second_account, second_user = make_account(app, email="owner@other.example.com", account_name="Other")
    long_ago = utcnow() - timedelta(minutes=10)
    job_ids = []
    for account_id, user_id in ((first_account, first_user), (second_account, second_user),
                                (first_account, first_user)):
        job_id = enqueue(app, account_id, user_id, QuickJob.name)
        update_job(app, job_id, status="running", started_at=long_ago, heartbeat_at=long_ago)
        job_ids.append(job_id)

    with app.app_context():
        assert reap_stale_jobs() == 3

    assert [job_row(app, j)["status"] for j in job_ids] == ["failed"] * 3
    assert sorted(FAILURE_HOOK_CALLS) == sorted((QuickJob.name, j) for j in job_ids)
    assert len(notifications_of(app, first_user)) == 2
    assert len(notifications_of(app, second_user)) == 1
