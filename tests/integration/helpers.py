"""Builders for integration tests: accounts with sites, members and signed-in clients."""

from __future__ import annotations

from app import tenancy
from app.extensions import db
from app.models import SiteAccess, User
from app.services.accounts.passwords import hash_password
from app.services.accounts.sites import create_site
from tests.conftest import Browserless, login, make_account

PASSWORD = "correct-horse-battery"


def add_site(app, account_id: int, name: str = "Coffee Blog", sectors=("Espresso", "Brewing")) -> tuple[int, list[int]]:
    """Create a site with sectors in an account; returns (site_id, sector_ids)."""
    with app.app_context(), tenancy.account_scope(account_id):
        site = create_site(name=name, url=f"https://{name.lower().replace(' ', '-')}.example.com",
                           timezone="UTC", industry_id=None, sector_template_ids=[],
                           sector_names=list(sectors))
        ids = site.id, [s.id for s in site.sectors]
        db.session.remove()
    return ids


def add_member(app, account_id: int, *, email: str, role: str, site_ids=()) -> int:
    """Add a person with a role (and site grants) to an account."""
    with app.app_context(), tenancy.account_scope(account_id):
        user = User(account_id=account_id, email=email, name=email.split("@")[0],
                    password_hash=hash_password(PASSWORD), role=role)
        db.session.add(user)
        db.session.flush()
        for site_id in site_ids:
            db.session.add(SiteAccess(user_id=user.id, site_id=site_id))
        db.session.commit()
        uid = user.id
        db.session.remove()
    return uid


def signed_in(app, email: str) -> Browserless:
    """A fresh client signed in as the person."""
    client = app.test_client()
    response = login(client, email, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return Browserless(client)


def two_accounts(app):
    """Account A (owner, one site with two sectors) and account B (owner, one site)."""
    a_account, a_owner = make_account(app, email="alice@acme.example.com", account_name="Acme")
    b_account, b_owner = make_account(app, email="bob@globex.example.com", account_name="Globex")
    a_site, a_sectors = add_site(app, a_account, "Acme Coffee")
    b_site, b_sectors = add_site(app, b_account, "Globex Garden", ("Roses",))
    return {
        "a": {"account": a_account, "owner": a_owner, "site": a_site, "sectors": a_sectors,
              "email": "alice@acme.example.com"},
        "b": {"account": b_account, "owner": b_owner, "site": b_site, "sectors": b_sectors,
              "email": "bob@globex.example.com"},
    }
