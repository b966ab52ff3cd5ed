"""Writer → Content: the article list with bulk moves, the editor, status changes, versions, diff and restore."""

from __future__ import annotations

from flask import Response, flash, g, make_response, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from app import params, tenancy
from app.blueprints.writer import bp
from app.errors import Conflict, ValidationError
from app.htmx import is_htmx
from app.permissions import require, requires
from app.services.ai.output import sanitize_html
from app.services.images import costs, gallery
from app.services.writer import content as content_service
from app.services.writer import listing
from app.services.writer import status as status_service
from app.services.planner.ideas import CONTENT_TYPE_LABELS
from app.services.writer.status import STATUS_LABELS

BULK_ACTIONS = {"review": "review", "approve": "approved"}
EDIT_FIELDS = ("title", "meta_title", "meta_description", "slug", "excerpt", "body_html")


@bp.route("/content")
def content_list():
    """The active sector's articles, filtered and sorted; htmx gets only the list region. A filter that cannot be
    applied is named above the list (422) and left out."""
    if g.active_sector is None:
        return render_template("writer/content.html", page=None, filters=None)
    filters = listing.ContentFilters.from_args(request.args)
    page = listing.list_content(sector=g.active_sector, filters=filters, page=params.page_arg(request.args))
    context = dict(page=page, filters=filters, statuses=STATUS_LABELS, content_types=CONTENT_TYPE_LABELS,
                   clusters=listing.sector_clusters(g.active_sector), sort_labels=listing.SORT_LABELS,
                   date_fields=listing.DATE_FIELDS, all_matching_max=listing.MAX_ALL_MATCHING,
                   costs=costs.article_costs([c.id for c in page.items]) if filters.costs else None)
    status = 422 if filters.errors else 200
    if is_htmx() and request.headers.get("HX-Target") == "content-list":
        return render_template("writer/_content_list.html", **context), status
    return render_template("writer/content.html", **context), status


@bp.route("/content/export.csv")
def content_export():
    """The filtered articles of the active sector, in the list's order, as a CSV download."""
    if g.active_sector is None:
        raise ValidationError("Choose a site and a sector first.")
    filters = listing.ContentFilters.from_args(request.args)
    if filters.errors:  # never a wider export than the person asked for
        raise ValidationError("Nothing was exported, because a filter could not be applied: " + filters.errors[0])
    sector, scope = g.active_sector, tenancy.current_scope()

    def rows():
        # The body is written after the view returns: keep the same account (and site grants) bound.
        with tenancy.account_scope(scope.account_id, set(scope.site_ids) if scope.site_ids is not None else None):
            yield from listing.export_csv(sector=sector, filters=filters)

    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="articles-{sector.id}.csv"'})


@bp.route("/content/bulk", methods=["POST"])
@requires("write")
def content_bulk():
    """Send to review, approve, image prompts, images or delete: the ticked articles, or (all_matching=1) every
    article the list's filters (carried in the form) match; the ones refused are named with the reason."""
    action = request.form.get("action", "")
    filters = listing.ContentFilters.from_args(request.form)
    back = request.form.get("next") if request.form.get("next", "").startswith("/writer/") else None
    back = back or url_for("writer.content_list", **filters.query())
    if request.form.get("all_matching") == "1":
        if g.active_sector is None:
            flash("Choose a site and a sector first.", "error")
            return redirect(back)
        try:
            chosen = [str(i) for i in listing.matching_ids(sector=g.active_sector, filters=filters)]
        except ValidationError as exc:
            flash(exc.message, "error")
            return redirect(back)
    else:
        chosen = [v for v in request.form.getlist("content_ids") if v.strip()]
    if action in ("image_prompts", "images"):
        from app.blueprints.writer.image_views import images_estimate_page

        return images_estimate_page(chosen, "prompts" if action == "image_prompts" else "images",
                                    request.form.get("tier", "testing"))
    if action == "delete":
        try:
            deleted, kept = content_service.delete_content(content_ids=chosen)
        except ValidationError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Deleted {deleted} article(s); their tasks can be written again.", "success")
            if kept:
                flash(f"Kept {len(kept)} scheduled or published article(s): {', '.join(kept[:5])}.", "warning")
        return redirect(back)
    try:
        moved, refused = status_service.change_many(
            content_ids=chosen, to=BULK_ACTIONS.get(action, ""))
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"{'Sent' if action == 'review' else 'Approved'} {moved} article(s)"
              f"{' for review' if action == 'review' else ''}.", "success" if moved else "warning")
        for reason in refused[:10]:
            flash(reason, "warning")
    return redirect(back)


