"""The worker side of an image run: the images of a batch made in parallel, each saved and charged once.

Model calls run in worker threads, up to the provider's configured concurrency (the writer's AI_CONCURRENCY /
AI_CONCURRENCY_BY_PROVIDER). A thread only calls the model, processes the bytes (Pillow) and stores the file;
it never touches the database. The job's own thread records each image as its file arrives, settles that
image's own credit reservation in the same commit, and only then deletes a replaced file. So a crash mid-run
leaves the images already made recorded and charged, and the reaper returns the reservations of the others
(see ImageGenerationJob.on_failure for how they are shown).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from app.errors import DomainError, ValidationError
from app.extensions import db
from app.models import AIModel, Content, ContentImage, CreditReservation, Job
from app.services.ai import catalogue
from app.services.ai.providers import ImageRequest, ProviderError, provider_for
from app.services.billing import credits
from app.services.images import placement, processing, sizes, storage
from app.services.images.prompts import style_text
from app.services.job_kinds import Progress
from app.services.writer import content as content_service
from app.services.writer.runner import _snapshot, concurrency_for

NOT_ATTEMPTED = "Not attempted because the image provider failed on another image of this run: "


@dataclass
class Plan:
    """What a worker thread needs to make one image, read from the database beforehand."""

    image_id: int
    account_id: int
    site_id: int
    prompt: str
    style: str
    ask: str  # the size asked of the model
    width: int  # the size stored
    height: int


@dataclass
class Made:
    """A worker thread's outcome for one image: a stored file, or why not."""

    key: str | None = None
    mime: str = ""
    size: int = 0
    error: str | None = None
    provider_down: bool = False


def image_reservations(job: Job) -> dict[int, int]:
    """{image id: open reservation id} of the job's per-image reservations."""
    prefix = f"job:{job.id}:image:"
    rows = db.session.execute(select(CreditReservation.id, CreditReservation.idempotency_key).where(
        CreditReservation.job_id == job.id, CreditReservation.status == "open")).all()
    return {int(key[len(prefix):]): rid for rid, key in rows if key.startswith(prefix)}


def _plan(image: ContentImage, item: dict, model: AIModel, cache: dict) -> Plan:
    if image.site_id not in cache:
        from app.services.images.generation import site_sizes

        cache[image.site_id] = (site_sizes(image.site_id), style_text(image.site_id))
    wanted_sizes, style = cache[image.site_id]
    width, height = sizes.parse(item.get("size") or wanted_sizes[image.kind])
    return Plan(image_id=image.id, account_id=image.account_id, site_id=image.site_id,
                prompt=item.get("prompt") or image.prompt, style=style,
                ask=sizes.nearest(model.provider.kind, model.model_id, width, height), width=width, height=height)


def _make(provider, model_id: str, plan: Plan, store: storage.Storage, limits: dict, stopped: list[str]) -> Made:
    """One model call → processed bytes → a stored file; runs in a worker thread and touches no database."""
    if stopped:  # the provider is down, out of quota or misconfigured: more calls would not help
        return Made(error=NOT_ATTEMPTED + stopped[0])
    try:
        result = provider.generate_images(model_id=model_id, request=ImageRequest(
            prompt=plan.prompt, size=plan.ask, style=plan.style, count=1))
        if not result.images:
            raise ProviderError("The model returned no image.")
        raw = result.images[0].data
        if len(raw) > limits["max_bytes"]:
            raise processing.NotAnImage("the image the model sent is too large")
        data, mime = processing.fit(raw, plan.width, plan.height, fmt=limits["format"], quality=limits["quality"])
        key = storage.new_key(account_id=plan.account_id, site_id=plan.site_id, mime=mime)
        store.put(key, data)
    except ProviderError as exc:
        stopped.append(exc.message)
        return Made(error=exc.message, provider_down=True)
    except (processing.NotAnImage, storage.StorageError, OSError) as exc:
        return Made(error=str(exc))
    except Exception as exc:  # a bug must fail one image, not leave the batch hanging
        return Made(error=f"Unexpected error ({type(exc).__name__}): {str(exc)[:300]}")
    return Made(key=key, mime=mime, size=len(data))


