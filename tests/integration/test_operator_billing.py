"""Operator billing pages: plans, packages, orders and credit adjustments."""

from __future__ import annotations

import re
import secrets
import threading

import pytest
from sqlalchemy import delete, select

from app import tenancy
from app.errors import Conflict
from app.extensions import db
from app.models import AuditEvent, CreditPackage, CreditTransaction, Order, Plan
from app.services.billing import admin as billing_admin, credits
from app.services.operator import create_operator
from app.services.billing.orders import buy_package
from tests.conftest import Browserless, login, truncate_all
from tests.integration.helpers import add_member, signed_in, two_accounts

OPS_EMAIL = "ops@igny8.example.com"
OPS_PASSWORD = "operate-carefully-1"
PLAN_COLUMNS = ("name", "monthly_credits", "price", "billing_cycle", "support_level", "features",
                "is_active", "is_default")
PACKAGE_COLUMNS = ("name", "credits", "price", "is_active")


@pytest.fixture(autouse=True)
def restore_catalogue(app):
    """Plans and packages are reference data kept between tests: put them back as they were."""
    with app.app_context(), tenancy.all_accounts():
        plans = {p.id: {c: getattr(p, c) for c in PLAN_COLUMNS} for p in db.session.scalars(select(Plan))}
        packages = {p.id: {c: getattr(p, c) for c in PACKAGE_COLUMNS}
                    for p in db.session.scalars(select(CreditPackage))}
        db.session.remove()
    yield
    truncate_all(app)  # subscriptions and orders may point at plans and packages made here
    with app.app_context(), tenancy.all_accounts():
        db.session.execute(delete(Plan).where(Plan.id.not_in(plans)))
        db.session.execute(delete(CreditPackage).where(CreditPackage.id.not_in(packages)))
        for model, saved in ((Plan, plans), (CreditPackage, packages)):
            for row in db.session.scalars(select(model)):
                for column, value in saved[row.id].items():
                    setattr(row, column, value)
        db.session.commit()
        db.session.remove()


def operator(app) -> Browserless:
    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPS_EMAIL, password=OPS_PASSWORD)
        db.session.remove()
    client = app.test_client()
    assert login(client, OPS_EMAIL, OPS_PASSWORD).status_code == 302
    return Browserless(client)


def text(response) -> str:
    return response.get_data(as_text=True)


def ledger(app, account_id: int) -> list[tuple[str, int, str]]:
    """The customer's own view of its ledger, oldest first."""
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [(t.type, t.amount, t.description)
                for t in db.session.scalars(select(CreditTransaction).order_by(CreditTransaction.id))]
        db.session.remove()
    return rows


def balance_and_sum(app, account_id: int) -> tuple[int, int]:
    with app.app_context():
        return credits.balance(account_id), credits.ledger_sum(account_id)


def plans(app) -> dict[str, dict]:
    with app.app_context(), tenancy.all_accounts():
        rows = {p.name: {c: getattr(p, c) for c in PLAN_COLUMNS} | {"id": p.id} for p in db.session.scalars(select(Plan))}
        db.session.remove()
    return rows


def packages(app) -> dict[str, dict]:
    with app.app_context(), tenancy.all_accounts():
        rows = {p.name: {c: getattr(p, c) for c in PACKAGE_COLUMNS} | {"id": p.id}
                for p in db.session.scalars(select(CreditPackage))}
        db.session.remove()
    return rows


def pending_order(app, account_id: int, user_id: int, package: str = "Starter pack") -> tuple[int, int]:
    """A manual (invoice) order waiting for an operator; returns (order id, its credits)."""
    with app.app_context(), tenancy.account_scope(account_id):
        package_id = db.session.scalars(select(CreditPackage.id).where(CreditPackage.name == package)).one()
        order = buy_package(package_id=package_id, provider="manual", details={}, actor_id=user_id,
                            request_token=secrets.token_urlsafe(16))
        assert order.status == "pending"
        ids = order.id, order.credits
        db.session.remove()
    return ids


def order_status(app, order_id: int) -> str:
    with app.app_context(), tenancy.all_accounts():
        status = db.session.get(Order, order_id).status
        db.session.remove()
    return status


def adjust_token(page: str) -> str:
    match = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
    assert match, "no adjustment token on the page"
    return match.group(1)


