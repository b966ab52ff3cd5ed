"""Team management: invitations, roles, site grants, deactivation, the last owner."""

from __future__ import annotations

import re

from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Invitation, OutboxMessage, SiteAccess, User
from tests.conftest import Browserless, login, make_account
from tests.integration.helpers import PASSWORD, add_member, add_site, signed_in


def _invite_path(app, email):
    with app.app_context():
        body = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == email)).one().body
    return re.search(r"(/invite/\S+)", body).group(1)


def test_invited_editor_joins_with_access_to_granted_site_only(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    granted, _ = add_site(app, account, "Granted Site")
    hidden, _ = add_site(app, account, "Hidden Site")
    owner = signed_in(app, "olive@acme.example.com")
    response = owner.post("/settings/users/invite", {"email": "eddie@acme.example.com", "role": "editor",
                                                     "site_ids": [str(granted)]}, token_from="/settings/users")
    assert response.status_code == 302
    assert "eddie@acme.example.com" in owner.get("/settings/users").get_data(as_text=True)
    path = _invite_path(app, "eddie@acme.example.com")
    newcomer = Browserless(app.test_client())
    page = newcomer.get(path).get_data(as_text=True)
    assert "Join Acme Agency" in page and "editor" in page
    assert newcomer.post(path, {"name": "Eddie", "password": "editor-password-1"}, token_from=path).status_code == 302
    sites_page = newcomer.get("/sites/").get_data(as_text=True)
    assert "Granted Site" in sites_page and "Hidden Site" not in sites_page
    assert newcomer.get(f"/sites/{hidden}").status_code == 404
    reused = newcomer.get(path)
    assert reused.status_code == 400 and "already been accepted" in reused.get_data(as_text=True)


def test_invitation_bad_input(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    make_account(app, email="taken@other.example.com")
    owner = signed_in(app, "olive@acme.example.com")
    cases = [({"email": "taken@other.example.com", "role": "admin"}, "already has an IGNY8 login"),
             ({"email": "new@acme.example.com", "role": "editor"}, "at least one site"),
             ({"email": "bad-address", "role": "admin"}, "not valid")]
    for data, message in cases:
        response = owner.post("/settings/users/invite", data, token_from="/settings/users")
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    foreign_site, _ = add_site(app, make_account(app, email="z@zeta.example.com")[0], "Zeta")
    response = owner.post("/settings/users/invite", {"email": "n@acme.example.com", "role": "editor",
                                                     "site_ids": [str(foreign_site)]}, token_from="/settings/users")
    assert response.status_code == 404
    with app.app_context(), tenancy.all_accounts():
        assert db.session.scalars(select(Invitation)).all() == []


def test_admin_cannot_grant_owner_role(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    add_member(app, account, email="adam@acme.example.com", role="admin")
    eve = add_member(app, account, email="eve@acme.example.com", role="editor")
    admin = signed_in(app, "adam@acme.example.com")
    response = admin.post("/settings/users/invite", {"email": "o2@acme.example.com", "role": "owner"},
                          token_from="/settings/users")
    assert response.status_code in (403, 422)
    assert admin.post(f"/settings/users/{eve}/role", {"role": "owner"}, token_from="/settings/users").status_code == 403
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.get(User, eve).role == "editor"


def test_last_owner_cannot_be_demoted_or_deactivated(app):
    account, owner_id = make_account(app, email="olive@acme.example.com")
    add_member(app, account, email="adam@acme.example.com", role="admin")
    owner = signed_in(app, "olive@acme.example.com")
    owner.post(f"/settings/users/{owner_id}/role", {"role": "admin"}, token_from="/settings/users")
    assert "last owner" in owner.get("/settings/users").get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.get(User, owner_id).role == "owner"
    second = add_member(app, account, email="otto@acme.example.com", role="owner")
    owner.post(f"/settings/users/{owner_id}/role", {"role": "admin"}, token_from="/settings/users")
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.get(User, owner_id).role == "admin"
    otto = signed_in(app, "otto@acme.example.com")
    otto.post(f"/settings/users/{second}/active", {"active": "0"}, token_from="/settings/users")
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.get(User, second).active


def test_deactivated_person_is_signed_out_and_cannot_sign_in(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    eve = add_member(app, account, email="eve@acme.example.com", role="editor")
    eve_client = app.test_client()
    login(eve_client, "eve@acme.example.com", PASSWORD)
    assert eve_client.get("/").status_code == 200
    owner = signed_in(app, "olive@acme.example.com")
    owner.post(f"/settings/users/{eve}/active", {"active": "0"}, token_from="/settings/users")
    assert eve_client.get("/sites/").status_code == 302
    response = login(app.test_client(), "eve@acme.example.com", PASSWORD)
    assert response.status_code == 422 and "deactivated" in response.get_data(as_text=True)
    owner.post(f"/settings/users/{eve}/active", {"active": "1"}, token_from="/settings/users")
    assert login(app.test_client(), "eve@acme.example.com", PASSWORD).status_code == 302


def test_site_grants_can_be_changed(app):
    account, _ = make_account(app, email="olive@acme.example.com")
    first, _ = add_site(app, account, "First")
    second, _ = add_site(app, account, "Second")
    eve = add_member(app, account, email="eve@acme.example.com", role="viewer", site_ids=[first])
    owner = signed_in(app, "olive@acme.example.com")
    owner.post(f"/settings/users/{eve}/sites", {"site_ids": [str(second)]}, token_from="/settings/users")
    viewer = signed_in(app, "eve@acme.example.com")
    page = viewer.get("/sites/").get_data(as_text=True)
    assert "Second" in page and "First" not in page
    owner.post(f"/settings/users/{eve}/role", {"role": "admin"}, token_from="/settings/users")
    with app.app_context(), tenancy.account_scope(account):
        assert db.session.scalars(select(SiteAccess)).all() == []
    page = viewer.get("/sites/").get_data(as_text=True)
    assert "Second" in page and "First" in page


def test_editors_cannot_manage_the_team(app):
    account, owner_id = make_account(app, email="olive@acme.example.com")
    add_member(app, account, email="eve@acme.example.com", role="editor")
    editor = signed_in(app, "eve@acme.example.com")
    assert editor.get("/settings/users").status_code == 403
    assert editor.post(f"/settings/users/{owner_id}/role", {"role": "viewer"}, token_from="/").status_code == 403
    assert "Users" not in editor.get("/").get_data(as_text=True).split("Settings")[-1]
