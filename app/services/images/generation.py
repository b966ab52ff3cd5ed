"""Stage 6: image prompts → images, one image per model call (the `image_generation` job).

Each image is made at the nearest size its model supports, then cropped, resized and compressed (Pillow) and
stored. An image is charged (the model's credits per image) only when it succeeds; a failed image fails
alone, keeps the reason and is not charged. Regenerating keeps the old file until the new one is stored.
Generated in-article images are placed in the body as <figure>s after their H2 (a new version of the body).
"""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app import tenancy
from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, Content, ContentImage, CreditReservation, Job
from app.services.ai import catalogue
from app.services.ai.providers import ImageRequest, ProviderError, provider_for
from app.services.billing import credits
from app.services.images import placement, processing, sizes, storage
from app.services.images.prompts import PROMPT_MAX, style_text
from app.services.job_kinds import JobKind, Progress, register
from app.services.planner.ideas import parse_ids
from app.services.writer import content as content_service
from app.services.writer.status import settings_for

KIND = "ai.image_generation"
OPERATION = "image_generation"
MAX_IMAGES = 100


def _tier(tier: str) -> str:
    return tier if tier in ("testing", "live") else "testing"


def site_sizes(site_id: int) -> dict[str, str]:
    """The site's featured and in-article sizes."""
    row = settings_for(site_id)
    return {"featured": row.featured_size or sizes.DEFAULT_FEATURED,
            "in_article": row.in_article_size or sizes.DEFAULT_IN_ARTICLE}


def _model(tier: str) -> AIModel:
    model = catalogue.model_for(model_type="image", tier=_tier(tier))
    catalogue.check_usable(model)
    return model


def _busy(images: list[ContentImage]) -> set[int]:
    """Images a queued or running job is already making."""
    job_ids = {i.job_id for i in images if i.job_id}
    if not job_ids:
        return set()
    active = set(db.session.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.status.in_(("queued", "running")))))
    return {i.id for i in images if i.job_id in active}


def _images_to_make(content_ids: list, *, lock: bool) -> tuple[list[ContentImage], list[str]]:
    ids = parse_ids(content_ids, field="content_ids", label="article")
    if not ids:
        raise ValidationError("Choose at least one article.", field="content_ids")
    found = {c.id: c.title for c in db.session.scalars(select(Content).where(Content.id.in_(ids)))}
    if len(found) != len(set(ids)):
        raise NotFound("One or more of the chosen articles do not exist or you do not have access to them.")
    stmt = select(ContentImage).where(ContentImage.content_id.in_(ids), ContentImage.status != "generated") \
        .order_by(ContentImage.content_id, ContentImage.position)
    images = list(db.session.scalars(stmt.with_for_update() if lock else stmt))
    busy = _busy(images)
    todo = [i for i in images if i.id not in busy]
    with_records = {i.content_id for i in images}
    skipped = [f"“{found[c][:60]}” has no images waiting (write its image prompts first, or all are made)"
               for c in ids if c not in with_records]
    if busy:
        skipped.append(f"{len(busy)} image(s) are already being made")
    if not todo:
        raise Conflict("None of the chosen articles has images waiting to be made: write their image prompts "
                       "first. Nothing was charged.")
    if len(todo) > MAX_IMAGES:
        raise ValidationError(f"At most {MAX_IMAGES} images in one run; these articles have {len(todo)} waiting. "
                              "Choose fewer articles. Nothing was charged.", field="content_ids")
    return todo, skipped


def estimate_images(*, content_ids: list, tier: str = "testing") -> dict:
    """What making the waiting images of the chosen articles would cost."""
    images, skipped = _images_to_make(content_ids, lock=False)
    model = _model(tier)
    amount = int(model.credits_per_image) * len(images)
    return {**credits.estimate_summary(account_id=tenancy.current_account_id(), credits=amount),
            "model": model.name, "demo": model.provider.kind == "demo", "count": len(images), "skipped": skipped}


def start_images(*, content_ids: list, tier: str = "testing", created_by_id: int | None) -> Job:
    """Reserve credits per image, claim the waiting images and enqueue the job that makes them."""
    images, _ = _images_to_make(content_ids, lock=True)
    return _enqueue(images, [{"id": i.id} for i in images], _model(tier), created_by_id)


