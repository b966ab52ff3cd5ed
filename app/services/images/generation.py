"""Stage 6: image prompts → images, one image per model call (the `image_generation` job): starting a run.

Each image is made at the nearest size its model supports, then cropped, resized and compressed (Pillow) and
stored. An image is charged (the model's credits per image, from its own reservation) only when it succeeds;
a failed image fails alone, keeps the reason and is not charged. Regenerating keeps the old file until the new
one is stored. Generated in-article images are placed in the body as <figure>s after their H2 (a new version
of the body). The worker side, with the images of a run made in parallel, is in `images/run.py`.
"""

from __future__ import annotations


from sqlalchemy import select

from app import tenancy
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, Content, ContentImage, Job
from app.services.ai import catalogue
from app.services.billing import credits
from app.services.images import sizes
from app.services.images.prompts import PROMPT_MAX
from app.services.job_kinds import JobKind, Progress, register
from app.services.planner.ideas import parse_ids
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

    per_image = int(model.credits_per_image)
    try:
        # One reservation per image: each is charged when its image is made, or returned when it is not,
        # even if the worker stops in the middle of the run.
        job = enqueue_job(kind=KIND, payload={"model_pk": model.id, "images": items}, created_by_id=created_by_id,
                          site_id=images[0].site_id, title="Images", operation=OPERATION,
                          reserve_each=[(f"image:{item['id']}", per_image) for item in items])
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


@register
class ImageGenerationJob(JobKind):
    name = KIND
    title = "Images"
    module = "writer"
    timeout = 3600

    def run(self, job: Job, progress: Progress) -> dict:
        from app.services.images.run import run_images

        return run_images(job, progress)

    def on_failure(self, job: Job) -> None:
        """Images the run did not make show why (or wait again if it was cancelled before it started)."""
        from app.services.images.run import release_unmade

        # The outcome was written on another connection: read it afresh, not from the session's copy.
        row = db.session.scalars(select(Job).where(Job.id == job.id)
                                 .execution_options(populate_existing=True)).first()
        if row is not None and row.status == "cancelled":
            return
        release_unmade(job, (row.error if row is not None else None) or "the run did not finish.")
