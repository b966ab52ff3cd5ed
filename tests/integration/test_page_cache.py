"""Stored page parts (app/page_cache.py): served again only while the account's data is unchanged, never
across accounts or roles, and never with another person's tokens."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import event

from app import page_cache, tenancy
from app.extensions import db
from app.models import Sector
from tests.integration.ai_support import run_worker
from tests.integration.helpers import add_member, signed_in, two_accounts
from tests.integration.test_planner_keywords import seed_keywords


@pytest.fixture
def acct(app):
    return two_accounts(app)


class StatementCount:
    """Statements sent to PostgreSQL while the block runs."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _count(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def keyword_total(page: str) -> str:
    return page.split('data-testid="keyword-total">', 1)[1].split("<", 1)[0]


def page_loads(app, web, url: str) -> tuple[str, int]:
    with StatementCount(app) as counted:
        response = web.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True), counted.count


def test_a_stored_page_is_served_until_a_form_changes_the_data(app, acct):
    a = acct["a"]
    seed_keywords(app, a["account"], a["sectors"][0], 3)
    web = signed_in(app, a["email"])
    first, first_statements = page_loads(app, web, "/planner/keywords?sort=volume&direction=desc")
    again, again_statements = page_loads(app, web, "/planner/keywords?sort=volume&direction=desc")
    assert keyword_total(first) == keyword_total(again) == "3"
    assert again_statements < first_statements - 4  # the table, counts and filters came from the store

    added = web.post("/planner/keywords/add", {"keywords": "moka pot\naeropress"}, token_from="/planner/keywords/add")
    assert added.status_code == 302
    after, _ = page_loads(app, web, "/planner/keywords?sort=volume&direction=desc")
    assert keyword_total(after) == "5" and "moka pot" in after


def test_writes_outside_the_pages_change_what_is_shown(app, acct):
    """Raw SQL from operator code and a COPY import each make the next load exact."""
    from app.services.planner import imports

    a = acct["a"]
    sector_id = a["sectors"][0]
    seed_keywords(app, a["account"], sector_id, 3)
    web = signed_in(app, a["email"])
    assert keyword_total(web.get("/planner/keywords").get_data(as_text=True)) == "3"

    with app.app_context(), tenancy.all_accounts():  # operator code, no account bound
        db.session.execute(db.text("UPDATE keywords SET volume = 987654 WHERE sector_id = :s"), {"s": sector_id})
        db.session.commit()
    assert "987,654" in web.get("/planner/keywords").get_data(as_text=True)

    with app.app_context(), tenancy.account_scope(a["account"]):  # COPY on the raw cursor
        imp = imports.create(sector_id=sector_id, data=b"Keyword,Volume\nfrench press,10\npour over,20\n",
                             filename="more.csv", user_id=a["owner"])
        imports.run(imp.id)
        db.session.commit()
        db.session.remove()
    assert keyword_total(web.get("/planner/keywords").get_data(as_text=True)) == "5"


def test_a_worker_job_changes_what_the_clusters_page_shows(app):
    """Clustering runs in a real RQ worker (its own session and commit); the stored page is not served after."""
    from tests.integration.ai_support import EMAIL, setup_account
    from tests.integration.helpers import add_site
    from tests.integration.test_planner_clustering import KEYWORDS, add_keywords, job_id_of, start

    ids = setup_account(app)
    ids["site"], sectors = add_site(app, ids["account"], "Brew Blog", ("Coffee",))
    ids["sector"] = sectors[0]
    add_keywords(app, ids, KEYWORDS)
    web = signed_in(app, EMAIL)
    before = web.get("/planner/clusters").get_data(as_text=True)
    assert "coffee grinder" not in before
    job_id_of(start(web))
    run_worker(app)
    after = web.get("/planner/clusters").get_data(as_text=True)
    assert "french press" in after and "coffee grinder" in after


def test_a_rolled_back_write_keeps_the_stored_page(app, acct):
    a = acct["a"]
    seed_keywords(app, a["account"], a["sectors"][0], 3)
    web = signed_in(app, a["email"])
    page_loads(app, web, "/planner/keywords")
    with app.app_context(), tenancy.account_scope(a["account"]):
        db.session.execute(db.text("DELETE FROM keywords"))
        db.session.rollback()
        db.session.remove()
    page, statements = page_loads(app, web, "/planner/keywords")
    assert keyword_total(page) == "3" and statements < 8


