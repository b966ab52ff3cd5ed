"""What a post carries besides its text: images uploaded to the media library, categories and tags.
Each is a publication step, so a retry reuses the image or term made the first time."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import nh3

from app.models import Content, Publication
from app.services.publishing import records
from app.services.publishing.wordpress import PermanentError, WordPressClient, WordPressError

MAX_TAGS_LIMIT = 20
TERM_NAME_MAX = 200
MIME_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


@dataclass(frozen=True)
class ArticleImage:
    """An image of an article to upload: featured or in the body (where `src` is its current address)."""

    data: bytes
    filename: str
    mime: str
    alt: str = ""
    caption: str = ""
    title: str = ""
    featured: bool = False
    src: str | None = None


def article_images(content: Content) -> list[ArticleImage]:
    """The article's generated images with their file bytes: the featured one first, then in-article ones
    (each with the `src` it has in the body, so the publisher can point it at the media library copy)."""
    from app.services.images import gallery

    return [ArticleImage(data=data, filename=name, mime=image.mime, alt=image.alt, caption=image.caption,
                         title=image.alt or content.title, featured=image.kind == "featured",
                         src=None if image.kind == "featured" else src)
            for image, data, name, src in gallery.files_for(content.id)]


def _media_slug(filename: str) -> str:
    stem = PurePosixPath(filename).stem.lower()
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "image"


def upload_media(client: WordPressClient, publication: Publication, *, data: bytes, filename: str, mime: str,
                 alt: str = "", caption: str = "", title: str = "") -> dict:
    """Upload one image with alt text, caption and title; a retry reuses the one already uploaded.

    Returns {"id", "url"}. The stored file name carries a token of this publication and image, so an
    upload whose answer was lost (worker killed) is found again by its slug instead of uploaded twice."""
    if mime not in MIME_EXTENSIONS:
        raise PermanentError(f"“{filename}” is a {mime or 'file of unknown type'}, not an image WordPress "
                             "takes (JPEG, PNG, WebP or GIF).", reason="rejected")
    digest = hashlib.sha256(data).hexdigest()
    token = hashlib.sha256(f"{publication.marker}:{digest}".encode()).hexdigest()[:10]
    name = f"{_media_slug(filename)[:80]}-{token}{MIME_EXTENSIONS[mime]}"
    # A new step is stored with the file name the upload is about to use (it stays "started" until
    # WordPress answers), so a retry after a lost answer knows to look for it.
    row = records.step(publication, "media", digest, detail={"filename": name})
    if row.status == "done" and row.wp_id:
        return {"id": row.wp_id, "url": row.url}
    slug = _media_slug(name)
    fields = {"alt_text": alt, "caption": caption, "title": title or PurePosixPath(filename).stem}
    found = client.request("GET", "/wp/v2/media", params={"slug": slug, "context": "edit"}) \
        if not row.new and row.status == "started" and row.detail else []
    if not found:
        if not row.new:
            records.note_step(row, {"filename": name})
        try:
            # The slug is given too: WordPress would otherwise derive it from the title, and the lookup
            # after a lost answer finds the upload by the slug of its unique file name.
            media = client.upload_media(data, filename=name, content_type=mime, fields={**fields, "slug": slug})
        except PermanentError as exc:
            if exc.reason == "too_large" or exc.status == 413:
                raise PermanentError(f"WordPress refused the image “{filename}” ({len(data) / 1e6:.1f} MB) as too "
                                     "large: raise the server's upload limit or use a smaller image.",
                                     reason="too_large", status=413) from exc
            said = (exc.data or {}).get("message") or exc.message
            raise PermanentError(f"WordPress refused the image “{filename}” ({said.rstrip('.')}). Nothing was "
                                 "published. Replace the image (JPEG or PNG are taken everywhere) or allow this "
                                 "file type on the site, then publish again.", reason=exc.reason,
                                 status=exc.status, wp_code=exc.wp_code) from exc
    else:
        media = found[0]
    if not _has_fields(media, fields):  # adopted after a lost answer, or WordPress ignored them on upload
        media = client.request("POST", f"/wp/v2/media/{media['id']}", json=fields)
    records.finish_step(row, wp_id=media["id"], url=media.get("source_url"), detail={"filename": name})
    return {"id": media["id"], "url": media.get("source_url")}


def _has_fields(media: dict, fields: dict) -> bool:
    """Whether WordPress's answer shows the alt text, caption and title that were sent."""
    def raw(value):
        return (value or {}).get("raw") if isinstance(value, dict) else value
    return (raw(media.get("alt_text")) == fields["alt_text"] and raw(media.get("caption")) == fields["caption"]
            and raw(media.get("title")) == fields["title"])


