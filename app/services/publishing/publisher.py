"""Publishing one article to its site's WordPress, exactly once, with read-back verification.

The publication record and its steps are committed the moment WordPress answers; before creating a
post, the post is looked up by slug in any status and adopted when it carries our marker, so a double
click, a retried job, two scheduler ticks or a worker killed after WordPress answered never make a
second post."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import undefer

from app.errors import DomainError
from app.extensions import db
from app.models import Content, Job, Publication, Site, User
from app.services.notifications import notify
from app.services.publishing import assets, records, seo
from app.services.publishing.connection import WAITING_FOR_CONNECTION, client_for
from app.services.publishing.settings import settings_for
from app.services.publishing.wordpress import PermanentError, TransientError, WordPressClient, WordPressError
from app.services.writer.status import apply_move
from app.timeutil import utcnow

FUTURE_MIN_SECONDS = 60  # WordPress stores a "future" post due sooner than this as published at once


def marker_comment(publication: Publication) -> str:
    """The HTML comment that marks a post as made by this publication."""
    return f"<!-- igny8:publication:{publication.marker} -->"


def _fail(publication: Publication, content: Content, message: str, *, notify_users: bool = True) -> None:
    publication.status, publication.last_error, publication.next_attempt_at = "failed", message, None
    if content.status == "scheduled":  # it is not going out at its time any more: approved, to schedule again
        apply_move(content, "approved", actor="publishing")
    db.session.commit()
    if notify_users:
        # Whoever started the job hears of the failure from the job itself: one notice each, not two.
        starter = db.session.scalar(select(Job.created_by_id).where(Job.id == publication.job_id)) \
            if publication.job_id else None
        user_ids = [u for u in people_to_tell(publication) if u != starter]
        if user_ids:
            notify(account_id=publication.account_id, title=f"Publishing “{content.title}” failed"[:200],
                   body=message, link=f"/writer/content/{content.id}", level="error", user_ids=user_ids)


CANNOT_CODES = {"rest_cannot_publish", "rest_cannot_create", "rest_cannot_edit", "rest_cannot_assign_term",
                "rest_cannot_create_term", "rest_forbidden_status", "rest_cannot_edit_others"}


def _refused_sign_in(exc: WordPressError) -> bool:
    problem = exc.data or {}
    # A GET of posts "in any status" refused as anonymous means the sign-in was ignored, too.
    forbidden_status = exc.wp_code == "rest_invalid_param" and "status" in (problem.get("data") or {}).get("params", {})
    return exc.status == 401 or exc.reason == "unauthorized" or forbidden_status


def _missing_rights(exc: WordPressError) -> bool:
    return exc.status == 403 and (exc.wp_code in CANNOT_CODES or (exc.wp_code or "").startswith("rest_cannot"))


def plain_reason(exc: WordPressError, site: Site) -> str:
    """Why publishing stopped, in plain words with the fix, for the failures a person must fix on WordPress."""
    problem = exc.data or {}
    if _refused_sign_in(exc):
        return (f"WordPress did not accept the user name and application password saved for {site.name}, so "
                "nothing was published. The normal login password never works here, and an application "
                "password can be revoked. Open the site's page, run Test connection (it names the cause), save "
                "a new application password if needed, then publish again.")
    if _missing_rights(exc):
        said = problem.get("message") or exc.message
        return (f"The WordPress user “{site.wp_username}” is not allowed to do this on {site.name} ({said.rstrip('.')}), "
                "so nothing was published. In WordPress open Users → All Users and give it the Editor or "
                "Administrator role, then publish again.")
    if exc.reason in ("no_rest_api", "blocked", "not_json", "redirect"):
        return (f"{exc.message.rstrip('.')}. Nothing was published. Open {site.name}'s page and run Test connection: "
                "it names the cause (wrong address, REST API blocked, a redirect) and the fix.")
    return exc.message


def _mark_connection_failing(site: Site, message: str) -> None:
    """The sites list and the site's WordPress card show the connection as failing, with the reason, until the
    next connection test (automation stops publishing to it, too)."""
    site.wp_health = "failed"
    site.wp_check = {"health": "failed", "checks": [], "url": site.wp_url,
                     "summary": f"Publishing on {utcnow():%Y-%m-%d %H:%M} UTC was refused. {message}"}


def people_to_tell(publication: Publication) -> list[int]:
    """Owners and admins of the account (whoever started a job is also told by the job itself)."""
    return list(db.session.scalars(select(User.id).where(User.role.in_(("owner", "admin")), User.active.is_(True))))


def _retry_later(publication: Publication, content: Content, exc: TransientError) -> dict:
    config = current_app.config
    if publication.attempts >= config["PUBLISH_MAX_ATTEMPTS"]:
        message = (f"WordPress kept failing after {publication.attempts} attempts; the last answer: {exc.message} "
                   "Nothing more will be tried until you publish again.")
        _fail(publication, content, message)
        raise DomainError(message)
    delay = max(exc.retry_after or 0, config["PUBLISH_RETRY_BASE_SECONDS"] * 2 ** (publication.attempts - 1))
    publication.status, publication.last_error = "retrying", exc.message
    publication.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()
    return {"publication_id": publication.id, "retrying_at": publication.next_attempt_at.isoformat(),
            "message": f"WordPress did not answer properly ({exc.message}); trying again shortly."}


def _with_retries(call):
    """Run a step again after a short pause when WordPress fails briefly (each retry looks up first)."""
    tries = current_app.config["PUBLISH_INLINE_RETRIES"]
    for attempt in range(tries + 1):
        try:
            return call()
        except TransientError:
            if attempt == tries:
                raise
            time.sleep(current_app.config["PUBLISH_INLINE_BACKOFF_SECONDS"] * 2 ** attempt)


def _payload(client: WordPressClient, publication: Publication, content: Content, site: Site) -> dict:
    settings = settings_for(site.id)
    featured, replacements = None, {}
    for image in assets.article_images(content):
        media = _with_retries(lambda image=image: assets.upload_media(
            client, publication, data=image.data, filename=image.filename, mime=image.mime, alt=image.alt,
            caption=image.caption, title=image.title))
        if image.featured and featured is None:
            featured = media["id"]
        if image.src and media.get("url"):
            replacements[image.src] = media["url"]
    body = assets.rewrite_sources(content.body_html or "", replacements) + "\n" + marker_comment(publication)
    payload = {"title": content.title, "content": body, "excerpt": content.excerpt or "", "slug": content.slug}
    due = publication.scheduled_at
    if due and due > utcnow() + timedelta(seconds=FUTURE_MIN_SECONDS):
        payload.update(status="future", date_gmt=due.strftime("%Y-%m-%dT%H:%M:%S"))
    else:
        payload["status"] = "publish"
    if featured:
        payload["featured_media"] = featured
    if publication.wp_type == "posts":
        categories, tags = assets.term_names(content, category_source=settings.category_source,
                                             default_category=settings.default_category, max_tags=settings.max_tags)
        payload["categories"] = _with_retries(lambda: assets.term_ids(client, publication, "categories", categories))
        payload["tags"] = _with_retries(lambda: assets.term_ids(client, publication, "tags", tags))
        if not payload["categories"]:
            del payload["categories"]
    meta = seo.meta_for(client, site.id, publication.wp_type, content, settings=settings)
    if meta:
        payload["meta"] = meta
    return payload


def _adopt_or_refuse(client: WordPressClient, publication: Publication, slug: str) -> dict | None:
    """The post already on WordPress with this slug when it is ours; refuses someone else's."""
    found = client.request("GET", f"/wp/v2/{publication.wp_type}",
                           params={"slug": slug, "status": "any", "context": "edit"})
    for post in found:
        if marker_comment(publication) in ((post.get("content") or {}).get("raw") or ""):
            return post
    if found:
        other = found[0]
        raise PermanentError(
            f"The slug “{slug}” is already used on WordPress by “{(other.get('title') or {}).get('raw', '')}” "
            f"(ID {other['id']}), which IGNY8 did not publish. Change the article's slug, or remove that post, "
            "then publish again.", reason="slug_taken")
    return None


