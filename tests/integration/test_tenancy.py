"""Tenancy: one account never reads, changes or learns of another account's rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Cluster, Idea, Job, Notification, Sector, Site, Task, User
from app.models import AuthorProfile, ContentStrategy, Keyword, KeywordImport
from app.models import Content, ContentImage, ContentVersion
from app.services.images.storage import new_key, storage
from app.tenancy import CrossTenantWrite
from tests.integration.helpers import add_member, signed_in, two_accounts


def _foreign_ids(app, accounts):
    """Rows of account A that account B's people will ask for."""
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        job = Job(kind="site.check", title="A's job", payload={"site_id": a["site"]})
        note = Notification(user_id=a["owner"], title="A's news")
        cluster = Cluster(site_id=a["site"], sector_id=a["sectors"][0], name="Acme's cluster")
        db.session.add_all([job, note, cluster])
        db.session.flush()
        idea = Idea(site_id=a["site"], sector_id=a["sectors"][0], cluster_id=cluster.id, title="Acme's idea")
        db.session.add(idea)
        db.session.flush()
        task = Task(site_id=a["site"], sector_id=a["sectors"][0], idea_id=idea.id, title="Acme's task")
        db.session.add(task)
        keyword = Keyword(site_id=a["site"], sector_id=a["sectors"][0], keyword="acme beans",
                          normalized="acme beans", cluster_id=cluster.id)
        keyword_import = KeywordImport(site_id=a["site"], sector_id=a["sectors"][0], filename="acme.csv",
                                       data=b"keyword\nacme beans\n", status="preview",
                                       shape={"encoding": "utf-8", "delimiter": ",", "header_index": 0, "skip": 1,
                                              "columns": ["keyword"], "mapping": {"keyword": 0}},
                                       mapping={"keyword": 0})
        db.session.add_all([keyword, keyword_import])
        profile, strategy = AuthorProfile(name="Acme's voice"), ContentStrategy(name="Acme's plan")
        db.session.add_all([profile, strategy])
        db.session.flush()
        content = Content(site_id=a["site"], sector_id=a["sectors"][0], task_id=task.id, title="Acme's article",
                          body_html="<p>Acme</p>", slug="acme-article", status="review", version=1)
        db.session.add(content)
        db.session.flush()
        db.session.add(ContentVersion(site_id=a["site"], content_id=content.id, number=1, title=content.title,
                                      body_html=content.body_html, slug=content.slug, reason="generation"))
        image_key = new_key(account_id=a["account"], site_id=a["site"], mime="image/png")
        storage().put(image_key, b"\x89PNG\r\n\x1a\nAcme")
        image = ContentImage(site_id=a["site"], content_id=content.id, kind="featured", prompt="Acme's image",
                             alt="Acme", status="generated", file_key=image_key, mime="image/png")
        db.session.add(image)
        db.session.commit()
        ids = {"site": a["site"], "sector": a["sectors"][0], "job": job.id, "notification": note.id,
               "user": a["owner"], "cluster": cluster.id,
               "idea": idea.id, "task": task.id}
        ids.update(profile=profile.id, strategy=strategy.id)
        ids.update(keyword=keyword.id, keyword_import=keyword_import.id, content=content.id)
        ids.update(image=image.id, image_name=image_key.rsplit("/", 1)[-1])
        db.session.remove()
    return ids


