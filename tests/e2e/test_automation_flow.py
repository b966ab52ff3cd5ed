"""Automation in a browser: configure a site's stages, Run now, watch the live progress move, pause, resume, see the
run finish and its articles in the publishing calendar (offline demo provider, a small keyword set)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.services.ai.catalogue import seed_ai_catalogue
from tests.e2e.helpers import sign_in
from tests.integration.automation_support import add_keywords
from tests.integration.helpers import add_site

pytestmark = pytest.mark.e2e

EMAIL = "auto@acme.example.com"


def site_with_keywords(app) -> int:
    from app import tenancy
    from app.extensions import db
    from app.services.publishing import settings as publish_settings
    from app.services.writer import status as writer_status
    from tests.conftest import make_account

    with app.app_context():
        seed_ai_catalogue()
        db.session.remove()
    account, _ = make_account(app, email=EMAIL)
    site, sectors = add_site(app, account, "Brew Blog", ("Coffee",))
    add_keywords(app, account, site, sectors[0], 60)  # three clusters in demo mode
    with app.app_context(), tenancy.account_scope(account):  # the writer's and publisher's own settings
        writer_status.save_settings(site_id=site, auto_approve=True)
        publish_settings.save_settings(site_id=site, days=["0", "1", "2", "3", "4", "5", "6"], slots="09:00, 15:00",
                                       auto_publish=True, category_source="cluster", default_category="",
                                       max_tags="5", fix_missed_schedule=True)
        db.session.remove()
    return site


def done_in(page: Page, stage: int) -> int:
    return int(page.get_by_test_id(f"stage-{stage}").locator("td").nth(2).inner_text())


def test_configure_run_watch_pause_resume_and_see_the_articles_in_the_calendar(app, page: Page, live_server, worker):
    site = site_with_keywords(app)
    sign_in(page, EMAIL)
    expect(page).to_have_url(re.compile(r"/$"))

    # Configure: two clusters' ideas, three articles, three seconds between articles so there is time to watch.
    page.goto(f"/automation/sites/{site}")
    expect(page.get_by_role("heading", name="Automation · Brew Blog")).to_be_visible()
    page.locator("input[name=s2_limit]").fill("2")
    page.locator("input[name=s4_limit]").fill("3")
    page.locator("input[name=item_delay]").fill("3")
    page.locator("input[name=s4_budget]").fill("-5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("error-s4_budget")).to_contain_text("cannot be below 0")  # nothing saved
    page.locator("input[name=s4_budget]").fill("60")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_contain_text("Automation settings saved.")
    expect(page.locator("input[name=s4_limit]")).to_have_value("3")

    # Run now: the live progress fragment moves as articles are written.
    page.get_by_test_id("run-now").click()
    expect(page).to_have_url(re.compile(r"/automation/runs/\d+$"))
    run_url = page.url
    progress = page.get_by_test_id("run-progress")
    expect(progress.get_by_test_id("run-status")).to_have_text("Running", timeout=30_000)
    expect(page.get_by_test_id("stage-4").locator("td").nth(2)).to_have_text(re.compile(r"^[12]$"), timeout=30_000)
    first_seen = done_in(page, 4)
    assert int(page.get_by_test_id("credits-used").inner_text()) > 0  # credits counted as items finish

    # Pause: the article being written finishes, then the run waits.
    progress.get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Paused")
    page.wait_for_timeout(2500)
    page.reload()
    paused_at = done_in(page, 4)
    assert first_seen <= paused_at < 3
    page.wait_for_timeout(2500)  # nothing moves while paused
    page.reload()
    expect(page.get_by_test_id("run-status")).to_have_text("Paused")
    assert done_in(page, 4) == paused_at

    # Resume: it carries on and finishes; the remaining articles are written once each.
    page.get_by_test_id("run-progress").get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile("Running|Completed"))
    expect(page.get_by_test_id("run-status")).to_have_text("Completed", timeout=60_000)
    page.goto(run_url)
    assert done_in(page, 4) == 3 and done_in(page, 5) == 3 and done_in(page, 6) == 3
    expect(page.get_by_test_id("run-reason")).to_contain_text("Scheduled 3 approved article(s)")

    # The articles are in the publishing calendar.
    page.goto("/publisher/calendar?view=list&site=all")
    expect(page.get_by_test_id("calendar-item")).to_have_count(3)