PLAN = {"name": "Studio", "monthly_credits": "5000", "price": "99.50", "billing_cycle": "yearly",
        "support_level": "priority", "features": "For studios.", "is_active": "y"}


def test_tenants_get_404_on_every_operator_billing_url(app):
    world = two_accounts(app)
    add_member(app, world["a"]["account"], email="adam@acme.example.com", role="admin")
    order_id, _ = pending_order(app, world["a"]["account"], world["a"]["owner"])
    plan_id, package_id, account = plans(app)["Free"]["id"], packages(app)["Starter pack"]["id"], world["a"]["account"]
    gets = ["/operator/plans", "/operator/plans/new", f"/operator/plans/{plan_id}/edit", "/operator/packages",
            "/operator/packages/new", f"/operator/packages/{package_id}/edit", "/operator/orders",
            "/operator/orders?status=all", f"/operator/accounts/{account}/credits"]
    posts = ["/operator/plans/new", f"/operator/plans/{plan_id}/edit", "/operator/packages/new",
             f"/operator/packages/{package_id}/edit", f"/operator/orders/{order_id}/paid",
             f"/operator/orders/{order_id}/cancel", f"/operator/accounts/{account}/credits"]
    for email in (world["a"]["email"], "adam@acme.example.com"):
        tenant = signed_in(app, email)
        for path in gets:
            assert tenant.get(path).status_code == 404, path
        for path in posts:
            response = tenant.post(path, {**PLAN, "amount": "500", "reason": "free money", "token": "t1"},
                                   token_from="/")
            assert response.status_code == 404, path
    assert order_status(app, order_id) == "pending"
    assert balance_and_sum(app, account) == (100, 100)
    assert "Studio" not in plans(app)
    assert app.test_client().get("/operator/plans").status_code == 302  # signed out: to the sign-in page


def test_unknown_ids_are_404_for_operators(app):
    ops = operator(app)
    for path in ("/operator/plans/999999/edit", "/operator/packages/999999/edit",
                 "/operator/accounts/999999/credits"):
        assert ops.get(path).status_code == 404, path
    assert ops.post("/operator/plans/999999/edit", PLAN, token_from="/operator/plans").status_code == 404
    assert ops.post("/operator/orders/999999/paid", {}, token_from="/operator/orders").status_code == 404
    assert ops.post("/operator/orders/999999/cancel", {}, token_from="/operator/orders").status_code == 404
    assert ops.post("/operator/accounts/999999/credits", {"amount": "5", "reason": "x", "token": "abc"},
                    token_from="/operator/orders").status_code == 404


def test_posts_without_csrf_token_are_refused(app):
    ops = operator(app)
    response = ops.client.post("/operator/plans/new", data=PLAN)
    assert response.status_code == 400
    assert "Studio" not in plans(app)


def test_operator_creates_and_edits_plans(app):
    ops = operator(app)
    response = ops.post("/operator/plans/new", PLAN, token_from="/operator/plans/new")
    assert response.status_code == 302 and response.headers["Location"].endswith("/operator/plans")
    page = text(ops.get("/operator/plans"))
    assert "Plan Studio saved." in page and "Studio" in page and "5,000" in page and "$99.50" in page
    studio = plans(app)["Studio"]
    assert studio["monthly_credits"] == 5000 and str(studio["price"]) == "99.50"
    assert studio["billing_cycle"] == "yearly" and studio["support_level"] == "priority"
    assert studio["is_active"] and not studio["is_default"]

    form = text(ops.get(f"/operator/plans/{studio['id']}/edit"))
    assert 'value="Studio"' in form and 'value="5000"' in form
    edited = {**PLAN, "name": "Studio Plus", "monthly_credits": "0", "price": "0", "billing_cycle": "monthly"}
    edited.pop("is_active")
    assert ops.post(f"/operator/plans/{studio['id']}/edit", edited, token_from="/operator/plans").status_code == 302
    after = plans(app)
    assert "Studio" not in after
    assert after["Studio Plus"]["monthly_credits"] == 0 and after["Studio Plus"]["price"] == 0
    assert after["Studio Plus"]["billing_cycle"] == "monthly" and not after["Studio Plus"]["is_active"]
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("operator.plan_saved") == 2


