"""Planner → cluster keywords: choose the mode and tightness, see the estimate, confirm, watch progress."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app import params
from app.blueprints.planner import bp
from app.errors import DomainError
from app.permissions import requires
from app.services import jobs as job_service
from app.services.ai.catalogue import offered_tier
from app.services.planner import clustering


def _options(source) -> dict:
    tightness = params.int_arg(source, "tightness", -1, low=-1, high=1000)
    if "tightness" not in source:
        tightness = clustering.DEFAULT_TIGHTNESS
    return {"mode": source.get("mode", "semantic"), "tightness": tightness,
            "join_existing": source.get("join_existing", "1" if request.method == "GET" else "") == "1",
            "tier": source.get("tier", "testing")}


def _offered(source) -> dict:
    """The options, refusing a Live model the platform cannot call right now."""
    options = _options(source)
    options["tier"] = offered_tier(options["tier"])
    return options


def _ids(source) -> list[int]:
    return clustering.keyword_ids_for(sector_id=g.active_sector.id, selection=source.get("selection") or None,
                                      scope=source.get("scope") or None)


@bp.route("/keywords/cluster", methods=["GET"])
@requires("write")
def keyword_cluster():
    """The clustering form for a selection (or every unclustered keyword) of the active sector."""
    sector = g.get("active_sector")
    if sector is None:
        return render_template("planner/no_sector.html", stage="Clustering")
    try:
        count = len(_ids(request.args))
        error = None
    except DomainError as exc:
        count, error = 0, exc.message
    return render_template("planner/cluster_run_form.html", sector=sector, count=count, error=error,
                           selection=request.args.get("selection", ""), scope=request.args.get("scope", ""),
                           options=_options(request.args), default_tightness=clustering.DEFAULT_TIGHTNESS,
                           llm_max=clustering.LLM_MAX_KEYWORDS)


@bp.route("/keywords/cluster/estimate", methods=["GET"])
@requires("write")
def keyword_cluster_estimate():
    """The estimate for the options as they stand (htmx)."""
    sector = g.get("active_sector")
    if sector is None:
        return render_template("planner/no_sector.html", stage="Clustering")
    try:
        estimate = clustering.estimate(sector_id=sector.id, keyword_ids=_ids(request.args), **_offered(request.args))
        error = None
    except DomainError as exc:
        estimate, error = None, exc.message
    return render_template("planner/_cluster_estimate.html", estimate=estimate, error=error)


@bp.route("/keywords/cluster", methods=["POST"])
@requires("write")
def keyword_cluster_start():
    """Reserve the estimate and start clustering."""
    sector = g.get("active_sector")
    if sector is None:
        return render_template("planner/no_sector.html", stage="Clustering")
    try:
        with job_service.submission(request.form.get("submit_token")):  # a second submit finds this run
            job = clustering.start(sector_id=sector.id, keyword_ids=_ids(request.form),
                                   created_by_id=current_user.id, **_offered(request.form))
    except DomainError as exc:
        return make_response(render_template(
            "planner/cluster_run_form.html", sector=sector, count=0, error=exc.message,
            selection=request.form.get("selection", ""), scope=request.form.get("scope", ""),
            options=_options(request.form), default_tightness=clustering.DEFAULT_TIGHTNESS,
            llm_max=clustering.LLM_MAX_KEYWORDS), exc.status_code if exc.status_code != 400 else 422)
    return redirect(url_for("planner.clustering_run", job_id=job.id))


@bp.route("/clustering/<int:job_id>")
def clustering_run(job_id: int):
    """A clustering run's progress; when it ends, links to the clusters."""
    job = job_service.get_job(job_id)
    if job.kind not in (clustering.JOB_KIND, "ai.keyword_grouping"):
        from app.errors import NotFound

        raise NotFound("That clustering run does not exist.")
    return render_template("planner/cluster_run.html", job=job)