def _create_or_update(client: WordPressClient, publication: Publication, payload: dict,
                      looked_up: list | None = None) -> dict:
    """`looked_up`: the slug lookup made before the images went up, used once (a retry looks up again)."""
    route = f"/wp/v2/{publication.wp_type}"
    if publication.wp_post_id:
        try:
            return client.request("POST", f"{route}/{publication.wp_post_id}", json=payload)
        except PermanentError as exc:
            if exc.status != 404 and exc.wp_code != "rest_post_invalid_id":
                raise
            publication.problems = [*(publication.problems or []),
                                    "The post had been deleted on WordPress; it was published again."]
            publication.wp_post_id = None
            db.session.commit()
    row = records.step(publication, "post", "post")
    adopted = looked_up.pop() if looked_up else _adopt_or_refuse(client, publication, payload["slug"])
    post = adopted or client.request("POST", route, json=payload)
    records.finish_step(row, wp_id=post["id"], url=post.get("link"), detail={"adopted": bool(adopted)},
                        publication=publication)  # the id is stored the moment WordPress gave it
    publication.wp_post_id, publication.wp_link = post["id"], post.get("link")
    if adopted:  # made by an attempt whose answer was lost: bring it up to date
        post = client.request("POST", f"{route}/{post['id']}", json=payload)
    return post


