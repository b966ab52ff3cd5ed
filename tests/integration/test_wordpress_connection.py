"""A site's WordPress connection through HTTP: the form (owners and admins only, the application
password never shown back) and the connection test against the real loopback WordPress."""

from __future__ import annotations

import re

import sqlalchemy as sa
from rq import SimpleWorker

from app import tenancy
from app.extensions import db
from app.models import Site
from app.queue import get_queue
from app.services.publishing.connection import client_for
from app.services.publishing.doctor import run_doctor
from tests.conftest import make_account
from tests.integration.helpers import add_member, add_site, signed_in

OWNER = "owner@acme.example.com"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
HTMX = {"HX-Request": "true"}


def _owner_with_site(app):
    account_id, _ = make_account(app, email=OWNER)
    site_id, _ = add_site(app, account_id)
    return account_id, site_id


def _save(web, site_id: int, **fields):
    data = {"wp-wp_url": "https://blog.example.com", "wp-username": "editor@example.com",
            "wp-app_password": APP_PASSWORD}
    data.update({f"wp-{k}": v for k, v in fields.items()})
    return web.post(f"/sites/{site_id}/wordpress", data, token_from=f"/sites/{site_id}")


def _site(app, account_id: int, site_id: int) -> Site:
    with app.app_context(), tenancy.account_scope(account_id):
        site = db.session.get(Site, site_id)
        db.session.expunge(site)
        return site


def _raw_password_column(app, site_id: int) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT wp_app_password FROM sites WHERE id = :id"), {"id": site_id}).scalar()


def run_worker(app) -> None:
    with app.app_context():
        queue = get_queue("default")
    SimpleWorker([queue], connection=app.extensions["redis"]).work(burst=True)


def test_owner_saves_the_connection_and_the_password_is_encrypted_and_never_shown_back(app):
    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)

    response = _save(web, site_id)
    assert response.status_code == 302

    page = web.get(f"/sites/{site_id}").get_data(as_text=True)
    assert "editor@example.com" in page and "https://blog.example.com" in page
    assert APP_PASSWORD not in page and APP_PASSWORD.replace(" ", "") not in page
    assert "5678" in page  # only the last characters, to recognise it
    assert "Not tested" in page
    raw = _raw_password_column(app, site_id)
    assert raw and "abcd" not in raw and "5678" not in raw
    assert _site(app, account_id, site_id).wp_app_password == APP_PASSWORD

    # Saving again with the password left empty keeps the stored one.
    assert _save(web, site_id, username="someone-else", app_password="").status_code == 302
    site = _site(app, account_id, site_id)
    assert site.wp_username == "someone-else" and site.wp_app_password == APP_PASSWORD
    assert "Not tested" in web.get("/sites/").get_data(as_text=True)


def test_bad_connection_input_gets_a_clear_message_and_the_typed_password_is_not_echoed(app):
    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)

    response = _save(web, site_id, username="  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the WordPress user name" in html
    assert APP_PASSWORD not in html and "abcd" not in html

    response = _save(web, site_id, wp_url="not a url at all", app_password="")
    assert response.status_code == 422
    assert "Enter the site&#39;s address" in response.get_data(as_text=True) or \
        "Enter the site's address" in response.get_data(as_text=True)

    response = _save(web, site_id, app_password="")
    assert response.status_code == 422
    assert "Paste an application password" in response.get_data(as_text=True)
    assert _site(app, account_id, site_id).wp_connected is False


def test_editor_and_viewer_cannot_change_the_connection(app):
    account_id, site_id = _owner_with_site(app)
    add_member(app, account_id, email="ed@acme.example.com", role="editor", site_ids=[site_id])
    add_member(app, account_id, email="vi@acme.example.com", role="viewer", site_ids=[site_id])
    owner = signed_in(app, OWNER)
    assert _save(owner, site_id).status_code == 302

    for email in ("ed@acme.example.com", "vi@acme.example.com"):
        web = signed_in(app, email)
        page = web.get(f"/sites/{site_id}").get_data(as_text=True)
        assert 'name="wp-app_password"' not in page
        assert APP_PASSWORD not in page
        response = _save(web, site_id, username="hijack", app_password="zzzz zzzz zzzz zzzz zzzz zzzz")
        assert response.status_code == 403
        assert web.post(f"/sites/{site_id}/wordpress/disconnect", {}, token_from=f"/sites/{site_id}").status_code == 403
    site = _site(app, account_id, site_id)
    assert site.wp_username == "editor@example.com" and site.wp_app_password == APP_PASSWORD
    # A viewer may not start a connection test either.
    viewer = signed_in(app, "vi@acme.example.com")
    assert viewer.post(f"/sites/{site_id}/wordpress/test", {}, token_from=f"/sites/{site_id}").status_code == 403


def test_disconnect_forgets_the_credentials(app):
    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)
    _save(web, site_id)
    assert web.post(f"/sites/{site_id}/wordpress/disconnect", {}, token_from=f"/sites/{site_id}").status_code == 302
    site = _site(app, account_id, site_id)
    assert site.wp_app_password is None and site.wp_username is None
    assert _raw_password_column(app, site_id) is None
    assert "Not connected" in web.get("/sites/").get_data(as_text=True)


