"""Scheduling articles: by hand (a chosen time, reschedule, unschedule, publish now) and auto-publish
(approved articles take the next free slot of their site)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import Content, Job, Publication, PublishSettings, Site
from app.services import jobs as job_service
from app.services.publishing import records
from app.services.publishing.settings import settings_for
from app.services.publishing.slots import next_free_slot
from app.services.writer.status import apply_move
from app.timeutil import utcnow

PUBLISH_KIND = "publishing.publish"
WAITING = ("scheduled", "queued", "publishing", "retrying", "future")


def _content(content_id: int) -> Content:
    content = db.session.scalars(select(Content).where(Content.id == content_id).with_for_update()).first()
    if content is None:
        raise NotFound("That article does not exist or you do not have access to it.")
    return content


def parse_local_time(raw: str, tz_name: str) -> datetime:
    """'2026-12-01T09:30' on the site's wall clock → UTC; refuses what is not a date and time."""
    try:
        wall = datetime.fromisoformat((raw or "").strip())
    except ValueError:
        raise ValidationError("Choose a date and time (YYYY-MM-DD HH:MM).", field="when") from None
    if wall.tzinfo is not None:
        raise ValidationError("Give the time on the site's clock, without a time zone.", field="when")
    return wall.replace(tzinfo=ZoneInfo(tz_name or "UTC")).astimezone(ZoneInfo("UTC"))


def taken_slots(site_id: int, *, exclude_publication: int | None = None) -> set[datetime]:
    """Slot times already taken by the site's waiting publications."""
    query = select(Publication.scheduled_at).where(Publication.site_id == site_id, Publication.status.in_(WAITING),
                                                   Publication.scheduled_at.is_not(None))
    if exclude_publication:
        query = query.where(Publication.id != exclude_publication)
    return {t for t in db.session.scalars(query)}


def enqueue_publication(publication: Publication, *, user_id: int | None, action: str = "publish") -> Job:
    content = publication.content
    job = job_service.enqueue_job(kind=PUBLISH_KIND, payload={"publication_id": publication.id, "action": action},
                                  created_by_id=user_id, site_id=publication.site_id,
                                  title=f"{action.capitalize()}: {content.title}"[:200])
    publication.job_id = job.id
    db.session.commit()
    return job


def schedule_at(*, content_id: int, when: str, user_id: int | None) -> Publication:
    """Schedule (or reschedule) an approved article at a time on the site's clock."""
    content = _content(content_id)
    site = db.session.get(Site, content.site_id)
    due = parse_local_time(when, site.timezone)
    if due <= utcnow():
        db.session.rollback()
        raise ValidationError("Choose a time in the future (or use Publish now).", field="when")
    return _place(content, due, user_id=user_id)


def _place(content: Content, due: datetime, *, user_id: int | None) -> Publication:
    if content.status not in ("approved", "scheduled"):
        db.session.rollback()
        raise ValidationError(f"Only approved articles can be scheduled; “{content.title}” is {content.status}.",
                              field="when")
    publication = records.ensure_publication(content)
    if publication.status in ("publishing",):
        db.session.rollback()
        raise ValidationError("This article is being published right now; try again in a moment.", field="when")
    on_wordpress = publication.status == "future"
    publication.scheduled_at, publication.status, publication.last_error = due, "scheduled", ""
    publication.attempts, publication.next_attempt_at = 0, None
    if content.status == "approved":
        apply_move(content, "scheduled", actor="publishing")
    db.session.commit()
    if on_wordpress:  # already handed to WordPress as a future post: move its date there too
        publication.status = "queued"
        enqueue_publication(publication, user_id=user_id)
    return publication


def schedule_next_free(*, content_id: int, user_id: int | None = None) -> Publication:
    """Put an approved article in its site's next free slot."""
    content = _content(content_id)
    site = db.session.get(Site, content.site_id)
    settings = settings_for(site.id)
    if not settings.publish_days or not settings.publish_slots:
        db.session.rollback()
        raise ValidationError(f"{site.name} has no publish days or time slots; set them in Publisher → Schedule.",
                              field="when")
    existing = records.publication_for(content)
    due = next_free_slot(days=settings.publish_days, slots=settings.publish_slots, tz_name=site.timezone,
                         after=utcnow(), taken=taken_slots(site.id, exclude_publication=existing and existing.id))
    if due is None:
        db.session.rollback()
        raise ValidationError("Every slot of the coming year is taken; add days or time slots.", field="when")
    return _place(content, due, user_id=user_id)


def unschedule(*, content_id: int, user_id: int | None) -> Publication:
    """Take a scheduled article off the schedule (back to approved); a future post on WordPress goes back to draft."""
    content = _content(content_id)
    publication = records.publication_for(content)
    if publication is None or content.status != "scheduled" or publication.status not in WAITING:
        db.session.rollback()
        raise ValidationError(f"“{content.title}” is not scheduled.")
    on_wordpress = publication.status == "future" and publication.wp_post_id
    # The record stays (as "unpublished"), so auto-publish does not put the article straight back.
    publication.scheduled_at, publication.status, publication.last_error = None, "unpublished", ""
    apply_move(content, "approved", actor="publishing")
    db.session.commit()
    if on_wordpress:  # WordPress would publish it at the old time: take it back to draft there
        enqueue_publication(publication, user_id=user_id, action="unpublish")
    return publication


def publish_now(*, content_id: int, user_id: int | None) -> Job:
    """Publish (or update) an approved, scheduled or published article now; a double click gives the same job."""
    content = _content(content_id)
    if content.status not in ("approved", "scheduled", "published"):
        db.session.rollback()
        raise ValidationError(f"Only approved articles are published; “{content.title}” is {content.status}.")
    site = db.session.get(Site, content.site_id)
    if not site.wp_connected:
        db.session.rollback()
        raise ValidationError(f"{site.name} is not connected to WordPress yet — connect the site to publish "
                              "(or schedule the article: it waits for the connection).")
    publication = records.ensure_publication(content)
    if publication.job_id:
        running = db.session.get(Job, publication.job_id)
        if running is not None and running.status in ("queued", "running"):
            db.session.rollback()
            return running
    publication.scheduled_at, publication.status, publication.attempts = None, "queued", 0
    publication.next_attempt_at, publication.last_error = None, ""
    return enqueue_publication(publication, user_id=user_id)


def act(*, content_id: int, action: str, user_id: int | None) -> Job:
    """Unpublish (back to draft on WordPress) or trash an article's post, or check it for changes."""
    content = _content(content_id)
    if action not in ("unpublish", "trash", "check"):
        db.session.rollback()
        raise ValidationError("Choose unpublish, trash or check.")
    publication = records.publication_for(content)
    if publication is None or not publication.wp_post_id:
        db.session.rollback()
        raise ValidationError(f"“{content.title}” has no post on WordPress yet.")
    return enqueue_publication(publication, user_id=user_id, action=action)


def auto_schedule_site(site_id: int, *, limit: int = 200) -> int:
    """Give approved articles without a publication the site's next free slots (auto-publish on)."""
    settings = db.session.scalars(select(PublishSettings).where(PublishSettings.site_id == site_id)).first()
    if settings is None or not settings.auto_publish:
        return 0
    waiting = select(Publication.content_id).where(Publication.site_id == site_id)
    ids = list(db.session.scalars(select(Content.id).where(Content.site_id == site_id, Content.status == "approved",
                                                           Content.id.not_in(waiting)).order_by(Content.id).limit(limit)))
    placed = 0
    for content_id in ids:
        try:
            schedule_next_free(content_id=content_id)
        except ValidationError:
            break
        placed += 1
    return placed
