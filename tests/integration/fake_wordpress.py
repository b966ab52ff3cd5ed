"""A fake WordPress REST server (pytest-httpserver) for faults a real WordPress cannot easily
produce: a host that strips the Authorization header, a firewall page, server errors, slowness,
redirects and TLS trouble."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

USERNAME = "editor"
APP_PASSWORD = "abcd efgh ijkl mnop qrst uvwx"
ALL_CAPABILITIES = {"publish_posts": True, "publish_pages": True, "upload_files": True,
                    "manage_categories": True, "edit_posts": True, "read": True}
HOME_HTML = ("<!doctype html><html><head><link rel='stylesheet' href='/wp-content/themes/x/style.css'>"
             "</head><body>A blog</body></html>")


def base_url(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


def json_response(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def signed_in(request: Request) -> bool:
    expected = "Basic " + base64.b64encode(f"{USERNAME}:{APP_PASSWORD}".encode()).decode()
    return request.headers.get("Authorization") == expected


NOT_LOGGED_IN = {"code": "rest_not_logged_in", "message": "You are not currently logged in.", "data": {"status": 401}}


def serve_wordpress(server: HTTPServer, *, app_passwords: bool = True, strip_authorization: bool = False,
                    capabilities: dict | None = None, link_header: bool = True) -> str:
    """Answer like a WordPress site with pretty permalinks; returns its base URL."""
    base = base_url(server)
    headers = {"Link": f'<{base}/wp-json/>; rel="https://api.w.org/"'} if link_header else {}
    index = {"name": "Fake blog", "url": base, "namespaces": ["oembed/1.0", "wp/v2"], "routes": {}}
    if app_passwords:
        index["authentication"] = {"application-passwords": {"endpoints": {
            "authorization": f"{base}/wp-admin/authorize-application.php"}}}

    def me(request: Request) -> Response:
        if strip_authorization or not signed_in(request):
            return json_response(NOT_LOGGED_IN, 401)
        return json_response({"id": 7, "name": "Eddie Editor", "roles": ["editor"],
                              "capabilities": capabilities if capabilities is not None else ALL_CAPABILITIES})

    server.expect_request("/wp-json/wp/v2/users/me").respond_with_handler(me)
    server.expect_request("/wp-json/").respond_with_json(index)
    server.expect_request("/").respond_with_data(HOME_HTML, content_type="text/html", headers=headers)
    return base


def self_signed_context(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for localhost, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(cert_file))
    return server_context, client_context
