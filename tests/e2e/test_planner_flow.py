"""The planner by hand in a browser: import the 500-keyword sample → cluster → open a cluster →
generate ideas (offline demo model) → create tasks; progress bars, estimates and credits along the way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.services.ai.catalogue import seed_ai_catalogue
from tests.conftest import make_account
from tests.e2e.helpers import sign_in
from tests.integration.helpers import add_site

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "keywords_500.csv"
EMAIL = "plan@acme.example.com"


def credits_in_header(page: Page) -> int:
    return int(re.sub(r"\D", "", page.locator("#credits-badge").inner_text()))


def estimated(page: Page) -> int:
    text = page.get_by_test_id("estimate").inner_text()
    return int(re.search(r"about ([\d,]+) credits", text).group(1).replace(",", ""))


def test_import_cluster_ideas_and_tasks(app, page: Page, live_server, worker):
    with app.app_context():
        seed_ai_catalogue()
        db.session.remove()
    account, _ = make_account(app, email=EMAIL)
    add_site(app, account, "Everything Blog", ("Mixed",))
    sign_in(page, EMAIL)
    expect(page).to_have_url(re.compile(r"/$"))

    # Import the sample: preview with the mapping, then the report.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Planner").click()
    expect(page.get_by_role("heading", name="No keywords in Mixed yet")).to_be_visible()
    page.get_by_role("link", name="Import keywords").first.click()
    page.get_by_label(re.compile("Keyword export")).set_input_files(str(SAMPLE))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_test_id("import-preview")).to_contain_text("indoor plants price")
    expect(page.locator("#map_volume")).to_have_value("1")
    page.get_by_role("button", name="Import keywords").click()
    expect(page.get_by_test_id("report-imported")).to_have_text("500")

    # Cluster every unclustered keyword: estimate first, then a progress bar, then credits deducted.
    page.get_by_role("link", name="Cluster the unclustered keywords").click()
    expect(page.get_by_test_id("cluster-count")).to_contain_text("500")
    expect(page.get_by_test_id("estimate")).to_contain_text("This will cost about")
    before = credits_in_header(page)
    cost = estimated(page)
    assert cost >= 1
    page.get_by_role("button", name="Start clustering").click()
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.get_by_test_id("job-status")).to_have_text("Succeeded", timeout=90_000)
    page.get_by_role("link", name="See the clusters").click()
    expect(page.locator("#credits-badge")).to_have_text(f"{before - cost:,} credits")

    # Open the biggest cluster.
    page.locator("table.clusters-table thead").get_by_role("link", name=re.compile("Keywords")).click()
    expect(page).to_have_url(re.compile(r"sort=keywords"))
    first = page.locator("table.clusters-table tbody tr").first
    name = first.locator(".cluster-name strong").inner_text()
    first.locator(".cluster-name a").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.locator("main table").first).to_be_visible()

    # Generate ideas for two clusters with the offline demo model.
    page.get_by_role("navigation", name="Planner").get_by_role("link", name="Clusters").click()
    rows = page.locator("table.clusters-table tbody tr")
    rows.nth(0).locator("input[name=cluster_ids]").check()
    rows.nth(1).locator("input[name=cluster_ids]").check()
    page.get_by_role("button", name="Generate ideas").click()
    expect(page.get_by_test_id("estimate")).to_contain_text("This will cost about")
    before = credits_in_header(page)
    cost = estimated(page)
    page.get_by_test_id("confirm-generate").click()
    expect(page.get_by_role("progressbar")).to_be_visible()
    # Back from the run shows the estimate again (a GET), not "Confirm Form Resubmission".
    page.go_back()
    expect(page.get_by_role("heading", name="Generate ideas")).to_be_visible()
    page.go_forward()
    page.get_by_test_id("see-ideas").click(timeout=90_000)
    # Charged what the run used: something, and never more than the estimate.
    after = credits_in_header(page)
    assert before - cost <= after < before
    ideas = page.locator("#ideas-list tbody tr")
    expect(ideas.first).to_contain_text("Demo")
    count = ideas.count()
    assert count >= 2

    # Create tasks from every idea on the page (free); the tasks page lists them.
    page.locator("#ideas-list input[data-check-all]").check()
    page.get_by_test_id("create-tasks").click()
    expect(page).to_have_url(re.compile(r"/planner/tasks"))
    expect(page.locator("main tbody tr")).to_have_count(count)
    expect(page.locator("#credits-badge")).to_have_text(f"{after:,} credits")  # tasks are free
