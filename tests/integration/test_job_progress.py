"""Progress a person understands: phases in words, a time-left estimate, steady progress while thousands of
keywords are clustered, and the credits badge brought up to date when a job ends."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app import tenancy
from app.errors import DomainError
from app.extensions import db
from app.models import Job, Keyword
from app.services.billing import credits
from app.services.job_display import time_left
from app.services.job_kinds import JobKind, register
from app.services.jobs import enqueue_job
from app.timeutil import utcnow
from tests.integration.ai_support import EMAIL, run_worker, setup_account
from tests.integration.helpers import add_site, signed_in

HTMX = {"HX-Request": "true"}
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "keywords_labeled_2k.csv"
BADGE = re.compile(r'<span class="credits-badge" id="credits-badge" title="Credits available"( hx-swap-oob="true")?>'
                   r"([\d,]+) credits</span>")


@register
class NothingToDoJob(JobKind):
    """Finds nothing to do and fails cleanly, so its reservation is refunded."""

    name = "test.progress.nothing"
    title = "Nothing-to-do test job"

    def run(self, job, progress):
        progress("PREP", 30, "Looking…", force=True)
        raise DomainError("There was nothing to do, so your credits were returned.")


@pytest.fixture
def ids(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Garden",))
    values.update(site=site, sector=sectors[0])
    return values


def start_job(app, ids, kind: str, reserve: int = 0) -> int:
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job_id = enqueue_job(kind=kind, payload={}, created_by_id=ids["user"], reserve_credits=reserve).id
        db.session.remove()
    return job_id


def set_running(app, job_id: int, *, seconds_ago: float, progress: int, phase: str, message: str = "Working…"):
    """Where a worker would be after running for a while."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(Job.__table__.update().where(Job.__table__.c.id == job_id).values(
            status="running", started_at=utcnow() - timedelta(seconds=seconds_ago), progress=progress,
            phase=phase, message=message, heartbeat_at=utcnow()))


# ----------------------------------------------------------------------------- the credits badge


def test_when_a_job_ends_its_last_progress_fragment_updates_the_credits_badge(app, ids):
    web = signed_in(app, EMAIL)
    job_id = start_job(app, ids, NothingToDoJob.name, reserve=25)

    header = web.get("/").get_data(as_text=True)
    assert BADGE.search(header).groups() == (None, f"{ids['start'] - 25:,}")  # the reservation is held
    waiting = web.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert "hx-swap-oob" not in waiting.get_data(as_text=True)  # nothing changed yet

    run_worker(app)

    done = web.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert done.status_code == 286
    events = json.loads(done.headers["HX-Trigger"])
    assert events["job-finished"]["status"] == "failed"
    assert "notifications-changed" in events  # the bell asks for its count again
    badge = BADGE.search(done.get_data(as_text=True))
    assert badge is not None, "the final fragment carries the badge"
    assert badge.groups() == (' hx-swap-oob="true"', f"{ids['start']:,}")  # refunded, shown without a reload
    # A full page carries the badge in the header as usual, never out of band.
    assert "hx-swap-oob" not in web.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_the_dashboard_credits_card_reloads_itself_when_a_job_ends(app, ids):
    web = signed_in(app, EMAIL)
    job_id = start_job(app, ids, NothingToDoJob.name, reserve=25)
    card = re.compile(r'<section class="card" id="dashboard-credits" hx-get="/" hx-trigger="job-finished from:body"'
                      r'\s+hx-select="#dashboard-credits" hx-swap="outerHTML">.*?data-testid="dashboard-credits">([\d,]+)<',
                      re.S)
    before = card.search(web.get("/").get_data(as_text=True))
    assert before and before.group(1) == f"{ids['start'] - 25:,}"
    run_worker(app)
    assert web.get(f"/jobs/{job_id}/progress", headers=HTMX).headers["HX-Trigger"].count("job-finished") == 1
    # What the card's own request (after job-finished) gets back: the refunded balance.
    after = card.search(web.get("/", headers=HTMX).get_data(as_text=True))
    assert after and after.group(1) == f"{ids['start']:,}"


# ----------------------------------------------------------------------------- phases in words, time left


def test_the_job_card_names_the_phase_in_words_and_estimates_the_time_left(app, ids):
    web = signed_in(app, EMAIL)
    job_id = start_job(app, ids, "ai.cluster_naming")

    set_running(app, job_id, seconds_ago=20, progress=40, phase="AI_CALL")
    card = web.get(f"/jobs/{job_id}/progress", headers=HTMX).get_data(as_text=True)
    assert "40% · Waiting for the AI model · about 30 seconds left" in card
    assert "AI_CALL" not in card

    set_running(app, job_id, seconds_ago=2, progress=10, phase="PREP")
    card = web.get(f"/jobs/{job_id}/progress", headers=HTMX).get_data(as_text=True)
    assert "10% · Preparing<" in card  # too early to guess
    assert "left" not in card

    set_running(app, job_id, seconds_ago=600, progress=25, phase="SAVE")
    card = web.get(f"/jobs/{job_id}/progress", headers=HTMX).get_data(as_text=True)
    assert "25% · Saving · about 30 minutes left" in card


