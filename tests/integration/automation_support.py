"""Shared set-up for the automation tests: a site with keywords, settings forms, reading runs back."""

from __future__ import annotations

from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import AutomationItem, AutomationRun, Cluster, Content, Idea, Job, Keyword, Publication, Task

WORDS = ["espresso", "french press", "coffee grinder", "cold brew", "pour over", "latte art", "moka pot",
         "decaf", "green tea", "matcha"]
SUFFIXES = ["", "best", "how to make", "cheap", "guide", "for beginners", "recipe", "vs drip", "at home",
            "tips", "machine", "ratio", "temperature", "beans", "history", "benefits", "mistakes", "tools",
            "review", "near me"]


def keyword_rows(count: int) -> list[str]:
    rows = [f"{suffix} {word}".strip() for word in WORDS for suffix in SUFFIXES]
    return rows[:count]


def add_keywords(app, account_id: int, site_id: int, sector_id: int, count: int) -> None:
    with app.app_context(), tenancy.account_scope(account_id):
        db.session.add_all([Keyword(site_id=site_id, sector_id=sector_id, keyword=k, normalized=k, volume=1000 - i)
                            for i, k in enumerate(keyword_rows(count))])
        db.session.commit()
        db.session.remove()


def form(**overrides) -> dict:
    """A valid settings form: every available stage on, small batches, no budget shares."""
    values = {"enabled": "", "frequency": "daily", "run_time": "02:00", "weekday": "0", "item_delay": "0",
              "stage_delay": "0", "credit_cap": ""}
    for n, batch in {1: 200, 2: 5, 3: 20, 4: 1, 5: 5, 6: 5, 7: 20}.items():
        values.update({f"s{n}_enabled": "on", f"s{n}_batch": str(batch), f"s{n}_limit": "0",
                       f"s{n}_tier": "testing", f"s{n}_budget": "0"})
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def counts(app, account_id: int) -> dict:
    with app.app_context(), tenancy.account_scope(account_id):
        out = {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in
               {"clusters": Cluster, "ideas": Idea, "tasks": Task, "articles": Content,
                "publications": Publication, "jobs": Job}.items()}
        out["approved"] = db.session.scalar(select(func.count()).select_from(Content)
                                            .where(Content.status.in_(("approved", "scheduled"))))
        out["review"] = db.session.scalar(select(func.count()).select_from(Content).where(Content.status == "review"))
        db.session.remove()
    return out


def run_row(app, account_id: int, run_id: int) -> dict:
    with app.app_context(), tenancy.account_scope(account_id):
        run = db.session.get(AutomationRun, run_id)
        row = {c: getattr(run, c) for c in ("status", "stage", "reason", "credits_used", "stage_job_id",
                                             "credit_cap")}
        row["log"] = [(i.stage, i.outcome, i.message, i.credits, list(i.item_ids)) for i in db.session.scalars(
            select(AutomationItem).where(AutomationItem.run_id == run_id).order_by(AutomationItem.id))]
        db.session.remove()
    return row


def job_charges(app, account_id: int) -> int:
    with app.app_context(), tenancy.account_scope(account_id):
        total = db.session.scalar(select(func.coalesce(func.sum(Job.credits_charged), 0)))
        db.session.remove()
    return total
