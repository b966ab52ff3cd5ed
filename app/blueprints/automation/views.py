"""Automation views: parse the request, call one service, pick the page or fragment."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from app.blueprints.automation import bp
from app.errors import Conflict, ValidationError
from app.htmx import hx_redirect, is_htmx
from app.permissions import require, requires
from app.services.accounts import sites as site_service
from app.services.automation import reports
from app.services.automation import runs as run_service
from app.services.automation import settings as settings_service
from app.services.publishing import settings as publish_settings
from app.services.writer import status as writer_status


@bp.route("/overview")
def overview():
    """Every site's automation at a glance."""
    return render_template("automation/overview.html", rows=reports.overview())


def _settings_page(site, *, form=None, errors=None, status=200):
    row = settings_service.settings_for(site.id)
    return make_response(render_template(
        "automation/settings.html", site=site, row=row, matrix=settings_service.stage_matrix(row),
        stages=settings_service.STAGES, weekdays=settings_service.WEEKDAYS, form=form, errors=errors or {},
        auto_approve=writer_status.settings_for(site.id).auto_approve,
        auto_publish=publish_settings.settings_for(site.id).auto_publish,
        active=run_service.active_run(site.id), runs=reports.history(site.id, limit=10)), status)


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
def site_settings(site_id: int):
    """A site's automation settings (one form, saved whole or not at all) and its current run."""
    site = site_service.get_site(site_id)
    if request.method == "POST":
        require("write")
        try:
            settings_service.save_settings(site_id=site.id, form=request.form)
        except ValidationError as exc:
            return _settings_page(site, form=request.form, errors={**getattr(exc, "errors", {}), "_": exc.message},
                                  status=422)
        flash("Automation settings saved.", "success")
        return redirect(url_for("automation.site_settings", site_id=site.id))
    return _settings_page(site)


@bp.route("/sites/<int:site_id>/run", methods=["POST"])
@requires("write")
def run_now(site_id: int):
    """Start a run of the site's stages now."""
    from flask_login import current_user

    site = site_service.get_site(site_id)
    try:
        run = run_service.start_run(site_id=site.id, user_id=current_user.id)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("automation.site_settings", site_id=site.id))
    target = url_for("automation.run_page", run_id=run.id)
    return hx_redirect(target) if is_htmx() else redirect(target)


@bp.route("/runs/<int:run_id>")
def run_page(run_id: int):
    """One run: live progress, controls and its log."""
    run = run_service.get_run(run_id)
    return render_template("automation/run.html", run=run, progress=reports.progress_of(run),
                           log=reports.log_of(run), link_for=reports.link_for, duration=reports.duration(run))


@bp.route("/runs/<int:run_id>/progress")
def run_progress(run_id: int):
    """The polling fragment: per stage status, items done and waiting, credits so far, time left."""
    run = run_service.get_run(run_id)
    response = make_response(render_template("automation/_progress.html", run=run,
                                             progress=reports.progress_of(run)))
    if not run.is_active:
        response.headers["HX-Trigger"] = "automation-run-finished"
    response.headers["Vary"] = "HX-Request"
    return response


@bp.route("/runs/<int:run_id>/pause", methods=["POST"], defaults={"action": "pause"})
@bp.route("/runs/<int:run_id>/resume", methods=["POST"], defaults={"action": "resume"})
@bp.route("/runs/<int:run_id>/cancel", methods=["POST"], defaults={"action": "cancel"})
@requires("write")
def run_control(run_id: int, action: str):
    """Pause, resume or cancel a run."""
    handlers = {"pause": run_service.pause_run, "resume": run_service.resume_run, "cancel": run_service.cancel_run}
    try:
        run = handlers[action](run_id=run_id)
    except Conflict as exc:
        if is_htmx():
            run = run_service.get_run(run_id)
            response = make_response(render_template("automation/_progress.html", run=run,
                                                     progress=reports.progress_of(run), error=exc.message), 409)
            return response
        flash(exc.message, "error")
        return redirect(url_for("automation.run_page", run_id=run_id))
    if is_htmx():
        return render_template("automation/_progress.html", run=run, progress=reports.progress_of(run))
    return redirect(url_for("automation.run_page", run_id=run.id))
