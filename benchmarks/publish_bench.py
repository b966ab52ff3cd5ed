"""Publish 30 articles with 3 images each to the loopback WordPress (scripts/wordpress/setup).

Each article has a featured image and two in-article images stored like generated ones, and is
published the way a worker publishes it (`publish_publication`: upload the images, rewrite their
`src`, terms, slug lookup, create, read back) through the product's guarded HTTP client.

WordPress's time is measured at the transport: from handing a request to the guarded transport to
having read the whole answer (connecting included). Our overhead is the rest of the wall time of a
publish. Reported per round (articles per minute, median overhead per article, our CPU time per
article) and as the median of the rounds (default 3 rounds of 30). Everything it makes on WordPress
is deleted at the end.
Run: .venv/bin/python benchmarks/publish_bench.py [articles] [rounds]
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

# Its own scratch database and image folder, so it can run while another benchmark uses the default ones.
os.environ.setdefault("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench_publish")
IMAGE_DIR = tempfile.mkdtemp(prefix="igny8-bench-images-")
os.environ["IMAGE_STORAGE_DIR"] = IMAGE_DIR
from _setup import fresh_app, make_sector  # noqa: E402

CREDENTIALS = Path("/var/lib/igny8-wordpress/credentials.json")
SECTIONS = ("Why it matters", "How to choose", "Frequently asked questions")


class TimedTransport(httpx2.BaseTransport):
    """Wraps the product's guarded transport and counts the wall time spent waiting for WordPress
    (request handed over → whole answer read)."""

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
    """The product's client (outbound.guarded_client) with its transport wrapped by the timer."""
    from app.services import outbound
    from app.services.publishing.transport import USER_AGENT

    client = outbound.guarded_client(timeout=timeout, user_agent=USER_AGENT)
    client._transport = TimedTransport(client._transport)
    return client


def png(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 450), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def make_articles(ids: dict, count: int, token: str, first_seed: int) -> list[int]:
    """Approved articles, each with a generated featured image and two in-article images in its body."""
    from app.extensions import db
    from app.models import Content, ContentImage
    from app.services.images import placement, storage

    store = storage.storage()
    body = "".join(f"<h2>{h}</h2>" + "<p>Espresso and milk.</p>" * 12 for h in SECTIONS)
    rows = []
    for n in range(count):
        content = Content(site_id=ids["site"], sector_id=ids["sector"], title=f"Bench article {n} {token}",
                          slug=f"bench-{token}-{n}", body_html=body, excerpt="Bench.",
                          primary_keyword=f"bench {token}", secondary_keywords=[f"milk {token}"], status="approved")
        db.session.add(content)
        db.session.flush()
        images = []
        for k, (kind, where) in enumerate((("featured", ""), ("in_article", SECTIONS[0]), ("in_article", SECTIONS[1]))):
            key = storage.new_key(account_id=content.account_id, site_id=ids["site"], mime="image/png")
            data = png(first_seed + n * 3 + k)
            store.put(key, data)
            images.append(ContentImage(site_id=ids["site"], content_id=content.id, kind=kind, position=k,
                                       placement=where, alt=f"Image {k}", caption="Bench", status="generated",
                                       file_key=key, width=800, height=450, mime="image/png", bytes=len(data)))
        db.session.add_all(images)
        db.session.flush()
        content.body_html = placement.place(body, images)
        rows.append(content)
    db.session.commit()
    return [r.id for r in rows]


def run_round(ids: dict, site, count: int, token: str, first_seed: int) -> dict:
    from app.extensions import db
    from app.models import Content
    from app.services.publishing import records
    from app.services.publishing.publisher import publish_publication

    content_ids = make_articles(ids, count, token, first_seed)
    overheads, waits = [], []
    TimedTransport.requests = 0
    cpu_started, started = time.process_time(), time.perf_counter()
    for content_id in content_ids:
        TimedTransport.spent = 0.0
        one_started = time.perf_counter()
        publication = records.ensure_publication(db.session.get(Content, content_id))
        db.session.commit()
        result = publish_publication(publication.id)
        one = time.perf_counter() - one_started
        assert result.get("status") == "publish" and not result.get("problems"), result
        overheads.append(one - TimedTransport.spent)
        waits.append(TimedTransport.spent)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"per_minute": count / elapsed * 60, "overhead_ms": statistics.median(overheads) * 1000,
            "mean_overhead_ms": statistics.mean(overheads) * 1000, "wp_ms": statistics.median(waits) * 1000,
            "cpu_ms": cpu / count * 1000, "requests": TimedTransport.requests / count, "elapsed": elapsed}


def clean_up(site) -> None:
    from app.extensions import db
    from app.models import Publication
    from app.services.publishing import wordpress
    from app.services.publishing.connection import client_for

    routes = {"post": "posts", "media": "media", "category": "categories", "tag": "tags"}
    done: set[tuple[str, int]] = set()
    with client_for(site) as client:
        for publication in db.session.query(Publication).all():
            for step in publication.steps:
                route = routes.get(step.kind)
                if route and step.wp_id and (route, step.wp_id) not in done:
                    done.add((route, step.wp_id))
                    try:
                        client.request("DELETE", f"/wp/v2/{route}/{step.wp_id}", params={"force": "true"})
                    except wordpress.WordPressError:
                        pass  # already gone


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    wp = json.loads(CREDENTIALS.read_text())
    app = fresh_app()
    ids = make_sector(app)
    from app import tenancy
    from app.extensions import db
    from app.models import Site
    from app.services.publishing import wordpress

    wordpress.http_client = timed_client  # the real client, with a transport that times WordPress's share
    token = secrets.token_hex(3)
    results = []
    with app.app_context(), tenancy.account_scope(ids["account"]):
        site = db.session.get(Site, ids["site"])
        site.wp_url, site.wp_username, site.wp_app_password = wp["url"], wp["admin"]["username"], wp["admin"]["app_password"]
        # As after a passing connection test: the REST root is known, so publishing does not look for it again.
        site.wp_health, site.wp_check = "ok", {"rest_root": wp["url"] + "/wp-json/"}
        db.session.commit()
        try:
            for number in range(rounds):
                result = run_round(ids, site, count, f"{token}-{number}", number * count * 3)
                results.append(result)
                print(f"round {number + 1}: {result['per_minute']:.0f} articles/min, overhead per article "
                      f"median {result['overhead_ms']:.0f} ms (mean {result['mean_overhead_ms']:.0f} ms), "
                      f"WordPress {result['wp_ms']:.0f} ms, our CPU {result['cpu_ms']:.0f} ms, "
                      f"{result['requests']:.1f} requests per article")
        finally:
            clean_up(db.session.get(Site, ids["site"]))
            shutil.rmtree(IMAGE_DIR, ignore_errors=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(f"articles published:          {count} x {rounds} rounds (3 images each, "
          f"{median('requests'):.1f} requests to WordPress per article)")
    print(f"articles per minute:         {median('per_minute'):.0f} (median of rounds)")
    print(f"WordPress's time:            {median('wp_ms'):.0f} ms per article (median)")
    print(f"our CPU time:                {median('cpu_ms'):.0f} ms per article (median of rounds)")
    print(f"our overhead per article:    {median('overhead_ms'):.0f} ms (median)  (target <= 100 ms)")


if __name__ == "__main__":
    main()
