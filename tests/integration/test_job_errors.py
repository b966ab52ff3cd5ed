"""An unexpected error inside a job (a real database error, SQL text and all) reaches customers only as
a plain message with a reference; operators read the detail in their job log."""

from __future__ import annotations

import re

from rq import SimpleWorker
from sqlalchemy import select, text

from app import tenancy
from app.extensions import db
from app.models import Job
from app.services.billing import credits
from app.services.job_kinds import JobKind, register
from app.services.jobs import enqueue_job
from app.services.operator import create_operator
from tests.conftest import login, make_account
from tests.integration.helpers import add_site, signed_in

EMAIL = "olive@acme.example.com"
SECRET_PARAMETER = "tenant-secret-4711"
OPS_EMAIL = "ops@igny8.example.com"
OPS_PASSWORD = "operator-password-long-1"


@register
class DatabaseTroubleJob(JobKind):
    """Runs a real query that the database cancels: sqlalchemy raises OperationalError with the SQL."""

    name = "test.errors.database"
    title = "Database trouble test job"

    def run(self, job, progress):
        progress("SAVE", 60, "Saving…", force=True)
        db.session.execute(text("SET LOCAL statement_timeout = 1"))
        db.session.execute(text("SELECT pg_sleep(2), CAST(:marker AS text) AS marker FROM jobs"),
                           {"marker": SECRET_PARAMETER})
        return {"summary": "unreachable"}


def customer_pages(web, job_id: int) -> dict[str, str]:
    pages = {path: web.get(path).get_data(as_text=True) for path in (
        "/", f"/jobs/{job_id}", "/jobs/", "/notifications/", "/notifications/bell", "/billing/transactions",
        "/billing/")}
    pages["progress fragment"] = web.get(f"/jobs/{job_id}/progress", headers={"HX-Request": "true"}).get_data(
        as_text=True)
    return pages


def test_a_database_error_in_a_job_shows_customers_a_plain_message_with_a_reference(app):
    account_id, user_id = make_account(app, email=EMAIL, name="Olive Owner")
    add_site(app, account_id)
    with app.app_context(), tenancy.account_scope(account_id):
        credits.grant(account_id=account_id, amount=100, key="test-grant", description="Test credits")
        before = credits.balance(account_id)
        job_id = enqueue_job(kind=DatabaseTroubleJob.name, payload={}, created_by_id=user_id,
                             reserve_credits=7, operation="ideas").id
        db.session.remove()

    SimpleWorker([app.extensions["rq_queues"]["default"]], connection=app.extensions["redis"]).work(burst=True)

    with app.app_context(), tenancy.all_accounts():
        job = db.session.scalars(select(Job).where(Job.id == job_id)).one()
        status, error, detail = job.status, job.error, job.error_detail
        db.session.remove()
        assert credits.balance(account_id) == before  # the reservation came back
    assert status == "failed"
    reference = re.search(r"reference (E\d+-[0-9A-F]{6})", error).group(1)
    assert reference.startswith(f"E{job_id}-")
    assert "OperationalError" in detail and "pg_sleep" in detail and reference in detail

    web = signed_in(app, EMAIL)
    pages = customer_pages(web, job_id)
    for where, html in pages.items():
        for leak in ("OperationalError", "pg_sleep", "SELECT", SECRET_PARAMETER, "statement timeout",
                     "sqlalche.me", "Traceback", "psycopg"):
            assert leak not in html, f"{leak!r} shown on {where}"
    for where in ("/", f"/jobs/{job_id}", "progress fragment", "/notifications/", "/billing/transactions"):
        assert "Something went wrong on our side" in pages[where], where
        assert reference in pages[where], where
    assert "stopped at 60%" in pages[f"/jobs/{job_id}"]

    # Operators find the job by its reference and read what happened.
    with app.app_context(), tenancy.all_accounts():
        create_operator(email=OPS_EMAIL, password=OPS_PASSWORD)
        db.session.remove()
    ops = app.test_client()
    assert login(ops, OPS_EMAIL, OPS_PASSWORD).status_code == 302
    log = ops.get(f"/operator/jobs?q={reference}").get_data(as_text=True)
    assert f'id="op-job-{job_id}"' in log and "Acme Agency" in log
    assert ops.get("/operator/jobs?q=E999999-ABCDEF").get_data(as_text=True).count('id="op-job-') == 0
    page = ops.get(f"/operator/jobs/{job_id}").get_data(as_text=True)
    assert "OperationalError" in page and "pg_sleep" in page and SECRET_PARAMETER in page

    # The job log is for operators only.
    assert web.get("/operator/jobs").status_code == 404
    assert web.get(f"/operator/jobs/{job_id}").status_code == 404
