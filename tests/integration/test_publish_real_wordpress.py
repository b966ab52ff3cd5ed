"""Publishing to the real loopback WordPress: one post per article whatever happens (double click, two
workers, a worker killed after WordPress answered), terms, scheduled posts, updates, read-back,
unpublish and trash. Each test removes what it made on WordPress."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import httpx2
import pytest
from PIL import Image
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Content, Notification, Publication
from app.services.publishing import records
from app.services.publishing.assets import upload_media
from app.services.publishing.publisher import marker_comment, publish_publication
from app.services.publishing.runner import check_post, publish_due, recheck_published
from app.services.publishing.schedule import schedule_at
from app.services.publishing.settings import settings_for
from app.services.publishing.wordpress import PermanentError
from app.timeutil import utcnow
from tests.integration.helpers import signed_in
from tests.integration.publish_support import (
    OWNER, WordPressJanitor, approved_article, connected_site, content_status, publication, run_worker,
)


@pytest.fixture
def wp(real_wordpress):
    janitor = WordPressJanitor(real_wordpress.url, real_wordpress.admin.username, real_wordpress.admin.app_password)
    yield janitor
    janitor.clean()


@pytest.fixture
def world(app, real_wordpress, wp):
    return connected_site(app, url=real_wordpress.url, username=real_wordpress.admin.username,
                          app_password=real_wordpress.admin.app_password)


def slug_of(app, world, content_id) -> str:
    with app.app_context(), tenancy.account_scope(world["account"]):
        slug = db.session.get(Content, content_id).slug
        db.session.remove()
    return slug


def track_terms(wp, pub) -> None:
    for step in pub.steps:
        if step.kind in ("category", "tag") and step.wp_id:
            wp.terms.append(("categories" if step.kind == "category" else "tags", step.wp_id))
        if step.kind == "media" and step.wp_id:
            wp.media.append(step.wp_id)


def publish_by_hand(app, web, content_id):
    return web.post(f"/publisher/content/{content_id}/publish", {}, token_from=f"/writer/content/{content_id}")


def test_publish_now_makes_one_post_with_terms_and_verifies_it(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    web = signed_in(app, OWNER)

    assert publish_by_hand(app, web, content_id).status_code == 302
    run_worker(app)

    pub = publication(app, world, content_id)
    posts = wp.posts_with_slug(slug)
    track_terms(wp, pub)
    assert len(posts) == 1
    post = posts[0]
    assert pub.status == "published" and pub.wp_post_id == post["id"] and pub.problems == []
    assert post["status"] == "publish" and post["title"]["raw"].startswith("Espresso at home")
    assert post["excerpt"]["raw"] == "A short guide."
    assert marker_comment(pub) in post["content"]["raw"]
    categories = [wp.get(f"/wp/v2/categories/{i}")["name"] for i in post["categories"]]
    tags = sorted(wp.get(f"/wp/v2/tags/{i}")["name"] for i in post["tags"])
    assert len(categories) == 1 and categories[0].startswith("Espresso gear")
    assert len(tags) == 3 and tags[0].startswith("crema")
    assert content_status(app, world, content_id) == "published"
    panel = web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    assert pub.wp_link in panel and "View on WordPress" in panel
    # The real site serves the live post.
    assert httpx2.get(pub.wp_link, timeout=15, follow_redirects=True).status_code == 200
    # No SEO plugin on the loopback site: nothing sent, and said once on the site's schedule page.
    with app.app_context(), tenancy.account_scope(world["account"]):
        assert "no writable SEO meta" in settings_for(world["site"]).seo_note
    assert "no writable SEO meta" in web.get(f"/publisher/sites/{world['site']}/schedule").get_data(as_text=True)
    connection = web.get(f"/sites/{world['site']}").get_data(as_text=True)  # and on the connection itself, once
    assert connection.count("no writable SEO meta") == 1


def test_double_click_and_two_workers_at_once_make_one_post(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    publish_by_hand(app, web, content_id)  # the double click: the same job is reused
    with app.app_context(), tenancy.account_scope(world["account"]):
        jobs = db.session.scalars(select(Publication.job_id)).all()
        queued = app.extensions["rq_queues"]["default"].count
        db.session.remove()
    assert len(jobs) == 1 and queued == 1

    # Two workers running the same publication at the same moment (e.g. a retried job and the tick).
    pub_id = publication(app, world, content_id).id
    start, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            with app.app_context(), tenancy.account_scope(world["account"]):
                start.wait(timeout=10)
                results.append(publish_publication(pub_id))
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    run_worker(app)  # and the queued job from the clicks runs afterwards
    assert not errors
    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    assert len(wp.posts_with_slug(slug)) == 1
    assert pub.status == "published"


def test_a_worker_killed_after_wordpress_created_the_post_is_adopted_on_retry(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    with app.app_context(), tenancy.account_scope(world["account"]):
        content = db.session.get(Content, content_id)
        pub = records.ensure_publication(content)
        db.session.commit()
        records.step(pub, "post", "post")  # the create had started…
        # …and WordPress made the post, but the worker died before storing its id.
        made = wp.client.request("POST", "/wp/v2/posts", json={
            "title": content.title, "slug": slug, "status": "publish",
            "content": "<p>half</p>\n" + marker_comment(pub)})
        wp.track_post("posts", made["id"])
        pub_id = pub.id
        assert pub.wp_post_id is None
        db.session.remove()

    with app.app_context(), tenancy.account_scope(world["account"]):
        result = publish_publication(pub_id)
        db.session.remove()

    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    posts = wp.posts_with_slug(slug)
    assert len(posts) == 1 and posts[0]["id"] == made["id"] == result["wp_post_id"]
    assert "Grind fresh beans" in posts[0]["content"]["raw"]  # brought up to date
    assert pub.status == "published" and pub.problems == []
    assert next(s for s in pub.steps if s.kind == "post").detail == {"adopted": True}


def test_someone_elses_post_with_the_same_slug_is_not_overwritten(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    theirs = wp.client.request("POST", "/wp/v2/posts", json={"title": "Their post", "slug": slug, "status": "draft"})
    wp.track_post("posts", theirs["id"])
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    run_worker(app)

    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    assert pub.status == "failed" and f"slug “{slug}” is already used" in pub.last_error
    assert pub.steps == []  # refused before any image, category or tag was made on WordPress
    assert [p["id"] for p in wp.posts_with_slug(slug)] == [theirs["id"]]
    assert wp.get(f"/wp/v2/posts/{theirs['id']}")["title"]["raw"] == "Their post"
    assert content_status(app, world, content_id) == "approved"
    assert "is already used" in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(world["account"]):
        assert db.session.scalars(select(Notification).where(Notification.level == "error")).first() is not None


def test_republish_updates_the_same_post_then_unpublish_and_trash(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    run_worker(app)
    first = publication(app, world, content_id)

    editor = web.get(f"/writer/content/{content_id}").get_data(as_text=True)
    assert "publishing-panel-loader" in editor
    saved = web.post(f"/writer/content/{content_id}", {
        "title": "Espresso at home, revised", "meta_title": "x", "meta_description": "y", "slug": slug,
        "excerpt": "Shorter.", "body_html": "<h2>Start</h2><p>Revised text.</p>", "base_version": "1"},
        token_from=f"/writer/content/{content_id}")
    assert saved.status_code == 302
    stale = web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    assert "Edited since it was sent to WordPress: WordPress has version 1" in stale
    publish_by_hand(app, web, content_id)
    run_worker(app)

    second = publication(app, world, content_id)
    track_terms(wp, second)
    posts = wp.posts_with_slug(slug)
    assert len(posts) == 1 and posts[0]["id"] == first.wp_post_id == second.wp_post_id
    assert posts[0]["title"]["raw"] == "Espresso at home, revised" and "Revised text." in posts[0]["content"]["raw"]
    assert second.published_version == 2 and second.problems == []
    assert "Edited since it was sent" not in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)

    web.post(f"/publisher/content/{content_id}/wordpress", {"action": "unpublish"},
             token_from=f"/writer/content/{content_id}")
    run_worker(app)
    assert wp.get(f"/wp/v2/posts/{first.wp_post_id}")["status"] == "draft"
    assert content_status(app, world, content_id) == "approved"
    assert publication(app, world, content_id).status == "unpublished"

    web.post(f"/publisher/content/{content_id}/wordpress", {"action": "trash"},
             token_from=f"/writer/content/{content_id}")
    run_worker(app)
    assert wp.get(f"/wp/v2/posts/{first.wp_post_id}")["status"] == "trash"
    assert publication(app, world, content_id).status == "trashed"


def test_a_page_goes_to_pages_without_terms(app, world, wp):
    content_id = approved_article(app, world, content_type="page")
    slug = slug_of(app, world, content_id)
    publish_by_hand(app, signed_in(app, OWNER), content_id)
    run_worker(app)
    pub = publication(app, world, content_id)
    pages = wp.posts_with_slug(slug, "pages")
    assert len(pages) == 1 and pub.wp_type == "pages" and pub.status == "published"
    assert not [s for s in pub.steps if s.kind in ("category", "tag")]


def test_html_in_a_category_name_is_removed_and_an_existing_category_reused(app, world, wp):
    content_id = approved_article(app, world, cluster="<b>Beans</b> &amp; <script>x</script>Grinders {t}")
    publish_by_hand(app, signed_in(app, OWNER), content_id)
    run_worker(app)
    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    wp.posts_with_slug(slug_of(app, world, content_id))
    category = next(s for s in pub.steps if s.kind == "category")
    name = wp.get(f"/wp/v2/categories/{category.wp_id}")["name"]
    assert name.startswith("Beans &amp; Grinders") or name.startswith("Beans & Grinders")
    assert "<" not in name

    # A second article of the same cluster name reuses the category.
    with app.app_context(), tenancy.account_scope(world["account"]):
        cluster_name = category.detail["name"]
    other = approved_article(app, world, cluster=cluster_name)
    publish_by_hand(app, signed_in(app, OWNER), other)
    run_worker(app)
    other_pub = publication(app, world, other)
    track_terms(wp, other_pub)
    wp.posts_with_slug(slug_of(app, world, other))
    assert next(s for s in other_pub.steps if s.kind == "category").wp_id == category.wp_id


def test_scheduled_article_goes_to_wordpress_as_future_and_a_missed_schedule_is_published(app, world, wp):
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    with app.app_context(), tenancy.account_scope(world["account"]):
        when = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
        schedule_at(content_id=content_id, when=when.strftime("%Y-%m-%dT%H:%M"), user_id=None)
        db.session.remove()
    assert content_status(app, world, content_id) == "scheduled"
    app.config["PUBLISH_LEAD_SECONDS"] = 3 * 86400
    try:
        with app.app_context():
            assert publish_due() == 1
            assert publish_due() == 0  # a second tick finds nothing more to do
        run_worker(app)
    finally:
        app.config["PUBLISH_LEAD_SECONDS"] = 3600
    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    posts = wp.posts_with_slug(slug)
    assert len(posts) == 1 and posts[0]["status"] == "future"
    assert posts[0]["date_gmt"] == when.strftime("%Y-%m-%dT%H:%M:%S")
    assert pub.status == "future" and pub.problems == []
    assert content_status(app, world, content_id) == "scheduled"

    # WordPress's cron never ran: our record says the time has passed while the post is still "future".
    with app.app_context(), tenancy.account_scope(world["account"]):
        row = db.session.get(Publication, pub.id)
        row.scheduled_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        result = check_post(pub.id)
        db.session.remove()
    assert any("Missed schedule" in p for p in result["problems"])
    assert wp.get(f"/wp/v2/posts/{pub.wp_post_id}")["status"] == "publish"
    assert publication(app, world, content_id).status == "published"
    assert content_status(app, world, content_id) == "published"


def _png(size=(64, 48), color=(180, 90, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def test_media_upload_sets_alt_caption_title_and_a_retry_reuses_the_image(app, world, wp, real_wordpress):
    content_id = approved_article(app, world)
    data = _png()
    with app.app_context(), tenancy.account_scope(world["account"]):
        pub = records.ensure_publication(db.session.get(Content, content_id))
        db.session.commit()
        first = upload_media(wp.client, pub, data=data, filename="Crema close-up.png", mime="image/png",
                             alt="Crema on an espresso", caption="Tiger striping", title="Crema")
        wp.media.append(first["id"])
        again = upload_media(wp.client, pub, data=data, filename="Crema close-up.png", mime="image/png",
                             alt="Crema on an espresso", caption="Tiger striping", title="Crema")
        # A worker killed after WordPress stored the upload: the step is still "started" with its file name.
        second_data = _png(color=(10, 120, 200))
        lost = upload_media(wp.client, pub, data=second_data, filename="beans.png", mime="image/png", alt="Beans")
        wp.media.append(lost["id"])
        step = next(s for s in pub.steps if s.kind == "media" and s.wp_id == lost["id"])
        step.status, step.wp_id = "started", None
        db.session.commit()
        recovered = upload_media(wp.client, pub, data=second_data, filename="beans.png", mime="image/png",
                                 alt="Beans")
        db.session.remove()
    assert again == first and recovered["id"] == lost["id"]
    media = wp.get(f"/wp/v2/media/{first['id']}")
    assert media["alt_text"] == "Crema on an espresso" and media["title"]["raw"] == "Crema"
    assert "Tiger striping" in media["caption"]["raw"]
    assert media["mime_type"] == "image/png" and first["url"].startswith(real_wordpress.url)
    assert httpx2.get(first["url"], timeout=15).content == data


def test_the_periodic_check_notices_edits_trash_and_deletion_on_wordpress(app, world, wp):
    content_id = approved_article(app, world)
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    run_worker(app)
    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    wp.track_post("posts", pub.wp_post_id)
    with app.app_context():
        assert recheck_published() == 0  # checked when published; nothing is due yet

    import time as _time
    _time.sleep(1.1)  # WordPress keeps modification times to the second
    wp.client.request("POST", f"/wp/v2/posts/{pub.wp_post_id}", json={"title": "Changed in wp-admin"})
    web.post(f"/publisher/content/{content_id}/wordpress", {"action": "check"},
             token_from=f"/writer/content/{content_id}")
    run_worker(app)
    assert any("edited on WordPress" in p for p in publication(app, world, content_id).problems)
    assert "edited on WordPress" in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    # The next periodic check keeps saying so, without putting the post first in line for every later check.
    checked = publication(app, world, content_id).verified_at
    with app.app_context():
        assert recheck_published(utcnow() + timedelta(days=2)) == 1
    again = publication(app, world, content_id)
    assert any("edited on WordPress" in p for p in again.problems) and again.verified_at > checked

    wp.client.request("DELETE", f"/wp/v2/posts/{pub.wp_post_id}")  # to the trash
    with app.app_context():
        assert recheck_published(utcnow() + timedelta(days=2)) == 1
    after = publication(app, world, content_id)
    assert after.status == "trashed" and any("moved to the trash" in p for p in after.problems)
    assert content_status(app, world, content_id) == "approved"

    wp.client.request("DELETE", f"/wp/v2/posts/{pub.wp_post_id}", params={"force": "true"})
    with app.app_context(), tenancy.account_scope(world["account"]):
        result = check_post(pub.id)
        db.session.remove()
    assert "The post was deleted on WordPress." in result["problems"]
    assert publication(app, world, content_id).wp_post_id is None


@pytest.mark.parametrize("who", ["login_password", "no_publish"])
def test_a_login_password_or_a_user_without_rights_stops_at_once_with_the_fix_and_makes_no_post(
        app, wp, real_wordpress, who):
    user = real_wordpress.admin if who == "login_password" else real_wordpress.no_publish
    password = user.password if who == "login_password" else user.app_password
    world = connected_site(app, url=real_wordpress.url, username=user.username, app_password=password)
    content_id = approved_article(app, world)
    slug = slug_of(app, world, content_id)
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    run_worker(app)

    pub = publication(app, world, content_id)
    track_terms(wp, pub)  # an editor without publish rights may still make categories; removed afterwards
    assert wp.posts_with_slug(slug) == []
    assert pub.status == "failed" and pub.attempts == 1 and pub.next_attempt_at is None  # no retries
    assert "nothing was published" in pub.last_error
    if who == "login_password":
        assert "did not accept the user name and application password" in pub.last_error
        assert "Test connection" in pub.last_error
    else:
        assert f"“{user.username}” is not allowed" in pub.last_error and "Editor or Administrator" in pub.last_error
        assert "not allowed to publish posts" in pub.last_error  # WordPress's own words, too
    assert content_status(app, world, content_id) == "approved"
    assert pub.last_error in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True).replace(
        "&#34;", '"').replace("&#39;", "'")
    with app.app_context(), tenancy.account_scope(world["account"]):
        notices = db.session.scalars(select(Notification).where(Notification.level == "error")).all()
        # One notice for the one person who clicked (from the job), carrying the same plain reason.
        assert [(n.user_id, n.body) for n in notices] == [(world["owner"], pub.last_error)]
        db.session.remove()
    # The sites list shows the connection as failing, and the site's WordPress card says why.
    assert ">Failing</span>" in web.get("/sites/").get_data(as_text=True)
    card = web.get(f"/sites/{world['site']}").get_data(as_text=True).replace("&#34;", '"').replace("&#39;", "'")
    assert "was refused. " + pub.last_error in card


def test_an_image_wordpress_refuses_is_not_retried_and_says_what_to_do(app, world, wp):
    content_id = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        pub = records.ensure_publication(db.session.get(Content, content_id))
        db.session.commit()
        with pytest.raises(PermanentError) as caught:  # PNG by name and type, but not an image inside
            upload_media(wp.client, pub, data=b"this is not a picture", filename="crema.png", mime="image/png")
        db.session.remove()
    message = caught.value.message
    assert not caught.value.transient
    assert "WordPress refused the image “crema.png”" in message and "not allowed to upload this file type" in message
    assert "Nothing was published" in message and "Replace the image" in message
    assert wp.client.request("GET", "/wp/v2/media", params={"search": "crema", "context": "edit"}) == [] or all(
        "crema" not in (m.get("source_url") or "") for m in wp.client.request("GET", "/wp/v2/media",
                                                                              params={"search": "crema"}))


def test_read_back_reports_what_wordpress_changed_on_the_article(app, world, wp):
    content_id = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        content = db.session.get(Content, content_id)
        content.slug = content.slug.replace("espresso-at-home", "Espresso-AT-Home")  # WordPress lower-cases slugs
        sent = content.slug
        db.session.commit()
        db.session.remove()
    web = signed_in(app, OWNER)
    publish_by_hand(app, web, content_id)
    run_worker(app)
    pub = publication(app, world, content_id)
    track_terms(wp, pub)
    posts = wp.posts_with_slug(sent.lower())
    assert len(posts) == 1 and posts[0]["id"] == pub.wp_post_id
    expected = f"WordPress gave the post the slug “{sent.lower()}” instead of “{sent}”."
    assert pub.status == "published" and pub.problems == [expected]
    assert expected in web.get(f"/publisher/content/{content_id}/panel").get_data(as_text=True)
    with app.app_context(), tenancy.account_scope(world["account"]):
        warning = db.session.scalars(select(Notification).where(Notification.level == "warning")).one()
        assert "differs on WordPress" in warning.title and expected in warning.body
        db.session.remove()
