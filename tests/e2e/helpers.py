"""Things a person does in the browser, shared by the e2e tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app import tenancy
from app.extensions import db

PASSWORD = "correct-horse-battery"


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill in the sign-in form and send it (the caller checks where it lands)."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    """Press "Sign out" in the header and land on the sign-in page."""
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flash")).to_contain_text("You are signed out.")


def flash(page: Page):
    return page.locator("#flash")


def mails_to(app, address: str) -> list[tuple[str, str]]:
    """(subject, body) of the e-mails in the outbox for an address, oldest first."""
    from app.models import OutboxMessage

    with app.app_context(), tenancy.all_accounts():
        rows = db.session.execute(
            select(OutboxMessage.subject, OutboxMessage.body)
            .where(OutboxMessage.to == address).order_by(OutboxMessage.id)).all()
        db.session.remove()
    return [(subject, body) for subject, body in rows]


def link_in(text: str, path: str) -> str:
    """The first absolute link to /<path>/<token> in a text."""
    match = re.search(rf"https?://[^\s/]+/{path}/[A-Za-z0-9_\-]+", text)
    assert match, f"no /{path}/ link in {text!r}"
    return match.group(0)