# Every route that takes the id of a tenant-owned row. Later features add theirs here;
# test_every_id_route_is_covered fails when a new route is missing.
TENANT_ROUTES = [
    ("GET", "/sites/{site}"),
    ("GET", "/sites/{site}/edit"),
    ("POST", "/sites/{site}/edit"),
    ("POST", "/sites/{site}/status"),
    ("POST", "/sites/{site}/delete"),
    ("POST", "/sites/{site}/sectors"),
    ("POST", "/sites/{site}/sectors/{sector}/rename"),
    ("POST", "/sites/{site}/sectors/{sector}/delete"),
    ("POST", "/sites/{site}/check"),
    ("POST", "/sites/{site}/wordpress"),
    ("POST", "/sites/{site}/wordpress/test"),
    ("GET", "/sites/{site}/wordpress/checks"),
    ("POST", "/sites/{site}/wordpress/disconnect"),
    ("GET", "/jobs/{job}"),
    ("GET", "/jobs/{job}/progress"),
    ("POST", "/jobs/{job}/cancel"),
    ("GET", "/thinker/try/cluster-naming/{job}"),
    ("GET", "/thinker/try/cluster-naming/{job}/results"),
    ("POST", "/settings/users/{user}/role"),
    ("POST", "/settings/users/{user}/active"),
    ("POST", "/settings/users/{user}/sites"),
    ("POST", "/settings/invitations/{invitation}/revoke"),
    ("GET", "/planner/clusters/{cluster}"),
    ("POST", "/planner/clusters/{cluster}/rename"),
    ("POST", "/planner/clusters/{cluster}/intent"),
    ("POST", "/planner/clusters/{cluster}/keywords/move"),
    ("POST", "/planner/clusters/{cluster}/delete"),
    ("GET", "/planner/ideas/{idea}"),
    ("POST", "/planner/ideas/{idea}"),
    ("GET", "/planner/ideas/generate/{job}"),
    ("GET", "/planner/ideas/generate/{job}/results"),
    ("GET", "/planner/tasks/{task}"),
    ("GET", "/thinker/author-profiles/{profile}"),
    ("POST", "/thinker/author-profiles/{profile}"),
    ("POST", "/thinker/author-profiles/{profile}/delete"),
    ("GET", "/thinker/strategies/{strategy}"),
    ("POST", "/thinker/strategies/{strategy}"),
    ("POST", "/thinker/strategies/{strategy}/delete"),
    ("POST", "/sites/{site}/writing-defaults"),
    ("POST", "/sites/{site}/ai-settings"),
    ("GET", "/planner/keywords/{keyword}/edit"),
    ("POST", "/planner/keywords/{keyword}/edit"),
    ("GET", "/planner/keywords/{keyword}/row"),
    ("GET", "/planner/keywords/imports/{keyword_import}"),
    ("POST", "/planner/keywords/imports/{keyword_import}/preview"),
    ("POST", "/planner/keywords/imports/{keyword_import}/start"),
    ("GET", "/planner/keywords/imports/{keyword_import}/rejected.csv"),
    ("GET", "/planner/clustering/{job}"),
    ("POST", "/writer/tasks/{task}/retry"),
    ("GET", "/writer/runs/{job}"),
    ("GET", "/writer/runs/{job}/results"),
    ("GET", "/writer/content/{content}"),
    ("POST", "/writer/content/{content}"),
    ("POST", "/writer/content/{content}/status"),
    ("GET", "/writer/content/{content}/versions"),
    ("GET", "/writer/content/{content}/versions/1"),
    ("POST", "/writer/content/{content}/versions/1/restore"),
    ("POST", "/writer/review/{content}/approve"),
    ("POST", "/writer/review/{content}/changes"),
    ("GET", "/publisher/sites/{site}/schedule"),
    ("POST", "/publisher/sites/{site}/schedule"),
    ("POST", "/publisher/content/{content}/publish"),
    ("POST", "/publisher/content/{content}/schedule"),
    ("POST", "/publisher/content/{content}/unschedule"),
    ("POST", "/publisher/content/{content}/wordpress"),
    ("GET", "/publisher/content/{content}/move"),
    ("GET", "/publisher/content/{content}/panel"),
    ("GET", "/writer/images/{image}/file/{image_name}"),
    ("GET", "/writer/images/{image}"),
    ("POST", "/writer/images/{image}"),
    ("GET", "/writer/images/runs/{job}"),
]
# Form posts that carry a tenant id in a field rather than in the URL.
TENANT_FORM_FIELDS = [
    ("/context/site", "site_id", "site"),
    ("/context/sector", "sector_id", "sector"),
    ("/planner/clusters/delete", "cluster_ids", "cluster"),
    ("/planner/clusters/merge", "cluster_ids", "cluster"),
    ("/planner/ideas/generate/estimate", "cluster_ids", "cluster"),
    ("/planner/ideas/generate", "cluster_ids", "cluster"),
    ("/planner/ideas/delete", "idea_ids", "idea"),
    ("/planner/tasks/create", "idea_ids", "idea"),
    ("/planner/tasks/delete", "task_ids", "task"),
    ("/planner/keywords/bulk", "ids", "keyword"),
    ("/writer/tasks/estimate", "task_ids", "task"),
    ("/writer/tasks/generate", "task_ids", "task"),
    ("/writer/content/bulk", "content_ids", "content"),
    ("/writer/images/estimate", "content_ids", "content"),
    ("/writer/images/start", "content_ids", "content"),
]
# Id routes that are not tenant-owned: operator pages (404 for tenants, covered below), rq dashboard,
# and the checkout page of a plan (plans are the platform's catalogue, the same for every account).
NOT_TENANT_ROUTES = {"/notifications/<int:notification_id>/read", "/billing/plan/<int:plan_id>"}


