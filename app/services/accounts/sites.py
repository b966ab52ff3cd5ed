"""Sites and sectors of the bound account."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import Industry, IndustrySector, Sector, Site
from app.models.sites import MAX_SECTORS_PER_SITE

TIMEZONES = sorted(available_timezones())


def list_sites(*, include_inactive: bool = True) -> list[Site]:
    """Sites the current person can see, by name."""
    query = select(Site).options(selectinload(Site.sectors), selectinload(Site.industry)).order_by(Site.name)
    if not include_inactive:
        query = query.where(Site.status == "active")
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class SwitcherSite:
    id: int
    name: str
    is_active: bool


def switcher_sites() -> list[SwitcherSite]:
    """The header's site list on every page: visible sites by name, three columns each (the active
    site's sectors come from the active site itself, already loaded)."""
    rows = db.session.execute(select(Site.id, Site.name, Site.status).order_by(Site.name))
    return [SwitcherSite(site_id, name, status == "active") for site_id, name, status in rows]


def get_site(site_id: int) -> Site:
    """A visible site, or NotFound."""
    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    return site


def get_sector(sector_id: int) -> Sector:
    """A visible sector, or NotFound."""
    sector = db.session.scalars(select(Sector).where(Sector.id == sector_id)).first()
    if sector is None:
        raise NotFound("That sector does not exist or you do not have access to it.")
    return sector


