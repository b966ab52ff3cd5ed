"""`flask seed-demo`: the demo account is a tour made by the product's own services, and seeding twice adds
nothing."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from app import tenancy
from app.extensions import db
from app.models import (Cluster, CreditTransaction, Idea, Job, Keyword, KeywordImport, Notification, Sector, Site,
                        Task, User)
from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD, KEYWORDS_FILE
from tests.conftest import Browserless, login

MODELS = (Site, Sector, Keyword, KeywordImport, Cluster, Idea, Task, Job, CreditTransaction, Notification)


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
    assert rows["jobs"] == {"planner.cluster": "succeeded", "ai.idea_generation": "succeeded"}
    assert rows["unclustered"] == 0

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


def test_seeding_the_demo_twice_adds_nothing(app):
    _seed(app)
    first = _counts(app)
    assert first["keywords"] > 500 and first["clusters"] >= 4 and first["ideas"] > 0 and first["tasks"] > 0
    _seed(app)
    assert _counts(app) == first
