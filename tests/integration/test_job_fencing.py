"""Fenced jobs: a worker whose job was reaped while it stalled saves nothing and charges nothing when it wakes
up, and a heartbeat that fails keeps trying. Real RQ worker in this process, real PostgreSQL, the real `openai`
client against a local fake server that holds its answer until the reaper has run."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from werkzeug import Response

from app import tenancy
from app.extensions import db
from app.models import Cluster, CreditTransaction, Notification
from app.services.billing import credits
from app.services.job_kinds import JobKind, register
from app.services.jobs import enqueue_job, reap_stale_jobs
from tests.integration.ai_support import (
    EMAIL,
    chat_answer,
    configure_openai,
    job_row,
    ledger,
    run_worker,
    setup_account,
)
from tests.integration.helpers import add_site, signed_in
from tests.integration.test_planner_clustering import KEYWORDS, add_keywords, clusters_of
from tests.integration.test_planner_clustering import start as start_clustering
from tests.integration.test_planner_ideas import build_world, idea, ideas_in_db

PATH = "/v1/chat/completions"
REAPED = "The worker running this job stopped unexpectedly"


class StalledWorker:
    """The fake OpenAI server holds its answer (the worker is stuck waiting) while the reaper runs."""

    def __init__(self, app, body: dict) -> None:
        self.app, self.body = app, body
        self.asked, self.answered = threading.Event(), threading.Event()
        self.reaped: list[int] = []
        self.errors: list[BaseException] = []

    def handler(self, request):
        self.asked.set()
        self.answered.wait(30)
        return Response(json.dumps(chat_answer(self.body)), content_type="application/json")

    def reap_then_answer(self) -> None:
        try:
            assert self.asked.wait(30), "the worker never called the model"
            with self.app.app_context():
                self.reaped.append(reap_stale_jobs())
        except BaseException as exc:  # reported by the test in the main thread
            self.errors.append(exc)
        finally:
            self.answered.set()

    def run(self) -> None:
        """The real worker (main thread) meets the reaper (another thread) mid-call."""
        side = threading.Thread(target=self.reap_then_answer)
        side.start()
        run_worker(self.app)
        side.join(30)
        assert not self.errors, self.errors
        assert self.reaped == [1]


def refunds_of(app, account_id: int) -> list[int]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [t.amount for t in db.session.scalars(select(CreditTransaction).where(
            CreditTransaction.type == "refund"))]
        db.session.remove()
    return rows


def notes_of(app, account_id: int) -> list[str]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [n.title for n in db.session.scalars(select(Notification))]
        db.session.remove()
    return rows


def assert_reaped_and_refunded_once(app, account_id: int, start: int, job_id: int) -> None:
    job = job_row(app, job_id)
    assert job["status"] == "failed" and REAPED in job["error"], job
    assert job["result"] is None and job["charged"] == 0
    books = ledger(app, account_id)
    assert books["balance"] == start == books["ledger"]
    assert books["usage"] == []  # no charge was logged
    assert [r[0] for r in books["reservations"]] == ["refunded"]
    assert refunds_of(app, account_id) == [job["reserved"]]  # the reaper's refund, once
    assert len(notes_of(app, account_id)) == 1  # one "failed" notice, no "finished"


@pytest.fixture
def slow_answers(app, monkeypatch):
    # The reaper treats any running job as stalled; the worker's own heartbeat is not due during the test.
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_SECONDS", 0)
    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_SECONDS", 60)


def test_a_reaped_idea_run_saves_no_ideas_and_is_refunded_once(app, httpserver, slow_answers):
    ids = setup_account(app)
    world = build_world(app, ids["account"])
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=60, max_retries=0)
    stall = StalledWorker(app, {"ideas": [idea("espresso machine"), idea("best espresso machine")]})
    httpserver.expect_request(PATH, method="POST").respond_with_handler(stall.handler)
    web = signed_in(app, EMAIL)
    form = {"cluster_ids": [world["espresso"]], "per_cluster": "2", "tier": "live"}
    started = web.post("/planner/ideas/generate", form, token_from="/planner/ideas")
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    job_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    stall.run()

    assert ideas_in_db(app, ids["account"]) == []
    assert_reaped_and_refunded_once(app, ids["account"], ids["start"], job_id)
    page = web.get(f"/planner/ideas/generate/{job_id}").get_data(as_text=True)
    assert REAPED in page and 'data-status="failed"' in page


def test_a_reaped_clustering_run_saves_no_clusters_and_is_refunded_once(app, httpserver, slow_answers):
    ids = setup_account(app)
    site, sectors = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    ids.update(site=site, sector=sectors[0])
    add_keywords(app, ids, KEYWORDS)
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=60, max_retries=0)
    stall = StalledWorker(app, {"clusters": [{"group": n, "name": f"Topic {n}", "description": "About it.",
                                              "intent": "commercial"} for n in range(1, 30)]})
    httpserver.expect_request(PATH, method="POST").respond_with_handler(stall.handler)
    web = signed_in(app, EMAIL)
    response = start_clustering(web, tier="live")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    stall.run()

    assert clusters_of(app, ids["sector"]) == {}
    with app.app_context(), tenancy.account_scope(ids["account"]):
        assert db.session.scalar(select(sa.func.count()).select_from(Cluster)) == 0
        db.session.remove()
    assert_reaped_and_refunded_once(app, ids["account"], ids["start"], job_id)


# --- The commit itself is fenced: a reap after the last progress report still stops the save -------------

SAVE_GATE = {"saved": threading.Event(), "go": threading.Event()}


@register
class SavesThenStalls(JobKind):
    """Saves a cluster, stalls (no more progress), then settles its credits and returns."""

    name = "test.fencing.saves_then_stalls"
    title = "Fencing test job"

    def run(self, job, progress):
        from app.models import CreditReservation, Sector

        progress("SAVE", 90, "Saving…", force=True)
        sector = db.session.scalars(select(Sector)).first()
        db.session.add(Cluster(site_id=sector.site_id, sector_id=sector.id, name="Late cluster", job_id=job.id))
        db.session.flush()
        SAVE_GATE["saved"].set()
        SAVE_GATE["go"].wait(30)
        reservation = db.session.scalars(select(CreditReservation).where(CreditReservation.job_id == job.id)).one()
        credits.settle(reservation_id=reservation.id, actual=3, related=("job", job.id), commit=False)
        return {"summary": "Saved a cluster"}


def test_a_reap_between_the_save_and_the_commit_discards_the_output_and_the_charge(app, slow_answers):
    ids = setup_account(app)
    world = build_world(app, ids["account"])
    for event in SAVE_GATE.values():
        event.clear()
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job_id = enqueue_job(kind=SavesThenStalls.name, payload={}, created_by_id=ids["user"],
                             site_id=world["site"], reserve_credits=10, operation="clustering").id
        db.session.remove()
    reaped: list[int] = []

    def reap_while_stalled():
        try:
            assert SAVE_GATE["saved"].wait(30)
            with app.app_context():
                reaped.append(reap_stale_jobs())
        finally:
            SAVE_GATE["go"].set()

    side = threading.Thread(target=reap_while_stalled)
    side.start()
    run_worker(app)
    side.join(30)

    assert reaped == [1]
    with app.app_context(), tenancy.account_scope(ids["account"]):
        assert db.session.scalars(select(Cluster).where(Cluster.name == "Late cluster")).all() == []
        db.session.remove()
    assert_reaped_and_refunded_once(app, ids["account"], ids["start"], job_id)


# --- Heartbeats --------------------------------------------------------------------------------------------

BEAT_GATE = {"go": threading.Event()}


@register
class WaitsQuietly(JobKind):
    """Runs without reporting progress until told to finish: only the heartbeat shows it is alive."""

    name = "test.fencing.waits_quietly"
    title = "Quiet test job"

    def run(self, job, progress):
        BEAT_GATE["go"].wait(30)
        return {"summary": "Finished quietly"}


FAILING_BEATS = """
CREATE TABLE test_beats_fail (failing boolean NOT NULL);
INSERT INTO test_beats_fail VALUES (false);
CREATE FUNCTION test_refuse_beats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.heartbeat_at IS DISTINCT FROM OLD.heartbeat_at AND (SELECT failing FROM test_beats_fail) THEN
    RAISE EXCEPTION 'the database is not accepting writes right now';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_beats BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION test_refuse_beats();
