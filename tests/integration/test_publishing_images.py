"""Publishing an article with images to the real loopback WordPress: the featured image becomes the post's
featured media and every in-article image's src points at its media-library copy, with alt text and caption."""

from __future__ import annotations

import pytest

from app import tenancy
from app.extensions import db
from app.services.ai.catalogue import seed_ai_catalogue
from app.services.billing import credits
from app.services.images import generation
from app.services.images import prompts as image_prompts
from tests.integration.helpers import signed_in
from tests.integration.images_support import images_of
from tests.integration.publish_support import (
    OWNER, WordPressJanitor, approved_article, connected_site, publication, run_worker,
)


@pytest.fixture
def wp(app, real_wordpress):
    with app.app_context():  # the guarded client takes the app's outbound policy (loopback allowed in tests)
        janitor = WordPressJanitor(real_wordpress.url, real_wordpress.admin.username,
                                   real_wordpress.admin.app_password)
    yield janitor
    with app.app_context():  # the guarded client reads the outbound settings of the app
        janitor.clean()


@pytest.fixture
def world(app, real_wordpress, wp):
    out = connected_site(app, url=real_wordpress.url, username=real_wordpress.admin.username,
                         app_password=real_wordpress.admin.app_password)
    with app.app_context():
        seed_ai_catalogue()
    with app.app_context(), tenancy.account_scope(out["account"]):
        credits.grant(account_id=out["account"], amount=100, key="images-grant", description="Test credits")
        db.session.remove()
    return out


def test_publishing_uploads_the_featured_and_in_article_images_and_rewrites_their_src(app, world, wp):
    content_id = approved_article(app, world)
    with app.app_context(), tenancy.account_scope(world["account"]):
        image_prompts.start_prompts(content_ids=[content_id], created_by_id=world["owner"])
        db.session.remove()
    run_worker(app)
    with app.app_context(), tenancy.account_scope(world["account"]):
        generation.start_images(content_ids=[content_id], created_by_id=world["owner"])
        db.session.remove()
    run_worker(app)
    images = images_of(app, world["account"], content_id)
    assert [i["status"] for i in images] == ["generated"] * 3

    web = signed_in(app, OWNER)
    assert web.post(f"/publisher/content/{content_id}/publish", {},
                    token_from=f"/writer/content/{content_id}").status_code == 302
    run_worker(app)
    pub = publication(app, world, content_id)
    wp.media.extend(s.wp_id for s in pub.steps if s.kind == "media" and s.wp_id)
    for step in pub.steps:
        if step.kind in ("category", "tag") and step.wp_id:
            wp.terms.append(("categories" if step.kind == "category" else "tags", step.wp_id))
    assert pub.status == "published", pub.problems
    wp.track_post("posts", pub.wp_post_id)
    with app.app_context():  # the guarded client reads the outbound settings of the app
        check_post(app, wp, pub, images)


def check_post(app, wp, pub, images) -> None:
    post = wp.get(f"/wp/v2/posts/{pub.wp_post_id}")
    assert post["featured_media"]
    featured = wp.get(f"/wp/v2/media/{post['featured_media']}")
    assert featured["alt_text"] == images[0]["alt"] and featured["mime_type"] == "image/webp"
    raw = post["content"]["raw"]
    assert "/writer/images/" not in raw
    media_ids = [s.wp_id for s in pub.steps if s.kind == "media"]
    assert len(media_ids) == 3
    for media_id in media_ids:
        if media_id == post["featured_media"]:
            continue
        media = wp.get(f"/wp/v2/media/{media_id}")
        assert media["source_url"] in raw
        assert media["alt_text"] in (images[1]["alt"], images[2]["alt"])
    assert raw.count("<figure>") == 2 and "<figcaption>" in raw