def run_images(job: Job, progress: Progress) -> dict:
    """Make every image of the job in parallel; record and charge each one as it arrives."""
    progress("INIT", 5, "Checking the model…", force=True)
    model = db.session.get(AIModel, job.payload["model_pk"])
    if model is None:
        raise DomainError("The chosen image model was removed from the catalogue. Start again.")
    catalogue.check_usable(model)
    provider = provider_for(_snapshot(model.provider)).keep_open()  # one connection pool for the whole batch
    try:
        return _make_all(job, progress, model, provider)
    finally:
        provider.close()


class _Run:
    """The bookkeeping of one run, in the job's own thread."""

    def __init__(self, job: Job, model: AIModel, store: storage.Storage) -> None:
        self.job, self.model, self.store = job, model, store
        self.per_image = int(model.credits_per_image)
        self.reservations = image_reservations(job)
        self.made, self.failed, self.charged = 0, 0, 0
        self.left: dict[int, int] = {}  # content id → images of this run not yet done
        self.touched: set[int] = set()
        self.first_stop: str | None = None

    def _image(self, image_id: int) -> ContentImage | None:
        # Locked and read afresh: an article deleted meanwhile takes its images with it.
        return db.session.scalars(select(ContentImage).where(ContentImage.id == image_id).with_for_update()
                                  .execution_options(populate_existing=True)).first()

    def settle(self, image_id: int, *, made: bool) -> None:
        """Charge a made image's own reservation, or return a failed one's."""
        reservation_id = self.reservations.pop(image_id, None)
        if reservation_id is None:
            return
        if not made:
            credits.refund(reservation_id=reservation_id, reason="an image that could not be made", commit=False)
            return
        settled = credits.settle(
            reservation_id=reservation_id, actual=self.per_image, model=self.model.model_id,
            provider=self.model.provider.slug, images=1, related=("image", image_id), commit=False,
            cost_usd=catalogue.cost_usd(self.model, tokens_in=0, tokens_out=0, images=1))
        self.charged += settled.charged

    def fail(self, image_id: int, image: ContentImage | None, message: str) -> None:
        """Record a failed image (not charged; a regenerated image keeps its previous file)."""
        self.failed += 1
        self.settle(image_id, made=False)
        if image is None:
            return
        reason = f"The image could not be made and was not charged: {message}"
        if image.status == "generated":
            image.error = f"Making it again failed, so the previous image was kept. {reason}"[:2000]
        else:
            image.status, image.error = "failed", reason[:2000]

    def record(self, image: ContentImage, item: dict, outcome: Made, plan: Plan) -> str | None:
        """Store a made image on its row and charge it; returns the replaced file's key."""
        old = image.file_key
        if item.get("prompt"):
            image.prompt = item["prompt"]
        image.status, image.error, image.file_key = "generated", None, outcome.key
        image.width, image.height, image.mime, image.bytes = plan.width, plan.height, outcome.mime, outcome.size
        image.model_used = self.model.name
        image.credits = (image.credits or 0) + self.per_image
        image.cost_usd = Decimal(image.cost_usd or 0) + Decimal(self.model.cost_per_image or 0)
        self.settle(image.id, made=True)
        self.made += 1
        self.touched.add(image.content_id)
        return old if old != outcome.key else None

    def commit(self, new_key: str | None) -> None:
        """Commit one image's outcome (fenced: a reaped job raises JobLost here and keeps no new file)."""
        try:
            db.session.commit()
        except BaseException:
            db.session.rollback()
            if new_key:
                self.store.delete(new_key)
            raise

    def done_with(self, content_id: int) -> None:
        """When an article's last image of this run is done, its images go into its body (one version)."""
        self.left[content_id] -= 1
        if self.left[content_id] == 0 and content_id in self.touched:
            place_in_article(content_id, user_id=self.job.created_by_id)
            self.commit(None)


