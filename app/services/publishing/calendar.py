"""The publishing calendar: scheduled, published and failed articles for one site or all, by month or as a list."""

from __future__ import annotations

import calendar as pycal
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select

from app.errors import ValidationError
from app.extensions import db
from app.models import Content, Publication, Site
from app.services.paging import Page
from app.services.publishing.connection import WAITING_FOR_CONNECTION, site_is_connected
from app.timeutil import utcnow

MONTH_LIMIT = 5000  # twenty sites at ten slots a day fit in one month
LIST_PER_PAGE = 50
SHOWN = ("scheduled", "queued", "publishing", "retrying", "future", "published", "failed")
WAITING_LABEL = "Waiting for a WordPress connection"
STATE_LABELS = {"scheduled": "Scheduled", "queued": "Publishing soon", "publishing": "Publishing",
                "retrying": "Retrying", "future": "Scheduled on WordPress", "published": "Published",
                "failed": "Failed"}


@dataclass
class Item:
    publication_id: int
    content_id: int
    title: str
    site_name: str
    state: str
    when: datetime | None  # on the site's clock
    link: str | None
    error: str
    site_id: int = 0
    connected: bool = True
    due: bool = False

    @property
    def waiting(self) -> bool:
        """Scheduled on a site with no WordPress connection: it will wait at its time until the site is connected."""
        return self.state == "scheduled" and not self.connected

    @property
    def label(self) -> str:
        if self.waiting and self.due:
            return WAITING_LABEL
        return STATE_LABELS.get(self.state, self.state)


def parse_month(raw: str | None, today: date) -> date:
    """'2026-12' → the first of that month (this month when empty); refuses anything else."""
    if not raw:
        return today.replace(day=1)
    try:
        year, month = (int(x) for x in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise ValidationError("Choose a month as YYYY-MM.", field="month") from None


def _query(site_id: int | None):
    query = (select(Publication, Content.title, Site.id, Site.name, Site.timezone, site_is_connected().label("connected"))
             .join(Content, Content.id == Publication.content_id).join(Site, Site.id == Publication.site_id)
             .where(Publication.status.in_(SHOWN)))
    if site_id:
        query = query.where(Publication.site_id == site_id)
    return query


def items(*, site_id: int | None, start: datetime | None = None, end: datetime | None = None,
          limit: int = MONTH_LIMIT) -> list[Item]:
    """Publications to show, in time order (UTC bounds); failed ones without a time are included."""
    query = _query(site_id)
    if start and end:
        query = query.where(or_(Publication.scheduled_at.between(start, end),
                                Publication.published_at.between(start, end)))
    return _items(db.session.execute(query.order_by(Publication.scheduled_at.asc().nulls_last(), Publication.id)
                                     .limit(limit)).all())


def list_page(*, site_id: int | None, page: int = 1, per_page: int = LIST_PER_PAGE) -> Page:
    """The list view, one page at a time: what is still to go out (failed and unscheduled first, then by
    time), then what went out, newest first — so upcoming items never fall off behind months of history."""
    query = _query(site_id)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page or 1), pages)
    went_out = Publication.status == "published"
    rows = db.session.execute(query.order_by(
        case((went_out, 1), else_=0), case((went_out, None), else_=Publication.scheduled_at).asc().nulls_first(),
        Publication.published_at.desc().nulls_last(), Publication.id.desc(),
    ).limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=_items(rows), page=page, pages=pages, total=total)


def _items(rows) -> list[Item]:
    out, now = [], utcnow()
    for publication, title, site_id, site_name, tz_name, connected in rows:
        when = publication.scheduled_at or publication.published_at
        local = when.astimezone(ZoneInfo(tz_name or "UTC")) if when else None
        waiting_note = publication.last_error == WAITING_FOR_CONNECTION  # said by the item's own note instead
        out.append(Item(publication.id, publication.content_id, title, site_name, publication.status, local,
                        publication.wp_link, "" if waiting_note else publication.last_error, site_id=site_id,
                        connected=bool(connected), due=bool(when and when <= now)))
    return out


def month_grid(month: date, entries: list[Item]) -> list[list[dict]]:
    """Weeks (Monday first) of day cells, each with its items."""
    by_day: dict[date, list[Item]] = {}
    for entry in entries:
        if entry.when:
            by_day.setdefault(entry.when.date(), []).append(entry)
    weeks = []
    for week in pycal.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        weeks.append([{"day": d, "in_month": d.month == month.month, "items": by_day.get(d, [])} for d in week])
    return weeks


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """UTC bounds wide enough for every zone's view of the month."""
    start = datetime(month.year, month.month, 1, tzinfo=timezone.utc) - timedelta(days=8)
    last = pycal.monthrange(month.year, month.month)[1]
    return start, datetime(month.year, month.month, last, tzinfo=timezone.utc) + timedelta(days=8)
