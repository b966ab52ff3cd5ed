"""Signing out ends a session for good: logout, "sign out everywhere", password change, replayed cookies."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage
from tests.conftest import Browserless, make_account
from tests.integration.helpers import PASSWORD, add_member, signed_in

EMAIL = "olive@acme.example.com"


def _sign_in(app, *, remember: bool):
    client = app.test_client()
    data = {"email": EMAIL, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert Browserless(client).post("/login", data).status_code == 302
    return client


def _signed_in(client) -> bool:
    response = client.get("/sites/")
    return response.status_code == 200


def _with_cookie(app, name: str, value: str):
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def test_a_remember_cookie_alone_signs_in_while_the_session_lives(app):
    make_account(app, email=EMAIL)
    device = _sign_in(app, remember=True)
    remember = device.get_cookie("remember_token").value
    assert _signed_in(_with_cookie(app, "remember_token", remember))


def test_logout_ends_a_kept_session_and_replayed_cookies_are_signed_out(app):
    make_account(app, email=EMAIL)
    device = _sign_in(app, remember=True)
    other = _sign_in(app, remember=True)
    session_cookie = device.get_cookie("session").value
    remember = device.get_cookie("remember_token").value
    response = Browserless(device).post("/logout", {}, token_from="/")
    assert response.status_code == 302
    cleared = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    assert cleared and ("Max-Age=0" in cleared[0] or "1970" in cleared[0])
    assert device.get_cookie("remember_token") is None
    assert not _signed_in(device)
    # The copied cookies, replayed after the logout, are signed out.
    assert not _signed_in(_with_cookie(app, "remember_token", remember))
    assert not _signed_in(_with_cookie(app, "session", session_cookie))
    # Another browser's sign-in is its own session and carries on.
    assert _signed_in(other)


def test_sign_out_everywhere_ends_every_session_including_kept_ones(app):
    make_account(app, email=EMAIL)
    laptop = _sign_in(app, remember=False)
    phone = _sign_in(app, remember=True)
    phone_remember = phone.get_cookie("remember_token").value
    page = laptop.get("/settings/profile").get_data(as_text=True)
    assert "signed in on 2 browsers" in page and "Sign out everywhere" in page
    refused = laptop.post("/settings/sign-out-everywhere")  # no CSRF token
    assert refused.status_code == 400 and _signed_in(phone)
    response = Browserless(laptop).post("/settings/sign-out-everywhere", {}, token_from="/settings/profile")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not _signed_in(laptop) and not _signed_in(phone)
    assert not _signed_in(_with_cookie(app, "remember_token", phone_remember))
    assert _signed_in(_sign_in(app, remember=False))  # signing in again works


def test_password_change_ends_other_sessions_but_keeps_this_one(app):
    make_account(app, email=EMAIL)
    laptop = _sign_in(app, remember=True)
    phone = _sign_in(app, remember=True)
    phone_remember = phone.get_cookie("remember_token").value
    response = Browserless(laptop).post("/settings/password", {"pw-current_password": PASSWORD,
                                                               "pw-new_password": "fresh-password-22"},
                                        token_from="/settings/profile")
    assert response.status_code == 302
    assert _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(_with_cookie(app, "remember_token", phone_remember))
    # The laptop's own "keep me signed in" cookie was renewed and still works on its own.
    laptop_remember = laptop.get_cookie("remember_token").value
    assert _signed_in(_with_cookie(app, "remember_token", laptop_remember))


def test_password_reset_ends_kept_sessions(app):
    make_account(app, email=EMAIL)
    phone = _sign_in(app, remember=True)
    phone_remember = phone.get_cookie("remember_token").value
    web = Browserless(app.test_client())
    web.post("/forgot", {"email": EMAIL}, token_from="/forgot")
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body)).one()
    path = re.search(r"http://igny8\.test(/reset/\S+)", body).group(1)
    assert web.post(path, {"password": "a-brand-new-secret"}, token_from=path).status_code == 302
    assert not _signed_in(phone)
    assert not _signed_in(_with_cookie(app, "remember_token", phone_remember))


def test_a_read_only_viewer_can_still_sign_out_everywhere(app):
    account, _ = make_account(app, email=EMAIL)
    add_member(app, account, email="vic@acme.example.com", role="viewer")
    viewer = signed_in(app, "vic@acme.example.com")
    response = viewer.post("/settings/sign-out-everywhere", {}, token_from="/settings/profile")
    assert response.status_code == 302 and not _signed_in(viewer.client)
