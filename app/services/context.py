"""The active site and sector a person works in, remembered per user."""

from __future__ import annotations

from sqlalchemy import select

from app import tenancy
from app.errors import NotFound
from app.extensions import db
from app.models import Sector, Site, User


def resolve_active(*, user: User) -> tuple[Site | None, Sector | None]:
    """The remembered site and sector if still visible, else the first visible ones."""
    site = None
    if user.active_site_id:
        site = db.session.scalars(select(Site).where(Site.id == user.active_site_id)).first()
    if site is None:
        site = db.session.scalars(
            select(Site).order_by(Site.status != "active", Site.name)
        ).first()
    if site is None:
        return None, None
    sector = None
    if user.active_sector_id:
        sector = db.session.scalars(
            select(Sector).where(Sector.id == user.active_sector_id, Sector.site_id == site.id)
        ).first()
    if sector is None:
        sector = db.session.scalars(
            select(Sector).where(Sector.site_id == site.id).order_by(Sector.id)
        ).first()
    return site, sector


def _remember(user: User, site_id: int | None, sector_id: int | None) -> None:
    # An operator acting as an account remembers nothing on the account's behalf.
    with tenancy.all_accounts():
        user.active_site_id = site_id
        user.active_sector_id = sector_id
        db.session.commit()


def set_active_site(*, user: User, site_id: int) -> Site:
    """Switch to a visible site and its first sector."""
    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    sector = db.session.scalars(
        select(Sector).where(Sector.site_id == site.id).order_by(Sector.id)
    ).first()
    _remember(user, site.id, sector.id if sector else None)
    return site


def set_active_sector(*, user: User, sector_id: int) -> Sector:
    """Switch to a visible sector (and its site)."""
    sector = db.session.scalars(select(Sector).where(Sector.id == sector_id)).first()
    if sector is None:
        raise NotFound("That sector does not exist or you do not have access to it.")
    _remember(user, sector.site_id, sector.id)
    return sector
