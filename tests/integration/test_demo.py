"""`flask seed-demo`: the demo account is a tour made by the product's own services, and seeding twice adds
nothing."""

from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import (Cluster, Content, ContentImage, CreditTransaction, Idea, Job, Keyword, KeywordImport,
                        Notification, Publication, Sector, Site, Task, User)
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD, KEYWORDS_FILE
from app.timeutil import utcnow
from tests.conftest import Browserless, login

MODELS = (Site, Sector, Keyword, KeywordImport, Cluster, Idea, Task, Content, ContentImage, Job, CreditTransaction,
          Notification, Publication)


def _seed(app) -> str:
    """What scripts/run does: reference data (with the AI catalogue and its demo model), then the demo."""
    reference = app.test_cli_runner().invoke(args=["seed-reference"])
    assert reference.exit_code == 0, reference.output + repr(reference.exception)
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _counts(app) -> dict[str, int]:
    with app.app_context(), tenancy.all_accounts():
        counts = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in MODELS}
        db.session.remove()
    return counts


def _demo_rows(app):
    with app.app_context():
        with tenancy.all_accounts():
            account_id = db.session.scalars(select(User.account_id).where(User.email == DEMO_EMAIL)).one()
        with tenancy.account_scope(account_id):
            sector = db.session.scalars(select(Sector).order_by(Sector.id)).first()
            top_keyword = db.session.scalars(select(Keyword.keyword).where(Keyword.sector_id == sector.id)
                                             .order_by(Keyword.volume.desc().nulls_last())).first()
            rows = {
                "sectors": [s.name for s in db.session.scalars(select(Sector))],
                "imports": [(i.status, i.imported) for i in db.session.scalars(select(KeywordImport))],
                "jobs": {j.kind: j.status for j in db.session.scalars(select(Job))},
                "top_keyword": top_keyword,
                "cluster": db.session.scalars(select(Cluster.name).order_by(Cluster.id)).first(),
                "idea": db.session.scalars(select(Idea.title).order_by(Idea.id)).first(),
                "task": db.session.scalars(select(Task.title).order_by(Task.id)).first(),
                "unclustered": db.session.scalar(select(func.count()).select_from(Keyword)
                                                 .where(Keyword.cluster_id.is_(None))),
                "articles": [(c.id, c.title, c.status) for c in db.session.scalars(select(Content).order_by(Content.id))],
                "images": [(i.content_id, i.kind, i.status) for i in db.session.scalars(select(ContentImage))],
                "publications": [(p.content_id, p.status, p.scheduled_at)
                                 for p in db.session.scalars(select(Publication).order_by(Publication.scheduled_at))],
                "site_id": db.session.scalars(select(Site.id)).one(),
            }
        db.session.remove()
    return rows


def test_seed_demo_takes_the_demo_account_through_import_clustering_ideas_and_tasks(app):
    output = _seed(app)
    assert DEMO_EMAIL in output and DEMO_PASSWORD in output
    rows = _demo_rows(app)
    sample_rows = len(KEYWORDS_FILE.read_text().splitlines()) - 1

    # Made by the services: an import with its report, and finished clustering and idea jobs.
    assert rows["sectors"] == ["Coffee", "Baking"]
    assert rows["imports"] == [("done", sample_rows)]
    assert rows["jobs"] == {"planner.cluster": "succeeded", "ai.idea_generation": "succeeded",
                            "ai.content_generation": "succeeded", "ai.image_prompt_extraction": "succeeded",
                            "ai.image_generation": "succeeded"}
    assert rows["unclustered"] == 0
    # Articles written from the first tasks, with their featured and in-article images: two scheduled, one
    # approved for the visitor to schedule, and one waiting in review.
    assert [status for _id, _title, status in rows["articles"]] == ["scheduled", "scheduled", "approved", "review"]
    # The demo label appears once, even though the ideas behind the articles already carry it.
    assert all(title.startswith("Demo: ") and "Demo: Demo:" not in title for _id, title, _s in rows["articles"])
    assert all(status == "generated" for _c, _kind, status in rows["images"])
    assert {content_id for content_id, kind, _s in rows["images"] if kind == "featured"} == \
        {content_id for content_id, _t, _s in rows["articles"]}

    client = app.test_client()
    assert login(client, DEMO_EMAIL, DEMO_PASSWORD).status_code == 302
    web = Browserless(client)
    pages = {path: html.unescape(web.get(path).get_data(as_text=True))
             for path in ("/planner/keywords", "/planner/clusters", "/planner/ideas", "/planner/tasks")}
    assert rows["top_keyword"] in pages["/planner/keywords"]
    assert rows["cluster"] in pages["/planner/clusters"]
    assert rows["idea"] in pages["/planner/ideas"]
    assert rows["task"] in pages["/planner/tasks"]
    # The demo provider's output is labelled as such, never passed off as AI.
    assert "Demo" in pages["/planner/ideas"]
    first_id, first_title, _status = rows["articles"][0]
    assert first_title in html.unescape(web.get("/writer/content").get_data(as_text=True))
    editor = web.get(f"/writer/content/{first_id}").get_data(as_text=True)
    assert "<figure" in editor and "/writer/images/" in editor  # images placed in the article
    review = html.unescape(web.get("/writer/review").get_data(as_text=True))
    assert rows["articles"][3][1] in review

    # The two scheduled articles took the site's next free slots (weekdays at 09:00 and 14:00, UTC) and show in
    # the calendar, waiting for the WordPress connection the demo site does not have.
    scheduled = [(content_id, when) for content_id, status, when in rows["publications"]]
    assert [content_id for content_id, _when in scheduled] == [rows["articles"][0][0], rows["articles"][1][0]]
    now = utcnow()
    assert all(now < when < now + timedelta(days=4) and when.weekday() < 5 and when.strftime("%H:%M") in
               ("09:00", "14:00") for _c, when in scheduled)
    assert {status for _c, status, _w in rows["publications"]} == {"scheduled"}
    calendar = html.unescape(web.get("/publisher/calendar?view=list").get_data(as_text=True))
    assert calendar.count('data-testid="calendar-item"') == 2
    for content_id, when in scheduled:
        title = next(t for i, t, _s in rows["articles"] if i == content_id)
        assert title in calendar and when.strftime("%a %d %b %Y %H:%M") in calendar
    note = (f'Waiting for a WordPress connection — <a href="/sites/{rows["site_id"]}#wordpress">'
            "connect the site to publish</a>")
    assert calendar.count(note) == 2
    month = html.unescape(web.get(f"/publisher/calendar?month={scheduled[0][1]:%Y-%m}").get_data(as_text=True))
    assert rows["articles"][0][1] in month
    panel = html.unescape(web.get(f"/publisher/content/{first_id}/panel").get_data(as_text=True))
    assert note in panel


def test_seeding_the_demo_twice_adds_nothing(app):
    _seed(app)
    first = _counts(app)
    assert first["keywords"] > 500 and first["clusters"] >= 4 and first["ideas"] > 0 and first["tasks"] > 0
    assert first["content"] == 4 and first["content_images"] >= 4 and first["publications"] == 2
    _seed(app)
    assert _counts(app) == first
