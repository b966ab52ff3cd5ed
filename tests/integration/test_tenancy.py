"""Tenancy: one account never reads, changes or learns of another account's rows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Cluster, Idea, Job, Notification, Sector, Site, Task, User
from app.models import AuthorProfile, ContentStrategy, Keyword, KeywordImport
from app.models import AutomationItem, AutomationRun, AutomationSettings, Content, ContentVersion
from app.models import Publication, PublicationStep, PublishSettings, WriterSettings
from app.models import ContentImage
from app.services.images.storage import new_key, storage
from app.tenancy import CrossTenantWrite
from tests.integration.helpers import add_member, signed_in, two_accounts


def _foreign_ids(app, accounts):
    """Rows of account A that account B's people will ask for."""
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        job = Job(kind="site.check", title="A's job", payload={"site_id": a["site"]}, site_id=a["site"])
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
        run = AutomationRun(site_id=a["site"], status="running", config={"stages": {}}, progress={})
        db.session.add(run)
        image_key = new_key(account_id=a["account"], site_id=a["site"], mime="image/png")
        storage().put(image_key, b"\x89PNG\r\n\x1a\nAcme")
        image = ContentImage(site_id=a["site"], content_id=content.id, kind="featured", prompt="Acme's image",
                             alt="Acme", status="generated", file_key=image_key, mime="image/png")
        db.session.add(image)
        db.session.commit()
        ids = {"site": a["site"], "sector": a["sectors"][0], "job": job.id, "run": run.id, "notification": note.id,
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
    ("GET", "/automation/sites/{site}"),
    ("POST", "/automation/sites/{site}"),
    ("POST", "/automation/sites/{site}/run"),
    ("GET", "/automation/runs/{run}"),
    ("GET", "/automation/runs/{run}/progress"),
    ("POST", "/automation/runs/{run}/pause"),
    ("POST", "/automation/runs/{run}/resume"),
    ("POST", "/automation/runs/{run}/cancel"),
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
               .replace("{content}", "<int:content_id>").replace("{run}", "<int:run_id>")
               .replace("{image}", "<int:image_id>").replace("{image_name}", "<name>")
               .replace("/versions/1", "/versions/<int:number>")
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


# --- Site grants inside an account: the role matrix --------------------------------------------------------

# The kinds of id the routes above take: rows of one site (editors and viewers reach only their granted
# sites' rows) and rows of the whole account. A new kind of id must be sorted into one of them.
SITE_LEVEL_KEYS = {"site", "sector", "job", "cluster", "idea", "task", "keyword", "keyword_import", "content", "run",
                   "image", "image_name"}
ACCOUNT_LEVEL_KEYS = {"user", "invitation", "profile", "strategy"}
SITE_ROUTES = [(m, t) for m, t in TENANT_ROUTES
               if set(re.findall(r"{(\w+)}", t)) <= SITE_LEVEL_KEYS]


def test_every_route_id_is_sorted_into_site_or_account_rows():
    keys = {k for _m, t in TENANT_ROUTES for k in re.findall(r"{(\w+)}", t)} | {k for *_x, k in TENANT_FORM_FIELDS}
    assert keys <= SITE_LEVEL_KEYS | ACCOUNT_LEVEL_KEYS, keys - SITE_LEVEL_KEYS - ACCOUNT_LEVEL_KEYS


def _editor_of_another_site(app):
    """Account A's rows on Acme Coffee, and an editor of A granted only A's other site, Acme Tea."""
    from tests.integration.helpers import add_site

    accounts = two_accounts(app)
    ids = _foreign_ids(app, accounts)
    tea, tea_sectors = add_site(app, accounts["a"]["account"], "Acme Tea", ("Green",))
    add_member(app, accounts["a"]["account"], email="eddie@acme.example.com", role="editor", site_ids=[tea])
    return accounts, ids, signed_in(app, "eddie@acme.example.com")


@pytest.mark.parametrize("method,template", SITE_ROUTES)
def test_an_editor_reaches_no_row_of_a_site_not_granted(app, method, template):
    accounts, ids, web = _editor_of_another_site(app)
    path = template.format(**ids)
    if method == "GET":
        response = web.get(path)
    else:
        response = web.post(path, {"name": "Hijacked", "url": "https://evil.example.com", "timezone": "UTC",
                                   "confirm_name": "Acme Coffee"}, token_from="/sites/")
    # 403 where the role may not use the route at all (e.g. managing sites); never the row itself.
    assert response.status_code in (403, 404), (path, response.status_code)
    assert "Acme Coffee" not in response.get_data(as_text=True).replace("Acme Tea", "")
    _assert_a_untouched(app, accounts)
    with app.app_context(), tenancy.all_accounts():
        assert db.session.get(Job, ids["job"]).status == "queued"
        assert db.session.get(Cluster, ids["cluster"]).name == "Acme's cluster"
        db.session.remove()


@pytest.mark.parametrize("path,field,key", [f for f in TENANT_FORM_FIELDS if f[2] in SITE_LEVEL_KEYS])
def test_an_editor_cannot_name_rows_of_a_site_not_granted_in_forms(app, path, field, key):
    accounts, ids, web = _editor_of_another_site(app)
    response = web.post(path, {field: ids[key]}, token_from="/sites/")
    assert response.status_code == 404, (path, response.status_code)
    _assert_a_untouched(app, accounts)


def _site_rows(site_id: int, sector_id: int, user_id: int, tag: str) -> dict:
    """One row of every site-owned model for the site (the account must be bound)."""
    from app.models import CreditReservation, CreditUsageLog, SiteAccess

    rows: dict = {}
    rows["Sector"] = Sector(site_id=site_id, name=f"Sector {tag}")
    rows["Cluster"] = Cluster(site_id=site_id, sector_id=sector_id, name=f"Cluster {tag}")
    rows["Job"] = Job(kind="site.check", title=f"Job {tag}", payload={}, site_id=site_id)
    db.session.add_all(rows.values())
    db.session.flush()
    rows["Idea"] = Idea(site_id=site_id, sector_id=sector_id, cluster_id=rows["Cluster"].id, title=f"Idea {tag}")
    rows["Keyword"] = Keyword(site_id=site_id, sector_id=sector_id, keyword=f"kw {tag}", normalized=f"kw {tag}")
    rows["KeywordImport"] = KeywordImport(site_id=site_id, sector_id=sector_id, filename=f"{tag}.csv", data=b"k\n",
                                          status="preview", shape={}, mapping={})
    rows["CreditReservation"] = CreditReservation(operation="clustering", amount=1, idempotency_key=f"r-{tag}",
                                                  job_id=rows["Job"].id, site_id=site_id)
    rows["SiteAccess"] = SiteAccess(user_id=user_id, site_id=site_id)
    db.session.add_all([rows[k] for k in ("Idea", "Keyword", "KeywordImport", "CreditReservation", "SiteAccess")])
    db.session.flush()
    rows["Task"] = Task(site_id=site_id, sector_id=sector_id, idea_id=rows["Idea"].id, title=f"Task {tag}")
    rows["CreditUsageLog"] = CreditUsageLog(operation="clustering", credits=1, site_id=site_id,
                                            reservation_id=rows["CreditReservation"].id)
    rows["WriterSettings"] = WriterSettings(site_id=site_id)
    db.session.add_all([rows["Task"], rows["CreditUsageLog"], rows["WriterSettings"]])
    db.session.flush()
    rows["Content"] = Content(site_id=site_id, sector_id=sector_id, task_id=rows["Task"].id, title=f"Article {tag}",
                              body_html="<p>Text</p>", slug=f"article-{tag}")
    db.session.add(rows["Content"])
    db.session.flush()
    rows["ContentVersion"] = ContentVersion(site_id=site_id, content_id=rows["Content"].id, number=1,
                                            title=f"Article {tag}", body_html="<p>Text</p>", reason="generation")
    rows["PublishSettings"] = PublishSettings(site_id=site_id)
    rows["Publication"] = Publication(site_id=site_id, content_id=rows["Content"].id, marker=f"marker-{tag}")
    db.session.add_all([rows["ContentVersion"], rows["PublishSettings"], rows["Publication"]])
    db.session.flush()
    rows["PublicationStep"] = PublicationStep(site_id=site_id, publication_id=rows["Publication"].id, kind="post",
                                              key=f"post-{tag}")
    rows["AutomationSettings"] = AutomationSettings(site_id=site_id)
    rows["AutomationRun"] = AutomationRun(site_id=site_id, status="completed", config={}, progress={})
    db.session.add_all([rows["PublicationStep"], rows["AutomationSettings"], rows["AutomationRun"]])
    db.session.flush()
    rows["AutomationItem"] = AutomationItem(site_id=site_id, run_id=rows["AutomationRun"].id, stage=1, outcome="done")
    rows["ContentImage"] = ContentImage(site_id=site_id, content_id=rows["Content"].id, kind="featured",
                                        prompt=f"Image {tag}", alt="x")
    db.session.add_all([rows["AutomationItem"], rows["ContentImage"]])
    db.session.flush()
    return rows


# Every model with a site_id column. test_every_site_owned_model_is_covered fails when a model with a
# site_id column is added without a row in _site_rows and a name here.
SITE_OWNED_MODELS = {"Sector", "Keyword", "Cluster", "Idea", "Task", "KeywordImport", "Job", "CreditReservation",
                     "CreditUsageLog", "SiteAccess", "Content", "ContentVersion", "WriterSettings",
                     "Publication", "PublicationStep", "PublishSettings", "AutomationSettings", "AutomationRun",
                     "AutomationItem", "ContentImage"}


def test_every_site_owned_model_is_covered(app):
    with_site_id = {m.class_.__name__ for m in db.Model.registry.mappers if "site_id" in m.local_table.c}
    assert with_site_id == SITE_OWNED_MODELS, (
        f"cover these in _site_rows and SITE_OWNED_MODELS: {sorted(with_site_id - SITE_OWNED_MODELS)}")
    # …and app/tenancy.py applies the site grants to every one of them.
    assert {cls.__name__ for cls, _ in tenancy.site_scoped_models()} == with_site_id


def test_every_site_owned_model_follows_the_site_grants(app):
    from tests.integration.helpers import add_site

    accounts = two_accounts(app)
    a = accounts["a"]
    tea, tea_sectors = add_site(app, a["account"], "Acme Tea", ("Green",))
    add_member(app, a["account"], email="eddie@acme.example.com", role="editor", site_ids=[tea])
    with app.app_context(), tenancy.account_scope(a["account"]):
        granted = {k: v.id for k, v in _site_rows(tea, tea_sectors[0], a["owner"], "tea").items()}
        other = {k: v.id for k, v in _site_rows(a["site"], a["sectors"][0], a["owner"], "coffee").items()}
        account_wide = Job(kind="ai.cluster_naming", title="Try-it run", payload={})
        db.session.add(account_wide)
        db.session.commit()
        account_wide_id = account_wide.id
        db.session.remove()
    models = {m.class_.__name__: m.class_ for m in db.Model.registry.mappers}
    for name in sorted(SITE_OWNED_MODELS):
        model = models[name]
        with app.app_context(), tenancy.account_scope(a["account"], {tea}):
            seen = set(db.session.scalars(select(model.id)))
            assert granted[name] in seen and other[name] not in seen, name
            assert db.session.scalars(select(model).where(model.id == other[name])).first() is None, name
            if name == "Job":
                assert account_wide_id in seen  # a job of no site belongs to the whole account
            db.session.remove()
        with app.app_context():
            with tenancy.all_accounts():
                row = db.session.get(model, other[name])
            with tenancy.account_scope(a["account"], {tea}):
                db.session.delete(row)
                with pytest.raises(CrossTenantWrite):
                    db.session.flush()
                db.session.rollback()
            db.session.remove()
        with app.app_context(), tenancy.account_scope(a["account"], {tea}):
            db.session.add(model(**{**_blank(name), "site_id": a["site"]}))
            with pytest.raises(CrossTenantWrite):
                db.session.flush()
            db.session.rollback()
            db.session.remove()


def _blank(name: str) -> dict:
    """Enough fields to attempt creating a row (the write guard refuses it before the database is asked)."""
    return {"Sector": {"name": "x"}, "Keyword": {"keyword": "x", "normalized": "x", "sector_id": 0},
            "Cluster": {"name": "x", "sector_id": 0}, "Idea": {"title": "x", "sector_id": 0},
            "Task": {"title": "x", "sector_id": 0}, "KeywordImport": {"filename": "x", "sector_id": 0},
            "Job": {"kind": "site.check", "payload": {}},
            "CreditReservation": {"operation": "x", "amount": 1, "idempotency_key": "x"},
            "CreditUsageLog": {"operation": "x", "credits": 1}, "SiteAccess": {"user_id": 0},
            "Content": {"title": "x", "slug": "x", "body_html": ""}, "WriterSettings": {},
            "ContentVersion": {"content_id": 0, "number": 1, "title": "x", "body_html": "", "reason": "edit"},
            "Publication": {"content_id": 0, "marker": "x"}, "PublishSettings": {},
            "PublicationStep": {"publication_id": 0, "kind": "post", "key": "x"}, "AutomationSettings": {},
            "AutomationRun": {"status": "completed", "config": {}, "progress": {}},
            "AutomationItem": {"run_id": 0, "stage": 1, "outcome": "done"},
            "ContentImage": {"content_id": 0, "kind": "featured", "prompt": "x"}}[name]


def test_an_editor_neither_lists_opens_polls_nor_cancels_jobs_of_a_site_not_granted(app):
    accounts, ids, web = _editor_of_another_site(app)
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        coffee = {kind: Job(kind=kind, title=f"Acme Coffee {kind}", payload={}, site_id=a["site"],
                            result={"summary": "Acme Coffee secret plans", "ideas": 2, "clusters": []})
                  for kind in ("ai.idea_generation", "planner.cluster", "site.check")}
        tea_site = db.session.scalars(select(Site).where(Site.name == "Acme Tea")).one()
        tea = Job(kind="site.check", title="Tea check", payload={}, site_id=tea_site.id)
        db.session.add_all([*coffee.values(), tea])
        db.session.commit()
        coffee_ids = {kind: job.id for kind, job in coffee.items()}
        tea_id = tea.id
        db.session.remove()

    for page in ("/jobs/", "/"):
        html = web.get(page).get_data(as_text=True)
        assert "Tea check" in html and "Acme Coffee " not in html, page
    for job_id in coffee_ids.values():
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/progress"):
            assert web.get(path).status_code == 404, path
            assert web.get(path, headers={"HX-Request": "true"}).status_code == 404, path
        assert web.post(f"/jobs/{job_id}/cancel", {}, token_from="/jobs/").status_code == 404
    idea_run = coffee_ids["ai.idea_generation"]
    for path in (f"/planner/ideas/generate/{idea_run}", f"/planner/ideas/generate/{idea_run}/results",
                 f"/planner/clustering/{coffee_ids['planner.cluster']}"):
        response = web.get(path)
        assert response.status_code == 404 and "secret plans" not in response.get_data(as_text=True), path
    with app.app_context(), tenancy.all_accounts():
        assert {db.session.get(Job, j).status for j in coffee_ids.values()} == {"queued"}
        db.session.remove()
    # Their own site's job is theirs to open and cancel.
    assert web.get(f"/jobs/{tea_id}").status_code == 200
    assert web.post(f"/jobs/{tea_id}/cancel", {}, token_from="/jobs/").status_code == 302
