"""The connection doctor and the REST client against a fake WordPress that produces the faults a
real one cannot easily show."""

from __future__ import annotations

import time

import httpx2
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from app.services.publishing.doctor import run_doctor
from app.services.publishing.wordpress import PermanentError, TransientError, WordPressClient
from tests.integration.fake_wordpress import (
    APP_PASSWORD, HOME_HTML, USERNAME, base_url, json_response, self_signed_context, serve_wordpress, signed_in,
)


@pytest.fixture(autouse=True)
def in_app(app):
    """The doctor runs inside a job, where the app's outbound settings apply (tests allow loopback)."""
    with app.app_context():
        yield


@pytest.fixture
def start_server():
    """Start fake HTTP(S) servers on loopback; all are stopped after the test."""
    started: list[HTTPServer] = []

    def start(*, host: str = "127.0.0.1", ssl_context=None) -> HTTPServer:
        server = HTTPServer(host=host, port=0, ssl_context=ssl_context, threaded=True)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.clear()
        if server.is_running():
            server.stop()


def doctor(url: str, **kwargs) -> dict:
    kwargs.setdefault("username", USERNAME)
    kwargs.setdefault("app_password", APP_PASSWORD)
    return run_doctor(url=url, **kwargs)


def check(outcome: dict, key: str) -> dict:
    return next(c for c in outcome["checks"] if c["key"] == key)


def test_fake_wordpress_with_good_credentials_passes(start_server):
    url = serve_wordpress(start_server())
    outcome = doctor(url)
    assert outcome["health"] == "ok", outcome["summary"]


def test_stripped_authorization_header_is_named_with_the_fix(start_server):
    url = serve_wordpress(start_server(), strip_authorization=True)
    outcome = doctor(url)
    assert outcome["health"] == "failed"
    assert check(outcome, "credentials")["status"] == "failed"
    header = check(outcome, "authorization_header")
    assert header["status"] == "failed"
    assert "removes the Authorization header" in header["cause"]
    assert 'SetEnvIf Authorization "(.*)" HTTP_AUTHORIZATION=$1' in header["fix"]
    assert "fastcgi_param HTTP_AUTHORIZATION" in header["fix"]


def test_rest_api_blocked_by_an_html_page_is_reported_as_blocked(start_server):
    server = start_server()
    firewall = "<html><body><h1>Access denied</h1>Blocked by the site's security plugin.</body></html>"
    server.expect_request("/wp-json/").respond_with_data(firewall, status=403, content_type="text/html")
    server.expect_request("/").respond_with_data(HOME_HTML, content_type="text/html")
    outcome = doctor(base_url(server))
    assert check(outcome, "reachable")["status"] == "passed"
    assert check(outcome, "wordpress")["status"] == "passed"
    rest = check(outcome, "rest_api")
    assert rest["status"] == "failed"
    assert "REST API is blocked" in rest["cause"] and "HTTP 403 (text/html)" in rest["cause"]
    assert "security plugin" in rest["fix"] and "/wp-json/" in rest["fix"]
    assert check(outcome, "credentials")["status"] == "skipped"


def test_server_errors_are_reported_with_the_fix_and_are_transient_for_the_client(start_server):
    server = start_server()
    url = base_url(server)
    server.expect_request("/wp-json/wp/v2/users/me").respond_with_json(
        {"code": "internal_server_error", "message": "There has been a critical error."}, status=500)
    serve_wordpress(server)
    outcome = doctor(url)
    credentials = check(outcome, "credentials")
    assert credentials["status"] == "failed"
    assert "server error" in credentials["cause"] and "HTTP 500" in credentials["cause"]
    assert "error log" in credentials["fix"]

    with WordPressClient(url, USERNAME, APP_PASSWORD) as client, pytest.raises(TransientError) as caught:
        client.me()
    assert caught.value.reason == "server_error" and caught.value.status == 500


