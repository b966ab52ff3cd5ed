"""Demo data for trying IGNY8 on a laptop: a demo account taken through the pipeline, and an operator.

The tour is made by the product's own services with the offline demo AI provider — the same import,
clustering, idea, task, writing, image, review and scheduling calls a person's clicks make, with the jobs
run the way a worker runs them — so what the demo shows is what the product does. Each step runs only
when its stage is still empty, so running it again adds nothing and a tour interrupted half-way is completed.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import (Cluster, Content, ContentImage, Idea, IndustrySector, Job, Keyword, KeywordImport,
                        Publication, Sector, Site, Task, User)
from app.services.accounts.auth import find_user_by_email, signup
from app.services.accounts.sites import create_site
from app.services.operator import create_operator

DEMO_EMAIL = "demo@igny8.example.com"
DEMO_PASSWORD = "try-igny8-now"
OPERATOR_EMAIL = "operator@igny8.example.com"
OPERATOR_PASSWORD = "run-the-platform"
SITE_NAME = "Demo Coffee Blog"
DEMO_CREDITS = 5_000
KEYWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "demo_keywords.csv"
IDEA_CLUSTERS = 6  # the biggest clusters get ideas; the rest are left for the visitor to try
IDEAS_PER_CLUSTER = 2
TASK_IDEAS = 6
ARTICLE_TASKS = 4  # articles written from the first tasks; the other tasks are left for the visitor to try
APPROVED_ARTICLES = 3  # approved; the last article waits in the review queue
SCHEDULED_ARTICLES = 2  # of the approved ones, put in the site's next free publish slots; one is left to try
JOB_WAIT_SECONDS = 600


class DemoError(RuntimeError):
    """A tour step did not finish."""


def seed_demo() -> dict[str, str]:
    """Create the demo account and take it through the planner (idempotent), and a demo operator."""
    user = find_user_by_email(DEMO_EMAIL)
    if user is None:
        user = signup(account_name="Demo Agency", name="Demo Owner", email=DEMO_EMAIL, password=DEMO_PASSWORD)
        tenancy.unbind()
    account_id, user_id = user.account_id, user.id
    with tenancy.account_scope(account_id):
        from app.services.billing import credits

        credits.grant(account_id=account_id, amount=DEMO_CREDITS, key=f"demo-tour:{account_id}",
                      description="Demo credits to try the pipeline")
        sector_id = _demo_sector()
    for step in (_import_keywords, _cluster_keywords, _generate_ideas, _create_tasks, _write_articles,
                 _make_image_prompts, _make_images, _review_articles, _schedule_articles):
        with tenancy.account_scope(account_id):
            step(sector_id=sector_id, user_id=user_id)
    if find_user_by_email(OPERATOR_EMAIL) is None:
        create_operator(email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, name="Demo Operator")
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD,
            "operator_email": OPERATOR_EMAIL, "operator_password": OPERATOR_PASSWORD}


def _demo_sector() -> int:
    """The demo site's first sector (the site is created with Coffee and Baking sectors once)."""
    site = db.session.scalars(select(Site).where(Site.name == SITE_NAME)).first()
    if site is None:
        templates = db.session.scalars(
            select(IndustrySector).where(IndustrySector.slug.in_(["coffee", "baking"]))
            .order_by(IndustrySector.slug.desc())
        ).all()
        site = create_site(name=SITE_NAME, url="https://coffee.example.com", timezone="UTC",
                           industry_id=templates[0].industry_id if templates else None,
                           sector_template_ids=[t.id for t in templates],
                           sector_names=[] if templates else ["Coffee", "Baking"])
    return db.session.scalars(select(Sector.id).where(Sector.site_id == site.id).order_by(Sector.id)).first()


def _count(model, sector_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(model.sector_id == sector_id)) or 0


def _import_keywords(*, sector_id: int, user_id: int) -> None:
    """Stage 0: the sample keyword file through the import (preview mapping as detected, then import)."""
    from app.services.planner import imports

    if db.session.scalars(select(KeywordImport.id).where(KeywordImport.sector_id == sector_id,
                                                         KeywordImport.status == "done")).first():
        return
    imp = imports.create(sector_id=sector_id, data=KEYWORDS_FILE.read_bytes(), filename=KEYWORDS_FILE.name,
                         user_id=user_id)
    imp = imports.start(import_id=imp.id, mapping=dict(imp.mapping), user_id=user_id)
    if imp.job_id:
        _run_job(imp.job_id)


def _cluster_keywords(*, sector_id: int, user_id: int) -> None:
    """Stage 1: semantic clustering of the unclustered keywords with the demo (Testing) model."""
    from app.services.planner import clustering

    ids = clustering.keyword_ids_for(sector_id=sector_id, selection=None, scope="unclustered")
    if not ids or _count(Cluster, sector_id):
        return
    job = clustering.start(created_by_id=user_id, sector_id=sector_id, keyword_ids=ids, mode="semantic",
                           tightness=clustering.DEFAULT_TIGHTNESS, join_existing=True, tier="testing")
    _run_job(job.id)


