"""Every page of the app renders for the roles that may open it."""

import pytest

from tests.integration.helpers import add_member, signed_in, two_accounts

OWNER_PAGES = ["/", "/sites/", "/sites/new", "/settings/profile", "/settings/users", "/settings/modules",
               "/jobs/", "/notifications/", "/notifications/bell", "/planner/", "/writer/", "/thinker/",
               "/automation/", "/linker/", "/optimizer/", "/publisher/", "/writer/tasks", "/writer/content",
               "/writer/review", "/writer/settings", "/writer/images"]


@pytest.mark.parametrize("path", OWNER_PAGES)
def test_owner_pages_render(app, reference, path):
    accounts = two_accounts(app)
    web = signed_in(app, accounts["a"]["email"])
    response = web.get(path, follow_redirects=True)  # a module's index may lead to its first page
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]


def test_site_pages_render(app, reference):
    accounts = two_accounts(app)
    web = signed_in(app, accounts["a"]["email"])
    site = accounts["a"]["site"]
    for path in (f"/sites/{site}", f"/sites/{site}/edit"):
        response = web.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert "Acme Coffee" in web.get(f"/sites/{site}").get_data(as_text=True)


def test_viewer_pages_render_without_editing_controls(app):
    accounts = two_accounts(app)
    add_member(app, accounts["a"]["account"], email="vera@acme.example.com", role="viewer",
               site_ids=[accounts["a"]["site"]])
    web = signed_in(app, "vera@acme.example.com")
    page = web.get(f"/sites/{accounts['a']['site']}").get_data(as_text=True)
    assert "Acme Coffee" in page
    assert "Rename" not in page and "Check site now" not in page and "Delete site" not in page
    assert web.get("/settings/users").status_code == 403
