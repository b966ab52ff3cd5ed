"""Plans are paid for through orders; invoices and receipts are e-mailed; demo card only where enabled."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import create_app, tenancy
from app.config import load_config
from app.extensions import db
from app.models import Account, Order, OutboxMessage, Plan, Subscription
from app.services.billing import credits
from app.services.billing.subscriptions import add_months, replenish_all
from app.services.operator import create_operator
from tests.conftest import TEST_DATABASE_URL, Browserless, login, make_account
from tests.integration.helpers import signed_in

OWNER = "olive@acme.example.com"
OPS_EMAIL, OPS_PASSWORD = "ops@igny8.example.com", "operator-password-1"
TOKEN_RE = re.compile(r'name="request_token" type="hidden" value="([^"]+)"')


def _plan_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Plan.id).where(Plan.name == name)).one()


def _state(app, account_id):
    """(plan name, balance, ledger sum, paid_through) of an account."""
    with app.app_context(), tenancy.account_scope(account_id):
        subscription = db.session.scalars(select(Subscription)).one()
        return (subscription.plan.name, credits.balance(account_id), credits.ledger_sum(account_id),
                subscription.paid_through)


def _orders(app, account_id):
    with app.app_context(), tenancy.account_scope(account_id):
        return list(db.session.scalars(select(Order).order_by(Order.id)))


def _mail(app, to: str) -> list[OutboxMessage]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == to)
                                       .order_by(OutboxMessage.id)))


def _replenish_at(app, when):
    with app.app_context():
        return replenish_all(now=when)


def _started(app, account_id):
    with app.app_context(), tenancy.account_scope(account_id):
        return db.session.scalars(select(Subscription.started_at)).one()


def _order_plan(web, plan_id: int, provider: str, card: str = ""):
    page = web.get(f"/billing/plan/{plan_id}")
    assert page.status_code == 200
    token = TOKEN_RE.search(page.get_data(as_text=True)).group(1)
    return web.post("/billing/plan", {"plan_id": str(plan_id), "provider": provider, "card_number": card,
                                      "request_token": token}, token_from="/billing/")


def _operator(app) -> Browserless:
    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPS_EMAIL, password=OPS_PASSWORD)
        db.session.remove()
    client = app.test_client()
    assert login(client, OPS_EMAIL, OPS_PASSWORD).status_code == 302
    return Browserless(client)


def test_posting_a_paid_plan_without_payment_grants_nothing_now_or_next_period(app):
    account, _ = make_account(app, email=OWNER)
    agency = _plan_id(app, "Agency")
    web = signed_in(app, OWNER)
    response = web.post("/billing/plan", {"plan_id": str(agency)}, token_from="/billing/")
    assert response.status_code == 422
    assert "Choose a payment method" in response.get_data(as_text=True)
    assert _state(app, account)[:3] == ("Free", 100, 100) and _orders(app, account) == []
    started = _started(app, account)
    assert _replenish_at(app, add_months(started, 1) + timedelta(hours=1)) == 100  # the Free plan's credits
    assert _state(app, account)[:3] == ("Free", 200, 200)


def test_invoice_plan_order_starts_the_plan_only_when_paid_and_mails_invoice_and_receipt(app):
    account, _ = make_account(app, email=OWNER)
    agency = _plan_id(app, "Agency")
    web = signed_in(app, OWNER)
    checkout = web.get(f"/billing/plan/{agency}").get_data(as_text=True)
    assert "$199.00 for 1 month" in checkout and "10,000" in checkout and "Nothing changes until" in checkout
    response = _order_plan(web, agency, "manual")
    assert response.status_code == 302 and response.headers["Location"].endswith("/billing/orders")
    [order] = _orders(app, account)
    assert (order.status, order.plan_id, order.amount, order.credits) == ("pending", agency, 199, 10000)
    orders_page = web.get("/billing/orders").get_data(as_text=True)
    assert f"Invoice INV-{order.id:06d} is on its way" in orders_page and "The plan starts when" in orders_page
    assert (f"Agency plan, 1 month: 10,000 credits a month is waiting for payment (INV-{order.id:06d})"
            in web.get("/billing/").get_data(as_text=True))

    [invoice] = _mail(app, OWNER)
    assert invoice.subject == f"IGNY8 invoice INV-{order.id:06d}: USD 199.00 due"
    for expected in ("Agency plan, 1 month: 10,000 credits a month", "Amount due: USD 199.00",
                     "Pay by bank transfer to:", "IBAN XX00 TEST", f"Quote the reference INV-{order.id:06d}",
                     "http://igny8.test/billing/orders"):
        assert expected in invoice.body, expected

    # Unpaid: still Free, and the next period brings the Free plan's credits only.
    assert _state(app, account)[:3] == ("Free", 100, 100)
    started = _started(app, account)
    assert _replenish_at(app, add_months(started, 1) + timedelta(hours=1)) == 100
    assert _state(app, account)[:3] == ("Free", 200, 200)

    ops = _operator(app)
    paid = ops.post(f"/operator/orders/{order.id}/paid", {}, token_from="/operator/orders")
    assert paid.status_code == 302
    plan, balance, ledger, paid_through = _state(app, account)
    assert (plan, balance, ledger) == ("Agency", 10200, 10200) and paid_through is not None
    overview = web.get("/billing/").get_data(as_text=True)
    assert "Paid through" in overview and "waiting for payment" not in overview
    assert "Switch to Free" in overview and "Renew Agency" in overview
    receipt = _mail(app, OWNER)[-1]
    assert receipt.subject == f"IGNY8 receipt for INV-{order.id:06d}"
    assert "Paid: USD 199.00" in receipt.body and "Your Agency plan is active" in receipt.body

    # One payment covers one month: when it runs out unrenewed, the account is back on Free.
    assert _replenish_at(app, paid_through + timedelta(hours=1)) == 100
    assert _state(app, account)[:2] == ("Free", 10300)


def test_renewing_a_paid_plan_extends_it_and_the_next_period_brings_its_credits(app):
    account, _ = make_account(app, email=OWNER)
    growth = _plan_id(app, "Growth")
    web = signed_in(app, OWNER)
    assert _order_plan(web, growth, "fake_card", "4242 4242 4242 4242").status_code == 302
    plan, balance, _ledger, first_paid_through = _state(app, account)
    assert (plan, balance) == ("Growth", 2100)
    assert "Renew Growth" in web.get("/billing/").get_data(as_text=True)
    assert _order_plan(web, growth, "fake_card", "4242424242424242").status_code == 302
    _plan, balance, _ledger, paid_through = _state(app, account)
    assert balance == 2100 and paid_through == add_months(first_paid_through, 1)  # credits come monthly
    assert _replenish_at(app, first_paid_through + timedelta(hours=1)) == 2000
    assert _state(app, account)[:3] == ("Growth", 4100, 4100)
    assert [o.description for o in _orders(app, account)] == [
        "Growth plan, 1 month: 2,000 credits a month", "Growth plan renewal, 1 month: 2,000 credits a month"]


def test_declined_card_for_a_plan_changes_nothing(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    assert _order_plan(web, _plan_id(app, "Agency"), "fake_card", "4000000000000002").status_code == 302
    assert "Your card was declined" in web.get("/billing/orders").get_data(as_text=True)
    assert _state(app, account)[:3] == ("Free", 100, 100)


def test_switching_to_the_free_plan_is_immediate_and_ends_the_paid_term(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    assert _order_plan(web, _plan_id(app, "Growth"), "fake_card", "4242424242424242").status_code == 302
    assert _state(app, account)[:2] == ("Growth", 2100)
    response = web.post("/billing/plan", {"plan_id": str(_plan_id(app, "Free"))}, token_from="/billing/")
    assert response.status_code == 302
    assert "You are now on the Free plan" in web.get("/billing/").get_data(as_text=True)
    plan, balance, _ledger, paid_through = _state(app, account)
    assert (plan, balance, paid_through) == ("Free", 2100, None)  # credits already had stay
    started = _started(app, account)
    assert _replenish_at(app, add_months(started, 1) + timedelta(hours=1)) == 100


def test_invoice_package_order_is_mailed_and_marking_it_paid_sends_a_receipt(app):
    account, _ = make_account(app, email=OWNER)
    web = signed_in(app, OWNER)
    page = web.get("/billing/buy").get_data(as_text=True)
    with app.app_context():
        from app.models import CreditPackage

        package = db.session.scalars(select(CreditPackage.id).where(CreditPackage.name == "Starter pack")).one()
    web.post("/billing/buy", {"package_id": str(package), "provider": "manual",
                              "request_token": TOKEN_RE.search(page).group(1)}, token_from="/billing/")
    [order] = _orders(app, account)
    [invoice] = _mail(app, OWNER)
    assert "Starter pack: 500 credits" in invoice.body and "Amount due: USD 10.00" in invoice.body
    assert "Pay by bank transfer to:" in invoice.body and f"INV-{order.id:06d}" in invoice.body
    assert "500 credits are added to your balance as soon as the payment is confirmed" in invoice.body
    ops = _operator(app)
    ops.post(f"/operator/orders/{order.id}/paid", {}, token_from="/operator/orders")
    receipt = _mail(app, OWNER)[-1]
    assert receipt.subject == f"IGNY8 receipt for INV-{order.id:06d}"
    assert "Paid: USD 10.00 on" in receipt.body and "500 credits have been added to your balance" in receipt.body
    assert _state(app, account)[1] == 600


@pytest.fixture
def production_app(app, monkeypatch):
    """The app as production configures it (demo payments off), on the test database."""
    monkeypatch.setenv("SECRET_KEY", "production-test-secret")
    monkeypatch.setenv("DATABASE_URL", TEST_DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", app.config["REDIS_URL"])
    monkeypatch.setenv("ENCRYPTION_KEYS", ",".join(app.config["ENCRYPTION_KEYS"]) or Fernet.generate_key().decode())
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://app.igny8.example.com")
    monkeypatch.delenv("DEMO_PAYMENTS", raising=False)
    production = create_app(load_config("production"))
    production.config["SERVER_NAME"] = None
    yield production
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def test_production_neither_offers_nor_accepts_the_demo_card(app, production_app):
    account, _ = make_account(app, email=OWNER)
    client = production_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # production cookies are Secure
    client.environ_base["HTTP_REFERER"] = "https://localhost/"  # CSRF over HTTPS checks the referrer
    assert login(client, OWNER, "correct-horse-battery").status_code == 302
    web = Browserless(client)
    page = web.get("/billing/buy").get_data(as_text=True)
    assert 'value="manual"' in page and "fake_card" not in page and "4242" not in page
    with production_app.app_context():
        from app.models import CreditPackage

        package = db.session.scalars(select(CreditPackage.id).where(CreditPackage.name == "Agency pack")).one()
    token = TOKEN_RE.search(page).group(1)
    response = web.post("/billing/buy", {"package_id": str(package), "provider": "fake_card",
                                         "card_number": "4242424242424242", "request_token": token},
                        token_from="/billing/")
    assert response.status_code == 422 and "Choose a payment method from the list" in response.get_data(as_text=True)
    checkout = web.get(f"/billing/plan/{_plan_id(app, 'Agency')}").get_data(as_text=True)
    assert "fake_card" not in checkout
    response = web.post("/billing/plan", {"plan_id": str(_plan_id(app, "Agency")), "provider": "fake_card",
                                          "card_number": "4242424242424242", "request_token": token},
                        token_from="/billing/")
    assert response.status_code == 422
    assert _orders(app, account) == [] and _state(app, account)[:3] == ("Free", 100, 100)
    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalars(select(Account.credits)).one() == 100
