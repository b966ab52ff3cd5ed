"""Requests to customer-given URLs (SSRF): the site check an editor starts from the site page must not
reach the platform's own network, whatever the URL, its DNS answer or its redirects say."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Job, Notification
from app.services import outbound
from tests.conftest import login, make_account

HTMX = {"HX-Request": "true"}
EMAIL = "owner@acme.example.com"


class Listener:
    """A TCP port that counts the connections made to it (and answers nothing)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


class FakeSite:
    """A local HTTP server; `routes` maps a path to (status, headers, body)."""

    def __init__(self, routes: dict[str, tuple[int, dict, bytes]], host: str = "127.0.0.1") -> None:
        owner = self
        self.requests: list[str] = []
        self.headers: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests.append(self.path)
                owner.headers.append(dict(self.headers))
                status, headers, body = routes.get(self.path, (404, {}, b"not here"))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


WORDPRESS = {"/": (200, {"Content-Type": "text/html"}, b"<html>A blog</html>"),
             "/wp-json/": (200, {"Content-Type": "application/json"}, json.dumps({"namespaces": ["wp/v2"]}).encode())}


@pytest.fixture
def listener():
    item = Listener()
    yield item
    item.close()


@pytest.fixture
def production_policy(app, monkeypatch):
    """The production default: no private address is allowed."""
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS", [])


def check_site(app, url: str) -> tuple[dict, str, object]:
    """An owner saves a site with this URL and presses "Check site now"; the worker runs the check.
    Returns the job row, the job card the site page shows afterwards, and the signed-in client."""
    from app.services.accounts.sites import create_site

    account_id, _ = make_account(app, email=EMAIL)
    with app.app_context(), tenancy.account_scope(account_id):
        site_id = create_site(name="Blog", url=url, timezone="UTC", industry_id=None, sector_template_ids=[],
                              sector_names=["General"]).id
        db.session.remove()
    client = app.test_client()
    login(client, EMAIL)
    page = client.get(f"/sites/{site_id}").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    started = client.post(f"/sites/{site_id}/check", headers={**HTMX, "X-CSRFToken": token})
    assert started.status_code == 200, started.get_data(as_text=True)
    SimpleWorker([app.extensions["rq_queues"]["default"]], connection=app.extensions["redis"]).work(burst=True)
    with app.app_context(), tenancy.all_accounts():
        job = db.session.scalars(select(Job).where(Job.kind == "site.check")).one()
        row = {"status": job.status, "error": job.error, "result": job.result, "id": job.id}
        db.session.remove()
    card = client.get(f"/jobs/{row['id']}/progress", headers=HTMX).get_data(as_text=True)
    return row, card, client


def assert_refused(row: dict, card: str, *, mentions: str) -> None:
    assert row["status"] == "failed"
    assert "does not connect to" in row["error"] and mentions in row["error"]
    assert "not a site on the public internet" in row["error"]
    assert 'data-testid="job-status">Failed<' in card and "pill-err" in card
    assert "Succeeded" not in card


def test_site_check_of_the_platform_database_port_is_refused_in_plain_words(app, production_policy):
    row, card, _ = check_site(app, "http://127.0.0.1:5432")

    assert_refused(row, card, mentions="loopback address")
    assert "IGNY8 does not connect to 127.0.0.1: it is a loopback address" in card
    # Nothing about what (if anything) listens there.
    assert "PostgreSQL" not in card
    assert "Connection" not in row["error"] and "Errno" not in row["error"]


def test_site_check_of_a_loopback_address_never_opens_a_connection(app, production_policy, listener):
    row, card, _ = check_site(app, f"http://127.0.0.1:{listener.port}")

    assert_refused(row, card, mentions="loopback address")
    assert listener.connections == 0


def test_a_name_that_resolves_to_a_loopback_address_is_refused_after_dns(app, production_policy, listener):
    row, card, _ = check_site(app, f"http://localhost:{listener.port}")

    assert_refused(row, card, mentions="localhost")
    assert listener.connections == 0


def test_a_redirect_to_a_private_address_is_refused_and_never_followed(app, monkeypatch):
    # The operator allows one private address (an intranet WordPress); it redirects elsewhere inside.
    inside = Listener("127.0.0.2")
    site = FakeSite({"/": (302, {"Location": f"http://127.0.0.2:{inside.port}/admin"}, b"")})
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS", ["127.0.0.1/32"])
    try:
        row, card, _ = check_site(app, site.url)
    finally:
        site.close()
        inside.close()

    assert site.requests == ["/"]  # the allowed server was asked once…
    assert inside.connections == 0  # …and the address it pointed to never
    assert_refused(row, card, mentions="127.0.0.2")


