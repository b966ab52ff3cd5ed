"""Customer billing pages: overview, ledger, usage chart, orders, buying credits, plan, estimate."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import tenancy
from app.extensions import db
from app.models import Account, CreditPackage, CreditTransaction, CreditUsageLog, Order, Plan, Subscription
from app.services.billing import credits
from app.timeutil import utcnow
from tests.conftest import make_account
from tests.integration.helpers import add_member, add_site, signed_in, two_accounts

OWNER = "olive@acme.example.com"
PAGES = ("/billing/", "/billing/transactions", "/billing/usage", "/billing/orders", "/billing/buy")
TOKEN_RE = re.compile(r'name="request_token" type="hidden" value="([^"]+)"')


def _money(app, account_id):
    """(balance, ledger sum) of an account."""
    with app.app_context():
        return credits.balance(account_id), credits.ledger_sum(account_id)


def _package_id(app, name="Starter pack"):
    with app.app_context():
        return db.session.scalars(select(CreditPackage.id).where(CreditPackage.name == name)).one()


def _orders(app, account_id):
    with app.app_context(), tenancy.account_scope(account_id):
        return [(o.status, o.provider, o.credits, o.failure_reason)
                for o in db.session.scalars(select(Order).order_by(Order.id))]


def _buy_form(web):
    page = web.get("/billing/buy").get_data(as_text=True)
    match = TOKEN_RE.search(page)
    assert match, "the buy form carries a one-time request token"
    return match.group(1)


def _buy(app, web, *, provider="fake_card", card="4242424242424242", package="Starter pack", token=None):
    token = token or _buy_form(web)
    return web.post("/billing/buy", {"package_id": str(_package_id(app, package)), "provider": provider,
                                     "card_number": card, "request_token": token}, token_from="/billing/")


def _use(app, account_id, *, operation, estimate, actual, days_ago=0, model=None, site_id=None, key=None):
    """Reserve and settle a piece of work, then date its usage entry `days_ago` days back."""
    with app.app_context(), tenancy.account_scope(account_id):
        reservation = credits.reserve(account_id=account_id, amount=estimate, operation=operation,
                                      key=key or f"{operation}-{days_ago}-{model}", site_id=site_id)
        credits.settle(reservation_id=reservation.id, actual=actual, model=model)
        db.session.execute(update(CreditUsageLog).where(CreditUsageLog.reservation_id == reservation.id)
                           .values(created_at=utcnow() - timedelta(days=days_ago)))
        db.session.commit()
        db.session.remove()


def test_every_billing_page_renders_for_the_owner(app):
    make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    for path in PAGES:
        response = web.get(path)
        assert response.status_code == 200, path
    overview = web.get("/billing/").get_data(as_text=True)
    assert 'data-testid="balance">100 ' in overview  # the Free plan's first month
    assert "Free" in overview and "Next credits" in overview
    assert "What things cost" in overview and "Keyword clustering" in overview and "0.05" in overview
    assert "priced by the AI model you choose" in overview and "Article writing" in overview
    assert "refunded" in overview and "Reserved." in overview
    assert 'href="/billing/"' in overview  # the Billing entry of the settings menu
    for link in ("/billing/transactions", "/billing/usage", "/billing/orders", "/billing/buy"):
        assert f'href="{link}"' in overview
    buy = web.get("/billing/buy").get_data(as_text=True)
    assert "Starter pack" in buy and 'value="fake_card"' in buy and 'value="manual"' in buy
    assert 'name="card_number"' in buy and TOKEN_RE.search(buy)


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_other_roles_read_billing_but_cannot_buy_or_change_plan(app, role):
    account, _ = make_account(app, email=OWNER)
    add_member(app, account, email=f"{role}@acme.example.com", role=role)
    web = signed_in(app, f"{role}@acme.example.com")
    for path in PAGES:
        assert web.get(path).status_code == 200, path
    buy = web.get("/billing/buy").get_data(as_text=True)
    assert "Only an account owner can buy credits" in buy and not TOKEN_RE.search(buy)
    overview = web.get("/billing/").get_data(as_text=True)
    assert "Only an account owner can change the plan" in overview and 'action="/billing/plan"' not in overview
    before = _money(app, account)
    response = web.post("/billing/buy", {"package_id": str(_package_id(app)), "provider": "fake_card",
                                         "card_number": "4242424242424242", "request_token": "x" * 32},
                        token_from="/billing/")
    assert response.status_code == 403
    with app.app_context():
        growth = db.session.scalars(select(Plan.id).where(Plan.name == "Growth")).one()
    assert web.post("/billing/plan", {"plan_id": str(growth)}, token_from="/billing/").status_code == 403
    assert web.post("/billing/threshold", {"threshold": "5"}, token_from="/billing/").status_code == 403
    assert _money(app, account) == before == (100, 100)
    assert _orders(app, account) == []
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(Subscription.plan_id)).one() != growth
        assert db.session.scalars(select(Account.low_balance_threshold)).one() == 50


def test_buying_with_the_test_card_adds_credits_and_a_topup(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    response = _buy(app, web)
    assert response.status_code == 302 and response.headers["Location"].endswith("/billing/orders")
    page = web.get("/billing/orders").get_data(as_text=True)
    assert "500 credits added" in page and "Paid" in page and "demo-" in page
    assert _money(app, account) == (600, 600)
    assert _orders(app, account) == [("paid", "fake_card", 500, None)]
    with app.app_context(), tenancy.account_scope(account):
        topup = db.session.scalars(select(CreditTransaction).where(CreditTransaction.type == "topup")).one()
        assert topup.amount == 500 and topup.balance_after == 600


def test_declined_card_adds_nothing_and_the_order_fails_with_the_message(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    assert _buy(app, web, card="4000 0000 0000 0002").status_code == 302
    page = web.get("/billing/orders").get_data(as_text=True)
    assert "Your card was declined" in page and "Failed" in page
    assert _money(app, account) == (100, 100)
    [(status, _provider, _credits, reason)] = _orders(app, account)
    assert status == "failed" and reason.startswith("Your card was declined")


def test_malformed_card_number_is_refused_before_any_order(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    response = _buy(app, web, card="12ab")
    assert response.status_code == 422 and "12 to 19 digits" in response.get_data(as_text=True)
    assert _orders(app, account) == [] and _money(app, account) == (100, 100)


def test_invoice_leaves_the_order_pending_and_the_balance_unchanged(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    assert _buy(app, web, provider="manual", card="").status_code == 302
    page = web.get("/billing/orders").get_data(as_text=True)
    assert "Invoice INV-" in page and "Pending" in page
    assert _orders(app, account) == [("pending", "manual", 500, None)]
    assert _money(app, account) == (100, 100)


def test_the_same_request_token_twice_creates_one_order(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    token = _buy_form(web)
    assert _buy(app, web, token=token).status_code == 302
    assert _buy(app, web, token=token).status_code == 302
    assert len(_orders(app, account)) == 1
    assert _money(app, account) == (600, 600)


def test_unknown_package_or_provider_is_refused(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    token = _buy_form(web)
    response = web.post("/billing/buy", {"package_id": "999999", "provider": "fake_card",
                                         "card_number": "4242424242424242", "request_token": token},
                        token_from="/billing/")
    assert response.status_code == 404
    response = web.post("/billing/buy", {"package_id": str(_package_id(app)), "provider": "free_money",
                                         "request_token": token}, token_from="/billing/")
    assert response.status_code == 422 and "Choose a payment method from the list" in response.get_data(as_text=True)
    assert _orders(app, account) == [] and _money(app, account) == (100, 100)


def test_transactions_list_newest_first_with_balance_after_and_pages(app):
    account, _ = make_account(app, email=OWNER)
    with app.app_context(), tenancy.account_scope(account):
        for n in range(55):
            credits.grant(account_id=account, amount=1, key=f"gift-{n}", description=f"Gift number {n}")
    web = signed_in(app, OWNER)
    page = web.get("/billing/transactions").get_data(as_text=True)
    assert "Page 1 of 2" in page and "Gift number 54" in page and "Gift number 0<" not in page
    assert page.index("Gift number 54") < page.index("Gift number 53")
    assert re.search(r"Gift number 54</td>\s*<td class=\"num\"><span class=\"amount-plus\">\+1</span></td>\s*"
                     r"<td class=\"num col-secondary\" data-balance-after>155</td>", page)
    older = web.get("/billing/transactions?page=2").get_data(as_text=True)
    assert "Monthly credits" in older and "Gift number 0<" in older and "Gift number 54" not in older
    assert web.get("/billing/transactions?page=99").status_code == 200


def test_transactions_and_usage_empty_states(app):
    account, _ = make_account(app, email=OWNER)
    with app.app_context(), tenancy.account_scope(account):
        db.session.execute(CreditTransaction.__table__.delete().where(CreditTransaction.account_id == account))
        db.session.execute(update(Account).values(credits=0))
        db.session.commit()
    web = signed_in(app, OWNER)
    assert "No transactions yet" in web.get("/billing/transactions").get_data(as_text=True)
    usage = web.get("/billing/usage").get_data(as_text=True)
    assert "No usage in this range" in usage and "<svg class=\"usage-chart\"" not in usage


def test_usage_chart_stacks_operations_per_day_and_filters_narrow_the_table(app):
    account, _ = make_account(app, email=OWNER)
    site, _ = add_site(app, account, "Bean Blog")
    _use(app, account, operation="clustering", estimate=10, actual=6, days_ago=3, site_id=site)
    _use(app, account, operation="content_generation", estimate=30, actual=25, days_ago=1, model="gpt-test")
    _use(app, account, operation="clustering", estimate=5, actual=4, days_ago=1, model="other-model")
    _use(app, account, operation="clustering", estimate=5, actual=5, days_ago=45)  # outside the default range
    assert _money(app, account) == (60, 60)
    web = signed_in(app, OWNER)
    page = web.get("/billing/usage").get_data(as_text=True)
    start = page.index('<svg class="usage-chart"')
    svg = page[start:page.index("</svg>", start)]
    assert 'role="img"' in svg and "<title id=\"usage-chart-title\">Credits used per day" in svg
    assert svg.count('data-operation="clustering"') == 2 and svg.count('data-operation="content_generation"') == 1
    assert "Article writing, 25 credits" in svg and "35 credits in total" in svg
    assert 'class="chart-legend"' in page and "Total 35 credits" in page
    assert page.count('<tr id="usage-') == 3 and "Bean Blog" in page
    only = web.get("/billing/usage?operation=content_generation").get_data(as_text=True)
    assert only.count('<tr id="usage-') == 1 and 'data-operation="content_generation"' in only
    assert 'rect x=' in only and 'data-operation="clustering"><title>' not in only
    by_model = web.get("/billing/usage?model=other-model").get_data(as_text=True)
    assert by_model.count('<tr id="usage-') == 1 and "other-model" in by_model
    by_site = web.get(f"/billing/usage?site={site}").get_data(as_text=True)
    assert by_site.count('<tr id="usage-') == 1 and "Bean Blog" in by_site
    today = utcnow().date()
    old = web.get(f"/billing/usage?date_from={today - timedelta(days=60)}&date_to={today - timedelta(days=30)}")
    assert old.get_data(as_text=True).count('<tr id="usage-') == 1
    recent = web.get(f"/billing/usage?date_from={today - timedelta(days=2)}").get_data(as_text=True)
    assert recent.count('<tr id="usage-') == 2


def test_bad_usage_filters_get_a_clear_message(app):
    make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    response = web.get("/billing/usage?date_from=31-12-2024")
    assert response.status_code == 422
    assert "Enter the start date as YYYY-MM-DD" in response.get_data(as_text=True)
    response = web.get("/billing/usage?date_from=2025-03-10&date_to=2025-03-01")
    assert response.status_code == 422 and "start date is after the end date" in response.get_data(as_text=True)
    response = web.get("/billing/usage?date_from=2020-01-01&date_to=2025-01-01")
    assert response.status_code == 422 and "at most 366 days" in response.get_data(as_text=True)
    response = web.get("/billing/usage?operation=mining")
    assert response.status_code == 422 and "Choose an operation from the list" in response.get_data(as_text=True)
    response = web.get("/billing/usage?site=424242")
    assert response.status_code == 422 and "Choose a site from the list" in response.get_data(as_text=True)


def test_estimate_fragment_shows_balance_and_the_buy_link_when_short(app):
    make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    enough = web.get("/billing/estimate?credits=40&label=Start", headers={"HX-Request": "true"})
    text = enough.get_data(as_text=True)
    assert enough.status_code == 200 and "<html" not in text
    assert "This will cost about <strong>40 credits</strong> (you have 100)" in text
    assert "/billing/buy" not in text and re.search(r'<button type="submit" class="btn">Start</button>', text)
    short = web.get("/billing/estimate?credits=250&label=Start").get_data(as_text=True)
    assert "you have 100" in short and "Not enough credits: you need 150 more" in short
    assert 'href="/billing/buy"' in short and "disabled" in short
    for bad in ("abc", "-3", "", "99999999999"):
        response = web.get(f"/billing/estimate?credits={bad}", headers={"HX-Request": "true"})
        assert response.status_code == 422, bad
        assert "credits" in response.get_data(as_text=True)


def test_owner_changes_the_low_balance_threshold_and_bad_values_are_refused(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    response = web.post("/billing/threshold", {"threshold": "250"}, token_from="/billing/")
    assert response.status_code == 302
    assert "Low-balance warning set to 250 credits" in web.get("/billing/").get_data(as_text=True)
    for bad, message in (("abc", "whole number of credits"), ("12.5", "whole number of credits"),
                         ("-1", "between 0 and 1,000,000"), ("1000001", "between 0 and 1,000,000"),
                         ("", "whole number of credits")):
        response = web.post("/billing/threshold", {"threshold": bad}, token_from="/billing/")
        assert response.status_code == 422, bad
        assert message in response.get_data(as_text=True), bad
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(Account.low_balance_threshold)).one() == 250


def test_owner_choosing_a_paid_plan_is_sent_to_pay_for_it_first(app):
    account, _ = make_account(app, email=OWNER)
    with app.app_context():
        growth = db.session.scalars(select(Plan.id).where(Plan.name == "Growth")).one()
    web = signed_in(app, OWNER)
    overview = web.get("/billing/").get_data(as_text=True)
    assert f'href="/billing/plan/{growth}"' in overview and "Choose Growth" in overview
    response = web.post("/billing/plan", {"plan_id": str(growth)}, token_from="/billing/")
    assert response.status_code == 422 and "Choose the Growth plan" in response.get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(Subscription.plan_id)).one() != growth
    assert _money(app, account) == (100, 100) and _orders(app, account) == []
    assert web.post("/billing/plan", {"plan_id": "999999"}, token_from="/billing/").status_code == 404
    assert web.get("/billing/plan/999999").status_code == 404


def test_another_account_never_sees_this_accounts_billing_rows(app):
    accounts = two_accounts(app)
    a = accounts["a"]["account"]
    _use(app, a, operation="content_generation", estimate=20, actual=12, model="acme-secret-model",
         site_id=accounts["a"]["site"])
    with app.app_context(), tenancy.account_scope(a):
        credits.grant(account_id=a, amount=7, key="acme-gift", description="Acme private gift")
    alice = signed_in(app, accounts["a"]["email"])
    assert _buy(app, alice, provider="manual", card="").status_code == 302
    assert "acme-secret-model" in alice.get("/billing/usage").get_data(as_text=True)
    bob = signed_in(app, accounts["b"]["email"])
    for path in (*PAGES, "/billing/estimate?credits=1"):
        page = bob.get(path).get_data(as_text=True)
        for marker in ("acme-secret-model", "Acme private gift", "INV-", "Acme Coffee", "Article writing, 12"):
            assert marker not in page, (path, marker)
    assert "No orders yet" in bob.get("/billing/orders").get_data(as_text=True)
    assert "you have 100" in bob.get("/billing/estimate?credits=1").get_data(as_text=True)
    assert bob.get("/billing/usage").get_data(as_text=True).count('<tr id="usage-') == 0
    forged = bob.get("/billing/usage?model=acme-secret-model").get_data(as_text=True)
    assert forged.count('<tr id="usage-') == 0 and "No usage in this range" in forged
    assert "Article writing, 12" not in forged
