"""Module toggles, notifications and the operator area."""

from __future__ import annotations

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Account, AuditEvent
from app.services.notifications import notify
from app.services.operator import create_operator
from tests.conftest import login, make_account
from tests.integration.helpers import add_member, signed_in


def test_disabled_module_leaves_navigation_and_its_routes_refuse(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    owner = signed_in(app, "olive@acme.example.com")
    assert 'href="/planner/"' in owner.get("/").get_data(as_text=True)
    keep = ["writer", "thinker", "automation", "linker", "optimizer", "publisher"]
    assert owner.post("/settings/modules", {"modules": keep}, token_from="/settings/modules").status_code == 302
    page = owner.get("/").get_data(as_text=True)
    assert 'href="/planner/"' not in page and 'href="/writer/"' in page
    response = owner.get("/planner/")
    assert response.status_code == 403
    assert "Planner module is turned off" in response.get_data(as_text=True)
    owner.post("/settings/modules", {"modules": keep + ["planner"]}, token_from="/settings/modules")
    assert owner.get("/planner/", follow_redirects=True).status_code == 200


def test_only_owners_and_admins_change_modules(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    add_member(app, account, email="eve@acme.example.com", role="editor")
    editor = signed_in(app, "eve@acme.example.com")
    assert editor.get("/settings/modules").status_code == 403
    assert editor.post("/settings/modules", {"modules": []}, token_from="/").status_code == 403
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(Account)).one().module_enabled("planner")


def test_notification_bell_counts_and_mark_read(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    with app.app_context():
        notify(account_id=account, title="Clustering finished", link="/jobs/", level="success")
        notify(account_id=account, title="Low balance", level="warning", user_ids=[owner])
    web = signed_in(app, "olive@acme.example.com")
    assert 'data-testid="bell-count">2<' in web.get("/notifications/bell").get_data(as_text=True)
    page = web.get("/notifications/").get_data(as_text=True)
    assert "Clustering finished" in page and "Low balance" in page
    response = web.post("/notifications/read-all", {}, token_from="/notifications/", headers={"HX-Request": "true"})
    assert "notifications-changed" in response.headers["HX-Trigger"]
    assert "bell-count" not in web.get("/notifications/bell").get_data(as_text=True)


def test_notify_reaches_only_chosen_roles(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    add_member(app, account, email="eve@acme.example.com", role="editor")
    with app.app_context():
        notify(account_id=account, title="Billing matter", roles=("owner",))
    assert "bell-count" not in signed_in(app, "eve@acme.example.com").get("/notifications/bell").get_data(as_text=True)
    assert "bell-count" in signed_in(app, "olive@acme.example.com").get("/notifications/bell").get_data(as_text=True)


def _operator(app):
    with app.app_context():
        create_operator(email="ops@igny8.example.com", password="operate-carefully-1")
    client = app.test_client()
    assert login(client, "ops@igny8.example.com", "operate-carefully-1").status_code == 302
    from tests.conftest import Browserless

    return Browserless(client)


def test_operator_searches_suspends_and_reactivates_accounts(app):
    account, _ = make_account(app, email="olive@acme.example.com", account_name="Acme Agency")
    make_account(app, email="bob@globex.example.com", account_name="Globex")
    ops = _operator(app)
    page = ops.get("/operator/accounts?q=olive@acme").get_data(as_text=True)
    assert "Acme Agency" in page and "Globex" not in page
    member = app.test_client()
    login(member, "olive@acme.example.com")
    ops.post(f"/operator/accounts/{account}/suspend", {"reason": "unpaid"}, token_from="/operator/accounts")
    assert member.get("/sites/").status_code == 302
    response = login(app.test_client(), "olive@acme.example.com")
    assert response.status_code == 422 and "suspended" in response.get_data(as_text=True)
    ops.post(f"/operator/accounts/{account}/reactivate", {}, token_from="/operator/accounts")
    assert login(app.test_client(), "olive@acme.example.com").status_code == 302
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "operator.suspend" in actions and "operator.reactivate" in actions


def test_operator_act_as_is_visible_logged_and_can_be_left(app):
    account, _ = make_account(app, email="olive@acme.example.com", account_name="Acme Agency")
    ops = _operator(app)
    assert ops.get("/sites/").status_code == 302  # not acting: sent to the operator area
    ops.post(f"/operator/accounts/{account}/act-as", {}, token_from="/operator/accounts")
    for path in ("/", "/sites/", "/settings/users"):
        page = ops.get(path).get_data(as_text=True)
        assert 'id="act-as-banner"' in page and "Acme Agency" in page, path
    ops.post("/operator/act-as/leave", {}, token_from="/")
    assert 'id="act-as-banner"' not in ops.get("/operator/accounts").get_data(as_text=True)
    assert ops.get("/sites/").status_code == 302
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-2:] == ["operator.act_as_start", "operator.act_as_stop"]


def test_rq_dashboard_is_for_operators_only(app):
    make_account(app, email="olive@acme.example.com")
    tenant = signed_in(app, "olive@acme.example.com")
    assert tenant.get("/operator/rq/").status_code == 404
    assert app.test_client().get("/operator/rq/").status_code == 302
    ops = _operator(app)
    response = ops.get("/operator/rq/")
    assert response.status_code == 200
    with app.app_context():
        app.extensions["rq_queues"]["default"].enqueue_call("workers.tasks.run_recurring", args=("reap-stale-jobs",))
    assert '"name":"default"' in ops.get("/operator/rq/0/data/queues.json").get_data(as_text=True).replace(" ", "")
    refused = ops.client.post("/operator/rq/queue/default/queued/empty", headers={"Origin": "https://evil.example.com"})
    assert refused.status_code in (400, 403)


def test_operator_sees_outbox(app):
    make_account(app, email="olive@acme.example.com")
    from tests.conftest import Browserless

    Browserless(app.test_client()).post("/forgot", {"email": "olive@acme.example.com"}, token_from="/forgot")
    ops = _operator(app)
    page = ops.get("/operator/outbox").get_data(as_text=True)
    assert "Reset your IGNY8 password" in page and "/reset/" in page


def test_create_operator_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-operator", "--email", "root@igny8.example.com",
                                 "--password", "operate-carefully-1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["create-operator", "--email", "root@igny8.example.com",
                                 "--password", "operate-carefully-1"])
    assert result.exit_code != 0 and "already exists" in result.output
    assert login(app.test_client(), "root@igny8.example.com", "operate-carefully-1").status_code == 302