def read_back(client: WordPressClient, publication: Publication, payload: dict) -> tuple[dict, list[str]]:
    """Read the post back and list what differs from what was sent."""
    post = client.request("GET", f"/wp/v2/{publication.wp_type}/{publication.wp_post_id}", params={"context": "edit"})
    problems = []
    title = (post.get("title") or {}).get("raw")
    if title != payload["title"]:
        problems.append(f"WordPress shows the title “{title}” instead of “{payload['title']}”.")
    if post.get("slug") != payload["slug"]:
        problems.append(f"WordPress gave the post the slug “{post.get('slug')}” instead of “{payload['slug']}”.")
    if post.get("status") != payload["status"]:
        problems.append(f"WordPress shows the post as “{post.get('status')}” instead of “{payload['status']}”.")
    if payload.get("date_gmt") and post.get("date_gmt") != payload["date_gmt"]:
        problems.append(f"WordPress dates the post {post.get('date_gmt')} UTC instead of {payload['date_gmt']} UTC.")
    if payload.get("featured_media") and post.get("featured_media") != payload["featured_media"]:
        problems.append("WordPress does not show the featured image that was sent.")
    for taxonomy in ("categories", "tags"):
        if taxonomy in payload and set(post.get(taxonomy) or []) != set(payload[taxonomy]):
            problems.append(f"WordPress shows other {taxonomy} than the ones sent.")
    return post, problems


def _settle(publication: Publication, content: Content, post: dict, problems: list[str]) -> None:
    publication.wp_link, publication.wp_status = post.get("link"), post.get("status")
    publication.problems, publication.verified_at = problems, utcnow()
    publication.last_error, publication.next_attempt_at = "", None
    if post.get("status") == "publish":
        publication.status, publication.published_at = "published", publication.published_at or utcnow()
        publication.published_version = content.version
        if content.status != "published":
            apply_move(content, "published", actor="publishing")
    elif post.get("status") == "future":
        publication.status = "future"
        publication.published_version = content.version
        if content.status == "approved":
            apply_move(content, "scheduled", actor="publishing")
    db.session.commit()
    if problems:
        notify(account_id=publication.account_id, title=f"“{content.title}” differs on WordPress"[:200],
               body=" ".join(problems), link=f"/writer/content/{content.id}", level="warning",
               user_ids=people_to_tell(publication))


def publish_publication(publication_id: int) -> dict:
    """Publish (or update) the article of a publication; a second worker at the same time does nothing."""
    with records.records_connection():
        token = records.take_lease(publication_id)
        if token is None:
            return {"publication_id": publication_id,
                    "message": "Another worker is publishing this article right now."}
        try:
            return _publish(publication_id)
        finally:
            records.release_lease(publication_id, token)


def _publish(publication_id: int) -> dict:
    publication = records.get_publication(publication_id, fresh=True)
    content = db.session.scalars(select(Content).options(undefer(Content.body_html))
                                 .where(Content.id == publication.content_id)
                                 .execution_options(populate_existing=True)).one()
    if publication.status == "published" and publication.published_version == content.version:
        return {"publication_id": publication.id, "message": "Already published; nothing changed since."}
    if content.status not in ("approved", "scheduled", "published"):
        _fail(publication, content, f"Only approved articles are published; “{content.title}” is {content.status}.")
        raise DomainError(publication.last_error)
    site = db.session.get(Site, publication.site_id)
    if not site.wp_connected and publication.scheduled_at and publication.wp_post_id is None:
        # Disconnected after the tick handed it over: it goes back to waiting, as the tick would have left it.
        publication.status, publication.last_error = "scheduled", WAITING_FOR_CONNECTION
        db.session.commit()
        return {"publication_id": publication.id, "message": WAITING_FOR_CONNECTION}
    # Stored at once on the records connection; the session is not committed here, so the article, its
    # site and its publication stay loaded for the run instead of being read again.
    records.mark_publishing(publication)
    try:
        with client_for(site, timeout=current_app.config["WORDPRESS_TIMEOUT_SECONDS"]) as client:
            looked_up = []
            if not publication.wp_post_id:
                # Someone else's post with this slug stops the run before any image or term is made.
                looked_up.append(_with_retries(lambda: _adopt_or_refuse(client, publication, content.slug)))
            payload = _payload(client, publication, content, site)
            post = _with_retries(lambda: _create_or_update(client, publication, payload, looked_up))
            post, problems = _with_retries(lambda: read_back(client, publication, payload))
    except TransientError as exc:
        db.session.rollback()
        return _retry_later(publication, content, exc)
    except (WordPressError, DomainError) as exc:
        db.session.rollback()
        message = plain_reason(exc, site) if isinstance(exc, WordPressError) else exc.message
        if isinstance(exc, WordPressError) and (_refused_sign_in(exc) or _missing_rights(exc)):
            _mark_connection_failing(site, message)
        _fail(publication, content, message)
        raise DomainError(message) from exc
    result = {"publication_id": publication_id, "wp_post_id": publication.wp_post_id, "link": post.get("link"),
              "status": post.get("status"), "problems": problems}
    _settle(publication, content, post, problems)
    return result
