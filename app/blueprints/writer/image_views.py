"""Writer → Images: the site gallery, an article's image prompts and images (estimate first), regenerating one
image, the image runs, and serving image files (only to the account that owns them)."""

from __future__ import annotations

from flask import Response, flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.writer import bp
from app.errors import DomainError, NotFound
from app.permissions import require, requires
from app.services.images import gallery, generation
from app.services.images import prompts as image_prompts
from app.services.jobs import get_job

WHAT = {"prompts": "Image prompts", "images": "Images"}


def _ids() -> list[str]:
    return [v for v in request.form.getlist("content_ids") if v.strip()]


@bp.route("/images")
def images():
    """The active site's images with a status filter and regenerate links."""
    site = g.get("active_site")
    if site is None:
        return render_template("writer/images.html", page=None, filters=None, titles={})
    filters = gallery.GalleryFilters.from_args(request.args)
    page, titles = gallery.site_gallery(site_id=site.id, filters=filters,
                                        page=request.args.get("page", 1, type=int) or 1)
    return render_template("writer/images.html", page=page, filters=filters, titles=titles,
                           statuses=gallery.STATUS_LABELS)


@bp.route("/images/<int:image_id>/file/<name>")
def image_file(image_id: int, name: str):
    """One image's current file; another account's image (or an old name) answers 404."""
    data, mime = gallery.image_file(image_id, name)
    response = Response(data, mimetype=mime)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def images_estimate_page(content_ids: list[str], what: str, tier: str, *, status: int = 200):
    """The estimate for image prompts or images of the chosen articles, with a confirm button."""
    what = what if what in WHAT else "prompts"
    if not content_ids:
        flash("Choose at least one article.", "error")
        return redirect(url_for("writer.content_list"))
    estimate = error = None
    try:
        estimate = (image_prompts.estimate_prompts if what == "prompts" else generation.estimate_images)(
            content_ids=content_ids, tier=tier)
    except NotFound:
        raise
    except DomainError as exc:
        error, status = exc, exc.status_code if exc.status_code != 400 else 422
    return make_response(render_template("writer/images_start.html", content_ids=content_ids, what=what,
                                         label=WHAT[what], tier=tier, estimate=estimate, error=error), status)


@bp.route("/images/estimate", methods=["POST"])
@requires("write")
def images_estimate():
    """Chosen articles → what writing their image prompts (or making their images) costs."""
    return images_estimate_page(_ids(), request.form.get("what", ""), request.form.get("tier", "testing"))


@bp.route("/images/start", methods=["POST"])
@requires("write")
def images_start():
    """Reserve the estimate and start the image prompts or images run; then show its progress."""
    what, tier, content_ids = request.form.get("what", ""), request.form.get("tier", "testing"), _ids()
    start = image_prompts.start_prompts if what == "prompts" else generation.start_images
    try:
        job = start(content_ids=content_ids, tier=tier, created_by_id=current_user.id)
    except NotFound:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return images_estimate_page(content_ids, what, tier, status=exc.status_code if exc.status_code != 400 else 422)
    return redirect(url_for("writer.image_run", job_id=job.id))


@bp.route("/images/runs/<int:job_id>")
def image_run(job_id: int):
    """An image prompts or images run: live progress, then its outcome."""
    job = get_job(job_id)
    if job.kind not in ("ai.image_prompt_extraction", generation.KIND):
        raise NotFound("That image run does not exist.")
    content_ids = (job.payload or {}).get("input", {}).get("content_ids") or []
    return render_template("writer/image_run.html", job=job, content_ids=content_ids)


def _image_page(image, *, prompt=None, size="", estimate=None, error=None, status=200):
    return make_response(render_template("writer/image.html", image=image, prompt=image.prompt if prompt is None
                                         else prompt, size=size, estimate=estimate, error=error,
                                         sizes=generation.site_sizes(image.site_id),
                                         statuses=gallery.STATUS_LABELS), status)


@bp.route("/images/<int:image_id>", methods=["GET", "POST"])
def image_detail(image_id: int):
    """One image with its prompt; POST shows the estimate of making it again, or (confirm) starts it."""
    image = generation.get_image(image_id)
    if request.method == "GET":
        return _image_page(image)
    require("write")
    prompt, size, tier = request.form.get("prompt", ""), request.form.get("size", "").strip(), \
        request.form.get("tier", "testing")
    try:
        if request.form.get("confirm"):
            job = generation.start_regenerate(image_id=image.id, prompt=prompt, size=size or None, tier=tier,
                                              created_by_id=current_user.id)
            return redirect(url_for("writer.image_run", job_id=job.id))
        estimate = generation.estimate_regenerate(image_id=image.id, prompt=prompt, size=size or None, tier=tier)
    except NotFound:
        raise
    except DomainError as exc:
        image = generation.get_image(image_id)
        return _image_page(image, prompt=prompt, size=size, error=exc,
                           status=exc.status_code if exc.status_code != 400 else 422)
    return _image_page(image, prompt=prompt, size=size, estimate=estimate)
