"""Automation settings: the stage matrix, validation with messages per field, and the next run time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import AutomationSettings, Site
from app.models.automation import FREQUENCIES
from app.timeutil import utcnow


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    ai: bool
    available: bool
    batch: int  # default batch size
    unit: str  # what the stage takes in


STAGES = (
    Stage(1, "Keywords → clusters", True, True, 200, "keywords"),
    Stage(2, "Clusters → ideas", True, True, 5, "clusters"),
    Stage(3, "Ideas → tasks", False, True, 20, "ideas"),
    Stage(4, "Tasks → articles", True, True, 1, "tasks"),
    Stage(5, "Articles → image prompts", True, True, 5, "articles"),
    Stage(6, "Image prompts → images", True, True, 5, "articles"),
    Stage(7, "Review → approved", False, True, 20, "articles"),
)
STAGE_BY_NUMBER = {s.number: s for s in STAGES}
MAX_DELAY = 3600
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def default_stage(stage: Stage) -> dict:
    return {"enabled": stage.available, "batch": stage.batch, "limit": 0, "tier": "testing",
            "budget": 0}


def stage_matrix(row: AutomationSettings | None) -> dict[str, dict]:
    """Every stage's row, saved values over the defaults."""
    saved = (row.stages if row else None) or {}
    return {str(s.number): {**default_stage(s), **saved.get(str(s.number), {}),
                            **({"enabled": False} if not s.available else {})} for s in STAGES}


def settings_for(site_id: int) -> AutomationSettings:
    """The site's automation settings (unsaved defaults when none exist)."""
    row = db.session.scalars(select(AutomationSettings).where(AutomationSettings.site_id == site_id)).first()
    return row or AutomationSettings(site_id=site_id, enabled=False, frequency="daily", run_time="02:00",
                                     weekday=0, stages={}, item_delay=0, stage_delay=0, credit_cap=None)


@dataclass
class Parsed:
    values: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _int(form, name: str, parsed: Parsed, *, label: str, low: int = 0, high: int | None = None,
         blank: int | None = 0) -> int | None:
    raw = (form.get(name) or "").strip()
    if raw == "":
        if blank is None:
            return None
        return blank
    try:
        value = int(raw)
    except ValueError:
        parsed.errors[name] = f"{label} must be a whole number."
        return None
    if value < low:
        parsed.errors[name] = f"{label} cannot be below {low}."
    elif high is not None and value > high:
        parsed.errors[name] = f"{label} cannot be above {high:,}."
    return value


def parse_form(form) -> Parsed:
    """Read the one settings form; every problem gets a message next to its field."""
    p = Parsed()
    frequency = form.get("frequency", "daily")
    if frequency not in FREQUENCIES:
        p.errors["frequency"] = "Choose hourly, daily or weekly."
    run_time = (form.get("run_time") or "").strip()
    if not TIME_RE.match(run_time):
        p.errors["run_time"] = "Give the time as HH:MM on a 24-hour clock, from 00:00 to 23:59."
    weekday = _int(form, "weekday", p, label="The weekday", high=6)
    stages, budget_total = {}, 0
    for stage in STAGES:
        n = str(stage.number)
        row = {"enabled": stage.available and form.get(f"s{n}_enabled") == "on"}
        batch = _int(form, f"s{n}_batch", p, label="Batch size", low=1, high=1000, blank=stage.batch)
        row["batch"] = batch
        row["limit"] = _int(form, f"s{n}_limit", p, label="The per-run limit", high=100000)
        tier = form.get(f"s{n}_tier", "testing")
        if tier not in ("testing", "live"):
            p.errors[f"s{n}_tier"] = "Choose the Testing or the Live model."
        row["tier"] = tier
        budget = _int(form, f"s{n}_budget", p, label="The budget share", high=100) if stage.ai else 0
        row["budget"] = budget
        budget_total += budget or 0
        stages[n] = row
    if budget_total > 100:
        p.errors["budget"] = f"The stages' budget shares add up to {budget_total} %; together they may not pass 100 %."
    p.values = {
        "enabled": form.get("enabled") == "on", "frequency": frequency, "run_time": run_time,
        "weekday": weekday, "stages": stages,
        "item_delay": _int(form, "item_delay", p, label="The delay between items", high=MAX_DELAY),
        "stage_delay": _int(form, "stage_delay", p, label="The delay between stages", high=MAX_DELAY),
        "credit_cap": _int(form, "credit_cap", p, label="The credit cap", low=1, high=10_000_000, blank=None),
    }
    return p


def next_run_after(row: AutomationSettings, tz_name: str, after: datetime) -> datetime:
    """The first scheduled moment strictly after `after`, in the site's timezone (stored in UTC)."""
    tz = ZoneInfo(tz_name or "UTC")
    local = after.astimezone(tz)
    hour, minute = (int(x) for x in row.run_time.split(":"))
    if row.frequency == "hourly":
        candidate = local.replace(minute=minute, second=0, microsecond=0)
        while candidate <= local:
            candidate += timedelta(hours=1)
        return candidate.astimezone(ZoneInfo("UTC"))
    day = local.date()
    for offset in range(0, 9):
        d = day + timedelta(days=offset)
        when = datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz)
        if when <= local or (row.frequency == "weekly" and when.weekday() != row.weekday):
            continue
        return when.astimezone(ZoneInfo("UTC"))
    raise AssertionError("no run time found within nine days")


def save_settings(*, site_id: int, form) -> AutomationSettings:
    """Validate the whole form and save it in one transaction; any problem saves nothing."""
    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    parsed = parse_form(form)
    if parsed.errors:
        error = ValidationError("Nothing was saved. Fix the fields marked below.")
        error.errors = parsed.errors
        raise error
    row = db.session.scalars(select(AutomationSettings).where(AutomationSettings.site_id == site_id)
                             .with_for_update()).first()
    if row is None:
        row = AutomationSettings(site_id=site_id)
        db.session.add(row)
    for name, value in parsed.values.items():
        setattr(row, name, value)
    row.next_run_at = next_run_after(row, site.timezone, utcnow()) if row.enabled else None
    db.session.commit()
    return row
