"""Images in the article body: each in-article image as a <figure> right after the H2 it follows."""

from __future__ import annotations

import html
import re

from app.services.writer import text

FILE_ROUTE = "/writer/images/{id}/file/{name}"
# A figure this module placed: its img src points at an image file route.
_PLACED = re.compile(r'<figure>\s*<img src="/writer/images/\d+/file/[^"]*"[^>]*>.*?</figure>\s*', re.S)
_H2 = re.compile(r"<h2\b[^>]*>(.*?)</h2>", re.S | re.I)


def image_src(image) -> str:
    """The address of an image's current file (changes when the file does, so caches never show an old one)."""
    return FILE_ROUTE.format(id=image.id, name=(image.file_key or "").rsplit("/", 1)[-1])


def figure(image) -> str:
    caption = f"<figcaption>{html.escape(image.caption)}</figcaption>" if image.caption else ""
    size = f' width="{int(image.width)}" height="{int(image.height)}"' if image.width and image.height else ""
    return (f'<figure><img src="{html.escape(image_src(image))}" alt="{html.escape(image.alt)}"{size}>'
            f"{caption}</figure>\n")


def strip_placed(body_html: str) -> str:
    """The body without the figures placed earlier."""
    return _PLACED.sub("", body_html or "")


def place(body_html: str, images: list) -> str:
    """The body with every generated in-article image after its H2 (after the last H2 when it has none)."""
    body = strip_placed(body_html)
    placed = [i for i in sorted(images, key=lambda i: i.position) if i.kind == "in_article"
              and i.status == "generated" and i.file_key]
    if not placed:
        return body
    matches = list(_H2.finditer(body))
    inserts: dict[int, list[str]] = {}
    for image in placed:
        wanted = (image.placement or "").casefold()
        match = next((m for m in matches if _heading_text(m.group(1)).casefold() == wanted), None)
        if match is None:
            match = matches[-1] if matches else None
        where = _section_end(body, match, matches) if match else len(body)
        inserts.setdefault(where, []).append(figure(image))
    for where in sorted(inserts, reverse=True):
        body = body[:where] + "".join(inserts[where]) + body[where:]
    return body


def _heading_text(inner: str) -> str:
    return text.headings(f"<h2>{inner}</h2>")[0]["text"] if text.headings(f"<h2>{inner}</h2>") else ""


def _section_end(body: str, match: re.Match, matches: list[re.Match]) -> int:
    """Just after the first paragraph (or block) that follows the H2, so the image sits in its section."""
    after = match.end()
    following = re.search(r"</p>\s*", body[after:])
    next_h2 = next((m.start() for m in matches if m.start() > match.start()), len(body))
    if following and after + following.end() <= next_h2:
        return after + following.end()
    return after