def test_exactly_one_default_plan(app):
    ops = operator(app)
    assert plans(app)["Free"]["is_default"]
    ops.post("/operator/plans/new", {**PLAN, "is_default": "y"}, token_from="/operator/plans")
    now = plans(app)
    assert now["Studio"]["is_default"] and [n for n, p in now.items() if p["is_default"]] == ["Studio"]
    studio_id, free = now["Studio"]["id"], now["Free"]

    # The default plan can be neither switched off nor deactivated.
    response = ops.post(f"/operator/plans/{studio_id}/edit", PLAN, token_from="/operator/plans")
    assert response.status_code == 422 and "make another plan the default instead" in text(response)
    no_active = {k: v for k, v in PLAN.items() if k != "is_active"}
    response = ops.post(f"/operator/plans/{studio_id}/edit", {**no_active, "is_default": "y"},
                        token_from="/operator/plans")
    assert response.status_code == 422 and "The default plan must stay active" in text(response)
    assert plans(app)["Studio"]["is_default"] and plans(app)["Studio"]["is_active"]

    # Making Free the default again clears Studio's flag.
    free_form = {"name": "Free", "monthly_credits": str(free["monthly_credits"]), "price": "0",
                 "billing_cycle": "monthly", "support_level": free["support_level"], "features": free["features"],
                 "is_active": "y", "is_default": "y"}
    assert ops.post(f"/operator/plans/{free['id']}/edit", free_form, token_from="/operator/plans").status_code == 302
    assert [n for n, p in plans(app).items() if p["is_default"]] == ["Free"]
    # With Studio no longer the default it can be deactivated.
    assert ops.post(f"/operator/plans/{studio_id}/edit", no_active, token_from="/operator/plans").status_code == 302
    assert not plans(app)["Studio"]["is_active"]


@pytest.mark.parametrize("change, field_message", [
    ({"name": ""}, "Give the plan a name."),
    ({"name": "free"}, "A plan named &#39;free&#39; already exists."),
    ({"name": "x" * 81}, "Field cannot be longer than 80 characters."),
    ({"monthly_credits": "-1"}, "Enter 0 to 10,000,000 credits."),
    ({"monthly_credits": "10000001"}, "Enter 0 to 10,000,000 credits."),
    ({"monthly_credits": "lots"}, "Enter a whole number such as 2000."),
    ({"monthly_credits": "2.5"}, "Enter a whole number such as 2000."),
    ({"monthly_credits": ""}, "Enter a whole number such as 2000."),
    ({"price": "-1"}, "The price cannot be negative."),
    ({"price": "9.999"}, "Use at most 2 decimals for the price."),
    ({"price": "cheap"}, "Enter a price such as 49 or 49.90."),
    ({"price": "NaN"}, "Enter a price such as 49 or 49.90."),
    ({"price": "1e30"}, "The price can be at most 99,999,999.99."),
    ({"price": ""}, "Enter a price (0 for free)."),
    ({"billing_cycle": "weekly"}, "Not a valid choice."),
    ({"support_level": ""}, "Enter the support level"),
])
def test_bad_plan_input_is_422_with_field_messages(app, change, field_message):
    ops = operator(app)
    before = plans(app)
    response = ops.post("/operator/plans/new", {**PLAN, **change}, token_from="/operator/plans/new")
    assert response.status_code == 422
    assert field_message in text(response) and 'class="error"' in text(response)
    assert plans(app) == before


def test_operator_creates_and_edits_packages(app):
    ops = operator(app)
    data = {"name": "Mega pack", "credits": "100000", "price": "999.99", "is_active": "y"}
    assert ops.post("/operator/packages/new", data, token_from="/operator/packages/new").status_code == 302
    page = text(ops.get("/operator/packages"))
    assert "Package Mega pack saved." in page and "100,000" in page and "$999.99" in page
    mega = packages(app)["Mega pack"]
    assert mega["credits"] == 100000 and str(mega["price"]) == "999.99" and mega["is_active"]
    response = ops.post(f"/operator/packages/{mega['id']}/edit", {"name": "Mega pack", "credits": "1", "price": "0"},
                        token_from="/operator/packages")
    assert response.status_code == 302
    edited = packages(app)["Mega pack"]
    assert edited["credits"] == 1 and edited["price"] == 0 and not edited["is_active"]


