"""Real values for a prompt preview, taken from the account's own sites, sectors, clusters and tasks."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Cluster, Idea, Keyword, Sector, Site, Task
from app.models.planner import INTENTS
from app.services import thinker
from app.services.ai import settings
from app.services.ai.prompts import render_body, get_function, get_template, validate
from app.services.ai.voice import profile_text, strategy_text

MAX_KEYWORDS = 20


def _site(site_id: int | None) -> Site | None:
    query = select(Site).order_by(Site.id)
    if site_id:
        query = query.where(Site.id == site_id)
    return db.session.scalars(query).first()


def _sector(site: Site, sector_id: int | None) -> Sector | None:
    query = select(Sector).where(Sector.site_id == site.id).order_by(Sector.id)
    if sector_id:
        query = query.where(Sector.id == sector_id)
    return db.session.scalars(query).first()


def _keywords(*criteria) -> list[str]:
    query = select(Keyword.keyword).where(*criteria, Keyword.status == "active")
    return list(db.session.scalars(query.order_by(Keyword.volume.desc().nulls_last(), Keyword.id).limit(MAX_KEYWORDS)))


def _outline_text(outline: list) -> str:
    lines = []
    for heading in outline or []:
        if isinstance(heading, dict) and heading.get("text"):
            level = heading.get("level", 2)
            lines.append(f"{'  ' if level == 3 else ''}H{level} {heading['text']}")
    return "\n".join(lines)


def _cluster_values(sector: Sector) -> dict:
    cluster = db.session.scalars(
        select(Cluster).where(Cluster.sector_id == sector.id,
                              Cluster.id.in_(select(Keyword.cluster_id).where(Keyword.cluster_id.is_not(None))))
        .order_by(Cluster.id)).first()
    if cluster is None:
        keywords = _keywords(Keyword.sector_id == sector.id)
        return {"keywords": ", ".join(keywords)} if keywords else {}
    return {"cluster_name": cluster.name, "cluster_description": cluster.description, "intent": cluster.intent,
            "keywords": ", ".join(_keywords(Keyword.cluster_id == cluster.id))}


def _writing_values(sector: Sector) -> dict:
    item = (db.session.scalars(select(Task).where(Task.sector_id == sector.id).order_by(Task.id)).first()
            or db.session.scalars(select(Idea).where(Idea.sector_id == sector.id).order_by(Idea.id)).first())
    if item is None:
        return {}
    keywords = item.keywords if isinstance(item, Task) else item.secondary_keywords
    return {"title": item.title, "outline": _outline_text(item.outline), "primary_keyword": item.primary_keyword,
            "content_type": item.content_type, "structure": item.structure, "target_words": item.target_words,
            **({"keywords": ", ".join(keywords)} if keywords else {})}


def preview_values(*, site_id: int | None = None, sector_id: int | None = None) -> dict:
    """Values for the variables that the account's data can fill; the caller labels samples for the rest."""
    # Without a default author profile, runs write in English, so that is the real value.
    values: dict = {"intents": ", ".join(INTENTS), "language": "English"}
    site = _site(site_id)
    if site is None:
        return values
    values["site_name"] = site.name
    profile, strategy = thinker.site_defaults(site)
    if profile is not None:
        values.update(author_profile=profile_text(profile), language=profile.language)
    if strategy is not None:
        values.update(strategy=strategy_text(strategy), target_words=strategy.target_words)
    ai = settings.resolve(site)
    values.update(image_style=ai.image_style, image_count=ai.image_count)
    sector = _sector(site, sector_id)
    if sector is not None:
        values["sector"] = sector.name
        values.update(_cluster_values(sector))
        writing = _writing_values(sector)
        if "keywords" in values:
            writing.pop("keywords", None)  # the cluster's keywords describe the topic best
        values.update(writing)
    return values


def preview(function: str, body: str | None = None, *, site_id: int | None = None,
            sector_id: int | None = None) -> str:
    """The system message as it would be sent, filled with the account's real data where there is some
    (the given or first site and sector) and with labelled samples elsewhere."""
    spec = get_function(function)
    body = validate(function, body) if body is not None else get_template(function)[0]
    real = preview_values(site_id=site_id, sector_id=sector_id)
    values = {v.name: real[v.name] if real.get(v.name) not in (None, "") else f"[sample: {v.sample}]"
              for v in spec.variables}
    return render_body(spec, body, values)
