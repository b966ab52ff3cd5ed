"""The one owner of content status changes; a task's status follows its content.

    draft → review → approved → scheduled → published   (publishing owns the last two moves)
    published → approved   (publishing: the post was unpublished or trashed on WordPress)
    review → draft   ("changes requested", with a note)
"""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models.writer import Content, WriterSettings
from app.services.planner.ideas import parse_ids

STATUS_LABELS = {"draft": "Draft", "review": "In review", "approved": "Approved", "scheduled": "Scheduled",
                 "published": "Published"}
MAX_NOTE = 2000
MAX_BULK = 500

# (from, to) -> who may make the move.
MOVES = {
    ("draft", "review"): "user",
    ("review", "approved"): "user",
    ("review", "draft"): "user",
    ("approved", "scheduled"): "publishing",
    ("scheduled", "approved"): "publishing",
    ("scheduled", "published"): "publishing",
    ("approved", "published"): "publishing",
    ("published", "approved"): "publishing",  # unpublished or trashed on WordPress
}


class TransitionRefused(ValidationError):
    """A status move that is not allowed from where the content is."""


def allowed_moves(status: str, actor: str = "user") -> list[str]:
    """The statuses the content can move to next."""
    return [to for (frm, to), who in MOVES.items() if frm == status and (who == actor or actor == "publishing")]


def _check(content: Content, to: str, actor: str, note: str) -> None:
    if to not in STATUS_LABELS:
        raise TransitionRefused(f"“{to}” is not a content status.", field="status")
    who = MOVES.get((content.status, to))
    if content.status == to:
        raise TransitionRefused(f"“{content.title}” is already {STATUS_LABELS[to].lower()}.", field="status")
    if who is None:
        nexts = ", ".join(STATUS_LABELS[s].lower() for s in allowed_moves(content.status)) or "nothing (by hand)"
        raise TransitionRefused(f"“{content.title}” cannot go from {STATUS_LABELS[content.status].lower()} to "
                                f"{STATUS_LABELS[to].lower()}; from here it can go to: {nexts}.", field="status")
    if who == "publishing" and actor != "publishing":
        raise TransitionRefused(f"{STATUS_LABELS[to]} is set by publishing (the schedule), not by hand.",
                                field="status")
    if (content.status, to) == ("review", "draft") and not note.strip():
        raise TransitionRefused("Say what should change: requesting changes needs a note for the writer.",
                                field="note")


def apply_move(content: Content, to: str, *, note: str = "", actor: str = "user") -> None:
    """Move one article (no commit): refuses a disallowed move with a message naming the allowed ones."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise TransitionRefused(f"Keep the note under {MAX_NOTE:,} characters.", field="note")
    _check(content, to, actor, note)
    if (content.status, to) == ("review", "draft"):
        content.review_note = note
    elif to == "approved":
        content.review_note = ""
    content.status = to


def change_status(*, content_id: int, to: str, note: str = "", actor: str = "user") -> Content:
    """Move one article to another status, or refuse with a clear message (nothing changes)."""
    content = db.session.scalars(select(Content).where(Content.id == content_id).with_for_update()).first()
    if content is None:
        raise NotFound("That article does not exist or you do not have access to it.")
    try:
        apply_move(content, to, note=note, actor=actor)
    except ValidationError:
        db.session.rollback()
        raise
    db.session.commit()
    return content


def change_many(*, content_ids: list, to: str, note: str = "") -> tuple[int, list[str]]:
    """Move the chosen articles that can make the move; the others are named with the reason. (moved, refused)"""
    ids = parse_ids(content_ids, field="content_ids", label="article")
    if not ids:
        raise ValidationError("Choose at least one article.", field="content_ids")
    if len(ids) > MAX_BULK:
        raise ValidationError(f"Choose at most {MAX_BULK} articles at a time.", field="content_ids")
    rows = list(db.session.scalars(select(Content).where(Content.id.in_(ids)).order_by(Content.id)
                                   .with_for_update()))
    if len(rows) != len(ids):
        db.session.rollback()
        raise NotFound("One or more of the chosen articles do not exist or you do not have access to them.")
    if to not in ("review", "approved", "draft"):
        db.session.rollback()
        raise ValidationError("Choose what to do with the selected articles.", field="action")
    moved, refused = 0, []
    for content in rows:
        try:
            apply_move(content, to, note=note)
        except TransitionRefused as exc:
            refused.append(exc.message)
        else:
            moved += 1
    db.session.commit()
    return moved, refused


def settings_for(site_id: int) -> WriterSettings:
    """The site's writer settings (defaults when it has none saved)."""
    row = db.session.scalars(select(WriterSettings).where(WriterSettings.site_id == site_id)).first()
    return row or WriterSettings(site_id=site_id, auto_approve=False)


def save_settings(*, site_id: int, auto_approve: bool) -> WriterSettings:
    """Save the site's writer settings."""
    from app.models import Site

    site = db.session.scalars(select(Site).where(Site.id == site_id)).first()
    if site is None:
        raise NotFound("That site does not exist or you do not have access to it.")
    row = db.session.scalars(select(WriterSettings).where(WriterSettings.site_id == site_id)).first()
    if row is None:
        row = WriterSettings(site_id=site_id)
        db.session.add(row)
    row.auto_approve = bool(auto_approve)
    db.session.commit()
    return row
