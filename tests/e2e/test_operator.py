"""A platform operator finds an account, acts as it, and leaves; both are audited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app import tenancy
from app.extensions import db
from tests.conftest import make_account
from tests.e2e.helpers import flash, sign_in

pytestmark = pytest.mark.e2e

OPERATOR_EMAIL = "ops@igny8.example.com"
OPERATOR_PASSWORD = "night-shift-console-9"


def test_operator_acts_as_account_and_leaves(app, page: Page):
    acme_id, _ = make_account(app, email="olive@acme.example.com", account_name="Acme Agency")
    other_id, _ = make_account(app, email="zed@zeta.example.com", account_name="Zeta Labs", name="Zed Zeta")
    from app.services.operator import create_operator

    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, name="Opal Operator")
        db.session.remove()

    sign_in(page, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    expect(page).to_have_url(re.compile(r"/operator/$"))
    expect(page.get_by_role("heading", name="Operator", exact=True)).to_be_visible()
    expect(page.locator("#act-as-banner")).to_have_count(0)

    page.get_by_role("navigation", name="Operator").get_by_role("link", name="Accounts").click()
    expect(page).to_have_url(re.compile(r"/operator/accounts$"))
    expect(page.locator(f"#account-{acme_id}")).to_be_visible()
    expect(page.locator(f"#account-{other_id}")).to_be_visible()

    page.get_by_label("Search accounts").fill("acme")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/operator/accounts\?q=acme$"))
    expect(page.locator(f"#account-{other_id}")).to_have_count(0)
    acme_row = page.locator(f"#account-{acme_id}")
    expect(acme_row).to_contain_text("Acme Agency")

    acme_row.get_by_role("button", name="Act as").click()
    expect(page).to_have_url(re.compile(r"/$"))
    banner = page.locator("#act-as-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("you are acting as Acme Agency")
    expect(banner).to_contain_text(f"account #{acme_id}")
    expect(flash(page)).to_contain_text("You are now acting as Acme Agency.")

    # The banner follows the operator to every page of the account.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    expect(page).to_have_url(re.compile(r"/sites/$"))
    expect(page.get_by_role("heading", name="Sites", exact=True)).to_be_visible()
    expect(banner).to_contain_text("you are acting as Acme Agency")

    banner.get_by_role("button", name="Leave account").click()
    expect(page).to_have_url(re.compile(r"/operator/accounts$"))
    expect(flash(page)).to_contain_text("You left the account.")
    expect(page.locator("#act-as-banner")).to_have_count(0)

    # Account pages are closed again until the operator picks an account.
    page.goto("/sites/")
    expect(page).to_have_url(re.compile(r"/operator/accounts$"))
    expect(flash(page)).to_contain_text("Choose an account to act as")
    expect(page.locator("#act-as-banner")).to_have_count(0)

    page.get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/operator/audit$"))
    start = page.locator("tbody tr", has_text="operator.act_as_start")
    stop = page.locator("tbody tr", has_text="operator.act_as_stop")
    expect(start).to_have_count(1)
    expect(stop).to_have_count(1)
    for row in (start, stop):
        expect(row.locator("td").nth(3)).to_have_text(str(acme_id))
    # Newest first: leaving is listed above starting.
    actions = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert actions.index("operator.act_as_stop") < actions.index("operator.act_as_start")


def test_operator_job_queues_load_and_link_back(app, page: Page):
    from app.services.operator import create_operator

    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, name="Opal Operator")
        db.session.remove()
    csp_errors: list[str] = []
    page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    sign_in(page, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    expect(page).to_have_url(re.compile(r"/operator/$"))
    page.get_by_role("navigation", name="Operator").get_by_role("link", name="Job queues").click()
    # The dashboard's scripts ran (its CSP allows them): the table is filled, not stuck on "Loading...".
    expect(page.locator("#queues tbody")).not_to_contain_text("Loading", timeout=10_000)
    expect(page.locator("#queues tbody")).to_contain_text(re.compile("No queues|default"))
    assert not csp_errors, csp_errors
    page.get_by_test_id("back-to-operator").click()
    expect(page).to_have_url(re.compile(r"/operator/$"))
