"""A site's image settings: count and style choice (the site's AI settings), free-text style and sizes."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import WriterSettings
from app.services.ai import settings as ai_settings
from app.services.images import sizes
from app.services.images.prompts import MAX_IN_ARTICLE
from app.services.writer.status import settings_for

NOTE_MAX = 300


def current(site_id: int) -> dict:
    """What the settings page shows."""
    effective, row = ai_settings.resolve(site_id), settings_for(site_id)
    return {"image_count": min(MAX_IN_ARTICLE, effective.image_count), "image_style": effective.image_style,
            "image_style_note": row.image_style_note or "", "featured_size": row.featured_size or sizes.DEFAULT_FEATURED,
            "in_article_size": row.in_article_size or sizes.DEFAULT_IN_ARTICLE, "styles": ai_settings.IMAGE_STYLES,
            "max_count": MAX_IN_ARTICLE}


def save(*, site_id: int, values: dict) -> None:
    """Check every field first, then save them all (a bad field changes nothing)."""
    raw_count = str(values.get("image_count", "")).strip()
    if not raw_count.isdigit() or not 0 <= int(raw_count) <= MAX_IN_ARTICLE:
        raise ValidationError(f"Images in each article must be a whole number from 0 to {MAX_IN_ARTICLE}.",
                              field="image_count")
    style = values.get("image_style", "")
    if style not in ai_settings.IMAGE_STYLES:
        raise ValidationError(f"Choose an image style: {', '.join(ai_settings.IMAGE_STYLES.values())}.",
                              field="image_style")
    note = " ".join(str(values.get("image_style_note") or "").split())
    if len(note) > NOTE_MAX:
        raise ValidationError(f"The style notes have {len(note)} characters; keep them to {NOTE_MAX}.",
                              field="image_style_note")
    featured = sizes.clean(values.get("featured_size") or sizes.DEFAULT_FEATURED, field="featured_size")
    in_article = sizes.clean(values.get("in_article_size") or sizes.DEFAULT_IN_ARTICLE, field="in_article_size")
    row = db.session.scalars(select(WriterSettings).where(WriterSettings.site_id == site_id)).first()
    if row is None:
        row = WriterSettings(site_id=site_id, auto_approve=False)
        db.session.add(row)
    row.image_style_note, row.featured_size, row.in_article_size = note, featured, in_article
    # Commits both: the AI settings of the site and this row.
    ai_settings.save_site(site_id, {"image_count": int(raw_count), "image_style": style})
