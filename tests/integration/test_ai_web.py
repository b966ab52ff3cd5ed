"""The Thinker "try it" page, the operator AI pages, the catalogue's database rules and encrypted keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AIModel, AIProvider
from app.services.operator import create_operator
from tests.conftest import Browserless, login
from tests.integration.ai_support import EMAIL, configure_openai, job_row, ledger, run_worker, setup_account
from tests.integration.helpers import signed_in

GROUPS_TEXT = "espresso machine, best espresso machine\nhow to descale, descaling guide"


@pytest.fixture
def ids(app):
    return setup_account(app)


def operator_client(app) -> Browserless:
    with app.app_context():
        create_operator(email="ops@igny8.example.com", password="operate-carefully-1")
    client = app.test_client()
    assert login(client, "ops@igny8.example.com", "operate-carefully-1").status_code == 302
    return Browserless(client)


def test_try_page_shows_the_estimate_runs_and_shows_labelled_results(app, ids):
    web = signed_in(app, EMAIL)
    page = "/thinker/try/cluster-naming"
    assert web.get(page).status_code == 200
    chosen = web.post(f"{page}/estimate", {"groups": GROUPS_TEXT, "tier": "testing"}, token_from=page)
    # Redirect-after-POST: the estimate is a GET page, so Back and reload re-send nothing.
    assert chosen.status_code == 303 and chosen.headers["Location"].startswith(f"{page}?draft=")
    estimate = web.get(chosen.headers["Location"])
    html = estimate.get_data(as_text=True)
    assert estimate.status_code == 200 and 'data-testid="estimate"' in html
    assert web.get(chosen.headers["Location"]).status_code == 200  # a reload
    assert "about <strong>1 credits</strong>" in html and "offline demo, not AI" in html
    assert ledger(app, ids["account"])["balance"] == ids["start"]  # estimating spends nothing

    started = web.post(f"{page}/run", {"groups": GROUPS_TEXT, "tier": "testing"}, token_from=page)
    assert started.status_code == 302
    run_url = started.headers["Location"]
    job_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
    assert 'id="job-%d"' % job_id in web.get(run_url).get_data(as_text=True)
    run_worker(app)

    assert job_row(app, job_id)["status"] == "succeeded"
    results = web.get(f"{run_url}/results").get_data(as_text=True)
    assert "Demo text — not written by AI" in results and "Demo: Espresso Machine" in results
    assert "Transactional" in results or "Commercial" in results
    assert ledger(app, ids["account"])["balance"] == ids["start"] - 1


def test_try_page_explains_a_missing_key_and_starts_nothing(app, ids):
    configure_openai(app, base_url="http://127.0.0.1:9/v1", api_key=None)
    web = signed_in(app, EMAIL)
    page = "/thinker/try/cluster-naming"
    response = web.post(f"{page}/run", {"groups": GROUPS_TEXT, "tier": "live"}, token_from=page)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    # Customers are not sent to operator pages: Live is simply not available (operators are warned instead).
    assert "Live model is not available" in html and "Operator → AI → Providers" not in html
    assert ledger(app, ids["account"])["reservations"] == []


def test_try_page_refuses_empty_input(app, ids):
    web = signed_in(app, EMAIL)
    page = "/thinker/try/cluster-naming"
    response = web.post(f"{page}/estimate", {"groups": " , ,\n", "tier": "testing"}, token_from=page)
    assert response.status_code == 422
    assert "at least one group" in response.get_data(as_text=True)


def test_database_allows_one_active_testing_and_one_default_live_model_per_type(app, ids):
    with app.app_context():
        demo = db.session.scalars(select(AIProvider).where(AIProvider.slug == "demo")).one()
        db.session.add(AIModel(provider_id=demo.id, model_id="demo-2", name="Second demo", model_type="text",
                               tier="testing"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.add(AIModel(provider_id=demo.id, model_id="demo-3", name="Second live default",
                               model_type="text", tier="live", is_default=True))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # Inactive, or not the default, is allowed.
        db.session.add(AIModel(provider_id=demo.id, model_id="demo-4", name="Spare", model_type="text",
                               tier="testing", is_active=False))
        db.session.commit()
        db.session.remove()


def test_provider_keys_are_stored_encrypted_and_shown_masked(app, ids):
    configure_openai(app, base_url="http://127.0.0.1:9/v1", api_key="sk-live-secret-abcd9876")
    with app.app_context():
        raw = db.session.execute(sa.text("SELECT api_key FROM ai_providers WHERE slug = 'openai'")).scalar_one()
        db.session.remove()
    assert "sk-live-secret" not in raw
    ops = operator_client(app)
    html = ops.get("/operator/ai/providers").get_data(as_text=True)
    assert "9876" in html and "sk-live-secret" not in html


def test_operator_edits_a_provider_key_and_tests_the_connection(app, ids, httpserver):
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "x"}]})
    ops = operator_client(app)
    with app.app_context():
        openai_pk = db.session.scalars(select(AIProvider.id).where(AIProvider.slug == "openai")).one()
        db.session.remove()
    edit = f"/operator/ai/providers/{openai_pk}"
    saved = ops.post(edit, {"base_url": httpserver.url_for("/v1"), "api_key": "sk-new-key-5555",
                            "timeout_seconds": "5", "max_retries": "1", "is_enabled": "y"}, token_from=edit)
    assert saved.status_code == 302
    tested = ops.post(f"{edit}/test", {}, token_from="/operator/ai/providers", follow_redirects=True)
    html = tested.get_data(as_text=True)
    assert "1 models available" in html
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer sk-new-key-5555"
    # A blank key field keeps the stored key.
    ops.post(edit, {"base_url": httpserver.url_for("/v1"), "api_key": "", "timeout_seconds": "5",
                    "max_retries": "1", "is_enabled": "y"}, token_from=edit)
    assert "5555" in ops.get("/operator/ai/providers").get_data(as_text=True)


def test_operator_cannot_make_a_second_testing_model_active(app, ids):
    ops = operator_client(app)
    with app.app_context():
        spare_provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == "openai")).one()
        spare = AIModel(provider_id=spare_provider.id, model_id="gpt-nano", name="Nano", model_type="text",
                        tier="testing", is_active=False)
        db.session.add(spare)
        db.session.commit()
        spare_pk = spare.id
        db.session.remove()
    assert "Nano" in ops.get("/operator/ai/models").get_data(as_text=True)
    edit = f"/operator/ai/models/{spare_pk}"
    response = ops.post(edit, {"name": "Nano", "model_id": "gpt-nano", "tier": "testing", "is_active": "y",
                               "cost_per_1k_input": "0", "cost_per_1k_output": "0", "cost_per_image": "0",
                               "tokens_per_credit": "1000", "credits_per_image": "1", "min_credits": "1",
                               "max_input_tokens": "1000", "max_output_tokens": "500"}, token_from=edit)
    assert response.status_code == 422
    assert "Only one active Testing model" in response.get_data(as_text=True)


def test_operator_ai_pages_are_hidden_from_customers(app, ids):
    web = signed_in(app, EMAIL)
    assert web.get("/operator/ai/models").status_code == 404
    assert web.get("/operator/ai/providers").status_code == 404
