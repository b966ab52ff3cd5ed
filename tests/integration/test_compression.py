"""Responses are compressed (brotli or gzip) when the client accepts it, and only then."""

from __future__ import annotations

import gzip

import brotli

from app import tenancy
from app.extensions import db
from app.models import Keyword
from tests.integration.helpers import signed_in, two_accounts


def _big_keyword_page(app):
    accounts = two_accounts(app)
    a = accounts["a"]
    with app.app_context(), tenancy.account_scope(a["account"]):
        db.session.add_all([Keyword(site_id=a["site"], sector_id=a["sectors"][0], keyword=f"espresso grinder {i}",
                                    normalized=f"espresso grinder {i}", volume=1000 + i) for i in range(100)])
        db.session.commit()
        db.session.remove()
    return signed_in(app, a["email"])


def test_a_big_page_is_gzipped_for_clients_that_accept_gzip(app):
    web = _big_keyword_page(app)
    plain = web.get("/planner/keywords?per_page=100")
    assert "Content-Encoding" not in plain.headers
    size = len(plain.data)
    assert size > 20_000
    zipped = web.get("/planner/keywords?per_page=100", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < size / 4
    assert "espresso grinder 99" in gzip.decompress(zipped.data).decode()


def test_brotli_is_preferred_when_offered(app):
    web = _big_keyword_page(app)
    response = web.get("/planner/keywords?per_page=100", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert "espresso grinder 99" in brotli.decompress(response.data).decode()


def test_stylesheet_is_compressed_and_csv_export_still_streams(app):
    web = _big_keyword_page(app)
    css = web.get("/static/css/app.css", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert css.headers.get("Content-Encoding") == "br"
    assert b".topbar" in brotli.decompress(css.get_data())
    export = web.get("/planner/keywords/export.csv", headers={"Accept-Encoding": "gzip"})
    assert export.status_code == 200 and "espresso grinder 5" in export.get_data(as_text=True)