@pytest.mark.parametrize("method,template", TENANT_ROUTES)
def test_foreign_ids_in_urls_answer_404_and_change_nothing(app, method, template):
    accounts = two_accounts(app)
    ids = _foreign_ids(app, accounts)
    ids["invitation"] = _invitation_of_a(app, accounts)
    web = signed_in(app, accounts["b"]["email"])
    path = template.format(**ids)
    if method == "GET":
        response = web.get(path)
    else:
        response = web.post(path, {"name": "Hijacked", "role": "viewer", "active": "0",
                                   "confirm_name": "Acme Coffee", "url": "https://evil.example.com",
                                   "timezone": "UTC"}, token_from="/sites/")
    assert response.status_code == 404, (path, response.status_code)
    assert "Acme" not in response.get_data(as_text=True)
    _assert_a_untouched(app, accounts)


@pytest.mark.parametrize("path,field,key", TENANT_FORM_FIELDS)
def test_foreign_ids_in_form_fields_answer_404(app, path, field, key):
    accounts = two_accounts(app)
    ids = _foreign_ids(app, accounts)
    web = signed_in(app, accounts["b"]["email"])
    response = web.post(path, {field: ids[key]}, token_from="/sites/")
    assert response.status_code == 404
    page = web.get("/").get_data(as_text=True)
    assert "Acme Coffee" not in page and "Globex Garden" in page


def test_calendar_of_another_accounts_site_answers_404(app):
    accounts = two_accounts(app)
    ids = _foreign_ids(app, accounts)
    web = signed_in(app, accounts["b"]["email"])
    response = web.get(f"/publisher/calendar?site={ids['site']}")
    assert response.status_code == 404 and "Acme" not in response.get_data(as_text=True)
    assert web.get(f"/publisher/calendar?view=list&site={accounts['b']['site']}").status_code == 200


def test_notification_of_another_account_cannot_be_marked_read(app):
    accounts = two_accounts(app)
    ids = _foreign_ids(app, accounts)
    web = signed_in(app, accounts["b"]["email"])
    web.post(f"/notifications/{ids['notification']}/read", {}, token_from="/notifications/")
    with app.app_context(), tenancy.all_accounts():
        assert db.session.get(Notification, ids["notification"]).read_at is None


def test_every_id_route_is_covered(app):
    covered = {t.replace("{site}", "<int:site_id>").replace("{sector}", "<int:sector_id>")
               .replace("{job}", "<int:job_id>").replace("{user}", "<int:user_id>")
               .replace("{invitation}", "<int:invitation_id>").replace("{cluster}", "<int:cluster_id>")
               .replace("{idea}", "<int:idea_id>").replace("{task}", "<int:task_id>")
               .replace("{profile}", "<int:profile_id>").replace("{keyword}", "<int:keyword_id>")
               .replace("{keyword_import}", "<int:import_id>").replace("{strategy}", "<int:strategy_id>")
               .replace("{content}", "<int:content_id>").replace("{image}", "<int:image_id>")
               .replace("{image_name}", "<name>").replace("/versions/1", "/versions/<int:number>")
               for _m, t in TENANT_ROUTES}
    missing = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule or rule.rule.startswith("/operator/"):
            continue
        if rule.rule not in covered and rule.rule not in NOT_TENANT_ROUTES:
            missing.append(rule.rule)
    assert not missing, f"add these routes to TENANT_ROUTES: {missing}"


