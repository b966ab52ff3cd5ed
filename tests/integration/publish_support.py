"""Builders for the publishing tests: a site connected to a WordPress, approved articles, running the
queue, reading publications back, and cleaning up what a test made on the real WordPress."""

from __future__ import annotations

import secrets

import httpx2

from rq import SimpleWorker
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Cluster, Content, Publication, Site
from app.services.publishing.wordpress import WordPressClient, WordPressError
from app.services.writer.content import add_version
from tests.conftest import make_account
from tests.integration.helpers import add_site

OWNER = "owner@acme.example.com"


def connected_site(app, *, url: str, username: str, app_password: str, timezone: str = "UTC") -> dict:
    """An account whose site is connected to the WordPress at `url`; returns ids."""
    account_id, owner_id = make_account(app, email=OWNER)
    site_id, sectors = add_site(app, account_id, "Coffee Blog", ("Espresso",))
    with app.app_context(), tenancy.account_scope(account_id):
        site = db.session.get(Site, site_id)
        site.wp_url, site.wp_username, site.wp_app_password, site.timezone = url, username, app_password, timezone
        db.session.commit()
        db.session.remove()
    return {"account": account_id, "owner": owner_id, "site": site_id, "sector": sectors[0]}


def approved_article(app, world: dict, *, title: str | None = None, cluster: str | None = "Espresso gear {t}",
                     keywords=("espresso {t}", "espresso grinder {t}", "crema {t}"), content_type: str = "post",
                     status: str = "approved") -> int:
    """An approved article with a unique slug and terms (the real WordPress is shared by every run)."""
    token = secrets.token_hex(4)
    title = title or f"Espresso at home {token}"
    cluster = cluster.replace("{t}", token) if cluster else None
    keywords = [k.replace("{t}", token) for k in keywords]
    with app.app_context(), tenancy.account_scope(world["account"]):
        cluster_row = None
        if cluster:
            cluster_row = Cluster(site_id=world["site"], sector_id=world["sector"], name=cluster)
            db.session.add(cluster_row)
            db.session.flush()
        content = Content(site_id=world["site"], sector_id=world["sector"], title=title,
                          slug=f"espresso-at-home-{token}", body_html="<h2>Start</h2><p>Grind fresh beans.</p>",
                          excerpt="A short guide.", meta_title="Espresso at home", meta_description="How to.",
                          primary_keyword=keywords[0] if keywords else "", secondary_keywords=list(keywords[1:]),
                          content_type=content_type, status=status, word_count=4,
                          cluster_id=cluster_row.id if cluster_row else None)
        db.session.add(content)
        db.session.flush()
        add_version(content, reason="generation", user_id=None, first=True)
        db.session.commit()
        content_id = content.id
        db.session.remove()
    return content_id


def run_worker(app) -> None:
    """Run every queued job in this process."""
    with app.app_context():
        queue = app.extensions["rq_queues"]["default"]
    SimpleWorker([queue], connection=app.extensions["redis"]).work(burst=True)


def publication(app, world: dict, content_id: int) -> Publication | None:
    """The article's publication, detached, with its steps loaded."""
    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.scalars(select(Publication).where(Publication.content_id == content_id)).first()
        if row is not None:
            _ = row.steps, row.content.status
            db.session.expunge_all()
        db.session.remove()
    return row


def content_status(app, world: dict, content_id: int) -> str:
    with app.app_context(), tenancy.account_scope(world["account"]):
        status = db.session.get(Content, content_id).status
        db.session.remove()
    return status


class WordPressJanitor:
    """A client of the real WordPress that finds posts and removes what a test made."""

    def __init__(self, url: str, username: str, app_password: str) -> None:
        # The test's own client, not the product's: it talks to the loopback WordPress with no outbound guard.
        self.client = WordPressClient(url, username, app_password, http=httpx2.Client(timeout=20.0))
        self.posts: list[tuple[str, int]] = []
        self.media: list[int] = []
        self.terms: list[tuple[str, int]] = []

    def posts_with_slug(self, slug: str, wp_type: str = "posts") -> list[dict]:
        found = self.client.request("GET", f"/wp/v2/{wp_type}", params={"slug": slug, "status": "any",
                                                                        "context": "edit"})
        trashed = self.client.request("GET", f"/wp/v2/{wp_type}", params={"slug": f"{slug}__trashed",
                                                                          "status": "trash", "context": "edit"})
        for post in found + trashed:
            self.track_post(wp_type, post["id"])
        return found + trashed

    def get(self, route: str, **params) -> dict:
        return self.client.request("GET", route, params={"context": "edit", **params})

    def track_post(self, wp_type: str, post_id: int) -> None:
        if (wp_type, post_id) not in self.posts:
            self.posts.append((wp_type, post_id))

    def clean(self) -> None:
        for wp_type, post_id in self.posts:
            self._delete(f"/wp/v2/{wp_type}/{post_id}")
        for media_id in self.media:
            self._delete(f"/wp/v2/media/{media_id}")
        for taxonomy, term_id in self.terms:
            self._delete(f"/wp/v2/{taxonomy}/{term_id}")
        self.client.close()

    def _delete(self, route: str) -> None:
        try:
            self.client.request("DELETE", route, params={"force": "true"})
        except WordPressError:
            pass  # already gone
