"""Publishing by hand in a browser, against the real loopback WordPress: connect the site through its
connection form → the connection test passes every check → approve an article the writer wrote (offline
demo model) → auto-publish gives it the next free slot → the calendar shows it → publish now → the
article links to the live post, which WordPress renders. Everything the test made on WordPress is deleted.

Needs the loopback WordPress (scripts/wordpress/setup): skipped without it, failed in CI (the
`real_wordpress` fixture decides)."""

from __future__ import annotations

import html
import re
import secrets
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Job, Publication, PublicationStep, Site, Task
from app.services.ai.catalogue import seed_ai_catalogue
from app.services.billing import credits
from app.services.publishing.runner import publish_due
from app.services.writer import runner as writer_runner
from tests.conftest import make_account
from tests.e2e.helpers import flash, sign_in
from tests.integration.helpers import add_site
from tests.integration.publish_support import WordPressJanitor
from tests.integration.writer_support import OUTLINE

pytestmark = pytest.mark.e2e

EMAIL = "publisher@acme.example.com"
TIMEZONE = "Europe/Paris"  # the slot is on the site's clock, not UTC
ROUTES = {"post": "posts", "media": "media", "category": "categories", "tag": "tags"}


@pytest.fixture
def wordpress(app, real_wordpress):
    """The real WordPress; afterwards every post, image and term a publication of this test made is deleted."""
    janitor = WordPressJanitor(real_wordpress.url, real_wordpress.admin.username, real_wordpress.admin.app_password)
    yield real_wordpress
    with app.app_context(), tenancy.all_accounts():
        steps = db.session.execute(select(PublicationStep.kind, PublicationStep.wp_id)
                                   .where(PublicationStep.wp_id.is_not(None))).all()
        posts = db.session.execute(select(Publication.wp_type, Publication.wp_post_id)
                                   .where(Publication.wp_post_id.is_not(None))).all()
        db.session.remove()
    for wp_type, post_id in posts:
        janitor.track_post(wp_type, post_id)
    for kind, wp_id in steps:
        if kind == "media":
            janitor.media.append(wp_id)
        elif kind in ("category", "tag"):
            janitor.terms.append((ROUTES[kind], wp_id))
    janitor.clean()


def write_article(app, token: str) -> dict:
    """An account with a site and a task, written into a draft article by the writer's job (demo model)."""
    with app.app_context():
        seed_ai_catalogue()
        db.session.remove()
    account_id, user_id = make_account(app, email=EMAIL)
    site_id, sectors = add_site(app, account_id, "Coffee Blog", ("Espresso",))
    with app.app_context(), tenancy.account_scope(account_id):
        credits.grant(account_id=account_id, amount=500, key="e2e-publish", description="Test credits")
        db.session.get(Site, site_id).timezone = TIMEZONE
        # Unique title and keywords: the real WordPress is shared by every run (slug and tags).
        task = Task(site_id=site_id, sector_id=sectors[0], title=f"Espresso at home {token}", outline=OUTLINE,
                    primary_keyword=f"espresso {token}", keywords=[f"espresso {token}", f"crema {token}"],
                    target_words=400, status="queued")
        db.session.add(task)
        db.session.commit()
        job, _ = writer_runner.start_generation(task_ids=[task.id], tier="testing", created_by_id=user_id)
        job_id = job.id
        db.session.remove()
    return {"account": account_id, "site": site_id, "job": job_id}