def _enqueue(images: list[ContentImage], items: list[dict], model: AIModel, created_by_id: int | None) -> Job:
    from app.services.jobs import enqueue_job

    try:
        job = enqueue_job(kind=KIND, payload={"model_pk": model.id, "images": items}, created_by_id=created_by_id,
                          site_id=images[0].site_id, title="Images",
                          reserve_credits=int(model.credits_per_image) * len(items), operation=OPERATION)
    except Exception:
        db.session.rollback()
        raise
    for image in images:
        image.job_id = job.id
    db.session.commit()
    return job


def clean_prompt(prompt: str) -> str:
    """A user's prompt for one image, or ValidationError (nothing changes)."""
    text = " ".join(str(prompt or "").split())
    if not text:
        raise ValidationError("Write a prompt for the image.", field="prompt")
    if len(text) > PROMPT_MAX:
        raise ValidationError(f"The prompt has {len(text):,} characters; the limit is {PROMPT_MAX:,}. "
                              "Shorten it. Nothing was changed.", field="prompt")
    return text


def get_image(image_id: int) -> ContentImage:
    """An image of the bound account (and granted sites), or NotFound."""
    image = db.session.scalars(select(ContentImage).where(ContentImage.id == image_id)).first()
    if image is None:
        raise NotFound("That image does not exist or you do not have access to it.")
    return image


def _regenerate_item(image: ContentImage, prompt: str, size: str | None) -> dict:
    item = {"id": image.id, "prompt": clean_prompt(prompt)}
    if size:
        item["size"] = sizes.clean(size)
    return item


def estimate_regenerate(*, image_id: int, prompt: str, size: str | None = None, tier: str = "testing") -> dict:
    """What making one image again (with this prompt) would cost."""
    image = get_image(image_id)
    _regenerate_item(image, prompt, size)
    model = _model(tier)
    return {**credits.estimate_summary(account_id=tenancy.current_account_id(), credits=int(model.credits_per_image)),
            "model": model.name, "demo": model.provider.kind == "demo", "count": 1, "skipped": []}


def start_regenerate(*, image_id: int, prompt: str, size: str | None = None, tier: str = "testing",
                     created_by_id: int | None) -> Job:
    """Make one image again with an edited (or the user's own) prompt; the old file stays until it succeeds."""
    image = db.session.scalars(select(ContentImage).where(ContentImage.id == image_id).with_for_update()).first()
    if image is None:
        raise NotFound("That image does not exist or you do not have access to it.")
    item = _regenerate_item(image, prompt, size)
    if _busy([image]):
        raise Conflict("This image is already being made; wait for that run to finish.")
    return _enqueue([image], [item], _model(tier), created_by_id)


# --- The worker side -----------------------------------------------------------------------------

def _make_one(provider, model: AIModel, image: ContentImage, item: dict) -> tuple[bytes, str, int, int]:
    """Call the model once for this image and return the processed (bytes, mime, width, height)."""
    wanted = item.get("size") or site_sizes(image.site_id)[image.kind]
    width, height = sizes.parse(wanted)
    ask = sizes.nearest(model.provider.kind, model.model_id, width, height)
    result = provider.generate_images(model_id=model.model_id, request=ImageRequest(
        prompt=item.get("prompt") or image.prompt, size=ask, style=style_text(image.site_id), count=1))
    if not result.images:
        raise ProviderError("The model returned no image.")
    raw = result.images[0].data
    if len(raw) > current_app.config["IMAGE_MAX_SOURCE_BYTES"]:
        raise processing.NotAnImage("the image the model sent is too large")
    data, mime = processing.fit(raw, width, height, fmt=current_app.config["IMAGE_FORMAT"],
                                quality=current_app.config["IMAGE_QUALITY"])
    return data, mime, width, height