def _generate_ideas(*, sector_id: int, user_id: int) -> None:
    """Stage 2: ideas for the biggest clusters."""
    from app.services.planner import ideas

    if _count(Idea, sector_id):
        return
    size = func.count(Keyword.id)
    biggest = list(db.session.scalars(
        select(Cluster.id).join(Keyword, Keyword.cluster_id == Cluster.id).where(Cluster.sector_id == sector_id)
        .group_by(Cluster.id).order_by(size.desc(), Cluster.id).limit(IDEA_CLUSTERS)))
    if not biggest:
        return
    job = ideas.start_ideas(sector_id=sector_id, cluster_ids=biggest, per_cluster=IDEAS_PER_CLUSTER,
                            tier="testing", created_by_id=user_id)
    _run_job(job.id)


def _create_tasks(*, sector_id: int, user_id: int) -> None:
    """Stage 3: writing tasks from the first ideas."""
    from app.services.planner import tasks

    if _count(Task, sector_id):
        return
    idea_ids = list(db.session.scalars(select(Idea.id).where(Idea.sector_id == sector_id)
                                       .order_by(Idea.id).limit(TASK_IDEAS)))
    if idea_ids:
        tasks.create_tasks(idea_ids=idea_ids, user=db.session.get(User, user_id))


def _sector_articles(sector_id: int) -> list[int]:
    return list(db.session.scalars(select(Content.id).where(Content.sector_id == sector_id).order_by(Content.id)))


def _write_articles(*, sector_id: int, user_id: int) -> None:
    """Stage 4: articles from the first tasks (the demo provider's labelled placeholder text)."""
    from app.services.writer import runner

    if _sector_articles(sector_id):
        return
    task_ids = list(db.session.scalars(select(Task.id).where(Task.sector_id == sector_id, Task.status == "queued")
                                       .order_by(Task.id).limit(ARTICLE_TASKS)))
    if task_ids:
        job, _skipped = runner.start_generation(task_ids=task_ids, tier="testing", created_by_id=user_id)
        _run_job(job.id)


def _make_image_prompts(*, sector_id: int, user_id: int) -> None:
    """Stage 5: a featured and in-article image prompts for each article."""
    from app.services.images import prompts

    content_ids = _sector_articles(sector_id)
    if content_ids and not db.session.scalars(select(ContentImage.id).where(
            ContentImage.content_id.in_(content_ids))).first():
        _run_job(prompts.start_prompts(content_ids=content_ids, tier="testing", created_by_id=user_id).id)


def _make_images(*, sector_id: int, user_id: int) -> None:
    """Stage 6: the images (labelled placeholders), placed in the articles."""
    from app.services.images import generation

    content_ids = _sector_articles(sector_id)
    if content_ids and db.session.scalars(select(ContentImage.id).where(
            ContentImage.content_id.in_(content_ids), ContentImage.status == "pending")).first():
        _run_job(generation.start_images(content_ids=content_ids, tier="testing", created_by_id=user_id).id)


def _review_articles(*, sector_id: int, user_id: int) -> None:
    """Stage 7: the articles go to review; the first is approved, the rest wait in the review queue."""
    from app.services.writer import status

    drafts = list(db.session.scalars(select(Content.id).where(Content.sector_id == sector_id,
                                                              Content.status == "draft").order_by(Content.id)))
    if not drafts:
        return
    status.change_many(content_ids=drafts, to="review")
    status.change_many(content_ids=drafts[:APPROVED_ARTICLES], to="approved")


def _schedule_articles(*, sector_id: int, user_id: int) -> None:
    """Stage 8: approved articles into the site's next free publish slots (the "Next free slot" action). The demo
    site has no WordPress connection, so the calendar shows them waiting for one; connecting the site publishes
    them. Nothing is shown as published: that would need a WordPress that really has the posts."""
    from app.services.publishing import schedule

    content_ids = _sector_articles(sector_id)
    if not content_ids or db.session.scalars(select(Publication.id).where(
            Publication.content_id.in_(content_ids))).first():
        return
    approved = list(db.session.scalars(select(Content.id).where(Content.sector_id == sector_id,
                                                                Content.status == "approved").order_by(Content.id)))
    for content_id in approved[:SCHEDULED_ARTICLES]:
        schedule.schedule_next_free(content_id=content_id, user_id=user_id)


def _run_job(job_id: int) -> None:
    """Run an enqueued job here, as a worker would, and wait for it if a worker took it first."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob

    from app.queue import redis_connection
    from app.services.jobs import execute_job

    account_id = tenancy.current_account_id()
    execute_job(job_id)
    with tenancy.account_scope(account_id):
        job = db.session.get(Job, job_id)
        deadline = time.monotonic() + JOB_WAIT_SECONDS
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            db.session.expire(job)
        try:  # it has run: the queue entry has nothing left to do
            RQJob.fetch(job.rq_id or f"job-{job_id}", connection=redis_connection()).delete()
        except NoSuchJobError:
            pass
        if job.status != "succeeded":
            raise DemoError(f"The demo step “{job.title}” ended {job.status}: {job.error or job.message}")
