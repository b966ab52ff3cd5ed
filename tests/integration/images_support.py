"""Builders for the image tests: an article with H2 sections, its images read back, real image bytes."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Content, ContentImage
from tests.integration.helpers import add_site

BODY = ("<h2>Why it matters</h2><p>Fresh beans make the cup.</p><p>More text.</p>"
        "<h2>How to choose</h2><p>Look at the grinder first.</p>"
        "<h2>Frequently asked questions</h2><p>Answers here.</p>")


def png_bytes(width: int = 300, height: int = 200, colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def make_site_article(app, account_id: int, *, title: str = "Espresso basics", site_name: str = "Coffee Blog",
                      world: dict | None = None) -> dict:
    """A site (unless given) and a draft article with three H2 sections; returns ids."""
    from app.services.writer.content import add_version, unique_slug

    if world is None:
        site_id, sectors = add_site(app, account_id, site_name, ("Espresso",))
        world = {"site": site_id, "sector": sectors[0]}
    with app.app_context(), tenancy.account_scope(account_id):
        content = Content(site_id=world["site"], sector_id=world["sector"], title=title,
                          slug=unique_slug(world["site"], title), body_html=BODY, status="draft", word_count=20)
        db.session.add(content)
        db.session.flush()
        add_version(content, reason="generation", user_id=None, first=True)
        db.session.commit()
        out = {**world, "content": content.id}
        db.session.remove()
    return out


def images_of(app, account_id: int, content_id: int) -> list[dict]:
    with app.app_context(), tenancy.account_scope(account_id):
        rows = [{"id": i.id, "kind": i.kind, "position": i.position, "placement": i.placement, "prompt": i.prompt,
                 "alt": i.alt, "caption": i.caption, "status": i.status, "error": i.error, "file_key": i.file_key,
                 "width": i.width, "height": i.height, "mime": i.mime, "credits": i.credits}
                for i in db.session.scalars(select(ContentImage).where(ContentImage.content_id == content_id)
                                            .order_by(ContentImage.position))]
        db.session.remove()
    return rows


def body_of(app, account_id: int, content_id: int) -> str:
    with app.app_context(), tenancy.account_scope(account_id):
        body = db.session.scalars(select(Content.body_html).where(Content.id == content_id)).one()
        db.session.remove()
    return body


def set_image_model_default(app, model_id: str) -> None:
    """Make one image model the default Live image model."""
    from app.models import AIModel

    with app.app_context(), tenancy.all_accounts():
        for model in db.session.scalars(select(AIModel).where(AIModel.model_type == "image")):
            model.is_default = model.model_id == model_id
            if model.model_id == model_id:
                model.is_active = True
        db.session.commit()
        db.session.remove()


def stored_file(app, key: str) -> bytes:
    from app.services.images.storage import storage

    with app.app_context():
        return storage().get(key)


