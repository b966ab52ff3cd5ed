"""Automation runs end to end with the offline demo provider: a real worker, real PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from app import tenancy
from app.extensions import db
from app.services.automation import runs as run_service
from app.services.automation import settings as settings_service
from app.services.publishing import settings as publish_settings
from app.services.writer import status as writer_status
from tests.integration.ai_support import ledger, run_worker, setup_account
from tests.integration.automation_support import add_keywords, counts, form, job_charges, run_row
from tests.integration.helpers import add_site


@pytest.fixture
def world(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def configure(app, world, *, auto_approve=True, auto_publish=True, **overrides) -> None:
    with app.app_context(), tenancy.account_scope(world["account"]):
        settings_service.save_settings(site_id=world["site"], form=form(**overrides))
        writer_status.save_settings(site_id=world["site"], auto_approve=auto_approve)
        publish_settings.save_settings(site_id=world["site"], days=["0", "1", "2", "3", "4", "5", "6"],
                                       slots="09:00, 15:00", auto_publish=auto_publish, category_source="cluster",
                                       default_category="", max_tags="5", fix_missed_schedule=True)
        db.session.remove()


def run_now(app, world) -> int:
    with app.app_context(), tenancy.account_scope(world["account"]):
        run = run_service.start_run(site_id=world["site"], user_id=world["user"])
        run_id = run.id
        db.session.remove()
    return run_id


def image_counts(app, account_id: int) -> dict:
    from sqlalchemy import func, select

    from app.models import ContentImage

    with app.app_context(), tenancy.account_scope(account_id):
        rows = dict(db.session.execute(select(ContentImage.status, func.count()).group_by(ContentImage.status)).all())
        db.session.remove()
    return rows


def test_a_full_run_goes_from_keywords_to_published_articles_with_images_and_the_credits_add_up(
        app, world, real_wordpress):
    """200 keywords → clusters → ideas → tasks → articles → image prompts → images → approved → scheduled, then the
    publishing scheduler sends them to the loopback WordPress (with their images)."""
    from sqlalchemy import select

    from app.models import Publication, Site
    from app.services.publishing.runner import publish_due
    from tests.integration.publish_support import WordPressJanitor

    with app.app_context(), tenancy.account_scope(world["account"]):
        site = db.session.get(Site, world["site"])
        site.wp_url, site.wp_username = real_wordpress.url, real_wordpress.admin.username
        site.wp_app_password = real_wordpress.admin.app_password
        db.session.commit()
        db.session.remove()
    add_keywords(app, world["account"], world["site"], world["sector"], 200)
    configure(app, world, s2_limit=3, s4_limit=3)
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "completed", run
    made = counts(app, world["account"])
    assert made["clusters"] > 3 and made["ideas"] == 6 and made["tasks"] == 6
    assert made["articles"] == 3 and made["approved"] == 3 and made["publications"] == 3
    images = image_counts(app, world["account"])
    assert images == {"generated": 3 * 3}  # a featured image and two in-article images each, all made
    stages_done = {stage for stage, outcome, _, _, _ in run["log"] if outcome == "done"}
    assert stages_done == {1, 2, 3, 4, 5, 6, 7}
    assert all(credits > 0 for stage, outcome, _, credits, _ in run["log"] if outcome == "done" and stage in (5, 6))
    money = ledger(app, world["account"])
    assert run["credits_used"] == job_charges(app, world["account"]) > 0
    assert money["balance"] == world["start"] - run["credits_used"] == money["ledger"]

    wp = WordPressJanitor(real_wordpress.url, real_wordpress.admin.username, real_wordpress.admin.app_password)
    app.config["PUBLISH_LEAD_SECONDS"] = 3 * 86400  # the slots are in the next days: hand them over now
    try:
        with app.app_context():
            assert publish_due() == 3
        run_worker(app)
        with app.app_context(), tenancy.account_scope(world["account"]):
            pubs = list(db.session.scalars(select(Publication).order_by(Publication.id)))
            for pub in pubs:
                if pub.wp_post_id:
                    wp.track_post(pub.wp_type, pub.wp_post_id)
                for step in pub.steps:
                    if step.kind == "media" and step.wp_id:
                        wp.media.append(step.wp_id)
                    elif step.kind in ("category", "tag") and step.wp_id:
                        wp.terms.append(("categories" if step.kind == "category" else "tags", step.wp_id))
            outcome = [(p.status, p.wp_post_id is not None, sum(1 for s in p.steps if s.kind == "media"))
                       for p in pubs]
            db.session.remove()
        assert outcome == [("future", True, 3)] * 3, outcome
        posts = [wp.get(f"/wp/v2/posts/{post_id}") for _, post_id in wp.posts]
        assert all(post["status"] == "future" and post["featured_media"] for post in posts)
        assert all(post["content"]["raw"].count("<img") >= 2 for post in posts)
    finally:
        app.config["PUBLISH_LEAD_SECONDS"] = 3600
        wp.clean()
    money = ledger(app, world["account"])
    assert money["balance"] == world["start"] - job_charges(app, world["account"]) == money["ledger"]


# --- pause, resume, cancel, budgets, a killed worker ------------------------------------------------------------

def step_once(app) -> None:
    from rq import SimpleWorker

    from app.queue import get_queue

    with app.app_context():
        queue = get_queue("default")
    SimpleWorker([queue], connection=app.extensions["redis"]).work(burst=True, max_jobs=1)


def drive_until(app, world, run_id: int, condition, limit: int = 400) -> dict:
    for _ in range(limit):
        run = run_row(app, world["account"], run_id)
        if condition(run):
            return run
        step_once(app)
    raise AssertionError(f"the run never got there: {run_row(app, world['account'], run_id)}")


def writing(run) -> bool:
    return run["stage"] == 4 and run["stage_job_id"] is not None


def control(app, world, action: str, run_id: int) -> None:
    with app.app_context(), tenancy.account_scope(world["account"]):
        getattr(run_service, f"{action}_run")(run_id=run_id)
        db.session.remove()


def tasks_ready(app, world, count: int = 3) -> None:
    """A first run with writing turned off leaves `count` tasks to write."""
    add_keywords(app, world["account"], world["site"], world["sector"], 40)
    configure(app, world, s2_limit=2, s4_enabled="")
    run_now(app, world)
    run_worker(app)
    assert counts(app, world["account"])["tasks"] == 4


def writes_only(app, world, **overrides) -> None:
    configure(app, world, s1_enabled="", s2_enabled="", s3_enabled="", **overrides)


def test_pause_mid_stage_finishes_the_current_article_then_resume_writes_the_rest_once(app, world):
    tasks_ready(app, world)
    writes_only(app, world)
    before = job_charges(app, world["account"])
    run_id = run_now(app, world)
    drive_until(app, world, run_id, writing)
    control(app, world, "pause", run_id)
    run_worker(app)
    paused = run_row(app, world["account"], run_id)
    assert paused["status"] == "paused" and counts(app, world["account"])["articles"] == 1
    assert paused["credits_used"] == job_charges(app, world["account"]) - before > 0
    control(app, world, "resume", run_id)
    run_worker(app)
    done = run_row(app, world["account"], run_id)
    assert done["status"] == "completed", done
    made = counts(app, world["account"])
    assert made["articles"] == 4 and made["approved"] == 4
    writer_jobs = [entry for entry in done["log"] if entry[0] == 4 and entry[1] == "done"]
    assert len(writer_jobs) == 4  # one per article: nothing redone
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])


def test_cancel_before_the_next_article_starts_returns_its_reserved_credits(app, world):
    tasks_ready(app, world)
    writes_only(app, world)
    run_id = run_now(app, world)
    drive_until(app, world, run_id, writing)  # the first article's job is queued with its credits reserved
    reserved_before = ledger(app, world["account"])["balance"]
    control(app, world, "cancel", run_id)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "cancelled" and counts(app, world["account"])["articles"] == 0
    money = ledger(app, world["account"])
    assert money["balance"] > reserved_before or job_charges(app, world["account"]) == 0
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])
    with app.app_context(), tenancy.account_scope(world["account"]):
        with pytest.raises(Exception, match="paused or interrupted"):
            run_service.resume_run(run_id=run_id)


def articles_ready(app, world, count: int = 3) -> None:
    """A first run with the image stages turned off leaves `count` draft articles without images."""
    add_keywords(app, world["account"], world["site"], world["sector"], 40)
    configure(app, world, auto_approve=False, auto_publish=False, s2_limit=2, s4_limit=count, s5_enabled="",
              s6_enabled="")
    run_now(app, world)
    run_worker(app)
    assert counts(app, world["account"])["articles"] == count and image_counts(app, world["account"]) == {}


def images_only(app, world, **overrides) -> None:
    configure(app, world, auto_approve=False, auto_publish=False, s1_enabled="", s2_enabled="", s3_enabled="",
              s4_enabled="", **overrides)


def test_image_stages_keep_the_per_run_limit_and_stop_when_their_budget_share_runs_out(app, world):
    articles_ready(app, world)
    before = job_charges(app, world["account"])
    # Two articles get prompts (the limit); stage 6 may spend 4 of the run's 100 credits: one article's 3 images.
    images_only(app, world, s5_batch=1, s5_limit=2, s6_batch=1, s6_budget=4, credit_cap=100)
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "stopped" and "Stage 6's share of the budget ran out" in run["reason"], run
    assert "Reached the per-run limit of 2 articles" in " ".join(m for _, _, m, _, _ in run["log"])
    assert image_counts(app, world["account"]) == {"generated": 3, "pending": 3}
    assert [(stage, outcome) for stage, outcome, _, _, _ in run["log"]] == [
        (1, "skipped"), (2, "skipped"), (3, "skipped"), (4, "skipped"), (5, "done"), (5, "done"), (5, "info"),
        (6, "done"), (6, "stopped")]
    assert run["credits_used"] == job_charges(app, world["account"]) - before > 0
    assert sum(c for stage, _, _, c, _ in run["log"] if stage == 6) <= 4
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])


def test_pause_while_images_are_made_then_resume_makes_each_image_once(app, world):
    articles_ready(app, world)
    images_only(app, world, s5_batch=3, s6_batch=1)
    before = job_charges(app, world["account"])
    run_id = run_now(app, world)
    drive_until(app, world, run_id, lambda r: r["stage"] == 6 and r["stage_job_id"] is not None)
    control(app, world, "pause", run_id)
    run_worker(app)
    paused = run_row(app, world["account"], run_id)
    assert paused["status"] == "paused" and image_counts(app, world["account"]) == {"generated": 3, "pending": 6}
    control(app, world, "resume", run_id)
    run_worker(app)
    done = run_row(app, world["account"], run_id)
    assert done["status"] == "completed", done
    assert image_counts(app, world["account"]) == {"generated": 9}
    image_jobs = [entry for entry in done["log"] if entry[0] == 6 and entry[1] == "done"]
    assert len(image_jobs) == 3 and sorted(len(entry[4]) for entry in image_jobs) == [3, 3, 3]
    assert done["credits_used"] == job_charges(app, world["account"]) - before == sum(e[3] for e in done["log"])
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])


def one_article_estimate(app, world) -> int:
    from sqlalchemy import select

    from app.models import Task
    from app.services.writer import runner as writer_runner

    with app.app_context(), tenancy.account_scope(world["account"]):
        task_id = db.session.scalars(select(Task.id).order_by(Task.id)).first()
        estimate = writer_runner.estimate_generation(task_ids=[task_id])["credits"]
        db.session.remove()
    return estimate


def test_the_run_budget_running_out_in_stage_4_stops_cleanly_and_says_so(app, world):
    tasks_ready(app, world)
    estimate = one_article_estimate(app, world)
    writes_only(app, world, credit_cap=estimate * 3 // 2)
    before = job_charges(app, world["account"])
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "stopped" and "credit budget ran out" in run["reason"], run
    assert counts(app, world["account"])["articles"] == 1
    assert run["credits_used"] == job_charges(app, world["account"]) - before <= run["credit_cap"]
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"]


def test_the_balance_running_out_stops_the_run_and_names_the_balance(app, world):
    from app.services.billing import credits

    tasks_ready(app, world)
    estimate = one_article_estimate(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        left = credits.balance(world["account"])
        credits.adjust(account_id=world["account"], amount=-(left - estimate * 3 // 2), reason="Test: spend down",
                       actor_user_id=None, key="spend-down")
        db.session.remove()
    writes_only(app, world, s4_budget=0)
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "stopped" and "balance ran out" in run["reason"], run
    assert counts(app, world["account"])["articles"] == 1
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] >= 0


def test_a_killed_worker_leaves_an_interrupted_run_that_resumes_without_charging_or_making_twice(app, world):
    from sqlalchemy import update

    from app.models import AutomationRun, Job
    from app.queue import get_queue
    from app.services.jobs import reap_stale_jobs
    from app.timeutil import utcnow
    from datetime import timedelta

    tasks_ready(app, world)
    writes_only(app, world)
    run_id = run_now(app, world)
    drive_until(app, world, run_id, lambda r: writing(r) and r["log"][-2][1] == "done")  # one article written
    run = run_row(app, world["account"], run_id)
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context():
        get_queue("default").empty()  # the worker died: its queue entries and the job in hand are gone
        with tenancy.all_accounts():
            db.session.execute(update(Job).where(Job.id == run["stage_job_id"]).values(
                status="running", started_at=long_ago, heartbeat_at=long_ago))
            db.session.execute(update(AutomationRun).where(AutomationRun.id == run_id).values(heartbeat_at=long_ago))
            db.session.commit()
        assert reap_stale_jobs() == 1 and run_service.reap_runs() == 1
        db.session.remove()
    interrupted = run_row(app, world["account"], run_id)
    assert interrupted["status"] == "interrupted" and "stopped unexpectedly" in interrupted["reason"]
    control(app, world, "resume", run_id)
    run_worker(app)
    done = run_row(app, world["account"], run_id)
    assert done["status"] == "completed", done
    assert counts(app, world["account"])["articles"] == 4
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])
    assert done["credits_used"] == sum(entry[3] for entry in done["log"])


def test_automation_makes_the_same_rows_and_charges_as_the_page_services(app, world):
    """Two sites with the same keywords: one through the functions the pages call, one through automation."""
    from sqlalchemy import select

    from app.models import Cluster, Content, ContentImage, Idea, Job, Keyword, Task
    from app.services.images import generation as image_generation
    from app.services.images import prompts as image_prompts
    from app.services.planner import clustering
    from app.services.planner import ideas as idea_service
    from app.services.planner import tasks as task_service
    from app.services.publishing.schedule import auto_schedule_site
    from app.services.writer import runner as writer_runner

    page_site, page_sectors = add_site(app, world["account"], "By Hand", ("Coffee",))
    add_keywords(app, world["account"], world["site"], world["sector"], 40)
    add_keywords(app, world["account"], page_site, page_sectors[0], 40)
    configure(app, world, s2_limit=2, s4_limit=2)
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.services.publishing import settings as publish_settings

        writer_status.save_settings(site_id=page_site, auto_approve=True)
        publish_settings.save_settings(site_id=page_site, days=["0", "1", "2", "3", "4", "5", "6"], slots="09:00, 15:00",
                                       auto_publish=True, category_source="cluster", default_category="",
                                       max_tags="5", fix_missed_schedule=True)
        keyword_ids = list(db.session.scalars(select(Keyword.id).where(Keyword.site_id == page_site).order_by(Keyword.id)))
        clustering.start(created_by_id=world["user"], sector_id=page_sectors[0], keyword_ids=keyword_ids, tier="testing")
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        cluster_ids = list(db.session.scalars(select(Cluster.id).where(Cluster.site_id == page_site)
                                              .order_by(Cluster.id).limit(2)))
        idea_service.start_ideas(sector_id=page_sectors[0], cluster_ids=cluster_ids, per_cluster=2, tier="testing",
                                 created_by_id=world["user"])
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        idea_ids = list(db.session.scalars(select(Idea.id).where(Idea.site_id == page_site).order_by(Idea.id)))
        task_service.create_tasks(idea_ids=idea_ids, user=None)
        task_ids = list(db.session.scalars(select(Task.id).where(Task.site_id == page_site).order_by(Task.id)))
        db.session.remove()
    for task_id in task_ids[:2]:
        with app.app_context(), tenancy.account_scope(world["account"]):
            writer_runner.start_generation(task_ids=[task_id], tier="testing", created_by_id=world["user"])
            db.session.remove()
        run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        content_ids = list(db.session.scalars(select(Content.id).where(Content.site_id == page_site)
                                              .order_by(Content.id)))
        image_prompts.start_prompts(content_ids=content_ids, tier="testing", created_by_id=world["user"])
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        image_generation.start_images(content_ids=content_ids, tier="testing", created_by_id=world["user"])
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        writer_status.change_many(content_ids=content_ids, to="approved")
        auto_schedule_site(page_site)
        db.session.commit()
        db.session.remove()

    run_id = run_now(app, world)
    run_worker(app)
    assert run_row(app, world["account"], run_id)["status"] == "completed"

    def outcome(site_id: int) -> dict:
        with app.app_context(), tenancy.account_scope(world["account"]):
            jobs = [(j.kind, j.status, j.credits_charged) for j in
                    db.session.scalars(select(Job).where(Job.site_id == site_id).order_by(Job.id))]
            rows = {model.__tablename__: sorted(db.session.scalars(
                select(getattr(model, "title", None) if hasattr(model, "title") else model.name)
                .where(model.site_id == site_id))) for model in (Cluster, Idea, Task, Content)}
            statuses = sorted(db.session.scalars(select(Content.status).where(Content.site_id == site_id)))
            images = sorted((i.kind, i.position, i.placement, i.prompt, i.alt, i.status, i.width, i.height, i.credits)
                            for i in db.session.scalars(select(ContentImage).where(ContentImage.site_id == site_id)))
            bodies = sorted(db.session.scalars(select(Content.body_html).where(Content.site_id == site_id)))
            db.session.remove()
        return {"jobs": [j for j in jobs if not j[0].startswith("publish")], "rows": rows, "statuses": statuses,
                "images": images, "figures": [b.count("<figure") for b in bodies]}

    by_hand, automated = outcome(page_site), outcome(world["site"])
    assert automated == by_hand
    assert [kind for kind, _, _ in automated["jobs"]] == [
        "planner.cluster", "ai.idea_generation", "ai.content_generation", "ai.content_generation",
        "ai.image_prompt_extraction", "ai.image_generation"], automated["jobs"]
    assert all(status == "succeeded" and charged > 0 for _, status, charged in automated["jobs"])
    assert len(automated["rows"]["content"]) == 2 and automated["statuses"] == ["scheduled", "scheduled"]
    assert len(automated["images"]) == 6 and {i[5] for i in automated["images"]} == {"generated"}
    assert automated["figures"] == [2, 2]


def test_a_provider_that_keeps_failing_pauses_the_run_with_the_reason(app, world):
    from tests.integration.ai_support import configure_openai

    tasks_ready(app, world)
    configure_openai(app, base_url="http://127.0.0.1:9/v1", timeout=1, max_retries=0)  # nothing listens there
    writes_only(app, world, s4_tier="live")
    before = job_charges(app, world["account"])
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "paused" and "3 failures in a row" in run["reason"], run
    assert counts(app, world["account"])["articles"] == 0
    assert [entry[1] for entry in run["log"]] == ["skipped"] * 3 + ["failed"] * 3
    assert job_charges(app, world["account"]) == before  # failed calls cost nothing
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - before


def test_a_broken_wordpress_connection_stops_before_scheduling_with_the_doctors_reason(app, world):
    from app.models import Site

    tasks_ready(app, world)
    writes_only(app, world, s4_limit=1)
    with app.app_context(), tenancy.account_scope(world["account"]):
        site = db.session.get(Site, world["site"])
        site.wp_health = "failed"
        site.wp_check = {"health": "failed", "summary": "WordPress refused the application password.", "checks": []}
        db.session.commit()
        db.session.remove()
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "stopped" and "WordPress refused the application password." in run["reason"], run
    made = counts(app, world["account"])
    assert made["approved"] == 1 and made["publications"] == 0  # the article is kept, approved, unscheduled


def test_a_run_whose_next_step_was_lost_after_its_job_ended_is_kicked_by_the_minute_tick(app, world):
    """RQ can strand the step queued behind a stage job; the minute tick queues it again, and nothing is redone."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.models import AutomationRun, Job
    from app.queue import get_queue
    from app.timeutil import utcnow

    tasks_ready(app, world)
    writes_only(app, world)
    run_id = run_now(app, world)
    drive_until(app, world, run_id, writing)
    step_once(app)  # the article is written; the step waiting behind it is now queued …
    with app.app_context():
        assert get_queue("default").count == 1
        get_queue("default").empty()  # … and lost
        db.session.remove()
    stalled = run_row(app, world["account"], run_id)
    assert stalled["status"] == "running" and stalled["stage_job_id"] is not None
    with app.app_context():
        assert run_service.kick_stalled_runs() == 0  # the job has only just ended: not yet
        long_ago = utcnow() - timedelta(minutes=5)
        with tenancy.all_accounts():
            db.session.execute(update(AutomationRun).where(AutomationRun.id == run_id).values(heartbeat_at=long_ago))
            db.session.execute(update(Job).where(Job.id == stalled["stage_job_id"]).values(finished_at=long_ago))
            db.session.commit()
        assert run_service.kick_stalled_runs() == 1
        db.session.remove()
    run_worker(app)
    done = run_row(app, world["account"], run_id)
    assert done["status"] == "completed", done
    assert counts(app, world["account"])["articles"] == 4
    assert len([e for e in done["log"] if e[0] == 4 and e[1] == "done"]) == 4
    money = ledger(app, world["account"])
    assert money["balance"] == money["ledger"] == world["start"] - job_charges(app, world["account"])
