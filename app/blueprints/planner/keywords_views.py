"""Planner → Keywords: the table, adding, importing, the library and bulk actions."""

from __future__ import annotations

from flask import Response, flash, g, make_response, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from app import page_cache, params, tenancy
from app.blueprints.planner import bp
from app.blueprints.planner.options import StoredOptions
from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.htmx import hx_redirect, is_htmx
from app.models.planner import INTENTS
from app.permissions import requires
from app.services.planner import imports, keywords, library, parsing
from app.services.planner.keywords import KeywordFilter
from app.services.planner.library import LibraryFilter
from app.web import safe_next


def _sector():
    return g.get("active_sector")


def _no_sector():
    return render_template("planner/no_sector.html", stage="Keywords")


def _table_context(sector, flt: KeywordFilter, summary: dict | None = None) -> dict:
    rows, total = keywords.query_keywords(sector.id, flt, summary=summary)
    return {"rows": rows, "total": total, "flt": flt, "intents": INTENTS,
            "pages": max(1, -(-total // flt.per_page)), "per_page_choices": keywords.PER_PAGE_CHOICES,
            "natural": {name: natural for name, (_, natural) in keywords.SORTS.items()}}


@bp.route("/keywords", endpoint="keywords")
def keywords_page():
    """The keyword table of the active sector (the whole page, or just the table for htmx)."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    flt = KeywordFilter.from_args(request.args)
    if is_htmx() and request.headers.get("HX-Target") == "keyword-table":
        return page_cache.render_fragment("planner/_keyword_table.html", lambda: _table_context(sector, flt))

    def build() -> dict:
        summary = keywords.sector_summary(sector.id)
        clusters = StoredOptions("keyword-cluster-options", sector.id, lambda: keywords.clusters_for_filter(sector.id))
        return dict(sector=sector, summary=summary, clusters=clusters,
                    move_sectors=keywords.sectors_for_move(sector), recent_imports=imports.recent_imports(sector.id),
                    **_table_context(sector, flt, summary))

    return page_cache.render_page("planner/keywords.html", build)


@bp.route("/keywords/add", methods=["GET", "POST"])
@requires("write")
def keyword_add():
    """Type keywords, one per line."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    if request.method == "GET":
        return render_template("planner/keyword_add.html", sector=sector, text="")
    text = request.form.get("keywords", "")
    try:
        result = keywords.add_typed(sector_id=sector.id, text=text)
    except ValidationError as exc:
        return make_response(render_template("planner/keyword_add.html", sector=sector, text=text,
                                             error=exc.message), 422)
    flash(result.message(), "success" if result.added else "info")
    return redirect(url_for("planner.keywords"))


@bp.route("/keywords/library")
def keyword_library():
    """Keyword opportunities: the seed library for the sector's industry, already-added marked."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    flt = LibraryFilter.from_args(request.args)
    rows, note = library.library(sector=sector, flt=flt)
    return render_template("planner/keyword_library.html", sector=sector, rows=rows, note=note, flt=flt)


@bp.route("/keywords/library/add", methods=["POST"])
@requires("write")
def keyword_library_add():
    sector = _sector()
    if sector is None:
        return _no_sector()
    seed_ids = _int_list("seed_ids")
    result = library.add_from_library(sector_id=sector.id, seed_ids=seed_ids)
    flash(result.message(), "success" if result.added else "info")
    library_url = url_for("planner.keyword_library")
    return redirect(safe_next(request.form.get("next"), library_url, within=library_url))


# --- Import ------------------------------------------------------------------------------------------------

@bp.route("/keywords/import", methods=["GET", "POST"])
@requires("write")
def keyword_import():
    """Upload a file or paste rows; the next page previews the mapping."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    if request.method == "GET":
        return render_template("planner/keyword_import.html", sector=sector, max_mb=_max_mb())
    upload = request.files.get("file")
    text = request.form.get("text", "")
    try:
        if upload is not None and upload.filename:
            try:
                data = parsing.read_limited(upload.stream)
            except parsing.ImportFileError as exc:
                raise ValidationError(exc.message, field="file") from None
            imp = imports.create(sector_id=sector.id, data=data, filename=upload.filename,
                                 user_id=current_user.id)
        else:
            imp = imports.create_from_text(sector_id=sector.id, text=text, user_id=current_user.id)
    except ValidationError as exc:
        return make_response(render_template("planner/keyword_import.html", sector=sector, error=exc.message,
                                             text=text, max_mb=_max_mb()), 422)
    return redirect(url_for("planner.keyword_import_detail", import_id=imp.id))


def _max_mb() -> int:
    return parsing.MAX_IMPORT_BYTES // (1024 * 1024)


@bp.route("/keywords/imports/<int:import_id>")
def keyword_import_detail(import_id: int):
    """Preview and mapping (before), progress (while running), or the report (after)."""
    imp = imports.get_import(import_id)
    context = {"imp": imp, "fields": parsing.FIELDS, "labels": parsing.FIELD_LABELS}
    if imp.status == "preview":
        context["preview"] = imports.preview_rows(imp, imp.mapping)
        context["warnings"] = imports.preview_warnings(imp, imp.mapping)
    if imp.job_id:
        from app.services.jobs import get_job

        context["job"] = get_job(imp.job_id)
    if imp.status in ("done", "failed"):
        context["rejected_sample"] = (imp.rejected_rows or [])[:20]
    return render_template("planner/keyword_import_detail.html", **context)


@bp.route("/keywords/imports/<int:import_id>/preview", methods=["POST"])
@requires("write")
def keyword_import_preview(import_id: int):
    """Re-parse the first rows with the mapping being edited (htmx)."""
    imp = imports.get_import(import_id)
    try:
        mapping = imports.mapping_from_form(imp, request.form)
        preview = imports.preview_rows(imp, mapping)
        warnings, error = imports.preview_warnings(imp, mapping), None
    except ValidationError as exc:
        preview, warnings, error = None, [], exc.message
    return render_template("planner/_import_preview.html", imp=imp, preview=preview, error=error,
                           warnings=warnings, fields=parsing.FIELDS, labels=parsing.FIELD_LABELS)


@bp.route("/keywords/imports/<int:import_id>/start", methods=["POST"])
@requires("write")
def keyword_import_start(import_id: int):
    imp = imports.get_import(import_id)
    try:
        mapping = imports.mapping_from_form(imp, request.form)
        imp = imports.start(import_id=imp.id, mapping=mapping, user_id=current_user.id)
    except Conflict as exc:
        flash(exc.message, "info")
    except ValidationError as exc:
        flash(exc.message, "error")
    target = url_for("planner.keyword_import_detail", import_id=import_id)
    return hx_redirect(target) if is_htmx() else redirect(target)


@bp.route("/keywords/imports/<int:import_id>/rejected.csv")
def keyword_import_rejected(import_id: int):
    imp = imports.get_import(import_id)
    response = Response(imports.rejected_csv(imp), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="import-{imp.id}-rejected-rows.csv"'
    return response


# --- Bulk actions, inline edit, export -------------------------------------------------------------------

def _int_list(name: str) -> list[int]:
    return params.id_list(request.form.getlist(name))


@bp.route("/keywords/bulk", methods=["POST"])
@requires("write")
def keyword_bulk():
    """Apply an action to the ticked keywords or to every keyword matching the filter."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    flt = KeywordFilter.from_args(request.form)
    action = request.form.get("action", "")
    back = url_for("planner.keywords", **flt.args())
    try:
        ids = keywords.selected_ids(sector.id, ids=_int_list("ids"),
                                    all_matching=request.form.get("all_matching") == "1", flt=flt)
        if not ids:
            raise ValidationError("No keyword matches that filter.")
        if action == "cluster":
            from app.services.planner import clustering

            token = clustering.remember_selection(ids)
            target = url_for("planner.keyword_cluster", selection=token)
            return hx_redirect(target) if is_htmx() else redirect(target)
        message = _apply(action, ids, sector)
    except NotFound:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(message, "success")
    return hx_redirect(back) if is_htmx() else redirect(back)


def _apply(action: str, ids: list[int], sector) -> str:
    count = len(ids)
    if action == "delete":
        return f"Deleted {keywords.delete_keywords(ids):,} keyword(s)."
    if action == "archive":
        return f"Archived {keywords.set_status(ids, 'archived'):,} keyword(s)."
    if action == "unarchive":
        return f"Restored {keywords.set_status(ids, 'active'):,} keyword(s)."
    if action == "set_intent":
        changed = keywords.set_intent(ids, request.form.get("intent", ""))
        return f"Set the intent of {changed:,} keyword(s)."
    if action == "move":
        target = params.parse_id(request.form.get("sector_id"))
        if target is None:
            raise ValidationError("Choose the sector to move the keywords to.", field="sector_id")
        moved, skipped = keywords.move_to_sector(ids, from_sector_id=sector.id, to_sector_id=target)
        extra = f" {skipped:,} stayed because the other sector already has them." if skipped else ""
        return f"Moved {moved:,} of {count:,} keyword(s).{extra}"
    raise ValidationError("Choose an action.")


@bp.route("/keywords/<int:keyword_id>/edit", methods=["GET", "POST"])
@requires("write")
def keyword_edit(keyword_id: int):
    """Inline edit: the row becomes a form (GET) and goes back to a row when saved (POST)."""
    keyword = keywords.get_keyword(keyword_id)
    if request.method == "GET":
        return render_template("planner/_keyword_row_edit.html", k=keyword, intents=INTENTS)
    errors = {}
    for name in ("keyword", "volume", "difficulty", "cpc", "intent"):
        if name in request.form:
            try:
                keywords.update_field(keyword.id, name, request.form[name])
            except ValidationError as exc:
                errors[name] = exc.message
    keyword = keywords.get_keyword(keyword_id)
    if errors:
        return make_response(render_template("planner/_keyword_row_edit.html", k=keyword, intents=INTENTS,
                                              errors=errors, values=request.form), 422)
    keyword.cluster_name = keyword.cluster.name if keyword.cluster else None
    return render_template("planner/_keyword_row.html", k=keyword)


@bp.route("/keywords/<int:keyword_id>/row")
def keyword_row(keyword_id: int):
    """One row (used by the inline edit's cancel)."""
    keyword = keywords.get_keyword(keyword_id)
    keyword.cluster_name = keyword.cluster.name if keyword.cluster else None
    return render_template("planner/_keyword_row.html", k=keyword)


@bp.route("/keywords/export.csv")
def keyword_export():
    """The filtered set as CSV."""
    sector = _sector()
    if sector is None:
        return _no_sector()
    flt = KeywordFilter.from_args(request.args)
    scope = tenancy.current_scope()

    def rows():
        # The body is written after the view returns: keep the same account (and site grants) bound.
        with tenancy.account_scope(scope.account_id, set(scope.site_ids) if scope.site_ids is not None else None):
            yield from keywords.export_csv(sector.id, flt)

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    safe = "".join(c if c.isalnum() else "-" for c in sector.name.lower()).strip("-") or "sector"
    response.headers["Content-Disposition"] = f'attachment; filename="keywords-{safe}.csv"'
    return response
