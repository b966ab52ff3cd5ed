"""An owner checks a site; the check runs on the RQ worker and its progress shows live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app import tenancy
from app.extensions import db
from tests.conftest import make_account
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e


def test_site_check_progress_runs_on_worker(app, worker, wordpress_site, page: Page):
    email = "olive@acme.example.com"
    account_id, _ = make_account(app, email=email)
    from app.services.accounts.sites import create_site

    with app.app_context(), tenancy.account_scope(account_id):
        site_id = create_site(name="Tiny Blog", url=wordpress_site, timezone="UTC", industry_id=None,
                              sector_template_ids=[], sector_names=["Espresso"]).id
        db.session.remove()

    sign_in(page, email)
    expect(page.get_by_role("heading", name="Welcome, Olive")).to_be_visible()
    page.goto(f"/sites/{site_id}")
    expect(page.get_by_role("heading", name="Tiny Blog")).to_be_visible()
    check = page.locator("#site-check")
    expect(check.get_by_role("progressbar")).to_have_count(0)

    page.get_by_role("button", name="Check site now").click()

    bar = check.get_by_role("progressbar", name="Site check: Tiny Blog progress")
    expect(bar).to_be_visible()
    status = check.get_by_test_id("job-status")
    expect(status).to_have_text("Succeeded", timeout=30_000)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(check.locator(".job-meta")).to_contain_text(
        re.compile(r"Reachable in \d+ ms; the WordPress REST API answers\."))

    # The result is kept: it is still there after a reload, and the job is listed.
    page.reload()
    expect(check.get_by_test_id("job-status")).to_have_text("Succeeded")
    expect(check).to_contain_text("the WordPress REST API answers")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("row", name=re.compile("Site check: Tiny Blog"))).to_contain_text("succeeded")