def run_images(job: Job, progress: Progress) -> dict:
    """Make every image of the job, one call each; charge the ones that succeed."""
    progress("INIT", 5, "Checking the model…", force=True)
    model = db.session.get(AIModel, job.payload["model_pk"])
    if model is None:
        raise DomainError("The chosen image model was removed from the catalogue. Start again.")
    catalogue.check_usable(model)
    provider = provider_for(model.provider)
    items = list(job.payload["images"])
    store = storage.storage()
    made, failed, stopped, old_keys, touched = 0, 0, None, [], set()
    for number, item in enumerate(items):
        image = db.session.get(ContentImage, item["id"])
        if image is None:
            failed += 1
            continue
        progress("AI_CALL", 10 + round(80 * number / max(1, len(items))),
                 f"Making image {number + 1} of {len(items)}…", force=True)
        regenerating = image.status == "generated"
        try:
            if stopped:
                raise ProviderError(f"Not attempted because the image provider failed on an earlier image: {stopped}")
            data, mime, width, height = _make_one(provider, model, image, item)
            key = storage.new_key(account_id=image.account_id, site_id=image.site_id, mime=mime)
            store.put(key, data)
        except (ProviderError, processing.NotAnImage, ValidationError, storage.StorageError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            if isinstance(exc, ProviderError) and not stopped and "Not attempted" not in message:
                stopped = message
            failed += 1
            reason = f"The image could not be made and was not charged: {message}"
            if regenerating:  # the old file stays in place
                image.error = f"Making it again failed, so the previous image was kept. {reason}"
            else:
                image.status, image.error = "failed", reason[:2000]
        else:
            if image.file_key:
                old_keys.append(image.file_key)
            if item.get("prompt"):
                image.prompt = item["prompt"]
            image.status, image.error, image.file_key = "generated", None, key
            image.width, image.height, image.mime, image.bytes = width, height, mime, len(data)
            image.model_used = model.name
            image.credits = (image.credits or 0) + int(model.credits_per_image)
            image.cost_usd = Decimal(image.cost_usd or 0) + Decimal(model.cost_per_image or 0)
            made += 1
            touched.add(image.content_id)
        db.session.commit()  # each image's outcome is visible at once (the gallery, the progress)
    if not made:
        raise DomainError(f"None of the {len(items)} image(s) could be made, so your credits were returned. "
                          f"{stopped or 'See each image for the reason.'}")
    progress("SAVE", 92, "Placing the images in the articles…", force=True)
    for content_id in sorted(touched):
        place_in_article(content_id, user_id=job.created_by_id)
    charged = _settle(job, model, made)
    db.session.commit()
    for key in old_keys:  # only now that the new files are recorded
        store.delete(key)
    return {"summary": f"Made {made} image(s)." + (f" {failed} failed and were not charged." if failed else ""),
            "succeeded": made, "failed": failed, "credits": charged, "model": model.name,
            "demo": model.provider.kind == "demo"}


def place_in_article(content_id: int, *, user_id: int | None) -> None:
    """Put the article's generated in-article images in its body; a new version when the body changes."""
    content = db.session.scalars(select(Content).where(Content.id == content_id).with_for_update()).first()
    if content is None:
        return
    images = list(db.session.scalars(select(ContentImage).where(ContentImage.content_id == content_id)))
    body = placement.place(content.body_html, images)
    if body != content.body_html:
        content.body_html = body
        content_service.add_version(content, reason="generation", user_id=user_id, note="Images placed")


def _settle(job: Job, model: AIModel, made: int) -> int:
    reservation = db.session.scalars(select(CreditReservation).where(
        CreditReservation.job_id == job.id, CreditReservation.status == "open")).first()
    if reservation is None:
        return 0
    settled = credits.settle(reservation_id=reservation.id, actual=int(model.credits_per_image) * made,
                             model=model.model_id, provider=model.provider.slug, images=made,
                             cost_usd=catalogue.cost_usd(model, tokens_in=0, tokens_out=0, images=made),
                             related=("job", job.id), commit=False)
    return settled.charged


@register
class ImageGenerationJob(JobKind):
    name = KIND
    title = "Images"
    module = "writer"
    timeout = 3600

    def run(self, job: Job, progress: Progress) -> dict:
        return run_images(job, progress)
