"""Customers are offered a Live model only when the platform can call it; operators are warned instead."""

from __future__ import annotations

import re

from app import tenancy
from app.extensions import db
from app.models import Cluster, Keyword
from app.services.operator import create_operator
from tests.conftest import Browserless, login
from tests.integration.ai_support import EMAIL, configure_openai, job_count, setup_account
from tests.integration.helpers import add_site, signed_in

LIVE_RADIO = re.compile(r'<input[^>]*type="radio"[^>]*value="live"|<input[^>]*value="live"[^>]*type="radio"')


def _world(app) -> dict:
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    with app.app_context(), tenancy.account_scope(values["account"]):
        cluster = Cluster(site_id=site, sector_id=sectors[0], name="Espresso")
        db.session.add(cluster)
        db.session.flush()
        db.session.add(Keyword(site_id=site, sector_id=sectors[0], keyword="espresso", normalized="espresso",
                               volume=100, cluster_id=cluster.id))
        db.session.add(Keyword(site_id=site, sector_id=sectors[0], keyword="latte", normalized="latte", volume=50))
        db.session.commit()
        values.update(cluster=cluster.id)
        db.session.remove()
    return values


def _operator(app) -> Browserless:
    with app.app_context(), tenancy.all_accounts():
        create_operator(email="ops@igny8.example.com", password="correct-horse-battery")
        db.session.remove()
    client = app.test_client()
    assert login(client, "ops@igny8.example.com").status_code == 302
    return Browserless(client)


def _customer_pages(web, world) -> dict[str, str]:
    return {
        "ideas": web.get(f"/planner/ideas/generate/estimate?cluster_ids={world['cluster']}").get_data(as_text=True),
        "clustering": web.get("/planner/keywords/cluster?scope=unclustered").get_data(as_text=True),
        "thinker": web.get("/thinker/try/cluster-naming").get_data(as_text=True),
    }


def test_live_without_a_provider_key_is_not_offered_and_operators_are_warned(app):
    world = _world(app)
    configure_openai(app, base_url=None, api_key=None)
    web = signed_in(app, EMAIL)
    for name, page in _customer_pages(web, world).items():
        assert not LIVE_RADIO.search(page) and 'value="testing"' in page, name
        assert "Operator" not in page.split("<main", 1)[1], name
    refused = web.post("/planner/ideas/generate", {"cluster_ids": [world["cluster"]], "per_cluster": "1",
                                                   "tier": "live"}, token_from="/planner/ideas")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Live model is not available" in text
    assert "Providers" not in text and job_count(app) == 0
    overview = _operator(app).get("/operator/").get_data(as_text=True)
    assert 'data-testid="live-model-warning"' in overview and "API key is missing" in overview


def test_live_is_offered_once_the_key_is_there(app):
    world = _world(app)
    configure_openai(app, base_url="http://127.0.0.1:9/v1")
    web = signed_in(app, EMAIL)
    for name, page in _customer_pages(web, world).items():
        assert LIVE_RADIO.search(page), name
    overview = _operator(app).get("/operator/").get_data(as_text=True)
    assert 'data-testid="live-model-warning"' not in overview
