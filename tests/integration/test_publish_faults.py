"""Publishing against a fake WordPress for what the real one cannot easily produce: 5xx storms, a
create whose answer times out after WordPress made the post, a 413 on a large image, SEO fields."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from app import tenancy
from app.extensions import db
from app.models import Content, Notification, Publication
from app.services.billing import credits
from app.services.publishing import records
from app.services.publishing.assets import upload_media
from app.services.publishing.connection import client_for
from app.services.publishing.runner import publish_due
from app.services.publishing.wordpress import PermanentError
from app.models import Site
from app.timeutil import utcnow
from tests.integration.fake_wordpress import APP_PASSWORD, USERNAME, json_response, serve_wordpress, signed_in
from tests.integration.helpers import signed_in as web_signed_in
from tests.integration.publish_support import (
    OWNER, approved_article, connected_site, content_status, publication, run_worker,
)


class FakeBlog:
    """A stateful fake of the posts, terms and media routes; `create` decides how POST /posts answers."""

    def __init__(self, server: HTTPServer, *, seo: bool = False) -> None:
        self.posts: dict[int, dict] = {}
        self.creates = 0
        self.reads = 0  # GETs of single posts (read-backs and checks)
        self.create_mode = "ok"  # ok | 500 | down (503 page) | slow (make the post, answer too late)
        self.lock = threading.Lock()
        self.url = serve_wordpress(server)
        meta = {"_yoast_wpseo_title": {"type": "string"}, "_yoast_wpseo_metadesc": {"type": "string"}} if seo else {}
        server.expect_request(re.compile(r"^/wp-json/wp/v2/posts/?$")).respond_with_handler(self.collection)
        server.expect_request(re.compile(r"^/wp-json/wp/v2/posts/\d+$")).respond_with_handler(self.item)
        server.expect_request(re.compile(r"^/wp-json/wp/v2/(categories|tags)$")).respond_with_handler(self.terms)
        self.media: list[dict] = []
        server.expect_request("/wp-json/wp/v2/media", method="POST").respond_with_handler(self.upload)
        self.schema = {"schema": {"properties": {"meta": {"properties": meta}}}}

    def _view(self, post: dict) -> dict:
        return {"id": post["id"], "slug": post["slug"], "status": post["status"], "link": f"{self.url}/?p={post['id']}",
                "title": {"raw": post["title"]}, "content": {"raw": post["content"]}, "date_gmt": post.get("date_gmt"),
                "categories": post.get("categories", []), "tags": post.get("tags", []),
                "featured_media": post.get("featured_media", 0), "meta": post.get("meta", {})}

    def collection(self, request: Request) -> Response:
        if not signed_in(request):
            return json_response({"code": "rest_not_logged_in"}, 401)
        if request.method == "OPTIONS":
            return json_response(self.schema)
        if request.method == "GET":
            slug = request.args.get("slug")
            return json_response([self._view(p) for p in self.posts.values() if p["slug"] == slug])
        if self.create_mode == "500":
            return json_response({"code": "internal_server_error", "message": "Database went away"}, 500)
        if self.create_mode == "down":
            return Response("<h1>503 Service Unavailable</h1>", status=503, content_type="text/html")
        data = json.loads(request.get_data())
        with self.lock:
            self.creates += 1
            post = {**data, "id": 100 + len(self.posts), "status": data.get("status", "publish")}
            self.posts[post["id"]] = post
        if self.create_mode == "slow":
            self.create_mode = "ok"
            time.sleep(1.5)  # the client has given up by now; the post exists all the same
        return json_response(self._view(post), 201)

    def upload(self, request: Request) -> Response:
        if len(request.get_data()) > 1000:
            return json_response({"code": "too_large"}, 413)
        media = {"id": 900 + len(self.media), "source_url": f"{self.url}/uploads/{len(self.media)}.png",
                 "alt_text": request.args.get("alt_text", ""), "caption": {"raw": request.args.get("caption", "")},
                 "title": {"raw": request.args.get("title", "")}}
        self.media.append(media)
        return json_response(media, 201)

    def item(self, request: Request) -> Response:
        if request.method == "GET":
            self.reads += 1
        post = self.posts.get(int(request.path.rsplit("/", 1)[1]))
        if post is None:
            return json_response({"code": "rest_post_invalid_id"}, 404)
        if request.method == "POST":
            post.update(json.loads(request.get_data()))
        return json_response(self._view(post))

    def terms(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response([])
        return json_response({"id": 7, "name": json.loads(request.get_data())["name"]}, 201)


@pytest.fixture
def server():
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.clear()
    httpserver.stop()


def _world(app, blog: FakeBlog) -> dict:
    return connected_site(app, url=blog.url, username=USERNAME, app_password=APP_PASSWORD)


def test_a_5xx_storm_retries_with_backoff_then_stops_with_the_reason_and_a_notification(app, server):
    blog = FakeBlog(server)
    blog.create_mode = "500"
    world = _world(app, blog)
    content_id = approved_article(app, world)
    web = web_signed_in(app, OWNER)
    app.config["PUBLISH_MAX_ATTEMPTS"] = 3
    try:
        web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")
        run_worker(app)
        first = publication(app, world, content_id)
        assert first.status == "retrying" and first.attempts == 1 and "server error" in first.last_error
        assert timedelta(seconds=50) < first.next_attempt_at - utcnow() <= timedelta(seconds=60)
        with app.app_context():
            assert publish_due() == 0  # not due yet
            assert publish_due(utcnow() + timedelta(minutes=2)) == 1
        run_worker(app)
        second = publication(app, world, content_id)
        assert second.attempts == 2 and second.next_attempt_at - utcnow() > timedelta(seconds=100)  # backs off
        with app.app_context():
            assert publish_due(utcnow() + timedelta(minutes=5)) == 1
        run_worker(app)
    finally:
        app.config["PUBLISH_MAX_ATTEMPTS"] = 6
    final = publication(app, world, content_id)
    assert final.status == "failed" and "kept failing after 3 attempts" in final.last_error
    assert blog.posts == {} and content_status(app, world, content_id) == "approved"
    with app.app_context(), tenancy.account_scope(world["account"]):
        assert db.session.scalars(select(Notification).where(Notification.level == "error",
                                                             Notification.title.contains("failed"))).first()
    assert "kept failing" in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)

    # The storm passes: publishing again makes exactly one post.
    blog.create_mode = "ok"
    web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")
    run_worker(app)
    assert publication(app, world, content_id).status == "published" and len(blog.posts) == 1


def test_a_create_that_times_out_after_wordpress_made_the_post_is_adopted_not_repeated(app, server):
    blog = FakeBlog(server, seo=True)
    blog.create_mode = "slow"
    world = _world(app, blog)
    content_id = approved_article(app, world)
    app.config["WORDPRESS_TIMEOUT_SECONDS"] = 0.5
    try:
        web_signed_in(app, OWNER).post(f"/publisher/content/{content_id}/publish", {},
                                       token_from=f"/writer/content/{content_id}")
        run_worker(app)
    finally:
        app.config["WORDPRESS_TIMEOUT_SECONDS"] = 20
    pub = publication(app, world, content_id)
    assert blog.creates == 1 and len(blog.posts) == 1
    assert pub.status == "published" and pub.wp_post_id == next(iter(blog.posts))
    assert next(s for s in pub.steps if s.kind == "post").detail == {"adopted": True}
    # The site's schema exposes Yoast's fields: the SEO title and description were sent.
    post = next(iter(blog.posts.values()))
    assert post["meta"] == {"_yoast_wpseo_title": "Espresso at home", "_yoast_wpseo_metadesc": "How to."}


def test_a_large_image_refused_with_413_says_so(app, server):
    blog = FakeBlog(server)
    world = _world(app, blog)
    content_id = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        pub = records.ensure_publication(db.session.get(Content, content_id))
        db.session.commit()
        with client_for(db.session.get(Site, world["site"])) as client:
            with pytest.raises(PermanentError) as caught:
                upload_media(client, pub, data=b"\x89PNG" + b"0" * 5000, filename="huge.png", mime="image/png")
            assert "too large" in caught.value.message and "huge.png" in caught.value.message
            with pytest.raises(PermanentError) as not_image:
                upload_media(client, pub, data=b"MZ", filename="tool.exe", mime="application/octet-stream")
            assert "not an image" in not_image.value.message
        db.session.remove()


def test_a_worker_that_vanished_mid_publish_is_reaped_and_the_retry_adopts_its_post(app, server):
    from app.models import Job, Publication
    from app.services.jobs import reap_stale_jobs
    from app.services.publishing.publisher import marker_comment

    blog = FakeBlog(server)
    world = _world(app, blog)
    content_id = approved_article(app, world)
    web = web_signed_in(app, OWNER)
    web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")
    with app.app_context(), tenancy.account_scope(world["account"]):
        pub = db.session.scalars(select(Publication)).one()
        records.take_lease(pub.id)  # the worker took the lease, WordPress made the post, then the worker died
        content = db.session.get(Content, content_id)
        blog.posts[100] = {"id": 100, "slug": content.slug, "status": "publish", "title": content.title,
                           "content": "<p>x</p>\n" + marker_comment(pub)}
        job = db.session.get(Job, pub.job_id)
        long_ago = utcnow() - timedelta(minutes=10)
        db.session.execute(Job.__table__.update().where(Job.id == job.id).values(
            status="running", started_at=long_ago, heartbeat_at=long_ago))
        db.session.execute(Publication.__table__.update().where(Publication.id == pub.id).values(status="publishing"))
        db.session.commit()
        db.session.remove()
    app.extensions["rq_queues"]["default"].empty()
    with app.app_context():
        assert reap_stale_jobs() == 1
    assert publication(app, world, content_id).status == "retrying"
    with app.app_context():
        assert publish_due() == 1
    run_worker(app)
    pub = publication(app, world, content_id)
    assert pub.status == "published" and pub.wp_post_id == 100 and blog.creates == 0 and len(blog.posts) == 1


def test_a_due_article_on_a_site_without_wordpress_waits_with_one_notice_then_publishes_once_connected(app, server):
    blog = FakeBlog(server)
    world = _world(app, blog)
    web = web_signed_in(app, OWNER)
    assert web.post(f"/sites/{world['site']}/wordpress/disconnect", {},
                    token_from=f"/sites/{world['site']}").status_code == 302
    first, second = approved_article(app, world), approved_article(app, world)
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for content_id in (first, second):
        assert web.post(f"/publisher/content/{content_id}/schedule", {"when": tomorrow},
                        token_from=f"/writer/content/{content_id}").status_code == 302
    with app.app_context(), tenancy.account_scope(world["account"]):
        # Time passes: both articles' times are behind us.
        for row in db.session.scalars(select(Publication)):
            row.scheduled_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        balance_before = credits.balance(world["account"])
        db.session.remove()

    with app.app_context():
        for _tick in range(3):
            assert publish_due() == 0
    run_worker(app)
    for content_id in (first, second):
        waiting = publication(app, world, content_id)
        assert waiting.status == "scheduled" and waiting.attempts == 0 and waiting.job_id is None
        assert content_status(app, world, content_id) == "scheduled"
    assert blog.posts == {}
    with app.app_context(), tenancy.account_scope(world["account"]):
        notices = list(db.session.scalars(select(Notification)))
        assert [(n.level, n.link) for n in notices] == [("warning", f"/sites/{world['site']}#wordpress")]
        assert "waiting for a WordPress connection" in notices[0].title
        assert credits.balance(world["account"]) == balance_before
        db.session.remove()
    note = (f'Waiting for a WordPress connection — <a href="/sites/{world["site"]}#wordpress">'
            "connect the site to publish</a>")
    calendar = web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert calendar.count(note) == 2 and calendar.count(">Waiting for a WordPress connection</span>") == 2
    assert "Failed" not in calendar and "form-error" not in calendar
    panel = web.get(f"/publisher/content/{first}/panel").get_data(as_text=True)
    assert note in panel and 'data-testid="publish-error"' not in panel
    # Publishing by hand says why it cannot, instead of starting a job that fails.
    web.post(f"/publisher/content/{first}/publish", {}, token_from=f"/writer/content/{first}")
    assert "not connected to WordPress yet" in web.get(f"/writer/content/{first}").get_data(as_text=True)
    assert publication(app, world, first).job_id is None

    response = web.post(f"/sites/{world['site']}/wordpress",
                        {"wp-wp_url": blog.url, "wp-username": USERNAME, "wp-app_password": APP_PASSWORD},
                        token_from=f"/sites/{world['site']}")
    assert response.status_code == 302
    with app.app_context():
        assert publish_due() == 2
    run_worker(app)
    for content_id in (first, second):
        done = publication(app, world, content_id)
        assert done.status == "published" and done.last_error == ""
        assert content_status(app, world, content_id) == "published"
    assert len(blog.posts) == 2 and {p["status"] for p in blog.posts.values()} == {"publish"}
    calendar = web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert "Waiting for a WordPress connection" not in calendar and calendar.count(">Published</span>") == 2
    with app.app_context(), tenancy.account_scope(world["account"]):
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
        db.session.remove()


def _due_article(app, world, web) -> int:
    content_id = approved_article(app, world)
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert web.post(f"/publisher/content/{content_id}/schedule", {"when": tomorrow},
                    token_from=f"/writer/content/{content_id}").status_code == 302
    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.scalars(select(Publication).where(Publication.content_id == content_id)).one()
        row.scheduled_at = utcnow() - timedelta(minutes=1)  # its time has come
        db.session.commit()
        db.session.remove()
    return content_id


def test_a_scheduler_stopped_after_its_claim_or_a_queue_outage_still_publishes_the_article_once(app, server):
    from redis import Redis
    from rq import Queue

    from app.services.publishing.runner import due_publications

    blog = FakeBlog(server)
    world = _world(app, blog)
    web = web_signed_in(app, OWNER)
    orphan = _due_article(app, world, web)
    with app.app_context():
        assert len(due_publications()) == 1  # claimed… and the scheduler process stops right here
    assert publication(app, world, orphan).status == "queued" and publication(app, world, orphan).job_id is None
    with app.app_context():
        assert publish_due(utcnow() + timedelta(minutes=6)) == 0  # a fresh hand-over is left alone for a while
    with app.app_context(), tenancy.account_scope(world["account"]):
        db.session.execute(Publication.__table__.update().values(updated_at=utcnow() - timedelta(minutes=6)))
        db.session.commit()  # …six minutes pass
        db.session.remove()
    with app.app_context():
        assert publish_due() == 1
    run_worker(app)
    assert publication(app, world, orphan).status == "published" and len(blog.posts) == 1

    # Redis is unreachable at the tick: the article keeps its turn instead of failing.
    outage = _due_article(app, world, web)
    queues = app.extensions["rq_queues"]
    healthy = queues["default"]
    queues["default"] = Queue("default", connection=Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    try:
        with app.app_context():
            assert publish_due() == 0
    finally:
        queues["default"] = healthy
    waiting = publication(app, world, outage)
    assert waiting.status == "retrying" and "job queue is unavailable" in waiting.last_error
    assert content_status(app, world, outage) == "scheduled"
    with app.app_context():
        assert publish_due(utcnow() + timedelta(minutes=2)) == 1
    run_worker(app)
    assert publication(app, world, outage).status == "published"
    assert len(blog.posts) == 2 and blog.creates == 2


def test_two_schedulers_ticking_at_once_make_one_post_per_article(app, server):
    blog = FakeBlog(server)
    world = _world(app, blog)
    web = web_signed_in(app, OWNER)
    ids = [_due_article(app, world, web) for _ in range(3)]
    start, counts, errors = threading.Barrier(2), [], []

    def scheduler():
        try:
            with app.app_context():
                start.wait(timeout=10)
                counts.append(publish_due())
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert not errors and sum(counts) == 3
    run_worker(app)
    with app.app_context():
        assert publish_due(utcnow() + timedelta(minutes=10)) == 0  # nothing left over to hand out again
    run_worker(app)
    assert blog.creates == 3 and sorted(p["slug"] for p in blog.posts.values()) == sorted(
        publication(app, world, c).content.slug for c in ids)
    assert all(publication(app, world, c).status == "published" for c in ids)


def test_a_missed_schedule_is_reported_and_left_alone_when_the_site_says_so(app, server):
    from app.services.publishing.runner import check_post

    blog = FakeBlog(server)
    world = _world(app, blog)
    web = web_signed_in(app, OWNER)
    settings = {"days": ["0", "1", "2", "3", "4"], "slots": "09:00", "category_source": "cluster",
                "default_category": "", "max_tags": "5"}  # "publish missed schedules" unticked
    assert web.post(f"/publisher/sites/{world['site']}/schedule", settings,
                    token_from=f"/publisher/sites/{world['site']}/schedule").status_code == 302
    content_id = approved_article(app, world)
    when = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    web.post(f"/publisher/content/{content_id}/schedule", {"when": when}, token_from=f"/writer/content/{content_id}")
    with app.app_context(), tenancy.account_scope(world["account"]):
        pub_id = publication(app, world, content_id).id
        app.config["PUBLISH_LEAD_SECONDS"] = 3 * 86400
        try:
            assert publish_due() == 1
        finally:
            app.config["PUBLISH_LEAD_SECONDS"] = 3600
        db.session.remove()
    run_worker(app)
    assert publication(app, world, content_id).status == "future"
    post = next(iter(blog.posts.values()))
    assert post["status"] == "future"

    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.get(Publication, pub_id)
        row.scheduled_at = utcnow() - timedelta(minutes=10)  # its time passed; WordPress's cron did not run
        db.session.commit()
        db.session.remove()
    with app.app_context():
        publish_due()  # the tick checks overdue future posts
        reads = blog.reads
        publish_due()  # the next tick does not ask WordPress again (nor notify again)…
        assert blog.reads == reads
        publish_due(utcnow() + timedelta(minutes=20))  # …but a quarter of an hour later it looks again
        assert blog.reads == reads + 1
    pub = publication(app, world, content_id)
    assert post["status"] == "future" and pub.status == "future"  # left as it is, as the site asked
    assert any("Missed schedule" in p for p in pub.problems)
    assert not any("IGNY8 published it" in p for p in pub.problems)
    assert "Missed schedule" in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(world["account"]):
        warned = db.session.scalars(select(Notification).where(Notification.level == "warning")).all()
        assert len(warned) == 1 and "Missed schedule" in warned[0].body
        # The check button (fix_missed=True) publishes it when asked.
        result = check_post(pub_id, fix_missed=True)
        db.session.remove()
    assert post["status"] == "publish" and any("IGNY8 published it" in p for p in result["problems"])
    assert publication(app, world, content_id).status == "published"


def test_wordpress_down_after_the_images_went_up_publishes_later_with_each_image_once(app, server):
    from app.models import ContentImage
    from app.services.images import placement, storage
    from tests.integration.images_support import png_bytes

    blog = FakeBlog(server)
    world = _world(app, blog)
    content_id = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        content = db.session.get(Content, content_id)
        images = []
        for kind, position, colour in (("featured", 0, (200, 40, 40)), ("in_article", 1, (40, 200, 40))):
            image = ContentImage(site_id=world["site"], content_id=content_id, kind=kind, position=position,
                                 alt=f"{kind} alt", caption=f"{kind} caption", status="generated", mime="image/png",
                                 file_key=f"{world['account']}/{content_id}/{secrets.token_hex(16)}.png")
            storage.storage().put(image.file_key, png_bytes(16, 16, colour))
            db.session.add(image)
            db.session.flush()
            images.append(image)
        inline_src = placement.image_src(images[1])
        content.body_html += f'<figure><img src="{inline_src}" alt="in_article alt"></figure>'
        db.session.commit()
        db.session.remove()

    blog.create_mode = "down"  # the images went up, then WordPress went down
    web = web_signed_in(app, OWNER)
    web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")
    run_worker(app)
    waiting = publication(app, world, content_id)
    assert waiting.status == "retrying" and "server error" in waiting.last_error and "503" in waiting.last_error
    assert len(blog.media) == 2 and blog.posts == {}
    assert content_status(app, world, content_id) == "approved"

    blog.create_mode = "ok"
    with app.app_context():
        assert publish_due(utcnow() + timedelta(minutes=2)) == 1
    run_worker(app)
    done = publication(app, world, content_id)
    assert done.status == "published" and done.problems == []
    assert len(blog.media) == 2 and len(blog.posts) == 1  # each image once, one post
    post = next(iter(blog.posts.values()))
    assert post["featured_media"] == blog.media[0]["id"]
    assert blog.media[1]["source_url"] in post["content"] and inline_src not in post["content"]


def test_publishing_to_an_address_that_is_not_wordpress_says_so_and_how_to_find_out_why(app, server):
    server.expect_request("/").respond_with_data("<html><body>Just a shop</body></html>", content_type="text/html")
    server.expect_request("/wp-json/").respond_with_data("<html>Not found</html>", status=404,
                                                         content_type="text/html")
    world = connected_site(app, url=server.url_for("").rstrip("/"), username=USERNAME, app_password=APP_PASSWORD)
    content_id = approved_article(app, world)
    web = web_signed_in(app, OWNER)
    web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")
    run_worker(app)
    pub = publication(app, world, content_id)
    assert pub.status == "failed" and pub.attempts == 1
    assert "No WordPress REST API was found" in pub.last_error and "run Test connection" in pub.last_error
    assert content_status(app, world, content_id) == "approved"


def test_a_scheduled_article_that_fails_for_good_goes_back_to_approved_and_shows_as_failed(app, server):
    blog = FakeBlog(server)
    world = _world(app, blog)
    web = web_signed_in(app, OWNER)
    content_id = _due_article(app, world, web)
    with app.app_context(), tenancy.account_scope(world["account"]):
        slug = db.session.get(Content, content_id).slug
        db.session.remove()
    blog.posts[500] = {"id": 500, "slug": slug, "status": "publish", "title": "Their post", "content": "<p>theirs</p>"}
    assert content_status(app, world, content_id) == "scheduled"
    with app.app_context():
        assert publish_due() == 1
    run_worker(app)
    pub = publication(app, world, content_id)
    assert pub.status == "failed" and "already used" in pub.last_error
    assert content_status(app, world, content_id) == "approved"  # not "Scheduled" for something that will not go out
    assert blog.creates == 0 and blog.posts[500]["title"] == "Their post"
    listing = web.get("/publisher/calendar?view=list").get_data(as_text=True)
    assert ">Failed</span>" in listing and "already used" in listing
    with app.app_context():
        assert publish_due(utcnow() + timedelta(hours=1)) == 0  # not tried again behind anyone's back