def _editor(content, *, values=None, error=None, status=200, base_version=None):
    values = values or {name: getattr(content, name) or "" for name in EDIT_FIELDS}
    images = gallery.article_images(content.id)
    return make_response(render_template(
        "writer/editor.html", content=content, values=values, error=error, statuses=STATUS_LABELS,
        images=images, featured=next((i for i in images if i.kind == "featured" and i.file_key), None),
        image_statuses=gallery.STATUS_LABELS, costs=costs.article_costs([content.id])[content.id],
        cost_labels=costs.LABELS,
        preview=sanitize_html(values.get("body_html", "")), moves=status_service.allowed_moves(content.status),
        base_version=content.version if base_version is None else base_version,
        limits={"meta_title": content_service.META_TITLE_MAX,
                "meta_description": content_service.META_DESCRIPTION_MAX}), status)


@bp.route("/content/<int:content_id>", methods=["GET", "POST"])
def content_edit(content_id: int):
    """The editor: GET shows the article; POST saves it as a new version (a stale version is refused, kept in the form)."""
    content = content_service.get_content(content_id)
    if request.method == "GET":
        return _editor(content)
    require("write")
    values = {name: request.form.get(name, "") for name in EDIT_FIELDS}
    base = request.form.get("base_version", type=int)
    try:
        content_service.save_edit(content_id=content.id, fields=values, base_version=base, user=current_user)
    except (ValidationError, Conflict) as exc:
        content = content_service.get_content(content_id)
        return _editor(content, values=values, error=exc, status=exc.status_code, base_version=base)
    flash("Saved. The previous text is kept in the version history.", "success")
    return redirect(url_for("writer.content_edit", content_id=content_id))


@bp.route("/content/<int:content_id>/status", methods=["POST"])
@requires("write")
def content_status(content_id: int):
    """Move an article to another status (e.g. send to review); a refused move says why and changes nothing."""
    back = request.form.get("next") if request.form.get("next", "").startswith("/writer/") else None
    try:
        content = status_service.change_status(content_id=content_id, to=request.form.get("to", ""),
                                               note=request.form.get("note", ""))
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"“{content.title}” is now {STATUS_LABELS[content.status].lower()}.", "success")
    return redirect(back or url_for("writer.content_edit", content_id=content_id))


@bp.route("/content/<int:content_id>/versions")
def content_versions(content_id: int):
    """Every version of the article, newest first, with who or what made it."""
    content = content_service.get_content(content_id, with_body=False)
    versions = content_service.versions(content_id)
    return render_template("writer/versions.html", content=content, versions=versions,
                           authors=content_service.version_authors(versions))


@bp.route("/content/<int:content_id>/versions/<int:number>")
def content_version_diff(content_id: int, number: int):
    """What one version changed compared with the one before it."""
    content = content_service.get_content(content_id, with_body=False)
    return render_template("writer/diff.html", content=content,
                           diff=content_service.version_diff(content_id=content_id, number=number))


@bp.route("/content/<int:content_id>/versions/<int:number>/restore", methods=["POST"])
@requires("write")
def content_restore(content_id: int, number: int):
    """Make an older version current again (recorded as a new version)."""
    try:
        content_service.restore_version(content_id=content_id, number=number, user=current_user)
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Version {number} restored; the text it replaced is kept as a version too.", "success")
    return redirect(url_for("writer.content_edit", content_id=content_id))