def test_a_site_that_does_not_answer_in_time_fails_the_first_check(start_server):
    server = start_server()

    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late", content_type="text/html")

    server.expect_request("/").respond_with_handler(slow)
    outcome = doctor(base_url(server), timeout=0.5)
    reachable = check(outcome, "reachable")
    assert reachable["status"] == "failed"
    assert "did not answer within 0.5 seconds" in reachable["cause"]
    assert "firewall" in reachable["fix"]
    assert all(c["status"] == "skipped" for c in outcome["checks"][1:])
    with WordPressClient(base_url(server), timeout=0.5) as client, pytest.raises(TransientError) as caught:
        client.discover()
    assert caught.value.reason == "timeout"


def test_redirect_from_http_to_https_is_reported_with_the_address_to_use(start_server, tmp_path):
    server_tls, client_tls = self_signed_context(tmp_path)
    secure = start_server(host="localhost", ssl_context=server_tls)
    secure_url = serve_wordpress(secure)
    assert secure_url.startswith("https://localhost:")
    plain = start_server()
    plain.expect_request("/").respond_with_data("", status=301, headers={"Location": secure_url + "/"})

    http = httpx2.Client(verify=client_tls, follow_redirects=False, timeout=10)
    outcome = doctor(base_url(plain), http=http)
    redirects = check(outcome, "redirects")
    assert redirects["status"] == "failed"
    assert "from http to https" in redirects["cause"] and "POST arrives as a GET" in redirects["cause"]
    assert f"Use {secure_url} as the WordPress address" in redirects["fix"]
    # Everything else works at the address it redirects to.
    assert [c["key"] for c in outcome["checks"] if c["status"] != "passed"] == ["redirects"]


def test_a_redirected_rest_api_is_found_and_the_redirect_reported(start_server):
    server = start_server()
    url = base_url(server)
    index = {"name": "Moved", "namespaces": ["wp/v2"], "authentication": {"application-passwords": {}}}
    server.expect_request("/wp-json/").respond_with_data("", status=301, headers={"Location": "/en/wp-json/"})
    server.expect_request("/en/wp-json/").respond_with_json(index)
    server.expect_request("/en/wp-json/wp/v2/users/me").respond_with_json(
        {"id": 1, "name": "Eddie", "roles": ["editor"], "capabilities": {
            "publish_posts": True, "publish_pages": True, "upload_files": True, "manage_categories": True}})
    server.expect_request("/").respond_with_data(HOME_HTML, content_type="text/html")
    outcome = doctor(url)
    assert check(outcome, "rest_api")["status"] == "passed"
    assert outcome["rest_root"] == url + "/en/wp-json/"
    redirects = check(outcome, "redirects")
    assert redirects["status"] == "failed" and "/en/wp-json/" in redirects["detail"]
    assert redirects["fix"].startswith(f"Make {url}/wp-json/ answer without a redirect")
    assert check(outcome, "capabilities")["status"] == "passed"


def test_an_untrusted_certificate_is_a_tls_failure(start_server, tmp_path):
    server_tls, _ = self_signed_context(tmp_path)
    url = serve_wordpress(start_server(host="localhost", ssl_context=server_tls))
    outcome = doctor(url)
    reachable = check(outcome, "reachable")
    assert reachable["status"] == "failed"
    assert "certificate" in reachable["cause"]
    assert "Renew or repair the site's HTTPS certificate" in reachable["fix"]


def test_a_site_that_is_not_wordpress_says_so(start_server):
    server = start_server()
    server.expect_request("/wp-json/").respond_with_data("Page not found", status=404, content_type="text/html")
    server.expect_request("/").respond_with_data("<html><body>Hand-made shop</body></html>", content_type="text/html")
    outcome = doctor(base_url(server))
    assert check(outcome, "reachable")["status"] == "passed"
    site = check(outcome, "wordpress")
    assert site["status"] == "failed"
    assert "No sign of WordPress" in site["cause"]
    assert "include the folder" in site["fix"]
    assert outcome["health"] == "failed"