def _make_all(job: Job, progress: Progress, model: AIModel, provider) -> dict:
    items = list(job.payload["images"])
    config = current_app.config
    limits = {"max_bytes": config["IMAGE_MAX_SOURCE_BYTES"], "format": config["IMAGE_FORMAT"],
              "quality": config["IMAGE_QUALITY"]}
    run = _Run(job, model, storage.storage())
    found = {i.id: i for i in db.session.scalars(select(ContentImage).where(
        ContentImage.id.in_([item["id"] for item in items])))}
    cache: dict = {}
    stopped: list[str] = []  # the first provider failure (list.append is thread-safe)
    workers = min(concurrency_for(model.provider.slug), max(1, len(items)))
    progress("AI_CALL", 10, f"Making {len(items)} image(s), {workers} at a time…", force=True)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"images-job-{job.id}")
    futures: dict[Future, tuple[dict, Plan]] = {}
    recorded: set[Future] = set()
    try:
        for item in items:
            image = found.get(item["id"])
            if image is None:
                run.fail(item["id"], None, "the image was deleted before the run started.")
                continue
            try:
                plan = _plan(image, item, model, cache)
            except ValidationError as exc:
                run.fail(image.id, image, exc.message)
                continue
            run.left[image.content_id] = run.left.get(image.content_id, 0) + 1
            futures[pool.submit(_make, provider, model.model_id, plan, run.store, limits, stopped)] = (item, plan)
        run.commit(None)  # the images that could not even start
        for future in as_completed(futures):
            item, plan = futures[future]
            outcome = future.result()
            recorded.add(future)
            image = run._image(plan.image_id)
            if outcome.error is not None or image is None:
                if outcome.key:  # made, but its article was deleted meanwhile
                    run.store.delete(outcome.key)
                if outcome.provider_down and run.first_stop is None:
                    run.first_stop = outcome.error
                run.fail(plan.image_id, image, outcome.error or "the article was deleted meanwhile.")
                run.commit(None)
            else:
                replaced = run.record(image, item, outcome, plan)
                run.commit(outcome.key)
                if replaced:  # only now that the new file is recorded
                    run.store.delete(replaced)
            if image is not None:
                run.done_with(image.content_id)
            done = run.made + run.failed
            progress("AI_CALL", 10 + round(80 * done / max(1, len(items))),
                     f"Made {run.made} of {len(items)} image(s){f'; {run.failed} failed' if run.failed else ''}…")
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:  # files made by calls whose outcome was never recorded
            if future not in recorded and future.done() and not future.cancelled():
                outcome = future.result()
                if outcome.key:
                    run.store.delete(outcome.key)
        raise
    finally:
        pool.shutdown(wait=True)
    if not run.made:
        raise DomainError(f"None of the {len(items)} image(s) could be made, so your credits were returned. "
                          f"{run.first_stop or 'See each image for the reason.'}")
    progress("SAVE", 95, "Placing the images in the articles…", force=True)
    return {"summary": f"Made {run.made} image(s)." + (f" {run.failed} failed and were not charged."
                                                       if run.failed else ""),
            "succeeded": run.made, "failed": run.failed, "credits": run.charged + _settle_whole(job, model, run),
            "model": model.name, "demo": model.provider.kind == "demo"}


def _settle_whole(job: Job, model: AIModel, run: _Run) -> int:
    """A job started before images had a reservation each holds one for the run: charge the made ones."""
    reservation = db.session.scalars(select(CreditReservation).where(
        CreditReservation.job_id == job.id, CreditReservation.idempotency_key == f"job:{job.id}",
        CreditReservation.status == "open")).first()
    if reservation is None:
        return 0
    settled = credits.settle(reservation_id=reservation.id, actual=run.per_image * run.made,
                             model=model.model_id, provider=model.provider.slug, images=run.made,
                             cost_usd=catalogue.cost_usd(model, tokens_in=0, tokens_out=0, images=run.made),
                             related=("job", job.id), commit=False)
    return settled.charged


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


def release_unmade(job: Job, reason: str) -> None:
    """After a failed, cancelled or vanished run: images it did not make show why and can be made again;
    images it did make are placed in their articles (a worker that vanished may not have got that far)."""
    ids = [int(item["id"]) for item in (job.payload or {}).get("images", [])]
    if not ids:
        return
    touched = set()
    for image in db.session.scalars(select(ContentImage).where(ContentImage.id.in_(ids),
                                                                ContentImage.job_id == job.id)):
        if image.status == "pending":
            image.status = "failed"
            image.error = (f"The image run stopped before this image was made, so it was not charged: {reason} "
                           "Make it again from the article or the gallery.")[:2000]
        elif image.status == "generated":
            touched.add(image.content_id)
    for content_id in sorted(touched):
        place_in_article(content_id, user_id=job.created_by_id)
    db.session.flush()  # stamped with the bound account now, before the refund looks across accounts