def test_connection_test_against_the_real_wordpress_passes_every_check(app, real_wordpress):
    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)
    assert _save(web, site_id, wp_url=real_wordpress.url, username=real_wordpress.admin.username,
                 app_password=real_wordpress.admin.app_password).status_code == 302

    started = web.client.post(f"/sites/{site_id}/wordpress/test", headers=HTMX,
                              data={"csrf_token": _token(web, site_id)})
    assert started.status_code == 200
    job_id = int(re.search(r'id="job-(\d+)"', started.get_data(as_text=True)).group(1))
    run_worker(app)

    done = web.client.get(f"/jobs/{job_id}/progress", headers=HTMX)
    assert 'data-status="succeeded"' in done.get_data(as_text=True)
    assert "All 8 checks passed" in done.get_data(as_text=True)
    checks = web.get(f"/sites/{site_id}/wordpress/checks").get_data(as_text=True)
    assert checks.count('data-status="passed"') == 8
    assert "Failed" not in checks
    listing = web.get("/sites/").get_data(as_text=True)
    assert "Connected" in listing and "tested " in listing
    site = _site(app, account_id, site_id)
    assert site.wp_health == "ok" and site.wp_checked_at is not None

    # The publisher's client for the site signs in with the stored credentials at the found REST root.
    with app.app_context(), client_for(site) as client:
        assert client.rest_root == real_wordpress.url + "/wp-json/"
        assert client.me()["name"] == real_wordpress.admin.username


def _token(web, site_id: int) -> str:
    from tests.conftest import csrf_token

    return csrf_token(web.client, f"/sites/{site_id}")


def _check(outcome: dict, key: str) -> dict:
    return next(c for c in outcome["checks"] if c["key"] == key)


def test_login_password_instead_of_an_application_password_fails_with_a_clear_cause(app, real_wordpress):
    with app.app_context():
        outcome = run_doctor(url=real_wordpress.url, username=real_wordpress.admin.username,
                             app_password=real_wordpress.admin.password)
    assert outcome["health"] == "failed"
    credentials = _check(outcome, "credentials")
    assert credentials["status"] == "failed"
    assert "login password is never accepted" in credentials["cause"]
    assert "Application Passwords" in credentials["fix"]
    assert _check(outcome, "capabilities")["status"] == "skipped"
    assert _check(outcome, "reachable")["status"] == "passed"


def test_user_without_publishing_rights_fails_the_capability_check_with_the_fix(app, real_wordpress):
    with app.app_context():
        outcome = run_doctor(url=real_wordpress.url, username=real_wordpress.no_publish.username,
                             app_password=real_wordpress.no_publish.app_password)
    assert outcome["health"] == "failed"
    assert _check(outcome, "credentials")["status"] == "passed"
    capabilities = _check(outcome, "capabilities")
    assert capabilities["status"] == "failed"
    assert "may not publish posts, publish pages" in capabilities["cause"]
    assert "upload" not in capabilities["cause"]
    assert "Editor or Administrator" in capabilities["fix"]


def test_e_mail_works_as_the_user_name(app, real_wordpress):
    with app.app_context():
        outcome = run_doctor(url=real_wordpress.url, username=real_wordpress.admin.email,
                             app_password=real_wordpress.admin.app_password)
    assert outcome["health"] == "ok", outcome["summary"]


def test_connection_test_is_refused_while_the_publisher_module_is_off(app):
    from app.modules import MODULE_LABELS
    from app.services.modules import set_modules

    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)
    _save(web, site_id)
    with app.app_context(), tenancy.account_scope(account_id):
        set_modules(enabled=set(MODULE_LABELS) - {"publisher"}, actor_id=_owner_id(account_id))

    response = web.post(f"/sites/{site_id}/wordpress/test", {}, token_from=f"/sites/{site_id}")
    assert response.status_code == 400
    assert "The Publisher module is turned off" in response.get_data(as_text=True)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar() == 0


def test_connection_test_needs_a_saved_connection(app):
    _, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)
    response = web.post(f"/sites/{site_id}/wordpress/test", {}, token_from=f"/sites/{site_id}",
                        follow_redirects=True)
    assert "Save the WordPress address, user name and application password first." in response.get_data(as_text=True)


def _owner_id(account_id: int) -> int:
    from app.models import User

    return db.session.scalars(sa.select(User.id).where(User.account_id == account_id)).first()


def test_a_failing_connection_test_is_not_shown_as_succeeded_and_the_sites_list_says_failing(app, real_wordpress):
    account_id, site_id = _owner_with_site(app)
    web = signed_in(app, OWNER)
    assert _save(web, site_id, wp_url=real_wordpress.url, username=real_wordpress.admin.username,
                 app_password=real_wordpress.admin.password).status_code == 302  # the login password
    started = web.client.post(f"/sites/{site_id}/wordpress/test", headers=HTMX,
                              data={"csrf_token": _token(web, site_id)})
    job_id = int(re.search(r'id="job-(\d+)"', started.get_data(as_text=True)).group(1))
    run_worker(app)

    done = web.client.get(f"/jobs/{job_id}/progress", headers=HTMX).get_data(as_text=True)
    assert "Done: problems found" in done and ">Succeeded<" not in done
    page = web.get(f"/sites/{site_id}").get_data(as_text=True)
    assert "login password is never accepted" in page and "Application Passwords, add one named" in page
    listing = web.get("/sites/").get_data(as_text=True)
    assert ">Failing</span>" in listing and "tested " in listing
