"""An owner buys credits by invoice; an operator marks the order paid; the credits arrive once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Order
from app.services.billing import credits
from app.services.operator import create_operator
from tests.conftest import make_account
from tests.e2e.conftest import ARTIFACTS, DEFAULT_TIMEOUT_MS
from tests.e2e.helpers import flash, sign_in

pytestmark = pytest.mark.e2e

OWNER_EMAIL = "olive@acme.example.com"
OPERATOR_EMAIL = "ops@igny8.example.com"
OPERATOR_PASSWORD = "night-shift-console-9"


def _seed_usage(app, account_id: int) -> None:
    """One finished piece of work (reserved 10, used 7), so the usage chart has a bar."""
    with app.app_context(), tenancy.account_scope(account_id):
        reservation = credits.reserve(account_id=account_id, amount=10, operation="clustering",
                                      key="e2e-usage-1", description="Keyword clustering")
        credits.settle(reservation_id=reservation.id, actual=7, model="local", provider="igny8")
        db.session.remove()


def _only_order(app, account_id: int) -> Order:
    with app.app_context(), tenancy.account_scope(account_id):
        order = db.session.scalars(select(Order)).one()
        db.session.expunge(order)
        db.session.remove()
    return order


def test_invoice_order_marked_paid_by_operator_tops_up_once(app, browser: Browser, live_server, page: Page):
    account_id, _ = make_account(app, email=OWNER_EMAIL, account_name="Acme Agency")
    _seed_usage(app, account_id)
    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD, name="Opal Operator")
        db.session.remove()
    balance = page.get_by_test_id("balance")

    # The owner buys the Starter pack (500 credits) by invoice.
    sign_in(page, OWNER_EMAIL)
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/billing/")
    expect(balance).to_contain_text("93")  # 100 from the Free plan, 7 used
    page.goto("/billing/buy")
    expect(page.get_by_role("heading", name="Buy credits")).to_be_visible()
    page.get_by_role("radio", name=re.compile("Starter pack")).check()
    page.get_by_role("radio", name=re.compile("Invoice")).check()
    page.get_by_role("button", name="Buy credits").click()
    expect(page).to_have_url(re.compile(r"/billing/orders$"))
    order = _only_order(app, account_id)
    assert order.status == "pending" and order.credits == 500 and order.provider == "manual"
    expect(flash(page)).to_contain_text(f"Invoice INV-{order.id:06d} is on its way")
    row = page.locator(f"#order-{order.id}")
    expect(row).to_contain_text("Starter pack: 500 credits")
    expect(row).to_contain_text("Pending")
    expect(row).to_contain_text(f"INV-{order.id:06d}")
    page.goto("/billing/")
    expect(balance).to_contain_text("93")  # nothing arrives before the payment is confirmed

    # An operator, in a browser of their own, marks the order paid.
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ops = context.new_page()
    try:
        sign_in(ops, OPERATOR_EMAIL, OPERATOR_PASSWORD)
        expect(ops).to_have_url(re.compile(r"/operator/$"))
        ops.get_by_role("navigation", name="Operator").get_by_role("link", name="Orders").click()
        expect(ops).to_have_url(re.compile(r"/operator/orders$"))
        ops_row = ops.locator(f"#order-{order.id}")
        for text in ("Acme Agency", "Starter pack: 500 credits", "10.00 USD", "Invoice (bank transfer)",
                     f"INV-{order.id:06d}"):
            expect(ops_row).to_contain_text(text)
        ops.once("dialog", lambda dialog: dialog.accept())
        ops_row.get_by_role("button", name="Mark paid").click()
        expect(ops).to_have_url(re.compile(r"/operator/orders\?status=pending$"))
        expect(flash(ops)).to_contain_text(f"Order #{order.id} marked paid: 500 credits added to Acme Agency.")
        expect(ops.locator(f"#order-{order.id}")).to_have_count(0)
        expect(ops.get_by_role("heading", name="No pending orders")).to_be_visible()
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        ops.screenshot(path=str(ARTIFACTS / "test_billing_operator.png"), full_page=True)
        raise
    finally:
        context.close()

    # The owner sees the new balance, the top-up in the ledger and the usage chart.
    page.goto("/billing/")
    expect(balance).to_contain_text("593")
    expect(page.locator("#credits-badge")).to_have_text("593 credits")
    page.get_by_role("navigation", name="Billing").get_by_role("link", name="Transactions").click()
    expect(page).to_have_url(re.compile(r"/billing/transactions$"))
    topup = page.locator("tbody tr", has_text="Starter pack: 500 credits")
    expect(topup).to_have_count(1)
    expect(topup).to_contain_text("Top-up")
    expect(topup).to_contain_text("+500")
    expect(topup.locator("[data-balance-after]")).to_have_text("593")
    page.goto("/billing/orders")
    expect(page.locator(f"#order-{order.id}")).to_contain_text("Paid")
    page.goto("/billing/usage")
    chart = page.locator("svg[data-testid=usage-chart]")
    expect(chart).to_be_visible()
    expect(chart.locator("rect[data-operation=clustering]")).to_have_count(1)
    expect(page.locator(".chart-legend")).to_contain_text("Keyword clustering")
    with app.app_context():
        assert credits.balance(account_id) == 593 == credits.ledger_sum(account_id)
