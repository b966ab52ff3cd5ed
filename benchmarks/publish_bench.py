"""Publish 30 articles with 3 images each to the loopback WordPress (scripts/wordpress/setup).

Reports articles per minute and our overhead per article beyond the time WordPress itself took
(target ≤ 100 ms). Everything it makes on WordPress is deleted at the end.
Run: .venv/bin/python benchmarks/publish_bench.py [articles]
"""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
import time
from pathlib import Path

import httpx2

# Its own scratch database, so it can run while another benchmark uses the default one.
os.environ.setdefault("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench_publish")
from _setup import fresh_app, make_sector  # noqa: E402

CREDENTIALS = Path("/var/lib/igny8-wordpress/credentials.json")


class TimedTransport(httpx2.BaseTransport):
    """Wraps the product's guarded transport and counts the wall time spent waiting for WordPress
    (request sent → body read)."""

    spent = 0.0
    requests = 0

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def close(self) -> None:
        self.inner.close()

    def handle_request(self, request):
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        TimedTransport.spent += time.perf_counter() - started
        TimedTransport.requests += 1
        return response


def timed_client(*, timeout: float) -> httpx2.Client:
    from app.services import outbound
    from app.services.publishing.transport import USER_AGENT

    return httpx2.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT},
                         transport=TimedTransport(outbound.GuardedTransport(outbound.Policy.from_config())))


def png(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 450), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    wp = json.loads(CREDENTIALS.read_text())
    app = fresh_app()
    ids = make_sector(app)
    from app import tenancy
    from app.extensions import db
    from app.models import Content, Publication, Site
    from app.services.publishing import records, wordpress
    from app.services.publishing.assets import upload_media
    from app.services.publishing.connection import client_for
    from app.services.publishing.publisher import publish_publication

    wordpress.http_client = timed_client  # the real client, with a transport that times WordPress's share
    token = secrets.token_hex(3)
    with app.app_context(), tenancy.account_scope(ids["account"]):
        site = db.session.get(Site, ids["site"])
        site.wp_url, site.wp_username, site.wp_app_password = wp["url"], wp["admin"]["username"], wp["admin"]["app_password"]
        # As after a passing connection test: the REST root is known, so publishing does not look for it again.
        site.wp_health, site.wp_check = "ok", {"rest_root": wp["url"] + "/wp-json/"}
        rows = [Content(site_id=ids["site"], sector_id=ids["sector"], title=f"Bench article {n} {token}",
                        slug=f"bench-{token}-{n}", body_html="<h2>Intro</h2>" + "<p>Espresso and milk.</p>" * 40,
                        excerpt="Bench.", primary_keyword=f"bench {token}", secondary_keywords=[f"milk {token}"],
                        status="approved") for n in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        content_ids = [r.id for r in rows]
        images = [png(n) for n in range(count * 3)]
        started = time.perf_counter()
        for n, content_id in enumerate(content_ids):
            publication = records.ensure_publication(db.session.get(Content, content_id))
            db.session.commit()
            with client_for(site) as client:
                for k in range(3):
                    upload_media(client, publication, data=images[n * 3 + k], filename=f"bench-{n}-{k}.png",
                                 mime="image/png", alt=f"Image {k}", caption="Bench", title=f"Image {k}")
            result = publish_publication(publication.id)
            assert result.get("status") == "publish", result
        elapsed = time.perf_counter() - started
        wp_time, requests = TimedTransport.spent, TimedTransport.requests
        made = [(p.wp_post_id, [s.wp_id for s in p.steps if s.kind != "post"] , [(s.kind, s.wp_id) for s in p.steps])
                for p in db.session.query(Publication).all()]
        with client_for(site) as client:
            for post_id, _, steps in made:
                client.request("DELETE", f"/wp/v2/posts/{post_id}", params={"force": "true"})
                for kind, wp_id in steps:
                    route = {"media": "media", "category": "categories", "tag": "tags"}.get(kind)
                    if route and wp_id:
                        try:
                            client.request("DELETE", f"/wp/v2/{route}/{wp_id}", params={"force": "true"})
                        except wordpress.WordPressError:
                            pass  # a term shared by several articles is deleted once
    overhead = (elapsed - wp_time) / count
    print(f"articles published:        {count} (3 images each, {requests} requests to WordPress)")
    print(f"total time:                {elapsed:.1f} s")
    print(f"articles per minute:       {count / elapsed * 60:.0f}")
    print(f"WordPress's time:          {wp_time:.1f} s ({wp_time / count * 1000:.0f} ms per article)")
    print(f"our overhead per article:  {overhead * 1000:.0f} ms  (target <= 100 ms)")


if __name__ == "__main__":
    main()