@pytest.mark.parametrize("change, field_message", [
    ({"name": ""}, "Give the package a name."),
    ({"name": "STARTER PACK"}, "A package named &#39;STARTER PACK&#39; already exists."),
    ({"credits": "0"}, "Enter 1 to 10,000,000 credits."),
    ({"credits": "10000001"}, "Enter 1 to 10,000,000 credits."),
    ({"credits": "many"}, "Enter a whole number such as 2000."),
    ({"price": "-0.01"}, "The price cannot be negative."),
    ({"price": "1.001"}, "Use at most 2 decimals for the price."),
    ({"price": "abc"}, "Enter a price such as 49 or 49.90."),
])
def test_bad_package_input_is_422_with_field_messages(app, change, field_message):
    ops = operator(app)
    before = packages(app)
    data = {"name": "Mega pack", "credits": "1000", "price": "20", "is_active": "y", **change}
    response = ops.post("/operator/packages/new", data, token_from="/operator/packages/new")
    assert response.status_code == 422 and field_message in text(response)
    assert packages(app) == before


def credits_page(ops, account_id: int) -> tuple[str, str]:
    """The account's credits page and the one-time adjustment token it carries."""
    response = ops.get(f"/operator/accounts/{account_id}/credits")
    assert response.status_code == 200
    page = text(response)
    return page, adjust_token(page)


def adjust(ops, account_id: int, amount: str, reason: str, token: str | None = None, **kwargs):
    path = f"/operator/accounts/{account_id}/credits"
    token = token if token is not None else credits_page(ops, account_id)[1]
    return ops.post(path, {"amount": amount, "reason": reason, "token": token}, token_from=path, **kwargs)


def test_adjustments_show_in_the_customers_ledger_with_their_reason(app):
    world = two_accounts(app)
    acme, globex = world["a"]["account"], world["b"]["account"]
    ops = operator(app)
    response = adjust(ops, acme, "200", "Goodwill for the outage on 3 May", follow_redirects=True)
    assert "Adjusted by +200 credits. New balance: 300." in text(response)
    response = adjust(ops, acme, "-50", "Duplicate top-up reversed", follow_redirects=True)
    assert "Adjusted by -50 credits. New balance: 250." in text(response)
    assert ledger(app, acme)[1:] == [("adjustment", 200, "Goodwill for the outage on 3 May"),
                                     ("adjustment", -50, "Duplicate top-up reversed")]
    assert balance_and_sum(app, acme) == (250, 250)
    assert balance_and_sum(app, globex) == (100, 100)  # the other account is untouched
    with app.app_context(), tenancy.account_scope(acme):
        actors = {t.actor_user_id for t in db.session.scalars(
            select(CreditTransaction).where(CreditTransaction.type == "adjustment"))}
        events = [e.detail for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "operator.credit_adjustment").order_by(AuditEvent.id))]
    assert len(actors) == 1 and None not in actors
    assert [(e["amount"], e["reason"]) for e in events] == [(200, "Goodwill for the outage on 3 May"),
                                                             (-50, "Duplicate top-up reversed")]

    page, _ = credits_page(ops, acme)
    assert 'data-testid="balance">250<' in page and 'data-testid="ledger-sum">250<' in page
    assert "Matches the balance" in page
    assert 'id="credits-badge"' not in page and 'aria-label="Operator"' in page  # operator chrome, not the tenant's
    # Newest first, with who made the adjustment.
    assert page.index("Duplicate top-up reversed") < page.index("Goodwill for the outage") < page.index("Free plan")
    assert OPS_EMAIL in page


@pytest.mark.parametrize("amount, reason, message", [
    ("200", "", "Give a reason for the adjustment; the customer sees it."),
    ("200", "   ", "Give a reason for the adjustment; the customer sees it."),
    ("0", "nothing", "Enter a non-zero number of credits."),
    ("-0", "nothing", "Enter a non-zero number of credits."),
    ("", "nothing", "Enter a number of credits, such as 200 or -50."),
    ("10000001", "too much", "At most 10,000,000 credits can be added or removed at once."),
    ("-10000001", "too much", "At most 10,000,000 credits can be added or removed at once."),
    ("99999999999999999999", "too much", "At most 10,000,000 credits can be added or removed at once."),
    ("abc", "letters", "Enter a whole number of credits, such as 200 or -50."),
    ("1.5", "fraction", "Enter a whole number of credits, such as 200 or -50."),
    ("1e3", "exponent", "Enter a whole number of credits, such as 200 or -50."),
    ("-101", "more than they have", "has only 100 credits, so 101 cannot be taken away. Nothing was changed."),
])
def test_refused_adjustments_change_nothing(app, amount, reason, message):
    world = two_accounts(app)
    acme = world["a"]["account"]
    ops = operator(app)
    page, token = credits_page(ops, acme)
    response = adjust(ops, acme, amount, reason, token)
    assert response.status_code == 422
    body = text(response)
    assert message in body
    assert adjust_token(body) == token  # the form keeps its key for the corrected submit
    assert [row[:2] for row in ledger(app, acme)] == [("subscription", 100)]
    assert balance_and_sum(app, acme) == (100, 100)
    with app.app_context():
        assert db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "operator.credit_adjustment")).first() is None