def test_accounts_roles_and_sessions_never_share_what_is_personal(app, acct):
    a, b = acct["a"], acct["b"]
    seed_keywords(app, a["account"], a["sectors"][0], 4)
    seed_keywords(app, b["account"], b["sectors"][0], 2)
    add_member(app, a["account"], email="vera@acme.example.com", role="viewer", site_ids=[a["site"]])
    add_member(app, a["account"], email="ed@acme.example.com", role="editor", site_ids=[a["site"]])

    owner = signed_in(app, a["email"])
    owner_page = owner.get("/planner/keywords").get_data(as_text=True)
    assert keyword_total(owner_page) == "4" and "Import keywords" in owner_page

    viewer_page = signed_in(app, "vera@acme.example.com").get("/planner/keywords").get_data(as_text=True)
    assert keyword_total(viewer_page) == "4"
    assert "Import keywords" not in viewer_page and "Apply to selected" not in viewer_page

    other = signed_in(app, b["email"]).get("/planner/keywords").get_data(as_text=True)
    assert keyword_total(other) == "2" and "keyword 00003" not in other

    # The editor is served the page the owner's load stored (same account, role differs: its own part),
    # then the editor's second load comes from the store: its form token is the editor's own.
    editor = signed_in(app, "ed@acme.example.com")
    editor.get("/planner/keywords")
    editor_page = editor.get("/planner/keywords").get_data(as_text=True)
    owner_token = re.search(r'name="csrf_token" value="([^"]+)"', owner_page).group(1)
    editor_token = re.search(r'name="csrf_token" value="([^"]+)"', editor_page).group(1)
    assert page_cache.CSRF_PLACEHOLDER not in editor_page and editor_token != owner_token
    with app.app_context(), tenancy.account_scope(a["account"]):
        ids = [str(i) for i in db.session.scalars(db.select(db.text("id")).select_from(db.text("keywords"))
                                                  .where(db.text("sector_id = :s")).params(s=a["sectors"][0]))]
    archived = editor.client.post("/planner/keywords/bulk", data={"csrf_token": editor_token, "action": "archive",
                                                                  "ids": ids[:1]})
    assert archived.status_code in (200, 302), archived.get_data(as_text=True)[:300]
    after = editor.get("/planner/keywords").get_data(as_text=True)
    assert after.split('<div class="muted">Archived</div><div class="stat">', 1)[1].split("<", 1)[0] == "1"


def test_a_part_that_reads_an_unwatched_table_is_refused(app, acct):
    a = acct["a"]
    with app.test_request_context("/planner/keywords"), tenancy.account_scope(a["account"]):
        g.role = "owner"
        with pytest.raises(page_cache.UnwatchedRead, match="credit"):
            page_cache.part("probe", lambda: str(db.session.execute(
                db.text("SELECT count(*) FROM credit_transactions")).scalar()))
        sector = db.session.get(Sector, a["sectors"][0])
        assert page_cache.part("probe-ok", lambda: sector.name) == "Espresso"


def test_pages_still_render_while_redis_is_unreachable(app, acct, monkeypatch, caplog):
    from redis import Redis

    a = acct["a"]
    seed_keywords(app, a["account"], a["sectors"][0], 3)
    web = signed_in(app, a["email"])
    monkeypatch.setitem(app.extensions, "redis", Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    page = web.get("/planner/keywords")
    assert page.status_code == 200 and keyword_total(page.get_data(as_text=True)) == "3"
    assert "Redis unreachable" in caplog.text


def test_cluster_choices_are_shared_by_every_view_and_follow_a_rename(app, acct):
    from app.models import Cluster

    a = acct["a"]
    sector_id = a["sectors"][0]
    seed_keywords(app, a["account"], sector_id, 3)
    with app.app_context(), tenancy.account_scope(a["account"]):
        sector = db.session.get(Sector, sector_id)
        cluster = Cluster(site_id=sector.site_id, sector_id=sector_id, name="Burr grinders", source="manual")
        db.session.add(cluster)
        db.session.commit()
        cluster_id = cluster.id
        db.session.remove()
    web = signed_in(app, a["email"])
    first = web.get("/planner/keywords").get_data(as_text=True)
    assert f'<option value="{cluster_id}">Burr grinders</option>' in first
    # Another view renders its own table and takes the stored cluster choices.
    other = web.get("/planner/keywords?sort=keyword&direction=asc").get_data(as_text=True)
    assert f'<option value="{cluster_id}">Burr grinders</option>' in other
    chosen = web.get(f"/planner/keywords?cluster={cluster_id}").get_data(as_text=True)
    assert f'<option value="{cluster_id}" selected>Burr grinders</option>' in chosen

    with app.app_context(), tenancy.account_scope(a["account"]):
        db.session.get(Cluster, cluster_id).name = "Hand grinders"
        db.session.commit()
        db.session.remove()
    for url in ("/planner/keywords", "/planner/keywords?sort=keyword&direction=asc", "/planner/ideas"):
        page = web.get(url).get_data(as_text=True)
        assert "Hand grinders" in page and "Burr grinders" not in page, url


def test_the_site_switcher_is_one_stored_copy_for_every_page_with_each_pages_own_address(app, acct):
    a = acct["a"]
    web = signed_in(app, a["email"])
    switcher = re.compile(r'<div class="switcher" id="switcher">.*?</div>', re.S)
    web.get("/planner/keywords")  # renders and stores the switcher
    calls = []

    def render_template(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    import app.web as web_module

    original = web_module.render_template
    web_module.render_template = render_template
    try:
        pages = {url: web.get(url).get_data(as_text=True)
                 for url in ("/planner/keywords?sort=keyword&direction=asc", "/planner/clusters?q=a%26b")}
    finally:
        web_module.render_template = original
    assert "shared/_switcher.html" not in calls  # served stored on both pages
    for url, page in pages.items():
        part = switcher.search(page).group(0)
        assert f'name="next" value="{url.replace("&", "&amp;")}"' in part
        assert page_cache.PATH_PLACEHOLDER not in page
        assert 'data-testid="site-switcher"' in part
