"""Automation pages: the settings form (422 with messages on the fields), Run now, live progress with
pause/resume/cancel, the run log and history, the overview; roles and the module switch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import tenancy
from app.errors import DomainError
from app.extensions import db
from app.models import Account, AutomationRun, AutomationSettings
from app.services.automation import runs as run_service
from tests.integration.ai_support import EMAIL, run_worker, setup_account
from tests.integration.automation_support import add_keywords, form
from tests.integration.helpers import add_member, add_site, signed_in


@pytest.fixture
def world(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def saved(app, account_id: int) -> int:
    with app.app_context(), tenancy.account_scope(account_id):
        count = db.session.scalar(select(func.count()).select_from(AutomationSettings))
        db.session.remove()
    return count


def run_ids(app, account_id: int) -> list[int]:
    with app.app_context(), tenancy.account_scope(account_id):
        ids = list(db.session.scalars(select(AutomationRun.id).order_by(AutomationRun.id)))
        db.session.remove()
    return ids


def test_bad_settings_come_back_422_with_messages_on_the_fields_and_nothing_saved(app, world):
    web = signed_in(app, EMAIL)
    url = f"/automation/sites/{world['site']}"
    response = web.post(url, form(run_time="24:30", s1_budget="60", s2_budget="50", s4_batch="0"), token_from=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-run_time"' in page and "HH:MM" in page
    assert "add up to 110 %" in page and 'data-testid="error-s4_batch"' in page
    assert 'value="24:30"' in page  # what was typed is kept
    assert saved(app, world["account"]) == 0
    good = web.post(url, form(enabled="on", run_time="06:15", frequency="weekly", weekday="3"), token_from=url)
    assert good.status_code == 302 and saved(app, world["account"]) == 1
    page = web.get(url).get_data(as_text=True)
    assert 'value="06:15"' in page and "Articles → image prompts" in page and "not available yet" not in page


def test_run_now_shows_live_progress_then_the_log_and_history(app, world):
    add_keywords(app, world["account"], world["site"], world["sector"], 40)
    web = signed_in(app, EMAIL)
    url = f"/automation/sites/{world['site']}"
    web.post(url, form(s2_limit="1", s4_limit="1"), token_from=url)
    response = web.post(f"{url}/run", {}, token_from=url)
    assert response.status_code == 302
    run_id = int(re.search(r"/automation/runs/(\d+)", response.headers["Location"]).group(1))
    again = web.post(f"{url}/run", {}, token_from=url)  # pressed twice
    assert "already going on this site" in web.get(again.headers["Location"]).get_data(as_text=True)
    assert run_ids(app, world["account"]) == [run_id]
    fragment = web.get(f"/automation/runs/{run_id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="load delay:2s"' in fragment and "Queued" in fragment and "Pause" in fragment
    run_worker(app)
    page = web.get(f"/automation/runs/{run_id}").get_data(as_text=True)
    assert 'data-testid="run-status">Completed' in page
    assert "/writer/content/" in page and "/writer/images/" in page  # links to the articles and images made
    fragment = web.get(f"/automation/runs/{run_id}/progress").get_data(as_text=True)
    assert "hx-get" not in fragment  # polling stops when the run is over
    history = web.get(url).get_data(as_text=True)
    assert f"#{run_id}</a> (manual)" in history and "completed" in history
    # Start times read as a person writes them, not as a raw timestamp with seconds and offset.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", history) and not re.search(r":\d\d\.\d{3,}", history)
    assert re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d UTC", page)
    overview = web.get("/automation/overview").get_data(as_text=True)
    assert "Brew Blog" in overview and f"#{run_id}</a> completed" in overview
    bell = web.get("/notifications/").get_data(as_text=True)
    assert f"Automation run #{run_id} finished" in bell


def test_pause_resume_and_cancel_buttons_post_with_csrf(app, world):
    web = signed_in(app, EMAIL)
    url = f"/automation/sites/{world['site']}"
    web.post(url, form(), token_from=url)
    run_id = int(re.search(r"/automation/runs/(\d+)", web.post(f"{url}/run", {}, token_from=url)
                           .headers["Location"]).group(1))
    run_url = f"/automation/runs/{run_id}"
    paused = web.post(f"{run_url}/pause", {}, token_from=run_url, headers={"HX-Request": "true"})
    assert paused.status_code == 200 and "Resume" in paused.get_data(as_text=True)
    assert web.post(f"{run_url}/pause", {}, token_from=run_url, headers={"HX-Request": "true"}).status_code == 409
    assert "Pause" in web.post(f"{run_url}/resume", {}, token_from=run_url,
                               headers={"HX-Request": "true"}).get_data(as_text=True)
    assert web.post(f"{run_url}/cancel", {}, token_from=run_url).status_code == 302
    run_worker(app)
    assert 'data-testid="run-status">Cancelled' in web.get(run_url).get_data(as_text=True)
    refused = web.post(f"{run_url}/resume", {}, token_from=run_url, headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "Only a paused or interrupted run can be resumed" in refused.get_data(as_text=True)
    assert web.client.post(f"{run_url}/pause", data={}).status_code == 400  # no CSRF token


def test_viewers_read_but_cannot_configure_or_run(app, world):
    add_member(app, world["account"], email="vera@acme.example.com", role="viewer", site_ids=[world["site"]])
    viewer = signed_in(app, "vera@acme.example.com")
    url = f"/automation/sites/{world['site']}"
    page = viewer.get(url)
    assert page.status_code == 200 and 'data-testid="run-now"' not in page.get_data(as_text=True)
    assert viewer.post(url, form(enabled="on"), token_from=url).status_code == 403
    assert viewer.post(f"{url}/run", {}, token_from=url).status_code == 403
    assert saved(app, world["account"]) == 0 and run_ids(app, world["account"]) == []
    add_member(app, world["account"], email="ed@acme.example.com", role="editor", site_ids=[world["site"]])
    editor = signed_in(app, "ed@acme.example.com")
    assert editor.post(f"{url}/run", {}, token_from=url).status_code == 302


def test_module_off_refuses_pages_runs_and_steps(app, world):
    web = signed_in(app, EMAIL)
    with app.app_context(), tenancy.account_scope(world["account"]):
        run = run_service.start_run(site_id=world["site"], user_id=world["user"])
        run_id = run.id
        account = db.session.scalars(select(Account)).one()
        account.modules = {**(account.modules or {}), "automation": False}
        db.session.commit()
        with pytest.raises(DomainError, match="Automation module is turned off"):
            run_service.start_run(site_id=world["site"], user_id=world["user"])
        db.session.remove()
    assert web.get(f"/automation/sites/{world['site']}").status_code == 403
    assert web.post(f"/automation/sites/{world['site']}/run", {}, token_from="/").status_code == 403
    run_worker(app)  # the queued step refuses too
    with app.app_context(), tenancy.account_scope(world["account"]):
        run = db.session.get(AutomationRun, run_id)
        assert run.status == "stopped" and "module was turned off" in run.reason
        db.session.remove()