def test_adjustment_to_exactly_zero_is_allowed(app):
    account = two_accounts(app)["a"]["account"]
    ops = operator(app)
    assert adjust(ops, account, "-100", "Closing balance").status_code == 302
    assert balance_and_sum(app, account) == (0, 0)


def test_an_adjustment_form_without_its_key_is_refused(app):
    account = two_accounts(app)["a"]["account"]
    ops = operator(app)
    response = adjust(ops, account, "10", "no key", token="")
    assert response.status_code == 422 and "This form has expired" in text(response)
    assert balance_and_sum(app, account) == (100, 100)


def test_the_same_adjustment_key_twice_adjusts_once(app):
    world = two_accounts(app)
    acme, globex = world["a"]["account"], world["b"]["account"]
    ops = operator(app)
    _, token = credits_page(ops, acme)
    assert adjust(ops, acme, "75", "Referral bonus", token).status_code == 302
    again = adjust(ops, acme, "75", "Referral bonus", token, follow_redirects=True)
    assert again.status_code == 200
    assert "This adjustment was already made; nothing more was changed." in text(again)
    assert [row for row in ledger(app, acme) if row[0] == "adjustment"] == [("adjustment", 75, "Referral bonus")]
    assert balance_and_sum(app, acme) == (175, 175)
    # The used key cannot be replayed for something else either.
    other = adjust(ops, globex, "75", "Referral bonus", token)
    assert other.status_code == 409 and "already used for another adjustment" in text(other)
    assert balance_and_sum(app, globex) == (100, 100)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "operator.credit_adjustment")).all()
    assert len(events) == 1


def test_a_double_submit_at_the_same_moment_adjusts_once(app):
    world = two_accounts(app)
    acme = world["a"]["account"]
    with app.app_context(), tenancy.all_accounts():
        ops_id = create_operator(email=OPS_EMAIL, password=OPS_PASSWORD).id
        db.session.remove()
    barrier, results = threading.Barrier(4), []

    def submit():
        with app.app_context():
            barrier.wait()
            results.append(billing_admin.adjust_account_credits(
                account_id=acme, amount=40, reason="Double click", token="same-form", actor_id=ops_id).created)
            db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False, False, False, True]
    assert balance_and_sum(app, acme) == (140, 140)
    with app.app_context():
        assert len(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "operator.credit_adjustment")).all()) == 1


def test_ledger_is_paginated_newest_first(app):
    account = two_accounts(app)["a"]["account"]
    with app.app_context(), tenancy.account_scope(account):
        for i in range(60):
            credits.grant(account_id=account, amount=1, key=f"bulk:{i}", description=f"Bulk grant {i:02d}",
                          commit=False)
        db.session.commit()
        db.session.remove()
    ops = operator(app)
    first = text(ops.get(f"/operator/accounts/{account}/credits"))
    assert first.count('id="transaction-') == 50
    assert first.index("Bulk grant 59") < first.index("Bulk grant 58") and "Bulk grant 09" not in first
    assert "Page 1 of 2 · 61 in all" in first and 'data-testid="balance">160<' in first
    second = text(ops.get(f"/operator/accounts/{account}/credits?page=2"))
    assert second.count('id="transaction-') == 11 and "Bulk grant 00" in second and "Free plan" in second
    assert "No more transactions" in text(ops.get(f"/operator/accounts/{account}/credits?page=9"))


