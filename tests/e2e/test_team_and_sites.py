"""From sign-up to a team: sites with sectors, the header switcher, an editor and a viewer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import flash, link_in, mails_to, sign_out

pytestmark = pytest.mark.e2e

OWNER_EMAIL = "olive@brewline.example.com"
OWNER_PASSWORD = "roasted-beans-4-ever"
EDITOR_EMAIL = "eddie@brewline.example.com"
VIEWER_EMAIL = "vera@brewline.example.com"
MEMBER_PASSWORD = "steamed-milk-latte-21"
READ_ONLY = "Your role is read-only. Ask an account owner or admin for editor access."


def create_site(page: Page, *, name: str, url: str, sectors: list[str], other_sectors: str = "") -> int:
    """Fill in the new-site form with industry Food & Drink; returns the new site's id."""
    expect(page.get_by_role("heading", name="Add a site")).to_be_visible()
    page.get_by_label("Site name").fill(name)
    page.get_by_label("Address").fill(url)
    choices = page.locator("#sector-choices")
    expect(choices).to_contain_text("Choose an industry to pick from its sectors")
    page.get_by_label("Industry").select_option(label="Food & Drink")
    # The industry's sectors arrive by htmx.
    for sector in sectors:
        choices.get_by_label(sector, exact=True).check()
    if other_sectors:
        page.get_by_label("Other sectors (comma-separated)").fill(other_sectors)
    page.get_by_role("button", name="Create site").click()
    expect(page).to_have_url(re.compile(r"/sites/\d+$"))
    expect(flash(page)).to_contain_text(f"Site “{name}” created.")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


def sector_names_on_site_page(page: Page) -> list[str]:
    """Sector names as the owner sees them: the values of the rename inputs."""
    return page.locator("#sectors").get_by_label("Sector name").evaluate_all("els => els.map(e => e.value)")


def invite(page: Page, *, email: str, role: str, sites: list[str]) -> str:
    """Send an invitation from Settings → Users; returns the link shown in the flash."""
    section = page.locator("#invite")
    section.get_by_label("E-mail", exact=True).fill(email)
    section.get_by_label("Role", exact=True).select_option(role)
    for site in sites:
        section.get_by_label(site, exact=True).check()
    section.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_url(re.compile(r"/settings/users$"))
    message = flash(page).get_by_role("status")
    expect(message).to_contain_text(f"Invitation sent to {email}. You can also share this link:")
    return link_in(message.inner_text(), "invite")