def clean_term_name(name: str) -> str:
    """A category or tag name as WordPress will keep it: no HTML, entities decoded, one line, capped."""
    text = html.unescape(nh3.clean(name or "", tags=set()))
    return re.sub(r"\s+", " ", html.unescape(text)).strip()[:TERM_NAME_MAX]


def _slug_guess(name: str) -> str:
    """The slug WordPress gives a plain name (lower case, hyphens); a wrong guess only costs a create call."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")


def _create_term(client: WordPressClient, taxonomy: str, name: str) -> int:
    """Make a term; an existing one of that name (WordPress answers term_exists with its id) is reused."""
    try:
        return client.request("POST", f"/wp/v2/{taxonomy}", json={"name": name})["id"]
    except WordPressError as exc:
        existing = ((exc.data or {}).get("data") or {}).get("term_id")
        if exc.wp_code != "term_exists" or existing is None:
            raise
        return existing


def term_ids(client: WordPressClient, publication: Publication, taxonomy: str, names: list[str]) -> list[int]:
    """The ids of categories or tags by name, made when missing (existing ones are reused): one lookup
    for all of them, then a create call for each one not found. Each is a step, so a retry reuses it."""
    kind = "category" if taxonomy == "categories" else "tag"
    order, ids, missing = [], {}, []
    for raw in names:
        name = clean_term_name(raw)
        if not name or name.casefold() in order:
            continue
        order.append(name.casefold())
        row = records.step(publication, kind, name.casefold())
        if row.status == "done" and row.wp_id:
            ids[name.casefold()] = row.wp_id
        else:
            missing.append((name, row))
    if missing:
        slugs = ",".join(s for s in dict.fromkeys(_slug_guess(n) for n, _ in missing) if s)
        found: dict[str, int] = {}
        for term in (client.request("GET", f"/wp/v2/{taxonomy}", params={"slug": slugs, "per_page": 100})
                     if slugs else []):
            found.setdefault(clean_term_name(term.get("name", "")).casefold(), term["id"])
        for name, row in missing:
            term_id = found.get(name.casefold()) or _create_term(client, taxonomy, name)
            records.finish_step(row, wp_id=term_id, detail={"name": name})
            ids[name.casefold()] = term_id
    return [ids[n] for n in order]


def term_names(content: Content, *, category_source: str, default_category: str, max_tags: int) -> tuple[list, list]:
    """(category names, tag names) for an article under the site's settings."""
    categories = []
    if category_source in ("default", "both") and default_category.strip():
        categories.append(default_category)
    if category_source in ("cluster", "both") and content.cluster is not None:
        categories.append(content.cluster.name)
    tags, seen = [], set()
    for keyword in [content.primary_keyword, *(content.secondary_keywords or [])]:
        name = clean_term_name(str(keyword or ""))
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            tags.append(name)
    return categories, tags[:max(0, min(max_tags, MAX_TAGS_LIMIT))]


def rewrite_sources(body: str, replacements: dict[str, str]) -> str:
    """The body with each image `src` pointing at its copy in the WordPress media library."""
    for old, new in replacements.items():
        body = body.replace(f'src="{old}"', f'src="{new}"').replace(f"src='{old}'", f"src='{new}'")
    return body
