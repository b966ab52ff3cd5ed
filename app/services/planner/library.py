"""Keyword opportunities: the seed keyword library for a sector's industry, added with its metrics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app import params
from app.extensions import db
from app.models import IndustrySector, Keyword, Sector, SeedKeyword
from app.models.planner import INTENTS
from app.services.planner import parsing
from app.services.planner.keywords import AddResult, escape_like, get_sector, insert_records


@dataclass
class LibraryFilter:
    q: str = ""
    volume_min: int | None = None
    difficulty_max: int | None = None
    hide_added: bool = False

    @classmethod
    def from_args(cls, args) -> "LibraryFilter":
        def number(name):
            return params.clamped_arg(args, name, None, low=0)
        return cls(q=" ".join((args.get("q") or "").split())[:100], volume_min=number("volume_min"),
                   difficulty_max=number("difficulty_max"), hide_added=args.get("hide_added") == "1")


def library(*, sector: Sector, flt: LibraryFilter, limit: int = 500) -> tuple[list[dict], str | None]:
    """Seed keywords for the sector's industry, each marked if the sector already has it.

    Returns the rows and, when the sector has no industry template, a sentence saying why the list is wide.
    """
    site = sector.site
    query = select(SeedKeyword)
    note = None
    if sector.industry_sector_id:
        query = query.where(SeedKeyword.industry_sector_id == sector.industry_sector_id)
    elif site.industry_id:
        query = query.join(IndustrySector).where(IndustrySector.industry_id == site.industry_id)
        note = f"This sector is not based on an industry template, so all of {site.industry.name} is shown."
    else:
        note = "This site has no industry, so the whole library is shown. Set an industry on the site to narrow it."
    if flt.q:
        query = query.where(SeedKeyword.keyword.ilike(f"%{escape_like(flt.q)}%", escape="\\"))
    if flt.volume_min is not None:
        query = query.where(SeedKeyword.volume >= flt.volume_min)
    if flt.difficulty_max is not None:
        query = query.where(SeedKeyword.difficulty <= flt.difficulty_max)
    seeds = list(db.session.scalars(query.order_by(SeedKeyword.volume.desc(), SeedKeyword.id).limit(limit)))
    keys = {parsing.normalize_keyword(s.keyword): s for s in seeds}
    present = set(db.session.scalars(select(Keyword.normalized).where(
        Keyword.sector_id == sector.id, Keyword.normalized.in_(list(keys)))))
    rows = [{"seed": s, "added": parsing.normalize_keyword(s.keyword) in present} for s in seeds]
    if flt.hide_added:
        rows = [r for r in rows if not r["added"]]
    return rows, note


def add_from_library(*, sector_id: int, seed_ids: list[int]) -> AddResult:
    """Add chosen seed keywords (with their volume, difficulty and intent) to the sector."""
    sector = get_sector(sector_id)
    if not seed_ids:
        raise ValidationError("Choose at least one keyword from the library.", field="seed_ids")
    seeds = list(db.session.scalars(select(SeedKeyword).where(SeedKeyword.id.in_(seed_ids[:5000]))))
    if not seeds:
        raise NotFound("Those library keywords do not exist.")
    records = []
    seen = set()
    for seed in seeds:
        key = parsing.normalize_keyword(seed.keyword)
        if key in seen:
            continue
        seen.add(key)
        records.append(parsing.KeywordRecord(
            keyword=parsing.clean_display(seed.keyword), normalized=key, volume=seed.volume,
            volume_text=None, difficulty=seed.difficulty, cpc=None, cpc_currency=None,
            intent=seed.intent if seed.intent in INTENTS else None))
    added = insert_records(sector, records, source="library")
    db.session.commit()
    return AddResult(added=added, existing=len(records) - added)