def accept(page: Page, link: str, *, name: str, role: str, email: str) -> None:
    """Open an invitation link, choose a name and password, land on the dashboard."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Brewline Media")).to_be_visible()
    expect(page.get_by_text(f"You are invited as {role} with the login {email}.")).to_be_visible()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password").fill(MEMBER_PASSWORD)
    page.get_by_role("button", name="Join").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(flash(page)).to_contain_text("Welcome aboard!")
    expect(page.get_by_test_id("user-menu")).to_contain_text(f"{name} {role}")


def test_signup_site_switch_invite_editor_and_viewer(app, reference, page: Page):
    # Sign up.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_role("link", name="Create account").click()
    expect(page.get_by_role("heading", name="Create your IGNY8 account")).to_be_visible()
    page.get_by_label("Company or agency").fill("Brewline Media")
    page.get_by_label("Your name").fill("Olive Owner")
    page.get_by_label("Work e-mail").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/sites/new$"))
    expect(flash(page)).to_contain_text("Welcome to IGNY8! Start by adding your first site.")
    expect(page.get_by_test_id("user-menu")).to_contain_text("Olive Owner owner")

    # First site: a sector ticked from the industry and one typed.
    alpha = create_site(page, name="Alpha Coffee", url="https://alpha-coffee.example.com",
                        sectors=["Coffee"], other_sectors="Espresso Gear")
    expect(page.get_by_role("heading", name="Sectors")).to_contain_text("(2 of 5)")
    assert sector_names_on_site_page(page) == ["Coffee", "Espresso Gear"]
    expect(page.locator("#sectors").get_by_role("button", name="Remove").first).to_have_attribute(
        "data-confirm", "Remove the sector “Coffee” and everything in it?")
    expect(page.locator("main")).to_contain_text("Food & Drink")

    # Second site, from the sites list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    page.get_by_role("link", name="Add site").click()
    beta = create_site(page, name="Beta Bakes", url="beta-bakes.example.com", sectors=["Baking", "Cocktails"])
    assert sector_names_on_site_page(page) == ["Baking", "Cocktails"]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    expect(page.locator(f"#site-{alpha}")).to_contain_text("Coffee, Espresso Gear")
    expect(page.locator(f"#site-{beta}")).to_contain_text("Baking, Cocktails")
    expect(page.locator(f"#site-{beta}")).to_contain_text("https://beta-bakes.example.com")

    # The header switcher: the first site (by name) is active to begin with.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.wait_for_load_state("load")
    site_switcher = page.get_by_test_id("site-switcher")
    sector_switcher = page.get_by_test_id("sector-switcher")
    working_in = page.locator("section.card", has_text="Working in")
    expect(site_switcher.locator("option")).to_have_text(["Alpha Coffee", "Beta Bakes"])
    expect(site_switcher).to_have_value(str(alpha))
    expect(sector_switcher.locator("option")).to_have_text(["Coffee", "Espresso Gear"])
    expect(working_in).to_contain_text("Alpha Coffee › Coffee")

    # Switch site: the page reloads with the new site's sectors.
    with page.expect_navigation():
        site_switcher.select_option(label="Beta Bakes")
    expect(site_switcher).to_have_value(str(beta))
    expect(sector_switcher.locator("option")).to_have_text(["Baking", "Cocktails"])
    expect(sector_switcher.locator("option:checked")).to_have_text("Baking")
    expect(working_in).to_contain_text("Beta Bakes › Baking")

    # Switch sector.
    page.wait_for_load_state("load")
    with page.expect_navigation():
        sector_switcher.select_option(label="Cocktails")
    expect(sector_switcher.locator("option:checked")).to_have_text("Cocktails")
    expect(working_in).to_contain_text("Beta Bakes › Cocktails")

    # Remembered across reloads and pages.
    page.reload()
    expect(site_switcher.locator("option:checked")).to_have_text("Beta Bakes")
    expect(sector_switcher.locator("option:checked")).to_have_text("Cocktails")
    expect(working_in).to_contain_text("Beta Bakes › Cocktails")
    page.goto(f"/sites/{alpha}")
    expect(site_switcher.locator("option:checked")).to_have_text("Beta Bakes")
    expect(sector_switcher.locator("option:checked")).to_have_text("Cocktails")

    # Settings → Users: invite an editor for the first site only, and a viewer.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    editor_link = invite(page, email=EDITOR_EMAIL, role="editor", sites=["Alpha Coffee"])
    viewer_link = invite(page, email=VIEWER_EMAIL, role="viewer", sites=["Alpha Coffee"])
    assert editor_link != viewer_link
    assert editor_link.startswith(page.url.split("/settings/")[0] + "/invite/")
    pending = page.get_by_role("listitem").filter(has_text="@brewline.example.com")
    expect(pending).to_have_count(2)
    expect(pending.first).to_contain_text(VIEWER_EMAIL)
    expect(pending.nth(1)).to_contain_text(EDITOR_EMAIL)
    # The same links went out by e-mail.
    for email, link in ((EDITOR_EMAIL, editor_link), (VIEWER_EMAIL, viewer_link)):
        [(subject, body)] = mails_to(app, email)
        assert subject == "You are invited to Brewline Media on IGNY8"
        assert link_in(body, "invite") == link
    sign_out(page)

    # The editor joins and sees the first site only.
    accept(page, editor_link, name="Eddie Editor", role="editor", email=EDITOR_EMAIL)
    expect(site_switcher.locator("option")).to_have_text(["Alpha Coffee"])
    expect(sector_switcher.locator("option")).to_have_text(["Coffee", "Espresso Gear"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator(f"#site-{alpha}")).to_contain_text("Alpha Coffee")
    expect(page.get_by_text("Beta Bakes")).to_have_count(0)
    expect(page.get_by_role("link", name="Add site")).to_have_count(0)
    response = page.goto(f"/sites/{beta}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("That site does not exist or you do not have access to it.")).to_be_visible()
    expect(page.get_by_text("Beta Bakes")).to_have_count(0)
    # The editor can start work on their site.
    page.goto(f"/sites/{alpha}")
    expect(page.get_by_role("button", name="Check site now")).to_be_visible()
    sign_out(page)

    # The viewer joins and can look but not change anything.
    accept(page, viewer_link, name="Vera Viewer", role="viewer", email=VIEWER_EMAIL)
    expect(site_switcher.locator("option")).to_have_text(["Alpha Coffee"])
    page.goto(f"/sites/{alpha}")
    expect(page.get_by_role("heading", name="Alpha Coffee")).to_be_visible()
    sectors = page.locator("#sectors")
    expect(sectors.locator("strong")).to_have_text(["Coffee", "Espresso Gear"])
    expect(sectors.get_by_role("textbox")).to_have_count(0)
    expect(sectors.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name="Check site now")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete site")).to_have_count(0)

    # A forged "Check site now" (a form posted with a valid token) is refused on the server.
    token = page.locator("header input[name=csrf_token]").first.input_value()
    with page.expect_response(lambda r: r.url.endswith(f"/sites/{alpha}/check")) as posted:
        page.evaluate(
            """([action, token]) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                const input = document.createElement("input");
                input.type = "hidden"; input.name = "csrf_token"; input.value = token;
                form.appendChild(input);
                document.body.appendChild(form);
                form.submit();
            }""",
            [f"/sites/{alpha}/check", token],
        )
    assert posted.value.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text(READ_ONLY)).to_be_visible()

    # Adding a site is refused too.
    response = page.goto("/sites/new")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Only owners and admins can add, change or remove sites.")).to_be_visible()
    expect(page.get_by_label("Site name")).to_have_count(0)