def clean_url(raw: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    raw = (raw or "").strip()
    if raw and "://" not in raw:
        raw = "https://" + raw
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in raw:
        raise ValidationError("Enter the site's address, like https://example.com.", field="url")
    if len(raw) > 500:
        raise ValidationError("That address is too long.", field="url")
    return raw.rstrip("/")


def _clean_name(raw: str, *, what: str, field: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ValidationError(f"Give the {what} a name.", field=field)
    if len(name) > 120:
        raise ValidationError(f"Keep the {what} name under 120 characters.", field=field)
    return name


def _check_timezone(tz: str) -> str:
    if tz not in TIMEZONES:
        raise ValidationError("Choose a timezone from the list.", field="timezone")
    return tz


def _industry(industry_id: int | None) -> Industry | None:
    if not industry_id:
        return None
    industry = db.session.get(Industry, industry_id)
    if industry is None:
        raise ValidationError("Choose an industry from the list.", field="industry_id")
    return industry


def _sector_template(template_id: int | None, industry: Industry | None) -> IndustrySector | None:
    if not template_id:
        return None
    template = db.session.get(IndustrySector, template_id)
    if template is None or (industry is not None and template.industry_id != industry.id):
        raise ValidationError("Choose sectors of the site's industry.", field="sectors")
    return template


def _name_taken(name: str, *, exclude_id: int | None = None) -> bool:
    query = select(Site.id).where(func.lower(Site.name) == name.lower())
    if exclude_id:
        query = query.where(Site.id != exclude_id)
    return db.session.scalars(query).first() is not None


def create_site(
    *,
    name: str,
    url: str,
    timezone: str,
    industry_id: int | None,
    sector_template_ids: list[int],
    sector_names: list[str],
) -> Site:
    """Create a site with 1–5 sectors (from industry templates and/or typed names)."""
    name = _clean_name(name, what="site", field="name")
    url = clean_url(url)
    timezone = _check_timezone(timezone)
    industry = _industry(industry_id)
    if _name_taken(name):
        raise ValidationError("You already have a site with that name.", field="name")
    sectors: list[Sector] = []
    seen: set[str] = set()
    for template_id in dict.fromkeys(sector_template_ids):
        template = _sector_template(template_id, industry)
        if template and template.name.lower() not in seen:
            seen.add(template.name.lower())
            sectors.append(Sector(name=template.name, industry_sector_id=template.id))
    for raw in sector_names:
        if not (raw or "").strip():
            continue
        sector_name = _clean_name(raw, what="sector", field="sectors")
        if sector_name.lower() not in seen:
            seen.add(sector_name.lower())
            sectors.append(Sector(name=sector_name))
    _check_sector_count(len(sectors))
    site = Site(name=name, url=url, timezone=timezone, industry_id=industry.id if industry else None)
    db.session.add(site)
    db.session.flush()
    for sector in sectors:
        sector.site_id = site.id
        db.session.add(sector)
    db.session.commit()
    return site


def _check_sector_count(count: int) -> None:
    if count < 1:
        raise ValidationError("A site needs at least one sector.", field="sectors")
    if count > MAX_SECTORS_PER_SITE:
        raise ValidationError(
            f"A site can have at most {MAX_SECTORS_PER_SITE} sectors.", field="sectors"
        )


def update_site(*, site_id: int, name: str, url: str, timezone: str, industry_id: int | None) -> Site:
    """Change a site's name, address, timezone and industry."""
    site = get_site(site_id)
    name = _clean_name(name, what="site", field="name")
    if _name_taken(name, exclude_id=site.id):
        raise ValidationError("You already have a site with that name.", field="name")
    site.name = name
    site.url = clean_url(url)
    site.timezone = _check_timezone(timezone)
    industry = _industry(industry_id)
    site.industry_id = industry.id if industry else None
    db.session.commit()
    return site


def set_site_status(*, site_id: int, active: bool) -> Site:
    """Deactivate or reactivate a site."""
    site = get_site(site_id)
    site.status = "active" if active else "inactive"
    db.session.commit()
    return site


def delete_site(*, site_id: int, confirm_name: str) -> None:
    """Delete a site and everything in it, once its name is typed to confirm."""
    site = get_site(site_id)
    if (confirm_name or "").strip() != site.name:
        raise ValidationError("Type the site's name exactly to confirm deletion.", field="confirm_name")
    from app.models import ContentImage
    from app.services.images import storage

    files = list(db.session.scalars(select(ContentImage.file_key).where(
        ContentImage.site_id == site.id, ContentImage.file_key.is_not(None))))
    db.session.delete(site)
    db.session.commit()
    store = storage.storage()
    for key in files:  # the article images go with the site, once its rows are gone
        store.delete(key)


def _lock_site(site_id: int) -> Site:
    # Lock the site row so two concurrent additions cannot both pass the count check.
    site = db.session.scalars(select(Site).where(Site.id == site_id).with_for_update()).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    return site


def add_sector(*, site_id: int, name: str = "", template_id: int | None = None) -> Sector:
    """Add a sector to a site, up to five."""
    site = _lock_site(site_id)
    template = _sector_template(template_id, site.industry)
    sector_name = template.name if template else _clean_name(name, what="sector", field="name")
    count = db.session.scalar(select(func.count(Sector.id)).where(Sector.site_id == site.id))
    if count >= MAX_SECTORS_PER_SITE:
        db.session.rollback()
        raise ValidationError(
            f"A site can have at most {MAX_SECTORS_PER_SITE} sectors. Remove one first.", field="name"
        )
    exists = db.session.scalars(
        select(Sector.id).where(Sector.site_id == site.id, func.lower(Sector.name) == sector_name.lower())
    ).first()
    if exists:
        db.session.rollback()
        raise ValidationError("This site already has a sector with that name.", field="name")
    sector = Sector(site_id=site.id, name=sector_name, industry_sector_id=template.id if template else None)
    db.session.add(sector)
    db.session.commit()
    return sector


def rename_sector(*, sector_id: int, name: str) -> Sector:
    """Rename a sector."""
    sector = get_sector(sector_id)
    new_name = _clean_name(name, what="sector", field="name")
    clash = db.session.scalars(
        select(Sector.id).where(Sector.site_id == sector.site_id, Sector.id != sector.id,
                                func.lower(Sector.name) == new_name.lower())
    ).first()
    if clash:
        raise ValidationError("This site already has a sector with that name.", field="name")
    sector.name = new_name
    db.session.commit()
    return sector


def remove_sector(*, sector_id: int) -> None:
    """Remove a sector; the last one of a site stays."""
    sector = get_sector(sector_id)
    _lock_site(sector.site_id)
    count = db.session.scalar(select(func.count(Sector.id)).where(Sector.site_id == sector.site_id))
    if count <= 1:
        db.session.rollback()
        raise ValidationError("A site needs at least one sector; add another before removing this one.")
    db.session.delete(sector)
    db.session.commit()


def industries() -> list[Industry]:
    """Reference industries by name."""
    return list(db.session.scalars(select(Industry).order_by(Industry.name)))


def industry_sectors(industry_id: int | None) -> list[IndustrySector]:
    """The sector templates of one industry (none for an unknown id)."""
    if not industry_id:
        return []
    return list(db.session.scalars(select(IndustrySector).where(IndustrySector.industry_id == industry_id)
                                   .order_by(IndustrySector.name)))


def latest_check(site_id: int):
    """The newest site-check job of a site, if any."""
    from app.models import Job

    return db.session.scalars(
        select(Job).where(Job.kind == "site.check", Job.site_id == site_id).order_by(Job.id.desc())
    ).first()
