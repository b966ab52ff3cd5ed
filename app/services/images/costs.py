"""Cost truth: what an article cost in credits and provider USD, split into text, image prompts and images,
summed from the usage rows of the runs that worked on it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import Content, ContentImage, CreditUsageLog

PARTS = ("text", "prompts", "images")
LABELS = {"text": "Text", "prompts": "Image prompts", "images": "Images"}


def _empty() -> dict:
    return {part: {"credits": Decimal(0), "usd": Decimal(0)} for part in (*PARTS, "total")}


def article_costs(content_ids: list[int]) -> dict[int, dict]:
    """{content id: {text|prompts|images|total: {credits, usd}}} for the given articles.

    A run that wrote several articles has one usage row: text is shared by each article's tokens, image prompts
    evenly between the run's articles; images are charged one by one and recorded on each image."""
    out = {cid: _empty() for cid in content_ids}
    if not content_ids:
        return out
    articles = list(db.session.execute(select(Content.id, Content.job_id, Content.tokens_in + Content.tokens_out)
                                       .where(Content.id.in_(content_ids))).all())
    text_jobs = {job for _, job, _ in articles if job}
    usage = {row.job_id: row for row in db.session.scalars(
        select(CreditUsageLog).where(CreditUsageLog.job_id.in_(text_jobs)))} if text_jobs else {}
    for cid, job, tokens in articles:
        row = usage.get(job)
        if row is None:
            continue
        total = (row.tokens_in or 0) + (row.tokens_out or 0)
        share = Decimal(tokens or 0) / Decimal(total) if total else Decimal(0)
        _add(out[cid]["text"], Decimal(row.credits) * share, Decimal(row.cost_usd or 0) * share)
    prompt_runs = list(db.session.execute(select(ContentImage.content_id, ContentImage.prompt_job_id)
                                          .where(ContentImage.content_id.in_(content_ids),
                                                 ContentImage.prompt_job_id.is_not(None)).distinct()).all())
    jobs = {job for _, job in prompt_runs}
    if jobs:
        rows = {r.job_id: r for r in db.session.scalars(select(CreditUsageLog).where(CreditUsageLog.job_id.in_(jobs)))}
        sharers = dict(db.session.execute(select(ContentImage.prompt_job_id,
                                                 func.count(func.distinct(ContentImage.content_id)))
                                          .where(ContentImage.prompt_job_id.in_(jobs))
                                          .group_by(ContentImage.prompt_job_id)).all())
        for cid, job in prompt_runs:
            if job in rows:
                share = Decimal(1) / Decimal(max(1, sharers.get(job, 1)))
                _add(out[cid]["prompts"], Decimal(rows[job].credits) * share, Decimal(rows[job].cost_usd or 0) * share)
    for cid, credits, usd in db.session.execute(
            select(ContentImage.content_id, func.sum(ContentImage.credits), func.sum(ContentImage.cost_usd))
            .where(ContentImage.content_id.in_(content_ids)).group_by(ContentImage.content_id)).all():
        _add(out[cid]["images"], Decimal(credits or 0), Decimal(usd or 0))
    for costs in out.values():
        for part in PARTS:
            _add(costs["total"], costs[part]["credits"], costs[part]["usd"])
        for part in costs.values():
            part["credits"] = part["credits"].quantize(Decimal("0.01"))
            part["usd"] = part["usd"].quantize(Decimal("0.000001"))
    return out


def _add(target: dict, credits: Decimal, usd: Decimal) -> None:
    target["credits"] += credits
    target["usd"] += usd
