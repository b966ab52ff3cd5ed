"""Scheduled automation runs: the minute tick, twice-fired ticks, many sites at once, settings validation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from app import tenancy
from app.errors import ValidationError
from app.extensions import db
from app.models import AutomationRun, AutomationSettings, Job
from app.services.automation import runs as run_service
from app.services.automation import settings as settings_service
from tests.integration.ai_support import setup_account
from tests.integration.automation_support import form
from tests.integration.helpers import add_site


def enable(app, account_id: int, site_id: int, **overrides) -> None:
    with app.app_context(), tenancy.account_scope(account_id):
        settings_service.save_settings(site_id=site_id, form=form(enabled="on", **overrides))
        db.session.execute(update(AutomationSettings).where(AutomationSettings.site_id == site_id)
                           .values(next_run_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        db.session.commit()
        db.session.remove()


def tick(app) -> None:
    with app.app_context(), tenancy.all_accounts():
        run_service.start_due()
        db.session.remove()


def runs_per_site(app) -> dict[int, int]:
    with app.app_context(), tenancy.all_accounts():
        rows = db.session.execute(select(AutomationRun.site_id, func.count()).group_by(AutomationRun.site_id)).all()
        db.session.remove()
    return dict(rows)


def test_two_ticks_at_once_start_one_run(app):
    ids = setup_account(app)
    site, _ = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    enable(app, ids["account"], site)
    threads = [threading.Thread(target=tick, args=(app,)) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    tick(app)  # and a late third one
    assert runs_per_site(app) == {site: 1}
    with app.app_context(), tenancy.all_accounts():
        row = db.session.scalars(select(AutomationSettings)).one()
        assert row.next_run_at > datetime.now(timezone.utc)  # the next run is tomorrow at 02:00
        db.session.remove()


def test_a_hundred_sites_due_in_the_same_minute_get_a_hundred_runs_none_twice(app):
    ids = setup_account(app)
    sites = [add_site(app, ids["account"], f"Site {n}", ("Coffee",))[0] for n in range(100)]
    for site in sites:
        enable(app, ids["account"], site)
    threads = [threading.Thread(target=tick, args=(app,)) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert runs_per_site(app) == {site: 1 for site in sites}
    queued = app.extensions["rq_queues"]["default"].count
    assert queued == 100  # one first step each, for whichever worker is free


def test_run_now_twice_starts_one_run_and_says_why(app):
    ids = setup_account(app)
    site, _ = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    with app.app_context(), tenancy.account_scope(ids["account"]):
        first = run_service.start_run(site_id=site, user_id=ids["user"])
        with pytest.raises(Exception, match="already going on this site") as refused:
            run_service.start_run(site_id=site, user_id=ids["user"])
        assert refused.value.status_code == 409 and str(first.id) in refused.value.message
        db.session.remove()
    assert runs_per_site(app) == {site: 1}


@pytest.mark.parametrize("field, value, message", [
    ("run_time", "24:30", "HH:MM"), ("frequency", "every 0 minutes", "hourly, daily or weekly"),
    ("s1_budget", "-5", "cannot be below 0"), ("s1_budget", "300", "cannot be above 100"),
    ("s4_batch", "0", "cannot be below 1"), ("s2_limit", "-1", "cannot be below 0"),
])
def test_bad_settings_get_a_message_on_their_field_and_nothing_is_saved(app, field, value, message):
    ids = setup_account(app)
    site, _ = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    with app.app_context(), tenancy.account_scope(ids["account"]):
        with pytest.raises(ValidationError) as refused:
            settings_service.save_settings(site_id=site, form=form(enabled="on", **{field: value}))
        assert message in refused.value.errors[field]
        assert db.session.scalar(select(func.count()).select_from(AutomationSettings)) == 0
        db.session.remove()


def test_budget_shares_over_100_percent_are_refused_together(app):
    ids = setup_account(app)
    site, _ = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    with app.app_context(), tenancy.account_scope(ids["account"]):
        with pytest.raises(ValidationError) as refused:
            settings_service.save_settings(site_id=site, form=form(s1_budget=60, s2_budget=30, s4_budget=20))
        assert "add up to 110 %" in refused.value.errors["budget"]
        db.session.remove()


def test_weekly_runs_fall_on_the_weekday_and_time_in_the_sites_timezone():
    row = AutomationSettings(frequency="weekly", run_time="09:30", weekday=2)
    after = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # a Monday
    when = settings_service.next_run_after(row, "America/New_York", after)
    assert when == datetime(2026, 12, 2, 14, 30, tzinfo=timezone.utc)  # Wednesday 09:30 EST
    hourly = AutomationSettings(frequency="hourly", run_time="00:15", weekday=0)
    assert settings_service.next_run_after(hourly, "UTC", after) == datetime(2026, 11, 30, 12, 15, tzinfo=timezone.utc)


def test_a_run_keeps_the_settings_it_started_with(app):
    ids = setup_account(app)
    site, _ = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    with app.app_context(), tenancy.account_scope(ids["account"]):
        settings_service.save_settings(site_id=site, form=form(s4_limit=2))
        run = run_service.start_run(site_id=site, user_id=ids["user"])
        settings_service.save_settings(site_id=site, form=form(s4_limit=9, s4_enabled=""))
        db.session.refresh(run)
        assert run.config["stages"]["4"]["limit"] == 2 and run.config["stages"]["4"]["enabled"] is True
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0
        db.session.remove()
