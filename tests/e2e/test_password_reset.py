"""A person who forgot their password resets it from the e-mailed link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import make_account
from tests.e2e.helpers import PASSWORD, flash, link_in, mails_to, sign_in

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "fresh-lemon-teapot-77"
WRONG_LOGIN = "That e-mail and password do not match an IGNY8 login."


def test_password_reset_from_emailed_link(app, page: Page):
    email = "rosa@acme.example.com"
    make_account(app, email=email, name="Rosa Reset")

    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()

    mails = mails_to(app, email)
    assert [subject for subject, _ in mails] == ["Reset your IGNY8 password"]
    link = link_in(mails[0][1], "reset")

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(flash(page)).to_contain_text("Your password has been changed. Sign in with the new one.")

    # The old password no longer opens the account.
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(WRONG_LOGIN)
    expect(page).to_have_url(re.compile(r"/login$"))

    # The new one does.
    sign_in(page, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Welcome, Rosa")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_contain_text("Rosa Reset")

    # The link works once.
    page.goto(link)
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("This reset link has already been used.")
    expect(page.get_by_label("New password")).to_have_count(0)
