"""The active site and sector a person works in, remembered per user."""

from __future__ import annotations

from sqlalchemy import and_, select

from app import tenancy
from app.errors import NotFound
from app.extensions import db
from app.models import Sector, Site, User


def resolve_active(*, user: User) -> tuple[Site | None, Sector | None]:
    """The remembered site and sector if still visible, else the first visible ones."""
    site = sector = None
    if user.active_site_id:
        # The remembered site and its remembered sector in one statement (every page starts here).
        found = db.session.execute(
            select(Site, Sector).outerjoin(Sector, and_(Sector.site_id == Site.id,
                                                       Sector.id == (user.active_sector_id or 0)))
            .where(Site.id == user.active_site_id)
        ).first()
        if found is not None:
            site, sector = found
    if site is None:
        # Else the first visible site and its first sector, also in one statement.
        found = db.session.execute(
            select(Site, Sector).outerjoin(Sector, Sector.site_id == Site.id)
            .order_by(Site.status != "active", Site.name, Sector.id).limit(1)
        ).first()
        if found is None:
            return None, None
        site, sector = found
        if user.active_sector_id and (sector is None or sector.id != user.active_sector_id):
            sector = db.session.scalars(
                select(Sector).where(Sector.id == user.active_sector_id, Sector.site_id == site.id)
            ).first() or sector
    elif sector is None:
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
