"""Text is stored as text and escaped once, when a page shows it: no "&amp;" or "&gt;" on screen."""

from __future__ import annotations

from markupsafe import escape
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Cluster, Keyword
from tests.integration.ai_support import EMAIL, job_row, run_worker, setup_account
from tests.integration.helpers import add_site, signed_in

TYPED = 'espresso > drip\ntea & coffee\n"king" size bed\n"quoted phrase"\n'


def _world(app):
    values = setup_account(app)
    site, sectors = add_site(app, values["account"], "Brew Blog", ("Coffee",))
    values.update(site=site, sector=sectors[0])
    return values


def test_typed_keywords_keep_their_characters_and_are_escaped_once(app):
    ids = _world(app)
    web = signed_in(app, EMAIL)
    response = web.post("/planner/keywords/add", {"keywords": TYPED}, token_from="/planner/keywords/add")
    assert response.status_code == 302
    with app.app_context(), tenancy.account_scope(ids["account"]):
        stored = set(db.session.scalars(select(Keyword.keyword)))
        db.session.remove()
    assert stored == {"espresso > drip", "tea & coffee", '"king" size bed', "quoted phrase"}
    page = web.get("/planner/keywords").get_data(as_text=True)
    assert "espresso &gt; drip" in page and "tea &amp; coffee" in page
    assert "&#34;king&#34; size bed" in page
    assert "&amp;gt;" not in page and "&amp;amp;" not in page


def test_cluster_names_made_from_keywords_with_symbols_show_them_once(app):
    ids = _world(app)
    web = signed_in(app, EMAIL)
    web.post("/planner/keywords/add", {"keywords": "espresso > drip\nespresso > drip coffee\ntea & coffee\n"},
             token_from="/planner/keywords/add")
    data = {"scope": "unclustered", "mode": "semantic", "tightness": "50", "join_existing": "1", "tier": "testing"}
    response = web.post("/planner/keywords/cluster", data, token_from="/planner/keywords/cluster?scope=unclustered")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    with app.app_context(), tenancy.account_scope(ids["account"]):
        names = set(db.session.scalars(select(Cluster.name)))
        db.session.remove()
    # However the three keywords are grouped, each name is made from them and keeps its symbols as typed.
    assert names and all(">" in name or "&" in name for name in names), names
    assert not any("&gt;" in name or "&amp;" in name for name in names), names
    page = web.get("/planner/clusters").get_data(as_text=True)
    assert "&amp;gt;" not in page and "&amp;amp;" not in page
    assert all(str(escape(name)) in page for name in names), names
