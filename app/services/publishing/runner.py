"""The publishing job and what the scheduler's minute tick does: publish due articles and retries,
fill auto-publish slots, and check future posts that WordPress's cron should have published."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app import tenancy
from app.errors import DomainError
from app.extensions import db
from app.models import Account, Content, Job, Publication, PublishSettings, Site
from app.services.job_kinds import JobKind, Progress, register
from app.services.notifications import notify
from app.services.publishing import records
from app.services.publishing.connection import WAITING_FOR_CONNECTION, client_for, site_is_connected
from app.services.publishing.publisher import people_to_tell, publish_publication
from app.services.publishing.schedule import PUBLISH_KIND, auto_schedule_site, enqueue_publication
from app.services.publishing.wordpress import PermanentError, WordPressError
from app.services.writer.status import apply_move
from app.timeutil import utcnow

MISSED_GRACE = timedelta(minutes=2)
MISSED_RECHECK = timedelta(minutes=15)
ORPHAN_AFTER = timedelta(minutes=5)  # "queued" this long with no live job: its hand-over to a worker was lost
QUEUE_RETRY = timedelta(minutes=1)
RECHECK_AFTER = timedelta(hours=24)
PUBLICATIONS = Publication.__table__


def _client(publication: Publication):
    site = db.session.get(Site, publication.site_id)
    return client_for(site, timeout=current_app.config["WORDPRESS_TIMEOUT_SECONDS"])


def _route(publication: Publication) -> str:
    return f"/wp/v2/{publication.wp_type}/{publication.wp_post_id}"


def _back_to_approved(publication: Publication) -> None:
    content = db.session.get(Content, publication.content_id)
    if content.status in ("published", "scheduled"):
        apply_move(content, "approved", actor="publishing")


def change_post(publication_id: int, action: str) -> dict:
    """Unpublish (draft) or trash the post on WordPress, reading it back to confirm."""
    publication = records.get_publication(publication_id)
    try:
        with _client(publication) as client:
            if action == "trash":
                client.request("DELETE", _route(publication))
            else:
                client.request("POST", _route(publication), json={"status": "draft"})
            post = client.request("GET", _route(publication), params={"context": "edit"})
    except WordPressError as exc:
        raise DomainError(f"WordPress did not {action} the post: {exc.message}") from exc
    wanted = "trash" if action == "trash" else "draft"
    if post.get("status") != wanted:
        raise DomainError(f"WordPress still shows the post as “{post.get('status')}” after the {action}.")
    publication.status = "trashed" if action == "trash" else "unpublished"
    publication.wp_status, publication.scheduled_at, publication.verified_at = wanted, None, utcnow()
    publication.published_version = None
    _back_to_approved(publication)
    db.session.commit()
    return {"publication_id": publication.id, "status": wanted}


def check_post(publication_id: int, *, fix_missed: bool | None = None) -> dict:
    """Compare the post on WordPress with our record: deleted, trashed, edited there, or a missed schedule."""
    publication = records.get_publication(publication_id)
    content = db.session.get(Content, publication.content_id)
    problems = []
    try:
        with _client(publication) as client:
            try:
                post = client.request("GET", _route(publication), params={"context": "edit"})
            except PermanentError as exc:
                if exc.status not in (404, 410):
                    raise
                post = None
            if post and post.get("status") == "future" and publication.scheduled_at \
                    and publication.scheduled_at < utcnow() - MISSED_GRACE:
                problems.append("Missed schedule: WordPress did not publish the post at its time (its cron did "
                                "not run).")
                settings = db.session.scalars(select(PublishSettings)
                                              .where(PublishSettings.site_id == publication.site_id)).first()
                if fix_missed if fix_missed is not None else (settings is None or settings.fix_missed_schedule):
                    # The post's own (past) time: WordPress keeps a post dated ahead as "future".
                    client.request("POST", _route(publication), json={
                        "status": "publish", "date_gmt": publication.scheduled_at.strftime("%Y-%m-%dT%H:%M:%S")})
                    post = client.request("GET", _route(publication), params={"context": "edit"})
                    if post.get("status") == "publish":
                        problems[-1] += " IGNY8 published it by updating its status."
    except WordPressError as exc:
        raise DomainError(f"Could not check the post on WordPress: {exc.message}") from exc
    if post is None:
        problems.append("The post was deleted on WordPress.")
        publication.status, publication.wp_status, publication.wp_post_id = "failed", None, None
        publication.last_error = problems[-1]
        _back_to_approved(publication)
    else:
        status = post.get("status")
        if status == "trash" and publication.status != "trashed":
            problems.append("The post was moved to the trash on WordPress.")
            publication.status = "trashed"
            _back_to_approved(publication)
        elif status == "draft" and publication.status in ("published", "future"):
            problems.append("The post was taken back to draft on WordPress.")
            publication.status = "unpublished"
            _back_to_approved(publication)
        elif status == "publish" and publication.status in ("future", "published"):
            if publication.status == "future":
                publication.status, publication.published_at = "published", utcnow()
                if content.status != "published":
                    apply_move(content, "published", actor="publishing")
        modified = post.get("modified_gmt")
        verified = publication.verified_at
        edited_before = [p for p in publication.problems or [] if "edited on WordPress" in p]
        if modified and verified and modified > verified.strftime("%Y-%m-%dT%H:%M:%S") \
                and not any(p.startswith("Missed") for p in problems):
            problems.append(f"The post was edited on WordPress ({modified} UTC) after IGNY8 last sent it.")
        elif edited_before and not problems:
            # Still reported until the article is published again; the check itself moves on, so posts
            # edited there do not stay first in line for every periodic check.
            problems.extend(edited_before)
        publication.wp_status, publication.wp_link = status, post.get("link") or publication.wp_link
    before = list(publication.problems or [])
    publication.problems = problems
    publication.verified_at = utcnow()
    db.session.commit()
    if problems and problems != before:
        notify(account_id=publication.account_id, title=f"“{content.title}” on WordPress"[:200], body=" ".join(problems),
               link=f"/writer/content/{content.id}", level="warning", user_ids=people_to_tell(publication))
    return {"publication_id": publication.id, "problems": problems}


@register
class PublishArticle(JobKind):
    name = PUBLISH_KIND
    title = "Publish to WordPress"
    module = "publisher"
    timeout = 900

    def run(self, job: Job, progress: Progress) -> dict:
        """Publish, unpublish, trash or check one article's post."""
        publication_id, action = job.payload.get("publication_id"), job.payload.get("action", "publish")
        progress("PREP", 10, f"{action.capitalize()}…", force=True)
        if action == "publish":
            result = publish_publication(publication_id)
            if result.get("retrying_at"):
                raise DomainError(result["message"])
            return result
        if action == "check":
            return check_post(publication_id)
        return change_post(publication_id, action)

    def on_failure(self, job: Job) -> None:
        """A worker that died mid-publish (reaped) leaves the publication "publishing": retry it at once;
        the retry looks the post up by slug and adopts it if WordPress had made it."""
        publication_id = (job.payload or {}).get("publication_id")
        with db.engine.begin() as conn:
            conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication_id,
                                                     PUBLICATIONS.c.status == "publishing")
                         .values(status="retrying", next_attempt_at=utcnow(), lease_token=None, lease_until=None,
                                 last_error="The worker publishing this article stopped; trying again."))
            # Refused before it started (module switched off, cancelled): say why on the article.
            error = conn.execute(select(Job.__table__.c.error).where(Job.__table__.c.id == job.id)).scalar()
            refused = conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication_id,
                                                               PUBLICATIONS.c.status == "queued")
                                   .values(status="failed",
                                           last_error=f"Publishing did not run: {error or 'the job stopped.'}")).rowcount
        if refused:  # a scheduled article that will not go out at its time is approved again (the caller commits)
            content = db.session.scalars(select(Content).join(Publication, Publication.content_id == Content.id)
                                         .where(Publication.id == publication_id)).first()
            if content is not None and content.status == "scheduled":
                apply_move(content, "approved", actor="publishing")


