"""The RQ dashboard: usable under its own Content-Security-Policy (and only it), a way back to the operator
area, and queue changes only by POST with the CSRF token."""

from __future__ import annotations

from app import tenancy
from app.extensions import db
from app.services.operator import create_operator
from tests.conftest import Browserless, csrf_token, login, make_account
from tests.integration.helpers import signed_in

OPS = "ops@igny8.example.com"


def _operator(app) -> Browserless:
    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPS, password="correct-horse-battery")
        db.session.remove()
    client = app.test_client()
    assert login(client, OPS).status_code == 302
    return Browserless(client)


def _fail_a_job(app) -> str:
    with app.app_context():
        queue = app.extensions["rq_queues"]["default"]
        job = queue.enqueue_call("workers.tasks.run_recurring", args=("reap-stale-jobs",))
        queue.failed_job_registry.add(job, ttl=600, exc_string="boom")
        queue.remove(job)
    return job.id


def _failed_count(app) -> int:
    with app.app_context():
        return app.extensions["rq_queues"]["default"].failed_job_registry.count


def test_only_the_dashboard_may_evaluate_scripts(app):
    ops = _operator(app)
    dashboard = ops.get("/operator/rq/0/view/jobs")
    assert dashboard.status_code == 200
    assert "'unsafe-eval'" in dashboard.headers["Content-Security-Policy"]
    for path in ("/operator/", "/operator/accounts", "/login"):
        policy = ops.get(path).headers["Content-Security-Policy"]
        assert "unsafe-eval" not in policy and "script-src 'self';" in policy, path
    make_account(app, email="olive@acme.example.com")
    tenant = signed_in(app, "olive@acme.example.com")
    assert "unsafe-eval" not in tenant.get("/").headers["Content-Security-Policy"]


def test_dashboard_links_back_to_the_operator_area(app):
    page = _operator(app).get("/operator/rq/").get_data(as_text=True)
    assert 'data-testid="back-to-operator"' in page and 'href="/operator/"' in page


def test_requeue_all_refuses_get_and_changes_nothing(app):
    ops = _operator(app)
    _fail_a_job(app)
    response = ops.get("/operator/rq/requeue/default")
    assert response.status_code == 405
    assert _failed_count(app) == 1


def test_queue_changes_need_the_csrf_token(app):
    ops = _operator(app)
    _fail_a_job(app)
    ops.get("/operator/rq/0/view/jobs")
    origin = {"Origin": "http://localhost"}
    refused = ops.client.post("/operator/rq/requeue/default", headers=origin)
    assert refused.status_code == 400 and _failed_count(app) == 1
    token = csrf_token(ops.client, "/operator/")
    done = ops.client.post("/operator/rq/requeue/default", headers={**origin, "X-CSRFToken": token})
    assert done.status_code == 200 and _failed_count(app) == 0


def test_dashboard_hands_its_scripts_the_csrf_token_in_its_cookie(app):
    ops = _operator(app)
    _fail_a_job(app)
    ops.get("/operator/rq/0/view/jobs")
    cookie = ops.client.get_cookie("_csrf_token", path="/operator/rq")
    assert cookie is not None and cookie.value
    done = ops.client.post("/operator/rq/requeue/default",
                           headers={"Origin": "http://localhost", "X-CSRFToken": cookie.value})
    assert done.status_code == 200 and _failed_count(app) == 0