def test_job_kinds_name_their_own_phases(app, ids):
    web = signed_in(app, EMAIL)
    check = start_job(app, ids, "site.check")
    clustering = start_job(app, ids, "planner.cluster")
    set_running(app, check, seconds_ago=1, progress=20, phase="PREP")
    set_running(app, clustering, seconds_ago=1, progress=45, phase="PREP")

    assert "20% · Opening the site<" in web.get(f"/jobs/{check}/progress", headers=HTMX).get_data(as_text=True)
    assert "45% · Grouping keywords<" in web.get(f"/jobs/{clustering}/progress",
                                                  headers=HTMX).get_data(as_text=True)
    assert "Grouping keywords" in web.get("/").get_data(as_text=True)  # the dashboard's job cards too


def test_time_left_reads_like_a_person_would_say_it():
    job = Job(status="running", progress=50, phase="SAVE")
    now = utcnow()
    for seconds_ago, expected in ((3, ""), (8, "a few seconds left"), (40, "about 40 seconds left"),
                                  (200, "about 3 minutes left"), (4 * 3600, "about 4 hours left")):
        job.started_at = now - timedelta(seconds=seconds_ago)
        assert time_left(job, now) == expected, seconds_ago
    job.status = "succeeded"
    assert time_left(job, now) == ""


# ----------------------------------------------------------------------------- no long plateaus


@pytest.fixture
def progress_log(app):
    """Every progress write to a job, as the database saw it (a trigger records them)."""
    statements = [
        "CREATE TABLE test_progress_log (id serial, at timestamptz DEFAULT clock_timestamp(), job_id int, "
        "phase text, progress int, message text)",
        "CREATE FUNCTION test_log_progress() RETURNS trigger AS $$ BEGIN INSERT INTO test_progress_log "
        "(job_id, phase, progress, message) VALUES (NEW.id, NEW.phase, NEW.progress, NEW.message); RETURN NEW; "
        "END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER test_log_progress AFTER UPDATE OF phase, progress, message ON jobs FOR EACH ROW "
        "EXECUTE FUNCTION test_log_progress()",
    ]
    with app.app_context(), db.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))

    def read(job_id: int) -> list[dict]:
        with app.app_context(), db.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(
                "SELECT at, phase, progress, message FROM test_progress_log WHERE job_id = :id ORDER BY id"),
                {"id": job_id}).mappings()]

    yield read
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER test_log_progress ON jobs"))
        conn.execute(sa.text("DROP FUNCTION test_log_progress()"))
        conn.execute(sa.text("DROP TABLE test_progress_log"))


def test_clustering_thousands_of_keywords_reports_progress_while_it_groups_them(app, ids, progress_log):
    with FIXTURE.open(newline="") as handle:
        base = [row["Keyword"] for row in csv.DictReader(handle)]
    texts = list(dict.fromkeys(base + [f"{k} ideas" for k in base]))[:4000]
    with app.app_context(), tenancy.account_scope(ids["account"]):
        credits.grant(account_id=ids["account"], amount=1000, key="test-grant-more", description="More credits")
        db.session.execute(sa.insert(Keyword), [
            {"account_id": ids["account"], "site_id": ids["site"], "sector_id": ids["sector"], "keyword": text,
             "normalized": text, "volume": 10} for text in texts])
        db.session.commit()
        db.session.remove()
    web = signed_in(app, EMAIL)
    started = web.post("/planner/keywords/cluster", {"scope": "unclustered", "mode": "semantic",
                                                     "tightness": "50", "tier": "testing"},
                       token_from="/planner/keywords/cluster?scope=unclustered")
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    job_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    run_worker(app)

    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalars(select(Job.status).where(Job.id == job_id)).one() == "succeeded"
        db.session.remove()
    log = progress_log(job_id)
    percents = [r["progress"] for r in log]
    messages = [r["message"] for r in log]
    assert percents == sorted(percents), "progress never goes back"
    grouping = [r for r in log if 40 <= r["progress"] < 60 and r["phase"] == "PREP"]
    parts = [m for m in messages if re.fullmatch(r"Grouped part \d+ of \d+…", m)]
    assert len(parts) >= 2 and parts[-1].startswith(f"Grouped part {len(parts)} of {len(parts)}")
    assert any(m.startswith("Dividing 4,000 keywords") for m in messages)
    assert len({r["progress"] for r in grouping}) >= len(parts) + 1, "the bar moves during the grouping"
    # No step of the local work takes most of the job's time without a word.
    local = [r for r in log if r["progress"] <= 60]
    gaps = [(later["at"] - earlier["at"]).total_seconds() for earlier, later in zip(local, local[1:])]
    total = (log[-1]["at"] - log[0]["at"]).total_seconds()
    assert max(gaps) < 0.6 * total, (gaps, messages)
