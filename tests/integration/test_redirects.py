"""A `next` address in a form or link never sends a person to another site."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from sqlalchemy import select

from app.extensions import db
from app.models import SeedKeyword
from tests.conftest import Browserless
from tests.integration.helpers import signed_in, two_accounts

OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example/", "http:evil.example", " //evil.example"]


def _seed_id(app) -> int:
    with app.app_context():
        seed = db.session.scalars(select(SeedKeyword.id).limit(1)).one()
        db.session.remove()
    return seed


def _stays_here(response) -> str:
    assert response.status_code in (302, 303), response.status_code
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost") and "evil" not in location, location
    return parts.path


@pytest.mark.parametrize("target", OFF_SITE)
def test_library_add_does_not_redirect_off_site(app, target):
    accounts = two_accounts(app)
    web = signed_in(app, accounts["a"]["email"])
    response = web.post("/planner/keywords/library/add", {"next": target, "seed_ids": _seed_id(app)},
                        token_from="/planner/keywords/library")
    assert _stays_here(response) == "/planner/keywords/library"


def test_library_add_returns_to_the_filtered_library(app):
    accounts = two_accounts(app)
    web = signed_in(app, accounts["a"]["email"])
    response = web.post("/planner/keywords/library/add", {"next": "/planner/keywords/library?q=espresso",
                                                              "seed_ids": _seed_id(app)},
                        token_from="/planner/keywords/library")
    assert response.headers["Location"].endswith("/planner/keywords/library?q=espresso")


@pytest.mark.parametrize("target", OFF_SITE)
def test_switcher_and_cluster_list_and_sign_in_stay_on_site(app, target):
    accounts = two_accounts(app)
    a = accounts["a"]
    web = signed_in(app, a["email"])
    _stays_here(web.post("/context/site", {"site_id": a["site"], "next": target}, token_from="/sites/"))
    _stays_here(web.post("/planner/clusters/delete", {"next": target}, token_from="/planner/clusters"))
    client = app.test_client()
    response = Browserless(client).post(f"/login?next={target}", {"email": a["email"],
                                                                  "password": "correct-horse-battery"})
    _stays_here(response)
