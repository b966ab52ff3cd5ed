"""Sites and sectors: create, edit, limits, switcher."""

from __future__ import annotations

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import IndustrySector, Sector, Site, User
from tests.conftest import make_account
from tests.integration.helpers import add_member, add_site, signed_in


def _site_form(**overrides):
    data = {"name": "Bean Blog", "url": "beanblog.example.com", "timezone": "Europe/Berlin",
            "industry_id": "0", "sector_names": "Espresso, Brewing"}
    data.update(overrides)
    return data


def _sectors(app, account_id):
    with app.app_context(), tenancy.account_scope(account_id):
        return sorted(s.name for s in db.session.scalars(select(Sector)))


def test_owner_creates_site_with_industry_template_and_typed_sectors(app, reference):
    account, _ = make_account(app, email="olive@acme.example.com")
    web = signed_in(app, "olive@acme.example.com")
    with app.app_context():
        coffee = db.session.scalars(select(IndustrySector).where(IndustrySector.slug == "coffee")).one()
        industry_id, coffee_id = coffee.industry_id, coffee.id
    fragment = web.get(f"/sites/industry-sectors?industry_id={industry_id}").get_data(as_text=True)
    assert "Coffee" in fragment
    response = web.post("/sites/new", _site_form(industry_id=str(industry_id), sector_template_ids=[str(coffee_id)],
                                                 sector_names="Latte Art"), token_from="/sites/new")
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bean Blog" in page and "https://beanblog.example.com" in page and "Europe/Berlin" in page
    assert _sectors(app, account) == ["Coffee", "Latte Art"]


def test_site_needs_between_one_and_five_sectors(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    web = signed_in(app, "olive@acme.example.com")
    response = web.post("/sites/new", _site_form(sector_names=""), token_from="/sites/new")
    assert response.status_code == 422 and "at least one sector" in response.get_data(as_text=True)
    response = web.post("/sites/new", _site_form(sector_names="a,b,c,d,e,f"), token_from="/sites/new")
    assert response.status_code == 422 and "at most 5 sectors" in response.get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(Site)).all() == []


