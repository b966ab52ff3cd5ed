"""The scheduler's tick against real PostgreSQL claims and a real RQ queue and worker."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from rq import SimpleWorker
from rq.job import Job as RQJob
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Job, Notification, SchedulerClaim
from app.services.jobs import enqueue_job
from app.timeutil import utcnow
from tests.conftest import make_account
from workers.recurring import RECURRING, slot_for
from workers.scheduler import tick

UTC = timezone.utc
JOBS = Job.__table__
CLAIMS = SchedulerClaim.__table__
REAP = "reap-stale-jobs"
PURGE = "purge-scheduler-claims"


def queue_of(app):
    return app.extensions["rq_queues"]["default"]


def rq_ids(app, task: str) -> list[str]:
    return sorted(j for j in queue_of(app).get_job_ids() if j.startswith(f"recurring-{task}-"))


def claims(app, task: str | None = None) -> list[tuple[str, str]]:
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(select(CLAIMS.c.task, CLAIMS.c.slot)).all()
    return sorted((t, s) for t, s in rows if task is None or t == task)


def tick_at(app, now: datetime | None = None) -> list[str]:
    with app.app_context():
        return tick(now)


def test_two_ticks_in_the_same_minute_enqueue_the_reaper_once(app):
    now = datetime(2026, 11, 22, 10, 5, 7, tzinfo=UTC)

    first = tick_at(app, now)
    second = tick_at(app, now + timedelta(seconds=50))  # e.g. the next tick 5 s later, or a restart

    assert set(first) == set(RECURRING)
    assert second == []
    assert claims(app, REAP) == [(REAP, "2026-11-22T10:05:00")]
    assert rq_ids(app, REAP) == ["recurring-reap-stale-jobs-2026-11-22T100500"]
    assert len(rq_ids(app, PURGE)) == 1

    # Every minute task (the reaper, publishing due articles) has a new slot; the daily purge already has today's.
    assert set(tick_at(app, now + timedelta(minutes=1))) == {REAP, "publish-due"}
    assert claims(app, REAP) == [(REAP, "2026-11-22T10:05:00"), (REAP, "2026-11-22T10:06:00")]
    assert len(rq_ids(app, REAP)) == 2
    assert len(rq_ids(app, PURGE)) == 1


def test_two_schedulers_ticking_at_once_enqueue_each_slot_once(app):
    now = datetime(2026, 11, 22, 10, 5, 7, tzinfo=UTC)
    start = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def scheduler():
        try:
            with app.app_context():
                start.wait(timeout=10)
                results.append(tick(now))
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(task for result in results for task in result) == sorted(RECURRING)
    assert claims(app) == sorted((task, slot_for(interval, now)) for task, (interval, _) in RECURRING.items())
    assert len(rq_ids(app, REAP)) == 1
    assert len(rq_ids(app, PURGE)) == 1


def test_recurring_reaper_runs_on_a_worker_across_all_accounts(app):
    first_account, first_user = make_account(app, email="owner@acme.example.com")
    second_account, second_user = make_account(app, email="owner@other.example.com", account_name="Other")
    long_ago = utcnow() - timedelta(minutes=10)

    def running_job(account_id: int, user_id: int, *, heartbeat: datetime) -> int:
        with app.app_context(), tenancy.account_scope(account_id):
            job_id = enqueue_job(kind="site.check", payload={}, created_by_id=user_id).id
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(JOBS.update().where(JOBS.c.id == job_id).values(
                status="running", started_at=heartbeat, heartbeat_at=heartbeat))
        return job_id

    stale_first = running_job(first_account, first_user, heartbeat=long_ago)
    stale_second = running_job(second_account, second_user, heartbeat=long_ago)
    alive = running_job(first_account, first_user, heartbeat=utcnow())
    queue_of(app).empty()  # the workers running those jobs took them off the queue
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(CLAIMS.insert().values(task=REAP, slot="2020-01-01T00:00:00",
                                            claimed_at=utcnow() - timedelta(days=8)))

    enqueued = tick_at(app)
    assert set(enqueued) == set(RECURRING)
    SimpleWorker([queue_of(app)], connection=app.extensions["redis"]).work(burst=True)

    redis = app.extensions["redis"]
    for rq_id in rq_ids(app, REAP) + rq_ids(app, PURGE):
        assert RQJob.fetch(rq_id, connection=redis).get_status() == "finished", rq_id
    with app.app_context(), db.engine.connect() as conn:
        status = dict(conn.execute(select(JOBS.c.id, JOBS.c.status)).all())
        errors = dict(conn.execute(select(JOBS.c.id, JOBS.c.error)).all())
        notified = sorted(conn.execute(select(Notification.__table__.c.user_id)).scalars())
    assert status == {stale_first: "failed", stale_second: "failed", alive: "running"}
    assert "stopped unexpectedly" in errors[stale_first]
    assert "stopped unexpectedly" in errors[stale_second]
    assert notified == sorted([first_user, second_user])
    # The daily purge dropped the week-old claim and kept the fresh ones.
    assert (REAP, "2020-01-01T00:00:00") not in claims(app)
    assert len(claims(app)) == len(RECURRING)
