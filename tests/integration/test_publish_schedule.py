"""The schedule through HTTP: days × slots settings (bad input refused), auto-publish into the next free
slots, scheduling by hand in the site's timezone, the minute tick (two at once still enqueue each item
once), the calendar with its move form, and who may do what."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Account, Job, PublishSettings
from app.services.publishing.runner import publish_due
from app.services.publishing.slots import upcoming_slots
from app.timeutil import utcnow
from tests.conftest import csrf_token
from tests.integration.helpers import add_member, add_site, signed_in
from tests.integration.publish_support import (
    OWNER, approved_article, connected_site, content_status, publication, run_worker,
)

UTC = timezone.utc


def _world(app, tz="UTC"):
    return connected_site(app, url="https://blog.example.com", username="editor", app_password="x" * 24, timezone=tz)


def _save(web, site_id, **fields):
    data = {"days": ["0", "1", "2", "3", "4"], "slots": "09:00, 14:00", "category_source": "cluster",
            "default_category": "", "max_tags": "5", "fix_missed_schedule": "on"}
    data.update(fields)
    return web.post(f"/publisher/sites/{site_id}/schedule", data, token_from=f"/publisher/sites/{site_id}/schedule")


def _settings(app, world):
    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.scalars(select(PublishSettings)).first()
        out = None if row is None else (row.publish_days, row.publish_slots, row.auto_publish)
        db.session.remove()
    return out


def test_schedule_settings_show_defaults_and_refuse_bad_slots(app):
    world = _world(app)
    web = signed_in(app, OWNER)
    page = web.get(f"/publisher/sites/{world['site']}/schedule").get_data(as_text=True)
    assert "09:00, 14:00" in page and "2 per publish day, 10 per week" in page

    for slots, message in (("09:00, 25:00", "“25:00” is not a time of day"), ("9:00, 09:00", "09:00 is listed twice")):
        response = _save(web, world["site"], slots=slots, auto_publish="on")
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert message in html and slots in html  # what was typed is kept in the form
    assert _settings(app, world) is None  # nothing saved

    response = _save(web, world["site"], slots="", auto_publish="on")
    assert response.status_code == 422 and "needs at least one publish day and one time slot" in response.get_data(
        as_text=True)

    assert _save(web, world["site"], days=["5", "6"], slots="10:30", auto_publish="on").status_code == 302
    assert _settings(app, world) == ([5, 6], ["10:30"], True)
    assert "1 per publish day, 2 per week" in web.get(f"/publisher/sites/{world['site']}/schedule").get_data(
        as_text=True)


def test_auto_publish_puts_approved_articles_into_the_next_free_slots(app):
    world = _world(app, tz="America/New_York")
    web = signed_in(app, OWNER)
    first, second, third = (approved_article(app, world) for _ in range(3))
    draft = approved_article(app, world, status="review")
    with app.app_context():
        publish_due()
    assert publication(app, world, first) is None  # auto-publish is off by default

    assert _save(web, world["site"], auto_publish="on").status_code == 302
    start = utcnow()
    with app.app_context():
        publish_due(start)
    expected = list(upcoming_slots(days=[0, 1, 2, 3, 4], slots=["09:00", "14:00"], tz_name="America/New_York",
                                   after=start, limit=3))
    got = [publication(app, world, c).scheduled_at for c in (first, second, third)]
    assert got == expected
    assert all(content_status(app, world, c) == "scheduled" for c in (first, second, third))
    assert publication(app, world, draft) is None
    for when in got:
        assert when.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") in ("09:00", "14:00")

    page = web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert page.count('data-testid="calendar-item"') == 3


def test_scheduling_by_hand_in_the_sites_timezone_and_bad_times(app):
    world = _world(app, tz="Europe/Berlin")
    content_id = approved_article(app, world)
    web = signed_in(app, OWNER)
    url = f"/publisher/content/{content_id}/schedule"
    when = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).replace(hour=9, minute=15, second=0,
                                                                                  microsecond=0)
    response = web.post(url, {"when": when.strftime("%Y-%m-%dT%H:%M")}, token_from=f"/writer/content/{content_id}")
    assert response.status_code == 302
    pub = publication(app, world, content_id)
    assert pub.scheduled_at == when.astimezone(UTC) and pub.status == "scheduled"
    assert content_status(app, world, content_id) == "scheduled"
    panel = web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    assert when.strftime("%d %b %Y 09:15") in panel and "Europe/Berlin" in panel

    later = when + timedelta(days=1, hours=2)
    web.post(url, {"when": later.strftime("%Y-%m-%dT%H:%M")}, token_from=f"/writer/content/{content_id}")
    assert publication(app, world, content_id).scheduled_at == later.astimezone(UTC)

    for bad, message in (("tomorrow", "Choose a date and time"), ("2020-01-01T09:00", "Choose a time in the future")):
        page = web.client.post(url, data={"when": bad, "csrf_token": csrf_token(web.client, f"/writer/content/{content_id}")},
                               follow_redirects=True).get_data(as_text=True)
        assert message in page
    assert publication(app, world, content_id).scheduled_at == later.astimezone(UTC)

    web.post(f"/publisher/content/{content_id}/unschedule", {}, token_from=f"/writer/content/{content_id}")
    off = publication(app, world, content_id)
    assert content_status(app, world, content_id) == "approved" and off.scheduled_at is None
    # Auto-publish leaves an article someone took off the schedule alone.
    assert _save(web, world["site"], auto_publish="on").status_code == 302
    with app.app_context():
        publish_due()
    assert content_status(app, world, content_id) == "approved"
    assert publication(app, world, content_id).scheduled_at is None
    assert 'data-testid="calendar-item"' not in web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert "Off the schedule" in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)

    draft = approved_article(app, world, status="draft")
    page = web.client.post(f"/publisher/content/{draft}/publish",
                           data={"csrf_token": csrf_token(web.client, f"/writer/content/{draft}")},
                           follow_redirects=True).get_data(as_text=True)
    assert "Only approved articles are published" in page


def test_next_free_slot_without_slots_says_what_to_do(app):
    world = _world(app)
    content_id = approved_article(app, world)
    web = signed_in(app, OWNER)
    assert _save(web, world["site"], days=[], slots="").status_code == 302
    page = web.client.post(f"/publisher/content/{content_id}/schedule",
                           data={"next_free": "1", "csrf_token": csrf_token(web.client, f"/writer/content/{content_id}")},
                           follow_redirects=True).get_data(as_text=True)
    assert "has no publish days or time slots" in page
    assert content_status(app, world, content_id) == "approved"


def test_two_schedulers_ticking_at_once_enqueue_each_due_article_once(app):
    world = _world(app)
    ids = [approved_article(app, world) for _ in range(4)]
    web = signed_in(app, OWNER)
    soon = datetime.now(UTC) + timedelta(days=1)
    for n, content_id in enumerate(ids):
        web.post(f"/publisher/content/{content_id}/schedule",
                 {"when": (soon + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M")},
                 token_from=f"/writer/content/{content_id}")
    due = soon + timedelta(days=1)
    start, counts, errors = threading.Barrier(2), [], []

    def scheduler():
        try:
            with app.app_context():
                start.wait(timeout=10)
                counts.append(publish_due(due))
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert not errors and sum(counts) == 4
    with app.app_context(), tenancy.account_scope(world["account"]):
        jobs = db.session.scalars(select(Job).where(Job.kind == "publishing.publish")).all()
        assert len(jobs) == 4 and len({j.payload["publication_id"] for j in jobs}) == 4
        db.session.remove()
    with app.app_context():
        assert publish_due(due) == 0  # a later tick finds them all handed over
    assert app.extensions["rq_queues"]["default"].count == 4


def test_calendar_month_and_list_and_the_move_form(app):
    world = _world(app)
    content_id = approved_article(app, world, title="Cold brew guide")
    web = signed_in(app, OWNER)
    when = (datetime.now(UTC) + timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
    web.post(f"/publisher/content/{content_id}/schedule", {"when": when.strftime("%Y-%m-%dT%H:%M")},
             token_from=f"/writer/content/{content_id}")

    month = web.get(f"/publisher/calendar?month={when:%Y-%m}&site={world['site']}").get_data(as_text=True)
    assert when.strftime("%B %Y") in month and "Cold brew guide" in month
    assert f"/writer/content/{content_id}" in month
    assert "Cold brew guide" not in web.get(f"/publisher/calendar?month={(when - timedelta(days=62)):%Y-%m}") \
        .get_data(as_text=True)
    listing = web.get("/publisher/calendar?view=list&site=all").get_data(as_text=True)
    assert "Cold brew guide" in listing and "Coffee Blog" in listing
    assert web.get("/publisher/calendar?month=2026-13").status_code == 422

    form = web.client.get(f"/publisher/content/{content_id}/move", headers={
        "HX-Request": "true", "HX-Current-URL": f"http://localhost/publisher/calendar?view=list&site={world['site']}"})
    assert form.status_code == 200 and 'hx-post="/publisher/content/' in form.get_data(as_text=True)
    # Moving brings you back to the calendar you were looking at (its site filter kept).
    assert f'name="next" value="/publisher/calendar?view=list&amp;site={world["site"]}"' in form.get_data(as_text=True)
    elsewhere = web.client.get(f"/publisher/content/{content_id}/move", headers={
        "HX-Request": "true", "HX-Current-URL": "https://evil.example.com/phish"}).get_data(as_text=True)
    assert 'name="next" value="/publisher/calendar?view=list"' in elsewhere
    bad = web.client.post(f"/publisher/content/{content_id}/schedule", headers={"HX-Request": "true"},
                          data={"when": "25:00", "from": "calendar", "csrf_token": csrf_token(web.client, "/publisher/calendar")})
    assert bad.status_code == 422 and "Choose a date and time" in bad.get_data(as_text=True)
    moved = when + timedelta(days=2, hours=5)
    ok = web.client.post(f"/publisher/content/{content_id}/schedule", headers={"HX-Request": "true"},
                         data={"when": moved.strftime("%Y-%m-%dT%H:%M"), "from": "calendar",
                               "next": "/publisher/calendar?view=list", "csrf_token": csrf_token(web.client, "/publisher/calendar")})
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == "/publisher/calendar?view=list"
    assert publication(app, world, content_id).scheduled_at == moved


def test_roles_and_the_module_switch(app):
    world = _world(app)
    other_site, _ = add_site(app, world["account"], "Tea Blog", ("Green",))
    content_id = approved_article(app, world)
    add_member(app, world["account"], email="ed@acme.example.com", role="editor", site_ids=[world["site"]])
    add_member(app, world["account"], email="other@acme.example.com", role="editor", site_ids=[other_site])
    add_member(app, world["account"], email="vi@acme.example.com", role="viewer", site_ids=[world["site"]])
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    url = f"/publisher/content/{content_id}/schedule"

    viewer = signed_in(app, "vi@acme.example.com")
    assert viewer.get("/publisher/calendar").status_code == 200
    assert viewer.post(url, {"when": when}, token_from="/publisher/calendar").status_code == 403
    assert viewer.post(f"/publisher/content/{content_id}/publish", {}, token_from="/publisher/calendar").status_code == 403
    assert "Publish now" not in viewer.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)

    outsider = signed_in(app, "other@acme.example.com")
    assert outsider.post(url, {"when": when}, token_from="/publisher/calendar").status_code == 404
    assert outsider.get(f"/publisher/sites/{world['site']}/schedule").status_code == 404
    assert publication(app, world, content_id) is None

    editor = signed_in(app, "ed@acme.example.com")
    assert _save(editor, world["site"]).status_code == 403  # schedule settings: owners and admins
    assert editor.post(url, {"when": when}, token_from="/publisher/calendar").status_code == 302
    assert publication(app, world, content_id).status == "scheduled"
    editor.post(f"/publisher/content/{content_id}/publish", {}, token_from="/publisher/calendar")

    with app.app_context(), tenancy.account_scope(world["account"]):
        account = db.session.scalars(select(Account)).one()
        account.modules = {**(account.modules or {}), "publisher": False}
        db.session.commit()
        db.session.remove()
    owner = signed_in(app, OWNER)
    assert owner.get("/publisher/calendar").status_code == 403
    assert owner.post(url, {"when": when}, token_from="/sites/").status_code == 403
    assert "publishing-panel-loader" not in owner.get(f"/writer/content/{content_id}").get_data(as_text=True)
    run_worker(app)  # the job queued before the switch is refused by the worker
    with app.app_context(), tenancy.account_scope(world["account"]):
        job = db.session.scalars(select(Job).where(Job.kind == "publishing.publish")).one()
        assert job.status == "failed" and "Publisher module is turned off" in job.error
        db.session.remove()
    assert "Publisher module is turned off" in publication(app, world, content_id).last_error
    assert content_status(app, world, content_id) == "approved"  # not left "Scheduled" for a post that never goes out

    # Auto-publish does not fill slots while the module is off.
    later = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.services.publishing.settings import ensure_settings
        ensure_settings(world["site"]).auto_publish = True
        db.session.commit()
        db.session.remove()
    with app.app_context():
        publish_due()
    assert publication(app, world, later) is None and content_status(app, world, later) == "approved"


def test_calendar_list_puts_what_is_still_to_go_out_first_and_pages_through_history(app):
    from app.models import Publication

    world = _world(app)
    web = signed_in(app, OWNER)
    upcoming = approved_article(app, world, title="Upcoming tomorrow")
    when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    web.post(f"/publisher/content/{upcoming}/schedule", {"when": when}, token_from=f"/writer/content/{upcoming}")
    history = [approved_article(app, world, title=f"Old post {n:03d}", status="published") for n in range(60)]
    failed = approved_article(app, world, title="Broken one")
    with app.app_context(), tenancy.account_scope(world["account"]):
        from app.models import Content
        from app.services.publishing import records
        for n, content_id in enumerate(history):  # months of published history
            row = records.ensure_publication(db.session.get(Content, content_id))
            row.status, row.published_at = "published", utcnow() - timedelta(days=200 - n)
        broken = records.ensure_publication(db.session.get(Content, failed))
        broken.status, broken.last_error = "failed", "WordPress refused it."
        db.session.commit()
        assert db.session.query(Publication).count() == 62
        db.session.remove()

    first = web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert first.count('data-testid="calendar-item"') == 50
    order = [first.find(t) for t in ("Broken one", "Upcoming tomorrow", "Old post 059", "Old post 012")]
    assert -1 not in order, (order, first[first.find("calendar-list"):][:3000])
    assert order == sorted(order)  # failed, then upcoming, then history newest first
    assert "Old post 011" not in first and "Page 1 of 2 · 62 items" in first
    second = web.get("/publisher/calendar?view=list&page=2").get_data(as_text=True)
    assert second.count('data-testid="calendar-item"') == 12 and "Old post 000" in second
    assert "Upcoming tomorrow" not in second and 'rel="prev"' in second


def test_editors_see_and_act_only_on_granted_sites_and_viewers_never_act(app):
    world = _world(app)
    tea, _ = add_site(app, world["account"], "Tea Blog", ("Green",))
    tea_world = {**world, "site": tea, "sector": _[0]}
    coffee_article = approved_article(app, world, title="Coffee only article")
    tea_article = approved_article(app, tea_world, title="Tea only article")
    web = signed_in(app, OWNER)
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    for content_id in (coffee_article, tea_article):
        web.post(f"/publisher/content/{content_id}/schedule", {"when": when}, token_from=f"/writer/content/{content_id}")
    add_member(app, world["account"], email="ed@acme.example.com", role="editor", site_ids=[world["site"]])
    add_member(app, world["account"], email="vi@acme.example.com", role="viewer", site_ids=[world["site"], tea])

    editor = signed_in(app, "ed@acme.example.com")
    for view in ("list", "month"):
        page = editor.get(f"/publisher/calendar?view={view}&month={when[:7]}").get_data(as_text=True)
        assert "Coffee only article" in page and "Tea only article" not in page and "Tea Blog" not in page
    assert editor.get(f"/publisher/calendar?site={tea}").status_code == 404
    for url in (f"/publisher/content/{tea_article}/publish", f"/publisher/content/{tea_article}/unschedule"):
        assert editor.post(url, {}, token_from="/publisher/calendar").status_code == 404
    assert content_status(app, tea_world, tea_article) == "scheduled"

    viewer = signed_in(app, "vi@acme.example.com")
    assert "Tea only article" in viewer.get("/publisher/calendar?view=list").get_data(as_text=True)
    for url, data in ((f"/publisher/content/{coffee_article}/unschedule", {}),
                      (f"/publisher/content/{coffee_article}/wordpress", {"action": "check"}),
                      (f"/publisher/content/{coffee_article}/schedule", {"next_free": "1"}),
                      (f"/sites/{world['site']}/wordpress/test", {})):
        assert viewer.post(url, data, token_from="/publisher/calendar").status_code == 403, url
    listing = viewer.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert ">Move</button>" not in listing
    assert content_status(app, world, coffee_article) == "scheduled"
