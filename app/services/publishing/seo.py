"""SEO title and description: sent only where the site's REST schema exposes a writable meta field."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import Content, PublishSettings
from app.services.publishing.settings import ensure_settings
from app.services.publishing.wordpress import WordPressClient, WordPressError
from app.timeutil import utcnow

# Plugin → (title key, description key) as they appear under `meta` in the post schema.
SEO_FIELDS = {
    "Yoast SEO": ("_yoast_wpseo_title", "_yoast_wpseo_metadesc"),
    "Rank Math": ("rank_math_title", "rank_math_description"),
    "The SEO Framework": ("_genesis_title", "_genesis_description"),
    "All in One SEO": ("_aioseo_title", "_aioseo_description"),
}
RECHECK = timedelta(days=1)
NO_SEO_NOTE = ("SEO title and description are not sent: this site's REST schema exposes no writable SEO meta "
               "field (an SEO plugin must register its fields for the REST API).")


def writable_fields(schema: dict) -> dict | None:
    """The SEO plugin and its keys when the post schema lists them as writable meta."""
    meta = (((schema or {}).get("schema") or {}).get("properties") or {}).get("meta") or {}
    keys = meta.get("properties") or {}
    for plugin, (title_key, description_key) in SEO_FIELDS.items():
        found = {k: v for k, v in keys.items() if k in (title_key, description_key)}
        if found and not any((v or {}).get("readonly") for v in found.values()):
            return {"plugin": plugin, "title": title_key if title_key in found else None,
                    "description": description_key if description_key in found else None}
    return None


def meta_for(client: WordPressClient, site_id: int, wp_type: str, content: Content,
             settings: PublishSettings | None = None) -> dict | None:
    """The `meta` to send with a post, or None (the reason is noted once on the site's settings).
    `settings`: the site's settings when the caller has loaded them already."""
    settings = settings if settings is not None and settings.id is not None else ensure_settings(site_id)
    checked = settings.seo_checked_at
    if checked is None or checked < utcnow() - RECHECK:
        try:
            fields = writable_fields(client.request("OPTIONS", f"/wp/v2/{wp_type}"))
        except WordPressError:
            fields = None
        settings.seo_fields, settings.seo_checked_at = fields or {}, utcnow()
        settings.seo_note = "" if fields else NO_SEO_NOTE
        db.session.commit()
    fields = settings.seo_fields or {}
    meta = {}
    if fields.get("title") and content.meta_title:
        meta[fields["title"]] = content.meta_title
    if fields.get("description") and content.meta_description:
        meta[fields["description"]] = content.meta_description
    return meta or None