def test_sixth_sector_is_refused_with_a_clear_message(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    site, _ = add_site(app, account, "Full Site", ("One", "Two", "Three", "Four", "Five"))
    web = signed_in(app, "olive@acme.example.com")
    response = web.post(f"/sites/{site}/sectors", {"sector-name": "Six", "sector-template_id": "0"},
                        token_from=f"/sites/{site}")
    assert response.status_code == 302
    page = web.get(f"/sites/{site}").get_data(as_text=True)
    assert "at most 5 sectors" in page
    assert len(_sectors(app, account)) == 5


def test_last_sector_cannot_be_removed_and_others_can(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    site, (first, second) = add_site(app, account, "Two Sectors", ("One", "Two"))
    web = signed_in(app, "olive@acme.example.com")
    web.post(f"/sites/{site}/sectors/{first}/delete", {}, token_from=f"/sites/{site}")
    assert _sectors(app, account) == ["Two"]
    web.post(f"/sites/{site}/sectors/{second}/delete", {}, token_from=f"/sites/{site}")
    assert "at least one sector" in web.get(f"/sites/{site}").get_data(as_text=True)
    assert _sectors(app, account) == ["Two"]


def test_sector_rename_and_duplicate_name(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    site, (first, _second) = add_site(app, account, "Two Sectors", ("One", "Two"))
    web = signed_in(app, "olive@acme.example.com")
    web.post(f"/sites/{site}/sectors/{first}/rename", {"name": "Uno"}, token_from=f"/sites/{site}")
    assert _sectors(app, account) == ["Two", "Uno"]
    web.post(f"/sites/{site}/sectors/{first}/rename", {"name": "two"}, token_from=f"/sites/{site}")
    assert "already has a sector with that name" in web.get(f"/sites/{site}").get_data(as_text=True)


def test_bad_site_input_gets_clear_messages(app):
    make_account(app, email="olive@acme.example.com")
    add_site(app, *[make_account(app, email="x@other.example.com")[0]], "Taken Elsewhere")
    web = signed_in(app, "olive@acme.example.com")
    cases = [({"url": "ftp://nope"}, "Enter the site"), ({"url": "not a url"}, "Enter the site"),
             ({"timezone": "Mars/Olympus"}, "Choose a timezone"), ({"name": ""}, "Give the site a name"),
             ({"industry_id": "99999"}, "Choose an industry")]
    for overrides, message in cases:
        response = web.post("/sites/new", _site_form(**overrides), token_from="/sites/new")
        assert response.status_code == 422, overrides
        assert message in response.get_data(as_text=True), overrides
    # A name used by another account is fine; a name used in this account is not.
    assert web.post("/sites/new", _site_form(name="Taken Elsewhere"), token_from="/sites/new").status_code == 302
    response = web.post("/sites/new", _site_form(name="taken elsewhere"), token_from="/sites/new")
    assert response.status_code == 422 and "already have a site with that name" in response.get_data(as_text=True)


def test_edit_deactivate_and_delete_site(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    site, _ = add_site(app, account, "Old Name")
    web = signed_in(app, "olive@acme.example.com")
    web.post(f"/sites/{site}/edit", {"name": "New Name", "url": "https://new.example.com", "timezone": "UTC",
                                     "industry_id": "0"}, token_from=f"/sites/{site}/edit")
    web.post(f"/sites/{site}/status", {"active": "0"}, token_from=f"/sites/{site}")
    page = web.get("/sites/").get_data(as_text=True)
    assert "New Name" in page and "Inactive" in page
    web.post(f"/sites/{site}/delete", {"del-confirm_name": "wrong"}, token_from=f"/sites/{site}")
    assert "Type the site" in web.get(f"/sites/{site}").get_data(as_text=True)
    web.post(f"/sites/{site}/delete", {"del-confirm_name": "New Name"}, token_from=f"/sites/{site}")
    assert web.get(f"/sites/{site}").status_code == 404
    assert _sectors(app, account) == []


def test_switcher_remembers_site_and_sector_per_user(app):
    account, owner = make_account(app, email="olive@acme.example.com")
    first, _ = add_site(app, account, "Alpha Site", ("A1", "A2"))
    second, (b1, b2) = add_site(app, account, "Beta Site", ("B1", "B2"))
    web = signed_in(app, "olive@acme.example.com")
    response = web.post("/context/site", {"site_id": second}, token_from="/sites/",
                        headers={"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"
    web.post("/context/sector", {"sector_id": b2, "next": "/sites/"}, token_from="/sites/")
    # A new session (another device) finds the same choice.
    page = signed_in(app, "olive@acme.example.com").get("/").get_data(as_text=True)
    assert f'<option value="{second}" selected>Beta Site' in page
    assert f'<option value="{b2}" selected>B2' in page
    with app.app_context(), tenancy.account_scope(account):
        user = db.session.get(User, owner)
        assert (user.active_site_id, user.active_sector_id) == (second, b2)


def test_switcher_lists_the_visible_sites_and_starts_on_the_first(app):
    import re

    account, _ = make_account(app, email="olive@acme.example.com")
    zulu, _ = add_site(app, account, "Zulu Site", ("Z1",))
    alpha, (a1, a2) = add_site(app, account, "Alpha Site", ("A1", "A2"))
    web = signed_in(app, "olive@acme.example.com")
    web.post(f"/sites/{alpha}/status", {"active": "0"}, token_from=f"/sites/{alpha}")
    add_member(app, account, email="eddie@acme.example.com", role="editor", site_ids=[zulu])

    def switcher(page):
        sites = page[page.index('data-testid="site-switcher"'):]
        sectors = sites[sites.index('data-testid="sector-switcher"'):]
        options = r'<option value="(\d+)" ?(selected)?>([^<]+)</option>'
        return re.findall(options, sites[:sites.index("</select>")]), re.findall(options, sectors[:sectors.index("</select>")])

    # Nothing chosen yet: the first active site by name and its first sector; an inactive site is marked.
    sites, sectors = switcher(web.get("/sites/").get_data(as_text=True))
    assert sites == [(str(alpha), "", "Alpha Site (inactive)"), (str(zulu), "selected", "Zulu Site")]
    assert sectors == [(str(_sector_ids(app, account, zulu)[0]), "selected", "Z1")]
    # An editor sees only the sites granted to them.
    sites, _ = switcher(signed_in(app, "eddie@acme.example.com").get("/").get_data(as_text=True))
    assert sites == [(str(zulu), "selected", "Zulu Site")]


def _sector_ids(app, account_id, site_id):
    with app.app_context(), tenancy.account_scope(account_id):
        return [s.id for s in db.session.scalars(select(Sector).where(Sector.site_id == site_id).order_by(Sector.id))]


def test_editor_cannot_manage_sites_and_viewer_cannot_change_anything(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    site, (sector, _) = add_site(app, account, "Shared Site")
    add_member(app, account, email="eddie@acme.example.com", role="editor", site_ids=[site])
    add_member(app, account, email="vera@acme.example.com", role="viewer", site_ids=[site])
    editor = signed_in(app, "eddie@acme.example.com")
    assert editor.get("/sites/new").status_code == 403
    assert editor.post(f"/sites/{site}/sectors/{sector}/rename", {"name": "X"}, token_from="/sites/").status_code == 403
    viewer = signed_in(app, "vera@acme.example.com")
    for path in (f"/sites/{site}/check", f"/sites/{site}/status", "/sites/new", "/settings/modules"):
        response = viewer.post(path, {"active": "0"}, token_from="/sites/")
        assert response.status_code == 403, path
        assert "read-only" in response.get_data(as_text=True) or "Only owners" in response.get_data(as_text=True)
    # Viewers may still switch their own active site and edit their own profile.
    assert viewer.post("/context/site", {"site_id": site}, token_from="/sites/").status_code == 302
    assert viewer.post("/settings/profile", {"name": "Vera V"}, token_from="/settings/profile").status_code == 302
    assert _sectors(app, account) == ["Brewing", "Espresso"]
