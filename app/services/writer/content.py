"""Articles: the editor's save (with a version kept and stale saves refused), history, restore and delete.
The list's filters, sorting and export are in `listing.py`."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import User
from app.models.planner import Task
from app.models.writer import Content, ContentVersion
from app.services.ai.output import clean_text, sanitize_html
from app.services.paging import Page, paginate
from app.services.planner.ideas import parse_ids
from app.services.writer import text

META_TITLE_MAX = 60
META_DESCRIPTION_MAX = 160
TITLE_MAX = 300
SLUG_MAX = 120
EXCERPT_MAX = 1000
BODY_MAX_BYTES = 1_000_000  # a pasted body of several MB is refused, not truncated
VERSION_FIELDS = ("title", "body_html", "meta_title", "meta_description", "slug", "excerpt")


def get_content(content_id: int, *, with_body: bool = True) -> Content:
    """An article of the bound account (and granted sites), or NotFound."""
    stmt = select(Content).where(Content.id == content_id)
    if with_body:
        stmt = stmt.options(undefer(Content.body_html))
    content = db.session.scalars(stmt).first()
    if content is None:
        raise NotFound("That article does not exist or you do not have access to it.")
    return content


def unique_slug(site_id: int, wanted: str, *, exclude_id: int | None = None) -> str:
    """The slug, or the slug with -2, -3… when another article of the site has it."""
    base = text.slugify(wanted)[:SLUG_MAX] or "article"
    # Slugs hold only a-z, 0-9 and hyphens, so the pattern needs no escaping.
    stmt = select(Content.slug).where(Content.site_id == site_id,
                                      or_(Content.slug == base, Content.slug.like(base + "-%")))
    if exclude_id:
        stmt = stmt.where(Content.id != exclude_id)
    taken = set(db.session.scalars(stmt))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base[:SLUG_MAX - 6]}-{number}", number + 1
    return slug


def add_version(content: Content, *, reason: str, user_id: int | None, note: str = "",
                first: bool = False) -> ContentVersion:
    """Record the article's current body and meta as its newest version (no commit).

    The caller holds the article's row lock (or has just created it), so its `version` is the latest number.
    """
    number = 1 if first else (content.version or 0) + 1
    version = ContentVersion(site_id=content.site_id, content_id=content.id, number=number, reason=reason,
                             note=note[:300], created_by_id=user_id,
                             word_count=content.word_count,
                             **{name: getattr(content, name) or "" for name in VERSION_FIELDS})
    db.session.add(version)
    content.version = number
    return version


def _clean_fields(fields: dict, content: Content) -> dict:
    """The editor's fields checked and sanitized; ValidationError names the first field to fix."""
    title = " ".join(str(fields.get("title") or "").split())
    if not title:
        raise ValidationError("Give the article a title.", field="title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"The title can have at most {TITLE_MAX} characters.", field="title")
    meta_title = " ".join(str(fields.get("meta_title") or "").split())
    if len(meta_title) > META_TITLE_MAX:
        raise ValidationError(f"The meta title has {len(meta_title)} characters; search engines show about "
                              f"{META_TITLE_MAX}. Shorten it.", field="meta_title")
    meta_description = " ".join(str(fields.get("meta_description") or "").split())
    if len(meta_description) > META_DESCRIPTION_MAX:
        raise ValidationError(f"The meta description has {len(meta_description)} characters; keep it to "
                              f"{META_DESCRIPTION_MAX}.", field="meta_description")
    body = str(fields.get("body_html") or "")
    if len(body.encode("utf-8")) > BODY_MAX_BYTES:
        raise ValidationError(f"The body is {len(body.encode('utf-8')) / 1_000_000:.1f} MB; an article can be at "
                              f"most {BODY_MAX_BYTES // 1_000_000} MB. Nothing was saved.", field="body_html")
    if text.has_h1(body):
        raise ValidationError("The body has an H1 heading; the title is the page's H1. Use H2 and H3 in the "
                              "body.", field="body_html")
    body = sanitize_html(body)
    excerpt = clean_text(str(fields.get("excerpt") or ""))
    if len(excerpt) > EXCERPT_MAX:
        raise ValidationError(f"The excerpt can have at most {EXCERPT_MAX:,} characters.", field="excerpt")
    slug_text = str(fields.get("slug") or "").strip() or title
    slug = text.slugify(slug_text)[:SLUG_MAX]
    if not slug:
        raise ValidationError("The slug needs at least one letter or digit.", field="slug")
    taken = db.session.scalars(select(Content.id).where(Content.site_id == content.site_id, Content.slug == slug,
                                                        Content.id != content.id)).first()
    if taken:
        raise ValidationError(f"Another article of this site already uses the slug “{slug}”. Choose another.",
                              field="slug")
    return {"title": title, "meta_title": meta_title, "meta_description": meta_description, "body_html": body,
            "excerpt": excerpt, "slug": slug}


_MADE_BY = {"generation": "the AI", "linker": "the internal linker", "optimizer": "the optimizer",
            "import": "an import", "edit": "someone", "restore": "someone"}


def _saved_by(content: Content) -> str:
    """Who or what made the article's current version, and when, for the stale-save message."""
    newest = db.session.scalars(select(ContentVersion).where(ContentVersion.content_id == content.id)
                                .order_by(ContentVersion.number.desc()).limit(1)).first()
    if newest is None:
        return f"it is now at version {content.version}"
    person = db.session.get(User, newest.created_by_id) if newest.reason in ("edit", "restore") \
        and newest.created_by_id else None
    who = (person.name or person.email) if person else _MADE_BY.get(newest.reason, "someone")
    what = "placed its images" if newest.note == "Images placed" else \
        ("restored an older version" if newest.reason == "restore" else "saved it")
    when = newest.created_at.strftime("%H:%M UTC") if newest.created_at else ""
    return f"{who} {what}{f' at {when}' if when else ''}, making version {newest.number}"


def save_edit(*, content_id: int, fields: dict, base_version: int | None, user: User) -> Content:
    """The editor's save: refuses a stale version (someone saved meanwhile), sanitizes, keeps a version."""
    content = db.session.scalars(select(Content).where(Content.id == content_id)
                                 .options(undefer(Content.body_html)).with_for_update()).first()
    if content is None:
        raise NotFound("That article does not exist or you do not have access to it.")
    if base_version != content.version:
        by = _saved_by(content)
        db.session.rollback()
        started = f"version {base_version}" if base_version else "a version the form did not name"
        raise Conflict(f"This article was changed while you were editing it: {by} (you started from {started}). "
                       "Nothing was saved. Your text is still in the form: copy what you need, "
                       "open the article again and re-apply your changes.")
    try:
        clean = _clean_fields(fields, content)
    except ValidationError:
        db.session.rollback()
        raise
    if all(getattr(content, name) == value for name, value in clean.items()):
        db.session.rollback()
        return content
    for name, value in clean.items():
        setattr(content, name, value)
    content.word_count = text.word_count(clean["body_html"])
    content.outline = text.headings(clean["body_html"])
    add_version(content, reason="edit", user_id=user.id)
    try:
        db.session.commit()
    except IntegrityError:  # another article (e.g. one a writing run was still saving) took the slug meanwhile
        db.session.rollback()
        raise ValidationError(f"Another article of this site took the slug “{clean['slug']}” a moment ago. "
                              "Choose another; nothing was saved.", field="slug") from None
    return content


def versions(content_id: int) -> list[ContentVersion]:
    """The article's versions, newest first."""
    get_content(content_id, with_body=False)
    return list(db.session.scalars(select(ContentVersion).where(ContentVersion.content_id == content_id)
                                   .order_by(ContentVersion.number.desc())))


def version_authors(versions: list[ContentVersion]) -> dict[int, str]:
    """{user id: name} of the people who made the given versions (edits and restores)."""
    ids = {v.created_by_id for v in versions if v.created_by_id}
    if not ids:
        return {}
    return {u.id: u.name or u.email for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def get_version(content_id: int, number: int) -> ContentVersion:
    """One version of an article, or NotFound."""
    version = db.session.scalars(select(ContentVersion).where(
        ContentVersion.content_id == content_id, ContentVersion.number == number)
        .options(undefer(ContentVersion.body_html))).first()
    if version is None:
        raise NotFound("That version does not exist.")
    return version


def _as_dict(row) -> dict:
    return {name: getattr(row, name) or "" for name in VERSION_FIELDS}


def version_diff(*, content_id: int, number: int) -> dict:
    """What version `number` changed compared with the version before it."""
    get_content(content_id, with_body=False)
    new = get_version(content_id, number)
    old = db.session.scalars(select(ContentVersion).where(
        ContentVersion.content_id == content_id, ContentVersion.number < number)
        .order_by(ContentVersion.number.desc()).options(undefer(ContentVersion.body_html))).first()
    return {"version": new, "previous": old, **text.diff(_as_dict(old) if old else {}, _as_dict(new))}


def restore_version(*, content_id: int, number: int, user: User) -> Content:
    """Make an older version current again; the restore is itself a new version, so nothing is lost."""
    content = db.session.scalars(select(Content).where(Content.id == content_id)
                                 .options(undefer(Content.body_html)).with_for_update()).first()
    if content is None:
        raise NotFound("That article does not exist or you do not have access to it.")
    old = get_version(content_id, number)
    if number == content.version:
        db.session.rollback()
        raise ValidationError(f"Version {number} is already the current text.")
    clash = db.session.scalars(select(Content.id).where(Content.site_id == content.site_id,
                                                        Content.slug == old.slug, Content.id != content.id)).first()
    values = _as_dict(old)
    if clash or not values["slug"]:  # chosen before the fields change, so no flush meets the taken slug
        values["slug"] = unique_slug(content.site_id, old.slug or old.title or content.title, exclude_id=content.id)
    for name, value in values.items():
        setattr(content, name, value)
    content.word_count = text.word_count(content.body_html)
    content.outline = text.headings(content.body_html)
    add_version(content, reason="restore", user_id=user.id, note=f"Restored version {number}")
    slug = content.slug
    try:
        db.session.commit()
    except IntegrityError:  # a run saved an article with this slug meanwhile; now it is visible to unique_slug
        db.session.rollback()
        raise ValidationError(f"Another article of this site took the slug “{slug}” a moment ago. Restore "
                              "again and the article gets the next free slug. Nothing was changed.") from None
    return content


def delete_content(*, content_ids: list) -> tuple[int, list[str]]:
    """Delete the chosen articles and their versions; their tasks can be written again. Scheduled and
    published articles are kept (named in the list): publishing must take them back first."""
    ids = parse_ids(content_ids, field="content_ids", label="article")
    if not ids:
        raise ValidationError("Choose at least one article.", field="content_ids")
    rows = list(db.session.scalars(select(Content).where(Content.id.in_(ids)).with_for_update()))
    if len(rows) != len(ids):
        db.session.rollback()
        raise NotFound("One or more of the chosen articles do not exist or you do not have access to them.")
    kept = [c.title for c in rows if c.status in ("scheduled", "published")]
    doomed = [c for c in rows if c.status not in ("scheduled", "published")]
    task_ids = [c.task_id for c in doomed if c.task_id]
    from app.models import ContentImage
    from app.services.images import storage

    # Locked, so an image run cannot record a new file for these images between this read and the commit.
    files = list(db.session.scalars(select(ContentImage.file_key).where(
        ContentImage.content_id.in_([c.id for c in doomed]), ContentImage.file_key.is_not(None)).with_for_update()))
    for content in doomed:
        db.session.delete(content)
    db.session.flush()
    for task in db.session.scalars(select(Task).where(Task.id.in_(task_ids))):
        task.status, task.error = "queued", None
    db.session.commit()
    store = storage.storage()
    for key in files:  # only once the rows are gone; a file already missing is fine
        store.delete(key)
    return len(doomed), kept


def review_queue(*, site_id: int, page: int = 1) -> Page:
    """The site's articles waiting for review, oldest first (first in, first reviewed)."""
    stmt = select(Content).where(Content.site_id == site_id, Content.status == "review") \
        .options(undefer(Content.body_html)).order_by(Content.updated_at, Content.id)
    return paginate(stmt, page, per_page=10)
