"""Automation runs end to end with the offline demo provider: a real worker, real PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from app import tenancy
from app.extensions import db
from app.services.automation import runs as run_service
from app.services.automation import settings as settings_service
from app.services.publishing import settings as publish_settings
from app.services.writer import status as writer_status
from tests.integration.ai_support import ledger, run_worker, setup_account
from tests.integration.automation_support import add_keywords, counts, form, job_charges, run_row
from tests.integration.helpers import add_site


@pytest.fixture
def world(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def configure(app, world, *, auto_approve=True, auto_publish=True, **overrides) -> None:
    with app.app_context(), tenancy.account_scope(world["account"]):
        settings_service.save_settings(site_id=world["site"], form=form(**overrides))
        writer_status.save_settings(site_id=world["site"], auto_approve=auto_approve)
        publish_settings.save_settings(site_id=world["site"], days=["0", "1", "2", "3", "4", "5", "6"],
                                       slots="09:00, 15:00", auto_publish=auto_publish, category_source="cluster",
                                       default_category="", max_tags="5", fix_missed_schedule=True)
        db.session.remove()


def run_now(app, world) -> int:
    with app.app_context(), tenancy.account_scope(world["account"]):
        run = run_service.start_run(site_id=world["site"], user_id=world["user"])
        run_id = run.id
        db.session.remove()
    return run_id


def test_a_full_run_goes_from_keywords_to_scheduled_articles_and_the_credits_add_up(app, world):
    add_keywords(app, world["account"], world["site"], world["sector"], 200)
    configure(app, world, s2_limit=3, s4_limit=3)
    run_id = run_now(app, world)
    run_worker(app)
    run = run_row(app, world["account"], run_id)
    assert run["status"] == "completed", run
    made = counts(app, world["account"])
    assert made["clusters"] > 3 and made["ideas"] == 6 and made["tasks"] == 6
    assert made["articles"] == 3 and made["approved"] == 3 and made["publications"] == 3
    messages = [m for _, _, m, _, _ in run["log"]]
    assert any("Image prompts is not available yet" in m for m in messages)
    money = ledger(app, world["account"])
    assert run["credits_used"] == job_charges(app, world["account"]) > 0
    assert money["balance"] == world["start"] - run["credits_used"] == money["ledger"]
