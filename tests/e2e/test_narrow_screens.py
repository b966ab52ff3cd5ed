"""The keyword and cluster pages at a phone's width (390 px): nothing makes the page scroll sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app import tenancy
from app.extensions import db
from app.models import Cluster, Idea, Keyword
from tests.conftest import make_account
from tests.e2e.helpers import sign_in
from tests.integration.helpers import add_site

pytestmark = pytest.mark.e2e

EMAIL = "phone@acme.example.com"
WIDTH = 390


def _world(app) -> dict:
    account, _ = make_account(app, email=EMAIL, account_name="Acme Agency With A Rather Long Name")
    site, sectors = add_site(app, account, "Everything About Espresso Machines", ("Espresso and grinders",))
    with app.app_context(), tenancy.account_scope(account):
        cluster = Cluster(site_id=site, sector_id=sectors[0], name="Espresso machines for small kitchens",
                          description="Searches about compact espresso machines.", intent="commercial")
        db.session.add(cluster)
        db.session.flush()
        for i in range(30):
            db.session.add(Keyword(site_id=site, sector_id=sectors[0], keyword=f"best compact espresso machine {i}",
                                   normalized=f"best compact espresso machine {i}", volume=123_456 + i,
                                   difficulty=40 + i, cpc=1.25, intent="commercial",
                                   cluster_id=cluster.id if i < 20 else None))
        db.session.add(Idea(site_id=site, sector_id=sectors[0], cluster_id=cluster.id,
                            title="The best compact espresso machines"))
        db.session.commit()
        ids = {"cluster": cluster.id}
        db.session.remove()
    return ids


def _scroll_widths(page: Page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def _too_wide(page: Page) -> list[str]:
    """The outermost elements reaching past the right edge, to say what to fix."""
    return page.evaluate("""() => {
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > window.innerWidth + 1)) {
                out.push(el.tagName.toLowerCase() + '.' + el.className + '#' + el.id + ' ' + Math.round(r.right));
            }
        }
        return out.slice(0, 15);
    }""")


def test_keyword_and_cluster_pages_fit_a_390px_screen(app, browser, live_server):
    ids = _world(app)
    context = browser.new_context(base_url=live_server, viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, EMAIL)
        expect(page).to_have_url(re.compile(r"/$"))
        for path in ("/planner/keywords", "/planner/clusters", f"/planner/clusters/{ids['cluster']}",
                     "/planner/keywords/library", "/planner/ideas", "/"):
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            scroll_width, viewport = _scroll_widths(page)
            assert scroll_width <= viewport, (path, scroll_width, viewport, _too_wide(page))
            # The tables themselves fit too: their key columns stay, secondary ones are dropped.
            tables = page.evaluate("() => [...document.querySelectorAll('.table-wrap')]"
                                   ".map(w => [w.scrollWidth, w.clientWidth])")
            assert all(inner <= outer + 1 for inner, outer in tables), (path, tables)
        page.goto("/planner/keywords")
        expect(page.locator("main")).to_contain_text("123,456")
    finally:
        context.close()


def test_the_demo_tour_fits_a_390px_screen(app, browser, live_server):
    """Every page a new user opens on the demo tour: the page never scrolls sideways, tables keep to their
    key columns, article figures fit the column, and the calendar lists the days that have articles."""
    from sqlalchemy import select

    from app.models import Content, Site, User
    from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD

    for command in ("seed-reference", "seed-demo"):
        result = app.test_cli_runner().invoke(args=[command])
        assert result.exit_code == 0, result.output + repr(result.exception)
    with app.app_context():
        with tenancy.all_accounts():
            account_id = db.session.scalars(select(User.account_id).where(User.email == DEMO_EMAIL)).one()
        with tenancy.account_scope(account_id):
            site_id = db.session.scalars(select(Site.id)).first()
            # A cluster with a long name: the "move keywords to" choices on a cluster page list it in full.
            first = db.session.scalars(select(Cluster).order_by(Cluster.id)).first()
            db.session.add(Cluster(site_id=first.site_id, sector_id=first.sector_id, intent="commercial",
                                   name="best budget espresso machines for small apartment kitchens with milk frother"))
            db.session.commit()
            cluster_id = first.id
            article = db.session.scalars(select(Content).where(Content.version > 1).order_by(Content.id)).first()
            article_id, version = article.id, article.version
        db.session.remove()
    paths = ["/", "/sites/", f"/sites/{site_id}", "/planner/keywords", "/planner/keywords/library", "/planner/clusters",
             f"/planner/clusters/{cluster_id}",
             "/planner/ideas", "/planner/tasks", "/writer/tasks", "/writer/content", "/writer/review", "/writer/images",
             f"/writer/content/{article_id}", f"/writer/content/{article_id}/versions/{version}",
             "/publisher/calendar", "/publisher/calendar?view=list", "/jobs/", "/billing/", "/billing/transactions",
             "/billing/usage", "/settings/users"]
    context = browser.new_context(base_url=live_server, viewport={"width": WIDTH, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, DEMO_EMAIL, DEMO_PASSWORD)
        expect(page).to_have_url(re.compile(r"/$"))
        wrong = []
        for path in paths:
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.wait_for_load_state("load")  # images have their size
            scroll_width, viewport = _scroll_widths(page)
            if scroll_width > viewport:
                wrong.append(f"{path}: the page is {scroll_width}px wide: {_too_wide(page)}")
            tables = page.evaluate("() => [...document.querySelectorAll('.table-wrap')]"
                                   ".map(w => [w.scrollWidth, w.clientWidth])")
            if not all(inner <= outer + 1 for inner, outer in tables):
                wrong.append(f"{path}: a table scrolls sideways {tables}")
        assert wrong == [], "\n".join(wrong)
        # The month view on a phone: the day with the two scheduled articles, under its weekday and date.
        page.goto("/publisher/calendar")
        items = page.get_by_test_id("calendar-item")
        expect(items).to_have_count(2)
        box = items.first.bounding_box()
        assert box["width"] > WIDTH * 0.7, box  # one column wide, not a seventh of the screen
        expect(page.get_by_test_id("calendar-grid")).to_contain_text(re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d+ \w{3}"))
    finally:
        context.close()
