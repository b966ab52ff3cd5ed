"""Sign-up, sign-in, password reset, sessions and rate limits."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Account, OutboxMessage, PasswordResetToken, Subscription, User
from tests.conftest import Browserless, login, make_account

GOOD = {"account_name": "Bright Agency", "name": "Bea Bright", "email": "bea@bright.example.com",
        "password": "plenty-of-letters-9"}


def _client_from(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _count(app, model):
    with app.app_context(), tenancy.all_accounts():
        return len(db.session.scalars(select(model)).all())


def test_signup_creates_account_owner_subscription_and_credits(app, web):
    response = web.post("/signup", GOOD, token_from="/signup")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sites/new")
    with app.app_context(), tenancy.all_accounts():
        user = db.session.scalars(select(User)).one()
        assert user.role == "owner" and user.email == "bea@bright.example.com"
        account = db.session.get(Account, user.account_id)
        assert account.name == "Bright Agency" and account.credits == 100
        subscription = db.session.scalars(select(Subscription)).one()
        assert subscription.plan.is_default and subscription.account_id == account.id
    assert "100 credits" in web.get("/").get_data(as_text=True)


def test_signup_with_duplicate_email_is_refused_and_changes_nothing(app, web):
    make_account(app, email="bea@bright.example.com")
    response = web.post("/signup", {**GOOD, "email": "BEA@Bright.example.com"}, token_from="/signup")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert _count(app, Account) == 1 and _count(app, User) == 1


def test_signup_with_weak_password_is_refused(app, web):
    for password, message in [("short1", "at least 10 characters"), ("password123", "too easy to guess"),
                              ("12345678901234", "letters as well as digits")]:
        response = web.post("/signup", {**GOOD, "password": password}, token_from="/signup")
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert _count(app, Account) == 0


def test_signup_with_invalid_email_or_missing_fields(app, web):
    response = web.post("/signup", {**GOOD, "email": "not-an-email"}, token_from="/signup")
    assert response.status_code == 422 and "not valid" in response.get_data(as_text=True)
    response = web.post("/signup", {**GOOD, "account_name": ""}, token_from="/signup")
    assert response.status_code == 422 and "Give your company" in response.get_data(as_text=True)
    assert _count(app, Account) == 0


def test_wrong_password_gives_one_message_for_unknown_and_known_emails(app, client):
    make_account(app, email="olive@acme.example.com")
    for email in ("olive@acme.example.com", "nobody@acme.example.com"):
        response = login(client, email, "wrong-password-here")
        assert response.status_code == 422
        assert "do not match an IGNY8 login" in response.get_data(as_text=True)


def test_logout_requires_post_and_ends_session(app, client):
    make_account(app, email="olive@acme.example.com")
    login(client, "olive@acme.example.com")
    assert client.get("/logout").status_code == 405
    Browserless(client).post("/logout", {}, token_from="/")
    assert client.get("/sites/").status_code == 302


def test_post_without_csrf_token_is_refused(app, client):
    make_account(app, email="olive@acme.example.com")
    response = client.post("/login", data={"email": "olive@acme.example.com", "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    login(client, "olive@acme.example.com")
    response = client.post("/sites/new", data={"name": "X", "url": "https://x.example.com"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#flash"


def test_htmx_post_with_csrf_header_is_accepted(app, client):
    make_account(app, email="olive@acme.example.com")
    login(client, "olive@acme.example.com")
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    response = client.post("/notifications/read-all", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200


def test_tampered_session_cookie_is_treated_as_signed_out(app, client):
    make_account(app, email="olive@acme.example.com")
    login(client, "olive@acme.example.com")
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB"))
    response = client.get("/sites/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_cookie_flags(app, client):
    make_account(app, email="olive@acme.example.com")
    response = login(client, "olive@acme.example.com")
    header = response.headers.get("Set-Cookie")
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_security_headers_on_pages(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "HX-Request" in response.headers["Vary"]


def test_failed_sign_ins_from_one_address_across_emails_are_limited(app):
    client = _client_from(app, "10.9.9.9")
    statuses = [login(client, f"user{i}@acme.example.com", "wrong-password-x").status_code for i in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    refused = login(client, "x@acme.example.com", "y")
    assert refused.status_code == 429 and "Too many failed attempts to sign in" in refused.get_data(as_text=True)
    assert "Forgot your password?" in refused.get_data(as_text=True)


def _reset_link(app, email: str) -> str:
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == email)
                                     .order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    return re.search(r"http://igny8\.test(/reset/\S+)", message.body).group(1)


def test_password_reset_by_emailed_link_once(app, client, web):
    make_account(app, email="olive@acme.example.com")
    response = web.post("/forgot", {"email": "olive@acme.example.com"}, token_from="/forgot")
    assert "reset link is on its way" in response.get_data(as_text=True)
    path = _reset_link(app, "olive@acme.example.com")
    response = web.post(path, {"password": "a-brand-new-secret"}, token_from=path)
    assert response.status_code == 302
    assert login(app.test_client(), "olive@acme.example.com").status_code == 422
    assert login(app.test_client(), "olive@acme.example.com", "a-brand-new-secret").status_code == 302
    reused = web.get(path)
    assert reused.status_code == 400 and "already been used" in reused.get_data(as_text=True)


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(app, web):
    response = web.post("/forgot", {"email": "ghost@acme.example.com"}, token_from="/forgot")
    assert "reset link is on its way" in response.get_data(as_text=True)
    assert _count(app, OutboxMessage) == 0


def test_expired_reset_link_is_refused(app, web):
    make_account(app, email="olive@acme.example.com")
    web.post("/forgot", {"email": "olive@acme.example.com"}, token_from="/forgot")
    path = _reset_link(app, "olive@acme.example.com")
    with app.app_context():
        row = db.session.scalars(select(PasswordResetToken)).one()
        row.expires_at = row.expires_at - timedelta(hours=2)
        db.session.commit()
    response = web.post(path, {"password": "a-brand-new-secret"}, token_from="/forgot")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert login(app.test_client(), "olive@acme.example.com", "a-brand-new-secret").status_code == 422


def test_reset_with_weak_password_keeps_the_link_usable(app, web):
    make_account(app, email="olive@acme.example.com")
    web.post("/forgot", {"email": "olive@acme.example.com"}, token_from="/forgot")
    path = _reset_link(app, "olive@acme.example.com")
    response = web.post(path, {"password": "short"}, token_from=path)
    assert response.status_code == 422 and "at least 10" in response.get_data(as_text=True)
    assert web.post(path, {"password": "long-enough-now-1"}, token_from=path).status_code == 302


def test_reset_ends_other_sessions(app):
    make_account(app, email="olive@acme.example.com")
    other_device = app.test_client()
    login(other_device, "olive@acme.example.com")
    assert other_device.get("/sites/").status_code == 200
    web = Browserless(app.test_client())
    web.post("/forgot", {"email": "olive@acme.example.com"}, token_from="/forgot")
    path = _reset_link(app, "olive@acme.example.com")
    web.post(path, {"password": "a-brand-new-secret"}, token_from=path)
    assert other_device.get("/sites/").status_code == 302


def test_change_password_needs_current_password(app, client):
    make_account(app, email="olive@acme.example.com")
    login(client, "olive@acme.example.com")
    web = Browserless(client)
    response = web.post("/settings/password", {"pw-current_password": "nope-nope-nope",
                                               "pw-new_password": "fresh-password-22"},
                        token_from="/settings/profile")
    assert response.status_code == 422 and "current password is not right" in response.get_data(as_text=True)
    response = web.post("/settings/password", {"pw-current_password": "correct-horse-battery",
                                               "pw-new_password": "fresh-password-22"},
                        token_from="/settings/profile")
    assert response.status_code == 302
    assert client.get("/settings/profile").status_code == 200  # this device stays signed in
    assert login(app.test_client(), "olive@acme.example.com", "fresh-password-22").status_code == 302


def test_profile_name_change(app, client):
    make_account(app, email="olive@acme.example.com")
    login(client, "olive@acme.example.com")
    web = Browserless(client)
    web.post("/settings/profile", {"name": "Olive Oyl"}, token_from="/settings/profile")
    assert "Olive Oyl" in client.get("/settings/profile").get_data(as_text=True)
    response = web.post("/settings/profile", {"name": "  "}, token_from="/settings/profile")
    assert response.status_code == 422


def test_open_redirect_after_login_is_ignored(app, client):
    make_account(app, email="olive@acme.example.com")
    web = Browserless(client)
    response = web.post("/login?next=https://evil.example.com/", {"email": "olive@acme.example.com",
                                                                  "password": "correct-horse-battery"})
    assert response.headers["Location"] == "/"


def test_links_in_emails_never_come_from_the_host_header(app, client):
    make_account(app, email="olive@acme.example.com")
    evil = {"Host": "evil.example"}

    def post(path, data, token_from):
        page = client.get(token_from, headers=evil).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return client.post(path, data={**data, "csrf_token": token}, headers=evil, follow_redirects=True)

    assert post("/forgot", {"email": "olive@acme.example.com"}, "/forgot").status_code == 200
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage.body)).one()
    assert "evil.example" not in body and "http://igny8.test/reset/" in body
    assert post("/login", {"email": "olive@acme.example.com", "password": "correct-horse-battery"},
                "/login").status_code == 200
    response = post("/settings/users/invite", {"email": "nina@acme.example.com", "role": "admin"},
                    "/settings/users")
    assert "http://igny8.test/invite/" in response.get_data(as_text=True)
    with app.app_context():
        invitation = db.session.scalars(select(OutboxMessage.body)
                                        .where(OutboxMessage.to == "nina@acme.example.com")).one()
    assert "evil.example" not in invitation and "http://igny8.test/invite/" in invitation


def test_signup_hint_states_exactly_the_rules_the_form_enforces(app, web):
    from app.services.accounts.passwords import RULES, rules_hint

    page = web.get("/signup").get_data(as_text=True)
    hint = rules_hint()
    assert hint in page and "avoid common passwords" not in page
    # Each rule is in the hint, and a password breaking only that rule is refused with its message.
    breaking = ["Short-1x", "Long-enough-" + "x" * 200, "password123", "abababababab", "31415926535897",
                "tea-with-beatrice-9"]
    assert len(breaking) == len(RULES)
    for rule, password in zip(RULES, breaking):
        assert rule.hint in hint
        response = web.post("/signup", {**GOOD, "email": "beatrice@bright.example.com", "password": password},
                            token_from="/signup")
        assert response.status_code == 422, password
        assert rule.problem in response.get_data(as_text=True), password
    assert _count(app, Account) == 0