def test_operator_pages_answer_404_to_tenants(app):
    accounts = two_accounts(app)
    web = signed_in(app, accounts["b"]["email"])
    for path in ("/operator/", "/operator/accounts", f"/operator/accounts/{accounts['a']['account']}",
                 "/operator/outbox", "/operator/rq/"):
        assert web.get(path).status_code == 404, path
    response = web.post(f"/operator/accounts/{accounts['a']['account']}/act-as", {}, token_from="/sites/")
    assert response.status_code == 404
    assert "Acme Coffee" not in web.get("/sites/").get_data(as_text=True)


def test_lists_show_only_own_rows(app):
    accounts = two_accounts(app)
    _foreign_ids(app, accounts)
    web = signed_in(app, accounts["b"]["email"])
    for path in ("/sites/", "/jobs/", "/notifications/", "/settings/users", "/"):
        page = web.get(path).get_data(as_text=True)
        assert "Acme" not in page and "alice@" not in page, path


def test_editor_sees_only_granted_sites(app):
    accounts = two_accounts(app)
    a = accounts["a"]
    from tests.integration.helpers import add_site

    other_site, _ = add_site(app, a["account"], "Acme Tea")
    add_member(app, a["account"], email="eddie@acme.example.com", role="editor", site_ids=[a["site"]])
    web = signed_in(app, "eddie@acme.example.com")
    assert "Acme Coffee" in web.get("/sites/").get_data(as_text=True)
    assert "Acme Tea" not in web.get("/sites/").get_data(as_text=True)
    assert web.get(f"/sites/{other_site}").status_code == 404
    assert web.post("/context/site", {"site_id": other_site}, token_from="/sites/").status_code == 404


def test_queries_without_a_bound_account_see_no_tenant_rows(app):
    two_accounts(app)
    with app.app_context():
        tenancy.unbind()
        assert db.session.scalars(select(Site)).all() == []
        assert db.session.scalars(select(Sector)).all() == []
        assert db.session.scalars(select(User)).all() == []
        with tenancy.all_accounts():
            assert len(db.session.scalars(select(Site)).all()) == 2


def test_writes_across_accounts_are_refused(app):
    accounts = two_accounts(app)
    with app.app_context():
        with tenancy.all_accounts():
            foreign = db.session.get(Site, accounts["a"]["site"])
        with tenancy.account_scope(accounts["b"]["account"]):
            foreign.name = "Stolen"
            with pytest.raises(CrossTenantWrite):
                db.session.flush()
            db.session.rollback()
            db.session.add(Sector(site_id=accounts["a"]["site"], name="Sneaky", account_id=accounts["a"]["account"]))
            with pytest.raises(CrossTenantWrite):
                db.session.flush()
            db.session.rollback()
        tenancy.unbind()
        db.session.add(Site(name="Orphan", url="https://o.example.com"))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()
    _assert_a_untouched(app, accounts)


def _invitation_of_a(app, accounts) -> int:
    from app.services.accounts.team import invite

    with app.app_context(), tenancy.account_scope(accounts["a"]["account"]):
        owner = db.session.get(User, accounts["a"]["owner"])
        invitation, _link = invite(email="new@acme.example.com", role="admin", site_ids=[], actor=owner,
                                   actor_role="owner")
        invitation_id = invitation.id
        db.session.remove()
    return invitation_id


def _assert_a_untouched(app, accounts):
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        site = db.session.get(Site, a["site"])
        assert site is not None and site.name == "Acme Coffee" and site.status == "active"
        assert site.url == "https://acme-coffee.example.com"
        assert sorted(s.name for s in site.sectors) == ["Brewing", "Espresso"]
        owner = db.session.get(User, a["owner"])
        assert owner.role == "owner" and owner.active
        for article in db.session.scalars(select(Content)):
            assert (article.status, article.version, article.title) == ("review", 1, "Acme's article")
        db.session.remove()