"""


def _sql(app, statement: str, **params):
    with app.app_context(), db.engine.begin() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.first() if result.returns_rows else None


def test_a_heartbeat_that_fails_keeps_beating_and_the_job_is_not_reaped(app, monkeypatch):
    ids = setup_account(app)
    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_SECONDS", 3)
    BEAT_GATE["go"].clear()
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql(FAILING_BEATS)
    try:
        with app.app_context(), tenancy.account_scope(ids["account"]):
            job_id = enqueue_job(kind=WaitsQuietly.name, payload={}, created_by_id=ids["user"]).id
            db.session.remove()
        seen: dict = {}

        def database_hiccup():
            try:
                deadline = time.monotonic() + 20
                while job_row(app, job_id)["status"] != "running":
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                _sql(app, "UPDATE test_beats_fail SET failing = true")
                time.sleep(1.0)  # several beats fail in a row
                recovered_at = _sql(app, "UPDATE test_beats_fail SET failing = false RETURNING clock_timestamp()")[0]
                time.sleep(4.0)  # longer than the stale threshold: only beats keep the job alive
                seen["recovered_at"] = recovered_at
                seen["beat_at"] = _sql(app, "SELECT heartbeat_at FROM jobs WHERE id = :id", id=job_id)[0]
                with app.app_context():
                    seen["reaped"] = reap_stale_jobs()
            finally:
                BEAT_GATE["go"].set()

        side = threading.Thread(target=database_hiccup)
        side.start()
        run_worker(app)
        side.join(30)
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS test_refuse_beats ON jobs; "
                                 "DROP FUNCTION IF EXISTS test_refuse_beats(); DROP TABLE IF EXISTS test_beats_fail")

    assert seen["beat_at"] > seen["recovered_at"], seen  # beating resumed after the failures
    assert seen["reaped"] == 0
    assert job_row(app, job_id)["status"] == "succeeded"


LOST_GATE = {"running": threading.Event(), "go": threading.Event(), "went_on": []}


@register
class ReportsAfterAPause(JobKind):
    """Reports progress, pauses, then reports again (throttled: no write) before doing more work."""

    name = "test.fencing.reports_after_a_pause"
    title = "Pausing test job"

    def run(self, job, progress):
        progress("PREP", 10, "Starting…", force=True)
        LOST_GATE["running"].set()
        LOST_GATE["go"].wait(30)
        progress("PREP", 11, "Going on…")
        LOST_GATE["went_on"].append(job.id)
        return {"summary": "Went on"}


def test_a_heartbeat_that_finds_the_job_reaped_stops_the_work_at_its_next_step(app, monkeypatch):
    ids = setup_account(app)
    monkeypatch.setitem(app.config, "JOB_HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setitem(app.config, "JOB_PROGRESS_THROTTLE_SECONDS", 600)  # the second report writes nothing
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_SECONDS", 0)
    LOST_GATE["running"].clear()
    LOST_GATE["go"].clear()
    LOST_GATE["went_on"].clear()
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job_id = enqueue_job(kind=ReportsAfterAPause.name, payload={}, created_by_id=ids["user"]).id
        db.session.remove()
    reaped: list[int] = []

    def reap_then_let_go():
        try:
            assert LOST_GATE["running"].wait(30)
            with app.app_context():
                reaped.append(reap_stale_jobs())
            time.sleep(0.5)  # a few heartbeats find the job no longer theirs
        finally:
            LOST_GATE["go"].set()

    side = threading.Thread(target=reap_then_let_go)
    side.start()
    run_worker(app)
    side.join(30)

    assert reaped == [1]
    assert LOST_GATE["went_on"] == []  # the work stopped at its next progress report
    job = job_row(app, job_id)
    assert job["status"] == "failed" and REAPED in job["error"] and job["result"] is None
