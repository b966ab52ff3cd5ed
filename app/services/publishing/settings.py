"""A site's publishing settings: days × time slots, auto-publish, categories, tags."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import PublishSettings, Site
from app.models.publishing import CATEGORY_SOURCES, DEFAULT_DAYS, DEFAULT_SLOTS
from app.services.publishing.assets import MAX_TAGS_LIMIT, clean_term_name

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SLOT_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
MAX_SLOTS = 24


def settings_for(site_id: int) -> PublishSettings:
    """The site's publishing settings (defaults, unsaved, when it has none)."""
    row = db.session.scalars(select(PublishSettings).where(PublishSettings.site_id == site_id)).first()
    return row or PublishSettings(site_id=site_id, publish_days=list(DEFAULT_DAYS), publish_slots=list(DEFAULT_SLOTS),
                                  auto_publish=False, category_source="cluster", default_category="", max_tags=5,
                                  fix_missed_schedule=True, seo_note="")


def ensure_settings(site_id: int) -> PublishSettings:
    """The site's settings row, made with the defaults when missing."""
    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    db.session.execute(insert(PublishSettings.__table__).values(
        account_id=site.account_id, site_id=site_id, publish_days=list(DEFAULT_DAYS),
        publish_slots=list(DEFAULT_SLOTS)).on_conflict_do_nothing(constraint="uq_publish_settings_site"))
    return db.session.scalars(select(PublishSettings).where(PublishSettings.site_id == site_id)).one()


def parse_slots(raw: str) -> list[str]:
    """'9:00, 14:30' → ['09:00', '14:30']; refuses impossible times and duplicates with a clear message."""
    parts = [p.strip() for p in re.split(r"[,\s;]+", raw or "") if p.strip()]
    slots: list[str] = []
    for part in parts:
        match = SLOT_RE.match(part)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValidationError(f"“{part}” is not a time of day; write times as HH:MM from 00:00 to 23:59, "
                                  "separated by commas.", field="slots")
        slot = f"{int(match.group(1)):02d}:{match.group(2)}"
        if slot in slots:
            raise ValidationError(f"{slot} is listed twice; each time slot can be listed once.", field="slots")
        slots.append(slot)
    if len(slots) > MAX_SLOTS:
        raise ValidationError(f"List at most {MAX_SLOTS} time slots a day.", field="slots")
    return sorted(slots)


def parse_days(values: list) -> list[int]:
    """Chosen weekday numbers (0 = Monday), each once."""
    days = set()
    for value in values:
        try:
            day = int(value)
        except (TypeError, ValueError):
            raise ValidationError("Choose publish days from the list.", field="days") from None
        if not 0 <= day <= 6:
            raise ValidationError("Choose publish days from the list.", field="days")
        days.add(day)
    return sorted(days)


def save_settings(*, site_id: int, days: list, slots: str, auto_publish: bool, category_source: str,
                  default_category: str, max_tags, fix_missed_schedule: bool) -> PublishSettings:
    """Check and save the site's publishing settings; bad input changes nothing."""
    parsed_days, parsed_slots = parse_days(days), parse_slots(slots)
    if category_source not in CATEGORY_SOURCES:
        raise ValidationError("Choose where categories come from.", field="category_source")
    category = clean_term_name(default_category)
    if category_source in ("default", "both") and not category:
        raise ValidationError("Name the default category (or choose categories from clusters only).",
                              field="default_category")
    try:
        tags = int(max_tags)
    except (TypeError, ValueError):
        raise ValidationError(f"Tags per article must be a number from 0 to {MAX_TAGS_LIMIT}.", field="max_tags") from None
    if not 0 <= tags <= MAX_TAGS_LIMIT:
        raise ValidationError(f"Tags per article must be a number from 0 to {MAX_TAGS_LIMIT}.", field="max_tags")
    if auto_publish and not (parsed_days and parsed_slots):
        raise ValidationError("Auto-publish needs at least one publish day and one time slot.", field="slots")
    row = ensure_settings(site_id)
    row.publish_days, row.publish_slots, row.auto_publish = parsed_days, parsed_slots, bool(auto_publish)
    row.category_source, row.default_category, row.max_tags = category_source, category, tags
    row.fix_missed_schedule = bool(fix_missed_schedule)
    db.session.commit()
    return row