def wait_for_job(app, world: dict, job_id: int, timeout: float = 90) -> Job:
    """The job once the e2e worker has finished it."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context(), tenancy.account_scope(world["account"]):
            job = db.session.get(Job, job_id)
            db.session.expunge_all()
            db.session.remove()
        if job.status in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def slot_hour() -> str:
    """A publish slot two to three hours ahead on the site's clock: beyond the scheduler's one-hour lead,
    so the tick schedules the article without handing it to WordPress yet."""
    return (datetime.now(ZoneInfo(TIMEZONE)) + timedelta(hours=3)).strftime("%H:00")


def panel_state(page: Page, wanted: str, timeout: float = 60) -> None:
    """Reload the article page until its publishing panel shows the state."""
    deadline = time.monotonic() + timeout
    state = page.get_by_test_id("publication-state")
    while True:
        expect(state).to_be_visible()
        if state.inner_text().strip() == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        page.reload()
    expect(state).to_have_text(wanted)


def test_connect_check_approve_autoschedule_and_publish_now(app, page: Page, live_server, worker, wordpress):
    token = secrets.token_hex(4)
    world = write_article(app, token)
    job = wait_for_job(app, world, world["job"])
    assert job.status == "succeeded", job.error
    title = f"Demo: Espresso at home {token}"

    sign_in(page, EMAIL)
    expect(page).to_have_url(re.compile(r"/$"))

    # Connect the site to WordPress through its connection form, then test the connection.
    page.goto(f"/sites/{world['site']}")
    card = page.locator("#wordpress")
    expect(card.get_by_test_id("wp-health")).to_have_text("Not connected")
    card.get_by_label("WordPress address").fill(wordpress.url)
    card.get_by_label("WordPress user name").fill(wordpress.admin.username)
    card.get_by_label("Application password").fill(wordpress.admin.app_password)
    card.get_by_role("button", name="Save connection").click()
    expect(card.get_by_test_id("wp-health")).to_have_text("Not tested")
    # The password is never shown back in full.
    assert wordpress.admin.app_password not in page.content()

    card.get_by_role("button", name="Test connection").click()
    expect(card.get_by_test_id("job-status")).to_have_text("Succeeded", timeout=60_000)
    checks = card.locator("#wordpress-checks li")
    expect(checks).to_have_count(8)
    expect(card.locator('#wordpress-checks li[data-status="passed"]')).to_have_count(8)
    expect(card.get_by_test_id("wp-health")).to_have_text("Connected")
    expect(card.locator("#wordpress-checks")).to_contain_text("All 8 checks passed")

    # Auto-publish on, with every day and a slot a few hours ahead on the site's clock.
    slot = slot_hour()
    page.goto(f"/publisher/sites/{world['site']}/schedule")
    for day in page.locator('input[name="days"]').all():
        day.check()
    page.get_by_label("Time slots (HH:MM, separated by commas)").fill(slot)
    page.get_by_test_id("auto-publish").check()
    page.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text("Schedule saved.")
    expect(page.get_by_test_id("capacity")).to_have_text("1 per publish day, 7 per week")

    # Approve the article the writer wrote: draft → review → approved.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Writer").click()
    page.locator("main").get_by_role("link", name="Content", exact=True).click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_test_id("content-status")).to_have_text("Draft")
    page.get_by_test_id("move-review").click()
    expect(page.get_by_test_id("content-status")).to_have_text("In review")
    page.get_by_test_id("move-approved").click()
    expect(page.get_by_test_id("content-status")).to_have_text("Approved")
    article_url = page.url

    # The scheduler's minute tick gives approved articles of auto-publish sites the next free slot.
    with app.app_context():
        publish_due()
        db.session.remove()
    now = datetime.now(ZoneInfo(TIMEZONE))
    due = now.replace(hour=int(slot[:2]), minute=0, second=0, microsecond=0)
    if due <= now:
        due += timedelta(days=1)
    page.reload()
    expect(page.get_by_test_id("content-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("publication-state")).to_have_text("Scheduled")
    expect(page.get_by_test_id("scheduled-at")).to_have_text(due.strftime("%a %d %b %Y %H:%M"))

    # The calendar shows it: in the list, and in the month grid of its day.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Publisher").click()
    page.get_by_role("link", name="List").click()
    row = page.get_by_test_id("calendar-item").filter(has_text=title)
    expect(row).to_contain_text(due.strftime("%a %d %b %Y %H:%M"))
    expect(row).to_contain_text("Coffee Blog")
    page.goto(f"/publisher/calendar?view=month&site={world['site']}&month={due:%Y-%m}")
    cell = page.get_by_test_id("calendar-item").filter(has_text=title)
    expect(cell).to_contain_text(due.strftime("%H:%M"))
    cell.get_by_role("link", name=title).click()
    expect(page).to_have_url(article_url)

    # Move it to another time from the calendar's list (an htmx form in the row).
    page.goto("/publisher/calendar?view=list")
    row = page.get_by_test_id("calendar-item").filter(has_text=title)
    row.get_by_role("button", name="Move").click()
    moved = due + timedelta(days=1, hours=1)
    row.get_by_label("New time").fill(moved.strftime("%Y-%m-%dT%H:%M"))
    row.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_test_id("calendar-item").filter(has_text=title)).to_contain_text(
        moved.strftime("%a %d %b %Y %H:%M"))
    page.goto(article_url)
    expect(page.get_by_test_id("scheduled-at")).to_have_text(moved.strftime("%a %d %b %Y %H:%M"))

    # Publish now: the worker publishes it, and the article links to the live post.
    page.get_by_test_id("publish-now").click()
    expect(flash(page)).to_contain_text("Publishing started")
    panel_state(page, "Published")
    expect(page.get_by_test_id("content-status")).to_have_text("Published")
    expect(page.get_by_test_id("publish-problem")).to_have_count(0)
    link = page.get_by_test_id("wp-link")
    expect(link).to_have_text("View on WordPress")
    href = link.get_attribute("href")
    assert href and href.startswith(wordpress.url), href
    expect(page.get_by_test_id("publish-now")).to_have_text("Update on WordPress")

    # WordPress renders the live post at that link.
    live = httpx2.get(href, timeout=20, follow_redirects=True)
    assert live.status_code == 200
    shown = html.unescape(live.text)
    assert title in shown, shown[:500]

    # The calendar now lists it as published, with the link to the post.
    page.goto("/publisher/calendar?view=list")
    row = page.get_by_test_id("calendar-item").filter(has_text=title)
    expect(row).to_contain_text("Published")
    expect(row.get_by_role("link", name="view")).to_have_attribute("href", href)
