"""Writer → Review: articles waiting for review with a preview, approve, request changes; the site's settings."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from app.blueprints.writer import bp
from app.errors import ValidationError
from app.permissions import require, requires
from app.services.ai.output import sanitize_html
from app.services.writer import content as content_service
from app.services.writer import status as status_service
from app.services.images import gallery
from app.services.images import site_settings as image_settings


@bp.route("/review")
def review():
    """The active site's review queue, oldest first, each with a preview as it will look."""
    if g.active_site is None:
        return render_template("writer/review.html", page=None)
    page = content_service.review_queue(site_id=g.active_site.id, page=request.args.get("page", 1, type=int) or 1)
    previews = {c.id: sanitize_html(c.body_html) for c in page.items}
    return render_template("writer/review.html", page=page, previews=previews,
                           featured=gallery.featured_for([c.id for c in page.items]))


@bp.route("/review/<int:content_id>/approve", methods=["POST"])
@requires("write")
def review_approve(content_id: int):
    """Approve one article in review."""
    try:
        content = status_service.change_status(content_id=content_id, to="approved")
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Approved “{content.title}”.", "success")
    return redirect(url_for("writer.review"))


@bp.route("/review/<int:content_id>/changes", methods=["POST"])
@requires("write")
def review_changes(content_id: int):
    """Send one article back to draft with a note saying what should change."""
    try:
        content = status_service.change_status(content_id=content_id, to="draft", note=request.form.get("note", ""))
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Sent “{content.title}” back to draft with your note.", "success")
    return redirect(url_for("writer.review"))


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """The active site's writer settings (auto-approve)."""
    if g.active_site is None:
        return render_template("writer/settings.html", settings=None)
    if request.method == "POST" and request.form.get("section") == "images":
        require("manage_sites")
        try:
            image_settings.save(site_id=g.active_site.id, values=request.form.to_dict())
        except ValidationError as exc:
            return render_template("writer/settings.html", settings=status_service.settings_for(g.active_site.id),
                                   images=dict(image_settings.current(g.active_site.id), **request.form.to_dict()),
                                   image_error=exc), 422
        flash("Image settings saved.", "success")
        return redirect(url_for("writer.settings"))
    if request.method == "POST":
        require("manage_sites")  # auto-approve lets articles skip review: owners and admins decide
        status_service.save_settings(site_id=g.active_site.id, auto_approve=request.form.get("auto_approve") == "on")
        flash("Writer settings saved.", "success")
        return redirect(url_for("writer.settings"))
    return render_template("writer/settings.html", settings=status_service.settings_for(g.active_site.id),
                           images=image_settings.current(g.active_site.id))
