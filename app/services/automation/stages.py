"""What each stage takes in and which page service it calls: the same functions the buttons call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import exists, func, select

from app.extensions import db
from app.models import AutomationItem, AutomationRun, Cluster, Content, ContentImage, Idea, Job, Keyword, Task
from app.services.images import generation as image_generation
from app.services.images import prompts as image_prompts
from app.services.planner import clustering
from app.services.planner import ideas as idea_service
from app.services.planner import tasks as task_service
from app.services.writer import runner as writer_runner
from app.services.writer.runner import WRITABLE

IDEAS_PER_CLUSTER = 2


@dataclass
class Batch:
    """The next piece of a stage: input ids, a label for the page, and how to price and start it."""

    input_ids: list[int]
    label: str
    estimate: Callable[[], int] = lambda: 0
    start: Callable[[], "Job | Done"] = lambda: Done()


@dataclass
class Done:
    """A stage piece that finished at once (no job): what it made and what to say."""

    made: list[int] = field(default_factory=list)
    item_type: str | None = None
    message: str = ""


def _taken(run: AutomationRun, stage: int) -> set[int]:
    rows = db.session.scalars(select(AutomationItem.input_ids).where(AutomationItem.run_id == run.id,
                                                                    AutomationItem.stage == stage))
    return {i for ids in rows for i in (ids or [])}


def _first_sector(rows: list[tuple[int, int]], size: int) -> tuple[int, list[int]]:
    sector = rows[0][1]
    return sector, [i for i, s in rows if s == sector][:size]


def _keywords(run, cfg, size):
    """Stage 1: active keywords with no cluster, one sector at a time."""
    taken = _taken(run, 1)
    rows = [r for r in db.session.execute(
        select(Keyword.id, Keyword.sector_id).where(Keyword.site_id == run.site_id, Keyword.status == "active",
                                                    Keyword.cluster_id.is_(None)).order_by(Keyword.sector_id, Keyword.id))
            if r[0] not in taken]
    if not rows:
        return None, 0
    sector, ids = _first_sector(rows, size)
    args = dict(sector_id=sector, keyword_ids=ids, tier=cfg["tier"])
    return Batch(ids, f"Clustering {len(ids)} keyword(s)",
                 lambda: clustering.estimate(**args)["credits"],
                 lambda: clustering.start(created_by_id=run.started_by_id, **args)), len(rows)


def _clusters(run, cfg, size):
    """Stage 2: clusters with keywords and no ideas yet."""
    taken = _taken(run, 2)
    has_idea = exists().where(Idea.cluster_id == Cluster.id)
    has_keyword = exists().where(Keyword.cluster_id == Cluster.id)
    rows = [r for r in db.session.execute(
        select(Cluster.id, Cluster.sector_id).where(Cluster.site_id == run.site_id, ~has_idea, has_keyword)
        .order_by(Cluster.sector_id, Cluster.id)) if r[0] not in taken]
    if not rows:
        return None, 0
    sector, ids = _first_sector(rows, size)
    args = dict(sector_id=sector, cluster_ids=ids, per_cluster=IDEAS_PER_CLUSTER, tier=cfg["tier"])
    return Batch(ids, f"Ideas for {len(ids)} cluster(s)",
                 lambda: idea_service.estimate_ideas(**args)["credits"],
                 lambda: idea_service.start_ideas(created_by_id=run.started_by_id, **args)), len(rows)


def _ideas(run, cfg, size):
    """Stage 3: new ideas without a task."""
    taken = _taken(run, 3)
    has_task = exists().where(Task.idea_id == Idea.id)
    ids = [i for i in db.session.scalars(select(Idea.id).where(Idea.site_id == run.site_id, Idea.status == "new",
                                                              ~has_task).order_by(Idea.id)) if i not in taken]
    if not ids:
        return None, 0

    def start() -> Done:
        made, skipped = task_service.create_tasks(idea_ids=ids[:size], user=None)
        note = f"; {len(skipped)} skipped ({skipped[0].reason})" if skipped else ""
        return Done([t.id for t in made], "task", f"Made {len(made)} task(s){note}.")

    return Batch(ids[:size], f"Tasks from {len(ids[:size])} idea(s)", start=start), len(ids)


def _tasks(run, cfg, size):
    """Stage 4: writable tasks without an article."""
    taken = _taken(run, 4)
    has_content = exists().where(Content.task_id == Task.id)
    ids = [i for i in db.session.scalars(select(Task.id).where(Task.site_id == run.site_id,
                                                              Task.status.in_(WRITABLE), ~has_content)
                                         .order_by(Task.id)) if i not in taken]
    if not ids:
        return None, 0
    chosen = ids[:size]
    title = db.session.scalar(select(Task.title).where(Task.id == chosen[0])) or ""
    label = f"Writing “{title[:80]}”" if len(chosen) == 1 else f"Writing {len(chosen)} articles"
    return Batch(chosen, label,
                 lambda: writer_runner.estimate_generation(task_ids=chosen, tier=cfg["tier"])["credits"],
                 lambda: writer_runner.start_generation(task_ids=chosen, tier=cfg["tier"],
                                                        created_by_id=run.started_by_id)[0]), len(ids)


IMAGE_READY = ("draft", "review", "approved")  # articles not yet handed to publishing


def _articles(run, cfg, size):
    """Stage 5: the site's unpublished articles without image prompts (the page's `start_prompts`)."""
    taken = _taken(run, 5)
    has_images = exists().where(ContentImage.content_id == Content.id)
    ids = [i for i in db.session.scalars(select(Content.id).where(Content.site_id == run.site_id,
                                                                  Content.status.in_(IMAGE_READY), ~has_images)
                                         .order_by(Content.id)) if i not in taken]
    if not ids:
        return None, 0
    chosen = ids[:min(size, image_prompts.MAX_ARTICLES)]
    return Batch(chosen, f"Image prompts for {len(chosen)} article(s)",
                 lambda: image_prompts.estimate_prompts(content_ids=chosen, tier=cfg["tier"])["credits"],
                 lambda: image_prompts.start_prompts(content_ids=chosen, tier=cfg["tier"],
                                                     created_by_id=run.started_by_id)), len(ids)


def _image_prompts(run, cfg, size):
    """Stage 6: unpublished articles with image prompts waiting to be made (the page's `start_images`), whole
    articles per batch and never more images than one images job takes."""
    taken = _taken(run, 6)
    rows = db.session.execute(
        select(ContentImage.content_id, func.count()).join(Content, Content.id == ContentImage.content_id)
        .outerjoin(Job, Job.id == ContentImage.job_id)
        .where(Content.site_id == run.site_id, Content.status.in_(IMAGE_READY),
               ContentImage.status.in_(("pending", "failed")),
               (Job.id.is_(None)) | Job.status.notin_(("queued", "running")))
        .group_by(ContentImage.content_id).order_by(ContentImage.content_id)).all()
    rows = [(content_id, n) for content_id, n in rows if content_id not in taken]
    if not rows:
        return None, 0
    chosen, images = [], 0
    for content_id, n in rows[:size]:
        if chosen and images + n > image_generation.MAX_IMAGES:
            break
        chosen.append(content_id)
        images += n
    return Batch(chosen, f"Making {images} image(s) for {len(chosen)} article(s)",
                 lambda: image_generation.estimate_images(content_ids=chosen, tier=cfg["tier"])["credits"],
                 lambda: image_generation.start_images(content_ids=chosen, tier=cfg["tier"],
                                                       created_by_id=run.started_by_id)), len(rows)


def made_in_run(run: AutomationRun, stage: int) -> list[int]:
    rows = db.session.scalars(select(AutomationItem.item_ids).where(AutomationItem.run_id == run.id,
                                                                   AutomationItem.stage == stage))
    return [i for ids in rows for i in (ids or [])]


def _review(run, cfg, size):
    """Stage 7: this run's articles in review: approved when auto-approve is on, otherwise left for people."""
    from app.services.writer import status as writer_status

    taken = _taken(run, 7)
    written = made_in_run(run, 4)
    if not written:
        return None, 0
    ids = [i for i in db.session.scalars(select(Content.id).where(Content.id.in_(written), Content.status == "review")
                                         .order_by(Content.id)) if i not in taken]
    if not ids:
        return None, 0
    chosen = ids[:size]

    def start() -> Done:
        if not writer_status.settings_for(run.site_id).auto_approve:
            return Done([], None, f"Left {len(chosen)} article(s) in review: auto-approve is off for this site.")
        moved, refused = writer_status.change_many(content_ids=chosen, to="approved")
        note = f" {len(refused)} could not be: {refused[0]}" if refused else ""
        return Done(chosen if not refused else [], "content", f"Approved {moved} article(s).{note}")

    return Batch(chosen, f"Reviewing {len(chosen)} article(s)", start=start), len(ids)


# stage -> (next batch finder, what its jobs make)
FINDERS = {1: _keywords, 2: _clusters, 3: _ideas, 4: _tasks, 5: _articles, 6: _image_prompts, 7: _review}
MADE_BY_JOB = {1: ("cluster", Cluster.id, Cluster.job_id), 2: ("idea", Idea.id, Idea.job_id),
               4: ("content", Content.id, Content.job_id), 5: ("image", ContentImage.id, ContentImage.prompt_job_id),
               6: ("image", ContentImage.id, ContentImage.job_id)}


def made_by(stage: int, job_id: int) -> tuple[str | None, list[int]]:
    """What a finished stage job made (rows carry the job's id; stage 6 counts only the images it made)."""
    if stage not in MADE_BY_JOB:
        return None, []
    item_type, column, job_column = MADE_BY_JOB[stage]
    stmt = select(column).where(job_column == job_id)
    if stage == 6:
        stmt = stmt.where(ContentImage.status == "generated")
    return item_type, list(db.session.scalars(stmt.order_by(column)))


def schedule_approved(run: AutomationRun) -> tuple[str, str, list[int]]:
    """After stage 7: put approved articles into the site's free slots when auto-publish is on (publishing's own
    function); a site whose last connection check failed stops here with the doctor's reason."""
    from app.models import Publication, Site
    from app.services.publishing import schedule as publish_schedule
    from app.services.publishing import settings as publish_settings

    if not publish_settings.settings_for(run.site_id).auto_publish:
        return "skipped", "Auto-publish is off for this site: approved articles wait to be scheduled by hand.", []
    site = db.session.get(Site, run.site_id)
    if site.wp_health == "failed":
        why = (site.wp_check or {}).get("summary") or "the last connection check failed"
        return "stopped", f"Not scheduled: the WordPress connection is broken ({why}). Fix it in Sites → WordPress.", []
    before = set(db.session.scalars(select(Publication.content_id).where(Publication.site_id == run.site_id)))
    placed = publish_schedule.auto_schedule_site(run.site_id)
    db.session.commit()
    now = set(db.session.scalars(select(Publication.content_id).where(Publication.site_id == run.site_id)))
    return "done", f"Scheduled {placed} approved article(s) into the site's publishing slots.", sorted(now - before)