def test_a_redirect_to_cloud_metadata_is_refused_even_where_private_addresses_are_allowed(app):
    assert app.config["OUTBOUND_ALLOW_PRIVATE_ADDRESSES"] is True  # tests run with the development setting
    site = FakeSite({"/": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")})
    try:
        row, card, _ = check_site(app, site.url)
    finally:
        site.close()

    assert_refused(row, card, mentions="cloud metadata address")


def test_redirect_loops_stop_after_a_few_hops(app):
    site = FakeSite({f"/{n}": (302, {"Location": f"/{n + 1}"}, b"") for n in range(20)}
                    | {"/": (302, {"Location": "/0"}, b"")})
    try:
        row, card, _ = check_site(app, site.url)
    finally:
        site.close()

    assert row["status"] == "failed"
    assert f"redirected more than {outbound.MAX_REDIRECTS} times" in row["error"]
    assert len(site.requests) == outbound.MAX_REDIRECTS + 1


def test_with_private_addresses_allowed_the_local_wordpress_is_checked(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", True)
    routes = dict(WORDPRESS)
    routes["/"] = (302, {"Location": "/home"}, b"")
    routes["/home"] = (200, {}, b"<html>home</html>")
    site = FakeSite(routes)
    try:
        row, card, _ = check_site(app, site.url)
    finally:
        site.close()

    assert row["status"] == "succeeded", row["error"]
    assert row["result"]["wordpress"] is True
    assert 'data-testid="job-status">Succeeded<' in card and "the WordPress REST API answers" in card
    assert site.requests == ["/", "/home", "/wp-json/"]


def test_credentials_are_not_sent_on_to_another_site_after_a_redirect(app):
    other = FakeSite({"/landing": (200, {}, b"landed")})
    first = FakeSite({"/": (302, {"Location": f"{other.url}/landing"}, b"")})
    try:
        with app.app_context():
            response = outbound.get(f"{first.url}/", headers={"Authorization": "Basic c2VjcmV0"})
    finally:
        first.close()
        other.close()

    assert response.status == 200 and response.body == b"landed" and response.url == f"{other.url}/landing"
    assert response.redirects == [f"{other.url}/landing"]
    assert first.headers[0]["Authorization"] == "Basic c2VjcmV0"
    assert "Authorization" not in other.headers[0]


# ----------------------------------------------------------------------------- a failed check looks failed


def test_a_site_that_cannot_be_reached_fails_its_check_and_looks_failed_everywhere(app, listener):
    listener.close()  # nothing listens there any more
    row, card, client = check_site(app, f"http://127.0.0.1:{listener.port}")

    assert row["status"] == "failed"
    assert row["error"].startswith(f"Could not connect to http://127.0.0.1:{listener.port}")
    assert 'data-testid="job-status">Failed<' in card and "pill-err" in card and "progress-failed" in card
    assert "Succeeded" not in card and "pill-ok" not in card and "progress-succeeded" not in card
    site_page = client.get("/sites/").get_data(as_text=True)
    detail = client.get(f"/jobs/{row['id']}").get_data(as_text=True)
    assert "Could not connect" in detail and "Succeeded" not in detail.split("<main", 1)[1]
    assert site_page  # the sites list still opens
    with app.app_context(), tenancy.all_accounts():
        [note] = db.session.scalars(select(Notification)).all()
        assert note.level == "error" and note.title == "Site check: Blog failed"
        assert note.body == row["error"]
        db.session.remove()


def test_a_site_without_the_wordpress_rest_api_fails_its_check_with_the_cause(app):
    site = FakeSite({"/": (200, {}, b"<html>not WordPress</html>")})
    try:
        row, card, _ = check_site(app, site.url)
    finally:
        site.close()

    assert row["status"] == "failed"
    assert "no WordPress REST API was found at /wp-json/" in row["error"]
    assert 'data-testid="job-status">Failed<' in card


# ----------------------------------------------------------------------------- the rules themselves


NON_PUBLIC = [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.10.1", "link-local"), ("169.254.169.254", "metadata"), ("100.100.100.200", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "private"), ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
    ("fc00::1", "private"), ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"), ("2002:7f00:1::", "loopback"), ("64:ff9b::a00:1", "private"),
    ("fd00:ec2::254", "metadata"),
]


def test_non_public_addresses_are_refused():
    import ipaddress

    for address, reason in NON_PUBLIC:
        assert reason in outbound.refusal_reason(ipaddress.ip_address(address)), address
        with pytest.raises(outbound.DestinationRefused):
            outbound.resolve(address, 80, outbound.Policy())


def test_public_addresses_pass_and_allowing_private_ones_never_allows_metadata():
    import ipaddress

    assert outbound.refusal_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert outbound.refusal_reason(ipaddress.ip_address("2606:4700::1111")) is None
    relaxed = outbound.Policy(allow_private=True)
    assert relaxed.refusal(ipaddress.ip_address("10.0.0.5")) is None
    assert relaxed.refusal(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"
    assert relaxed.refusal(ipaddress.ip_address("::ffff:169.254.169.254")) == "a cloud metadata address"


def test_only_web_addresses_are_fetched():
    for url in ("file:///etc/passwd", "gopher://example.com/", "ftp://example.com/x", "http://"):
        with pytest.raises(outbound.FetchFailed, match="not a web address"):
            outbound.get(url)
