"""Stage 3 of the pipeline: writing tasks made from ideas (local work, no AI, no credits).

A task copies what the writer needs from its idea — title, outline, keywords, type, structure and the
idea's own target length (it always has one; the strategy's length only steers idea generation) — and
takes the author profile and strategy from its site's defaults. One task per idea: the database refuses
a second, and a repeated request reports "already has a task" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.errors import NotFound, ValidationError
from app import params
from app.extensions import db
from app.models import Sector, Site, User
from app.models.thinker import AuthorProfile, ContentStrategy
from app.models.planner import TASK_STATUSES, Idea, Task
from app.services.paging import Page, paginate
from app.services.planner.ideas import like, parse_ids

MAX_SELECTION = 500


@dataclass
class Skipped:
    """An idea that did not get a new task, and why."""

    idea_id: int
    title: str
    reason: str


def _chosen_ideas(idea_ids: list[int]) -> list[Idea]:
    ids = parse_ids(idea_ids, field="idea_ids", label="idea")
    if not ids:
        raise ValidationError("Choose at least one idea.", field="idea_ids")
    if len(ids) > MAX_SELECTION:
        raise ValidationError(f"Choose at most {MAX_SELECTION} ideas at a time.", field="idea_ids")
    # Locking the ideas makes a double click wait for the first request and then see its tasks.
    ideas = list(db.session.scalars(select(Idea).where(Idea.id.in_(ids)).order_by(Idea.id).with_for_update()))
    if len(ideas) != len(ids):
        db.session.rollback()
        raise NotFound("One or more of the chosen ideas do not exist or you do not have access to them.")
    return ideas


def create_tasks(*, idea_ids: list[int], user: User | None = None) -> tuple[list[Task], list[Skipped]]:
    """Make one queued task per chosen idea and mark the idea queued; ideas that have a task are skipped.

    `user` is who asked (None when the automation runner asks); tasks are the same either way.
    """
    ideas = _chosen_ideas(idea_ids)
    has_task = set(db.session.scalars(select(Task.idea_id).where(Task.idea_id.in_([i.id for i in ideas]))))
    sites = {s.id: s for s in db.session.scalars(select(Site).where(Site.id.in_({i.site_id for i in ideas})))}
    created, skipped = [], []
    for idea in ideas:
        if idea.id in has_task:
            skipped.append(Skipped(idea.id, idea.title, "already has a task"))
            continue
        if idea.status == "archived":
            skipped.append(Skipped(idea.id, idea.title, "is archived"))
            continue
        site = sites[idea.site_id]
        task = Task(site_id=idea.site_id, sector_id=idea.sector_id, idea_id=idea.id, cluster_id=idea.cluster_id,
                    title=idea.title, outline=list(idea.outline or []), content_type=idea.content_type,
                    structure=idea.structure, primary_keyword=idea.primary_keyword,
                    keywords=[k for k in [idea.primary_keyword, *(idea.secondary_keywords or [])] if k],
                    target_words=idea.target_words, author_profile_id=site.default_author_profile_id,
                    strategy_id=site.default_strategy_id, status="queued")
        try:
            with db.session.begin_nested():
                db.session.add(task)
        except IntegrityError:  # made by a request that did not lock the idea first
            skipped.append(Skipped(idea.id, idea.title, "already has a task"))
            continue
        idea.status = "queued"
        created.append(task)
    db.session.commit()
    return created, skipped


@dataclass
class TaskFilters:
    status: str = ""
    cluster_id: int | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args) -> "TaskFilters":
        """Filters from a query string; unknown values are ignored rather than refused."""
        cluster = args.get("cluster", "")
        return cls(status=args.get("status", "") if args.get("status") in TASK_STATUSES else "",
                   cluster_id=params.parse_id(cluster),
                   q=" ".join(args.get("q", "").split())[:200])

    def query(self) -> dict:
        """The filters as query-string arguments (for pager links)."""
        values = {"status": self.status, "cluster": self.cluster_id or "", "q": self.q}
        return {k: v for k, v in values.items() if v}


def list_tasks(*, sector: Sector, filters: TaskFilters, page: int = 1) -> Page:
    """The sector's tasks matching the filters, newest first."""
    stmt = select(Task).where(Task.sector_id == sector.id).options(selectinload(Task.cluster),
                                                                   selectinload(Task.idea))
    if filters.status:
        stmt = stmt.where(Task.status == filters.status)
    if filters.cluster_id:
        stmt = stmt.where(Task.cluster_id == filters.cluster_id)
    if filters.q:
        pattern = like(filters.q)
        stmt = stmt.where(or_(Task.title.ilike(pattern), Task.primary_keyword.ilike(pattern)))
    return paginate(stmt.order_by(Task.id.desc()), page)


def get_task(task_id: int) -> Task:
    """A task of the bound account, or NotFound."""
    task = db.session.scalars(select(Task).where(Task.id == task_id)).first()
    if task is None:
        raise NotFound("That task does not exist or you do not have access to it.")
    return task


def delete_tasks(*, ids: list[int]) -> tuple[int, list[str]]:
    """Delete the chosen tasks; their ideas return to "new". Tasks being written are kept (named in the list)."""
    ids = parse_ids(ids, field="task_ids", label="task")
    if not ids:
        raise ValidationError("Choose at least one task.", field="task_ids")
    tasks = list(db.session.scalars(select(Task).where(Task.id.in_(ids)).with_for_update()))
    if len(tasks) != len(ids):
        db.session.rollback()
        raise NotFound("One or more of the chosen tasks do not exist or you do not have access to them.")
    kept = [t.title for t in tasks if t.status == "in_progress"]
    doomed = [t for t in tasks if t.status != "in_progress"]
    idea_ids = [t.idea_id for t in doomed if t.idea_id]
    for task in doomed:
        db.session.delete(task)
    db.session.flush()
    for idea in db.session.scalars(select(Idea).where(Idea.id.in_(idea_ids), Idea.status == "queued")):
        idea.status = "new"
    db.session.commit()
    return len(doomed), kept


def profile_of(task: Task) -> AuthorProfile | None:
    """The author profile the task will be written in."""
    return db.session.get(AuthorProfile, task.author_profile_id) if task.author_profile_id else None


def strategy_of(task: Task) -> ContentStrategy | None:
    """The strategy the task follows."""
    return db.session.get(ContentStrategy, task.strategy_id) if task.strategy_id else None