def due_publications(now=None, *, limit: int = 100) -> list[tuple[int, int]]:
    """Claim due publications of connected sites in PostgreSQL (SKIP LOCKED, status flip) and return
    (account, id) pairs; those of sites without a WordPress connection stay scheduled and wait.

    Also claimed again: publications left "queued" without a live job for a while (a scheduler stopped
    between its claim and handing the article to a worker), which would otherwise never go live."""
    now = now or utcnow()
    lead = timedelta(seconds=current_app.config["PUBLISH_LEAD_SECONDS"])
    live_job = select(Job.id).where(Job.id == Publication.job_id, Job.status.in_(("queued", "running")))
    with tenancy.all_accounts():
        rows = list(db.session.scalars(select(Publication).where(or_(
            (Publication.status == "scheduled") & (Publication.scheduled_at <= now + lead),
            (Publication.status == "retrying") & (Publication.next_attempt_at <= now),
            # The database's clock, as updated_at is: a tick told another "now" (tests, catch-up) cannot
            # take a hand-over another scheduler is making this very moment.
            (Publication.status == "queued") & (Publication.updated_at < func.now() - ORPHAN_AFTER)
            & ~live_job.exists(),
        ), Publication.site_id.in_(select(Site.id).where(site_is_connected())))
            .order_by(Publication.scheduled_at).limit(limit).with_for_update(skip_locked=True)))
        claimed = [(row.account_id, row.id) for row in rows]
        for row in rows:
            row.status = "queued"
        db.session.commit()
    return claimed