def test_application_passwords_missing_over_plain_http_says_https_is_needed(start_server):
    url = serve_wordpress(start_server(), app_passwords=False)
    outcome = doctor(url)
    app_passwords = check(outcome, "app_passwords")
    assert app_passwords["status"] == "failed"
    assert "only over HTTPS" in app_passwords["cause"]
    assert "WP_ENVIRONMENT_TYPE" in app_passwords["fix"]


def test_client_finds_the_rest_api_of_plain_permalinks_through_rest_route(start_server):
    server = start_server()
    url = base_url(server)
    index = {"name": "Plain", "namespaces": ["wp/v2"]}

    def root(request: Request) -> Response:
        route = request.args.get("rest_route")
        if route == "/":
            return json_response(index)
        if route == "/wp/v2/users/me" and signed_in(request) and request.args.get("context") == "edit":
            return json_response({"id": 3, "name": "Plain Editor", "capabilities": {}})
        if route:
            return json_response({"code": "rest_not_logged_in"}, 401)
        return Response(HOME_HTML, content_type="text/html")

    server.expect_request("/wp-json/").respond_with_data("Not found", status=404, content_type="text/html")
    server.expect_request("/").respond_with_handler(root)
    with WordPressClient(url, USERNAME, APP_PASSWORD) as client:
        found = client.discover()
        assert found.via == "?rest_route=/" and found.rest_root == url + "/?rest_route=/"
        assert client.me()["name"] == "Plain Editor"


def test_uploads_never_send_expect_100_continue_and_sign_in_with_basic_auth(start_server):
    server = start_server()
    url = serve_wordpress(server)
    seen: list[dict] = []

    def media(request: Request) -> Response:
        seen.append({"headers": dict(request.headers), "size": len(request.get_data())})
        return json_response({"id": 11, "source_url": url + "/wp-content/uploads/a.jpg"}, 201)

    server.expect_request("/wp-json/wp/v2/media", method="POST").respond_with_handler(media)
    payload = b"\xff\xd8" + b"x" * 3_000_000
    with WordPressClient(url, USERNAME, APP_PASSWORD) as client:
        assert client.upload_media(payload, filename="a.jpg", content_type="image/jpeg")["id"] == 11
    [request] = seen
    assert request["size"] == len(payload)
    assert "Expect" not in request["headers"]
    assert request["headers"]["Authorization"].startswith("Basic ")
    assert request["headers"]["Content-Disposition"] == 'attachment; filename="a.jpg"'


def test_client_sorts_errors_into_transient_and_permanent(start_server):
    server = start_server()
    url = serve_wordpress(server)
    server.expect_request("/wp-json/wp/v2/posts", method="POST").respond_with_json(
        {"code": "rest_cannot_create", "message": "Sorry, you are not allowed to create posts."}, status=403)
    server.expect_request("/wp-json/wp/v2/tags").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"})
    server.expect_request("/wp-json/wp/v2/pages", method="POST").respond_with_data(
        "", status=301, headers={"Location": "https://elsewhere.example.com/wp-json/wp/v2/pages"})
    with WordPressClient(url, USERNAME, APP_PASSWORD) as client:
        with pytest.raises(PermanentError) as forbidden:
            client.request("POST", "/wp/v2/posts", json={"title": "x"})
        assert forbidden.value.wp_code == "rest_cannot_create" and not forbidden.value.transient
        with pytest.raises(TransientError) as limited:
            client.request("GET", "/wp/v2/tags")
        assert limited.value.retry_after == 30 and limited.value.transient
        with pytest.raises(PermanentError) as moved:
            client.request("POST", "/wp/v2/pages", json={"title": "x"})
        assert moved.value.reason == "redirect" and moved.value.location.startswith("https://elsewhere")


def test_a_wordpress_address_inside_a_private_network_is_refused_before_connecting(app, start_server, monkeypatch):
    server = start_server()
    url = serve_wordpress(server)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
    outcome = doctor(url)
    assert outcome["health"] == "failed"
    first = outcome["checks"][0]
    assert first["status"] == "failed"
    assert "does not connect to 127.0.0.1" in first["cause"]
    assert server.log == []  # not one request reached the server
