"""What the automation pages show: live progress per stage, a run's log, history, and the overview."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import AutomationItem, AutomationRun, AutomationSettings, Job, Site
from app.services.automation.settings import STAGES
from app.services.automation.stages import FINDERS
from app.timeutil import utcnow

LINKS = {"cluster": "/planner/clusters", "idea": "/planner/ideas", "task": "/writer/tasks",
         "content": "/writer/content/{id}", "image": "/writer/images/{id}"}


def log_of(run: AutomationRun) -> list[AutomationItem]:
    return list(db.session.scalars(select(AutomationItem).where(AutomationItem.run_id == run.id)
                                   .order_by(AutomationItem.id)))


def link_for(item_type: str | None, item_id: int) -> str | None:
    pattern = LINKS.get(item_type or "")
    return pattern.format(id=item_id) if pattern else None


def progress_of(run: AutomationRun) -> dict:
    """Per stage: status, items done and waiting, credits; the item being worked on; time left."""
    items = log_of(run)
    rows = []
    for stage in STAGES:
        mine = [i for i in items if i.stage == stage.number]
        done = sum(i.count for i in mine if i.outcome == "done")
        credits = sum(i.credits for i in mine)
        cfg = run.config.get("stages", {}).get(str(stage.number), {})
        if not stage.available:
            status = "not available yet"
        elif not cfg.get("enabled"):
            status = "off"
        elif run.stage > stage.number:
            status = "skipped" if mine and all(i.outcome == "skipped" for i in mine) else "done"
        elif run.stage == stage.number:
            status = "working" if run.status == "running" else run.status
        else:
            status = "waiting"
        remaining = None
        if run.is_active and run.stage == stage.number and stage.number in FINDERS and cfg.get("enabled"):
            _, remaining = FINDERS[stage.number](run, cfg, cfg.get("batch") or 1)
            limit = cfg.get("limit") or 0
            if limit:
                remaining = max(0, min(remaining, limit - done))
        rows.append({"stage": stage, "status": status, "done": done, "remaining": remaining, "credits": credits})
    return {"rows": rows, "time_left": _time_left(run, items, rows)}


def _time_left(run: AutomationRun, items: list[AutomationItem], rows: list[dict]) -> str:
    finished = [i for i in items if i.outcome == "done" and i.count]
    if not run.started_at or not finished or run.status != "running":
        return ""
    elapsed = (utcnow() - run.started_at).total_seconds()
    per_item = elapsed / max(1, sum(i.count for i in finished))
    waiting = sum(r["remaining"] or 0 for r in rows)
    seconds = int(per_item * waiting)
    return f"about {seconds // 60} min" if seconds >= 60 else f"about {seconds} s"


def history(site_id: int, limit: int = 30) -> list[AutomationRun]:
    return list(db.session.scalars(select(AutomationRun).where(AutomationRun.site_id == site_id)
                                   .order_by(AutomationRun.id.desc()).limit(limit)))


def overview() -> list[dict]:
    """Every visible site: next run, last outcome, what waits at each stage, credits spent this month."""
    month = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    for site in db.session.scalars(select(Site).order_by(Site.name)):
        settings = db.session.scalars(select(AutomationSettings).where(AutomationSettings.site_id == site.id)).first()
        last = db.session.scalars(select(AutomationRun).where(AutomationRun.site_id == site.id)
                                  .order_by(AutomationRun.id.desc())).first()
        spent = db.session.scalar(select(func.coalesce(func.sum(AutomationItem.credits), 0)).where(
            AutomationItem.site_id == site.id, AutomationItem.created_at >= month))
        probe = AutomationRun(id=0, site_id=site.id, config={})
        waiting = {n: FINDERS[n](probe, {"tier": "testing"}, 1)[1] for n in FINDERS}
        out.append({"site": site, "settings": settings, "last": last, "spent": spent, "waiting": waiting,
                    "next": settings.next_run_at if settings and settings.enabled else None})
    return out


def stage_job(run: AutomationRun) -> Job | None:
    return db.session.get(Job, run.stage_job_id) if run.stage_job_id else None


def duration(run: AutomationRun) -> str:
    if not run.started_at:
        return "—"
    end = run.finished_at if run.finished_at else datetime.now(timezone.utc)
    seconds = int((end - run.started_at).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s"