def hold_unconnected(now=None) -> int:
    """Due articles of sites without a WordPress connection wait (not failed, nothing spent), saying so on the
    article; the site's owners are told once when its first article starts waiting."""
    now = now or utcnow()
    with tenancy.all_accounts():
        rows = list(db.session.execute(select(Publication.account_id, Publication.id).where(
            Publication.status == "scheduled", Publication.scheduled_at <= now,
            Publication.last_error != WAITING_FOR_CONNECTION,
            Publication.site_id.in_(select(Site.id).where(~site_is_connected()))).order_by(Publication.scheduled_at)))
    for account_id, publication_id in rows:
        with tenancy.account_scope(account_id):
            publication = db.session.scalars(select(Publication).where(Publication.id == publication_id)
                                             .with_for_update()).first()
            if publication is None or publication.status != "scheduled" \
                    or publication.last_error == WAITING_FOR_CONNECTION:
                db.session.rollback()
                continue
            already_told = db.session.scalars(select(Publication.id).where(
                Publication.site_id == publication.site_id, Publication.status == "scheduled",
                Publication.last_error == WAITING_FOR_CONNECTION)).first()
            publication.last_error = WAITING_FOR_CONNECTION
            db.session.commit()
            if already_told is None:
                site = db.session.get(Site, publication.site_id)
                content = db.session.get(Content, publication.content_id)
                notify(account_id=account_id,
                       title=f"{site.name}: articles are waiting for a WordPress connection"[:200],
                       body=f"“{content.title}” was due to publish, but {site.name} is not connected to WordPress. "
                            "It waits, with the site's other due articles; connect the site to publish them.",
                       link=f"/sites/{site.id}#wordpress", level="warning", user_ids=people_to_tell(publication))
    return len(rows)


def _module_on(account_id: int) -> bool:
    account = db.session.get(Account, account_id)
    return account is not None and account.module_enabled("publisher")


def publish_due(now=None) -> int:
    """The minute tick: fill auto-publish slots, hand due articles and retries to workers, check missed schedules."""
    now = now or utcnow()
    with tenancy.all_accounts():
        sites = list(db.session.execute(select(PublishSettings.account_id, PublishSettings.site_id)
                                        .where(PublishSettings.auto_publish.is_(True))))
    for account_id, site_id in sites:
        with tenancy.account_scope(account_id):
            if _module_on(account_id):  # with the module off nothing new is put on the schedule
                auto_schedule_site(site_id)
    hold_unconnected(now)
    started = 0
    for account_id, publication_id in due_publications(now):
        with tenancy.account_scope(account_id):
            publication = db.session.get(Publication, publication_id)
            job = db.session.get(Job, publication.job_id) if publication.job_id else None
            if job is not None and job.status in ("queued", "running"):
                continue
            try:
                enqueue_publication(publication, user_id=None)
                started += 1
            except DomainError as exc:  # module switched off, queue down: say so on the article
                db.session.rollback()
                publication = db.session.get(Publication, publication_id)
                if _module_on(account_id):  # the queue was down: the article keeps its turn and is tried again
                    publication.status, publication.next_attempt_at = "retrying", now + QUEUE_RETRY
                    content = db.session.get(Content, publication.content_id)
                    if content.status == "approved" and publication.scheduled_at:  # undo the job's refusal hook
                        apply_move(content, "scheduled", actor="publishing")
                else:
                    publication.status = "failed"
                    _back_to_approved(publication)
                publication.last_error = exc.message
                db.session.commit()
    with tenancy.all_accounts():
        overdue = list(db.session.execute(select(Publication.account_id, Publication.id).where(
            Publication.status == "future", Publication.scheduled_at < now - MISSED_GRACE,
            # Checked at once after its time, then every quarter hour while it stays missed (when the site
            # does not want it fixed, or WordPress does not answer), not on every tick.
            or_(Publication.verified_at.is_(None), Publication.verified_at < Publication.scheduled_at,
                Publication.verified_at < now - MISSED_RECHECK))))
    for account_id, publication_id in overdue:
        with tenancy.account_scope(account_id):
            try:
                check_post(publication_id)
            except DomainError:
                db.session.rollback()
    return started


def recheck_published(now=None, *, limit: int = 50) -> int:
    """The periodic check: posts not checked for a day are compared with WordPress (deleted, trashed, edited)."""
    now = now or utcnow()
    with tenancy.all_accounts():
        rows = list(db.session.execute(select(Publication.account_id, Publication.id).where(
            Publication.status == "published", Publication.wp_post_id.is_not(None),
            or_(Publication.verified_at.is_(None), Publication.verified_at < now - RECHECK_AFTER),
        ).order_by(Publication.verified_at.asc().nulls_first()).limit(limit)))
    checked = 0
    for account_id, publication_id in rows:
        with tenancy.account_scope(account_id):
            try:
                check_post(publication_id)
                checked += 1
            except DomainError:
                db.session.rollback()
    return checked