def test_operator_account_page_links_to_credits(app):
    account = two_accounts(app)["a"]["account"]
    page = text(operator(app).get(f"/operator/accounts/{account}"))
    assert f'href="/operator/accounts/{account}/credits"' in page
    nav = text(operator_client_page(app))
    assert 'href="/operator/orders"' in nav and 'href="/operator/plans"' in nav and 'href="/operator/packages"' in nav


def operator_client_page(app):
    client = app.test_client()
    login(client, OPS_EMAIL, OPS_PASSWORD)
    return client.get("/operator/")


def test_pending_manual_order_is_marked_paid_once(app):
    world = two_accounts(app)
    acme = world["a"]["account"]
    order_id, order_credits = pending_order(app, acme, world["a"]["owner"])
    ops = operator(app)
    page = text(ops.get("/operator/orders"))
    row = page[page.index(f'id="order-{order_id}"'):]
    row = row[:row.index("</tr>")]
    for expected in ("Acme", "Starter pack: 500 credits", "500", "10.00 USD", "Invoice (bank transfer)",
                     f"INV-{order_id:06d}", "Mark paid", "Cancel"):
        assert expected in row, expected
    assert balance_and_sum(app, acme) == (100, 100)

    first = ops.post(f"/operator/orders/{order_id}/paid", {}, token_from="/operator/orders", follow_redirects=True)
    assert f"Order #{order_id} marked paid: 500 credits added to Acme." in text(first)
    second = ops.post(f"/operator/orders/{order_id}/paid", {}, token_from="/operator/orders", follow_redirects=True)
    assert f"Order #{order_id} is already paid; nothing was changed." in text(second)
    assert balance_and_sum(app, acme) == (100 + order_credits, 100 + order_credits)
    assert [r for r in ledger(app, acme) if r[0] == "topup"] == [("topup", 500, "Starter pack: 500 credits")]
    assert order_status(app, order_id) == "paid"
    # Paid orders leave the pending list and show under "all".
    assert f'id="order-{order_id}"' not in text(ops.get("/operator/orders"))
    everything = text(ops.get("/operator/orders?status=all"))
    assert f'id="order-{order_id}"' in everything and "Paid " in everything
    # A paid order cannot be cancelled afterwards.
    late = ops.post(f"/operator/orders/{order_id}/cancel", {"status": "all"}, token_from="/operator/orders")
    assert late.status_code == 302 and late.headers["Location"].endswith("/operator/orders?status=all")
    assert "already paid; nothing was changed" in text(ops.get("/operator/orders?status=all"))
    assert order_status(app, order_id) == "paid"
    assert balance_and_sum(app, acme) == (600, 600)


def test_two_operators_marking_paid_at_once_grant_once(app):
    world = two_accounts(app)
    acme = world["a"]["account"]
    order_id, _ = pending_order(app, acme, world["a"]["owner"], package="Growth pack")
    with app.app_context(), tenancy.all_accounts():
        ops_id = create_operator(email=OPS_EMAIL, password=OPS_PASSWORD).id
        db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def mark():
        with app.app_context():
            barrier.wait()
            try:
                billing_admin.mark_order_paid(order_id=order_id, actor_id=ops_id)
                outcomes.append("paid")
            except Conflict:
                outcomes.append("conflict")
            db.session.remove()

    threads = [threading.Thread(target=mark) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "paid"]
    assert balance_and_sum(app, acme) == (3100, 3100)


def test_cancelling_a_pending_order(app):
    world = two_accounts(app)
    acme = world["a"]["account"]
    order_id, _ = pending_order(app, acme, world["a"]["owner"])
    ops = operator(app)
    response = ops.post(f"/operator/orders/{order_id}/cancel", {}, token_from="/operator/orders",
                        follow_redirects=True)
    assert f"Order #{order_id} of Acme cancelled." in text(response)
    assert order_status(app, order_id) == "cancelled"
    assert "No pending orders" in text(ops.get("/operator/orders"))
    for action in ("cancel", "paid"):
        again = ops.post(f"/operator/orders/{order_id}/{action}", {}, token_from="/operator/orders",
                         follow_redirects=True)
        assert f"Order #{order_id} is already cancelled; nothing was changed." in text(again)
    assert order_status(app, order_id) == "cancelled"
    assert balance_and_sum(app, acme) == (100, 100)
    assert 'id="order-' in text(ops.get("/operator/orders?status=cancelled"))
