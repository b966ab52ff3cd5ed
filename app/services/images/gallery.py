"""Reading images back: the gallery of a site, one image's file, an article's files for publishing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import Content, ContentImage
from app.models.images import IMAGE_STATUSES
from app.services.images import placement, storage
from app.services.paging import Page, paginate

STATUS_LABELS = {"pending": "Waiting", "generated": "Made", "failed": "Failed"}


@dataclass
class GalleryFilters:
    status: str = ""

    @classmethod
    def from_args(cls, args) -> "GalleryFilters":
        return cls(status=args.get("status", "") if args.get("status") in IMAGE_STATUSES else "")

    def query(self) -> dict:
        return {"status": self.status} if self.status else {}


def site_gallery(*, site_id: int, filters: GalleryFilters, page: int = 1) -> tuple[Page, dict[int, str]]:
    """The site's images, newest first, and the titles of their articles."""
    stmt = select(ContentImage).where(ContentImage.site_id == site_id)
    if filters.status:
        stmt = stmt.where(ContentImage.status == filters.status)
    result = paginate(stmt.order_by(ContentImage.id.desc()), page, per_page=24)
    ids = {i.content_id for i in result.items}
    titles = dict(db.session.execute(select(Content.id, Content.title).where(Content.id.in_(ids))).all()) if ids else {}
    return result, titles


def article_images(content_id: int) -> list[ContentImage]:
    """An article's images: featured first, then by position."""
    return list(db.session.scalars(select(ContentImage).where(ContentImage.content_id == content_id)
                                   .order_by(ContentImage.position, ContentImage.id)))


def image_file(image_id: int, name: str) -> tuple[bytes, str]:
    """The bytes and type of an image's current file, or NotFound (another account's image included)."""
    image = db.session.scalars(select(ContentImage).where(ContentImage.id == image_id)).first()
    if image is None or not image.file_key or image.file_key.rsplit("/", 1)[-1] != name:
        raise NotFound("That image does not exist or you do not have access to it.")
    try:
        return storage.storage().get(image.file_key), image.mime or "application/octet-stream"
    except storage.StorageError:
        raise NotFound("The image file is missing.") from None


def files_for(content_id: int) -> list[tuple[ContentImage, bytes, str, str]]:
    """(image, bytes, file name, src in the body) of an article's generated images, featured first."""
    out = []
    store = storage.storage()
    for image in article_images(content_id):
        if image.status != "generated" or not image.file_key:
            continue
        try:
            data = store.get(image.file_key)
        except storage.StorageError:
            continue
        extension = image.file_key.rsplit(".", 1)[-1]
        out.append((image, data, f"{image.kind.replace('_', '-')}-{image.position}.{extension}",
                    placement.image_src(image)))
    return out


def featured_for(content_ids: list[int]) -> dict[int, ContentImage]:
    """The generated featured image of each article that has one."""
    if not content_ids:
        return {}
    return {i.content_id: i for i in db.session.scalars(select(ContentImage).where(
        ContentImage.content_id.in_(content_ids), ContentImage.kind == "featured",
        ContentImage.status == "generated", ContentImage.file_key.is_not(None)))}
