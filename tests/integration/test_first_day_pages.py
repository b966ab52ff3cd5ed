"""First-day page defects: the import page keeps the navigation when the import ends, a failed job's
card says where it really stopped, and the site has a favicon."""

from __future__ import annotations

import io
import re

from app import tenancy
from app.errors import DomainError
from app.extensions import db
from app.models import Job
from app.services import jobs as job_service
from app.services.job_kinds import JobKind, register
from tests.integration.ai_support import job_row, run_worker
from tests.integration.helpers import signed_in, two_accounts

FAILING_KIND = "test.fails-late"


@register
class FailsLate(JobKind):
    """Reports 30 % (written), then 78 % (inside the progress throttle), then fails."""

    name = FAILING_KIND
    title = "Late failure"

    def run(self, job: Job, progress) -> dict:
        progress("SAVE", 30, "Adding keywords…", force=True)
        progress("SAVE", 78, "Added 7,800 of 10,000…")
        raise DomainError("The import stopped at 78 % because the file ended early.")


def test_a_failed_job_card_shows_the_percent_it_reached(app):
    accounts = two_accounts(app)
    with app.app_context(), tenancy.account_scope(accounts["a"]["account"]):
        job_id = job_service.enqueue_job(kind=FAILING_KIND, payload={}, created_by_id=None).id
        db.session.remove()
    run_worker(app)
    assert job_row(app, job_id)["status"] == "failed"
    card = signed_in(app, accounts["a"]["email"]).get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "stopped at 78%" in card and "stopped at 30%" not in card


def test_finished_import_swaps_only_the_main_region(app, monkeypatch):
    from app.services.planner import imports

    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 10)
    accounts = two_accounts(app)
    web = signed_in(app, accounts["a"]["email"])
    response = web.post("/planner/keywords/import", {"file": (io.BytesIO(b"keyword\nespresso\nlatte\n"), "k.csv")},
                        token_from="/planner/keywords/import", content_type="multipart/form-data")
    imp = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    page = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    started = web.post(f"/planner/keywords/imports/{imp}/start", {"map_keyword": "0"},
                       token_from=f"/planner/keywords/imports/{imp}")
    assert started.status_code == 302
    running = web.get(f"/planner/keywords/imports/{imp}").get_data(as_text=True)
    refresher = re.search(r'<div data-testid="import-refresh"[^>]*>', running).group(0)
    assert 'hx-target="#main"' in refresher and 'hx-select="#main"' in refresher
    assert 'hx-swap="outerHTML"' in refresher
    assert 'hx-target="body"' not in page + running
    run_worker(app)
    # What htmx receives for the swap carries the element it selects, and the chrome stays on the page.
    done = web.get(f"/planner/keywords/imports/{imp}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<main id="main"' in done and "Import report" in done


def test_favicon_is_served_and_linked(app):
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00"
    assert client.get("/static/favicon.ico").status_code == 200
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)
