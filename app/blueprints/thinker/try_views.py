"""Thinker: a "try it" page that runs the cluster-naming AI function end to end."""

from __future__ import annotations

from flask import current_app, make_response, redirect, render_template, request, url_for
from flask import flash
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.errors import DomainError, NotFound
from app.permissions import requires
from app.services import jobs as job_service
from app.services.ai import framework
from app.services.ai.catalogue import offered_tier
from app.services.ai.cluster_naming import parse_groups
from app.services.drafts import recall_draft, remember_draft
from app.blueprints.thinker import bp

FUNCTION = "cluster_naming"
DRAFT_KIND = "try-cluster-naming"


class ClusterNamingForm(FlaskForm):
    groups = TextAreaField("Keyword groups", validators=[DataRequired("Paste at least one group of keywords."),
                                                         Length(max=40_000)])
    tier = RadioField("Model", choices=[("testing", "Testing (cheap)"), ("live", "Live")], default="testing")


def _page(form: ClusterNamingForm, *, estimate: dict | None = None, error: str | None = None, status: int = 200):
    return make_response(render_template(
        "thinker/try_cluster_naming.html", form=form, estimate=estimate, error=error,
        shared_estimate="billing.buy" in current_app.view_functions), status)


@bp.route("/try/cluster-naming", methods=["GET"])
@requires("write")
def try_cluster_naming():
    """The form (one group per line, keywords separated by commas), with the estimate once one was asked for."""
    draft = recall_draft(kind=DRAFT_KIND, user_id=current_user.id, token=request.args.get("draft"))
    if draft is None:
        if request.args.get("draft"):
            flash("That estimate has expired. Paste the groups again.", "info")
        return _page(ClusterNamingForm())
    form = ClusterNamingForm(formdata=None, data=draft)
    try:
        estimate = framework.estimate(function=FUNCTION, payload={"groups": parse_groups(form.groups.data)},
                                      tier=offered_tier(form.tier.data))
    except DomainError as exc:
        return _page(form, error=exc.message, status=422)
    return _page(form, estimate=estimate)


@bp.route("/try/cluster-naming/estimate", methods=["POST"])
@requires("write")
def estimate_cluster_naming():
    """Keep the input and show the estimate on a GET page (so Back and reload re-send nothing)."""
    form = ClusterNamingForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:  # refuse bad input here, with the form as typed; the GET page shows the estimate
        framework.estimate(function=FUNCTION, payload={"groups": parse_groups(form.groups.data)},
                           tier=offered_tier(form.tier.data))
    except DomainError as exc:
        return _page(form, error=exc.message, status=422)
    token = remember_draft(kind=DRAFT_KIND, user_id=current_user.id,
                           data={"groups": form.groups.data, "tier": form.tier.data})
    return redirect(url_for("thinker.try_cluster_naming", draft=token), 303)


@bp.route("/try/cluster-naming/run", methods=["POST"])
@requires("write")
def run_cluster_naming():
    """Reserve the estimate and start the run."""
    form = ClusterNamingForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        with job_service.submission(request.form.get("submit_token")):  # a second submit finds this run
            job = framework.start_function(function=FUNCTION, payload={"groups": parse_groups(form.groups.data)},
                                           tier=offered_tier(form.tier.data), created_by_id=current_user.id,
                                           site_id=None)
    except DomainError as exc:
        return _page(form, error=exc.message, status=exc.status_code if exc.status_code != 400 else 422)
    return redirect(url_for("thinker.cluster_naming_run", job_id=job.id))


@bp.route("/try/cluster-naming/<int:job_id>")
def cluster_naming_run(job_id: int):
    """The run's live progress and, when it ends, its results."""
    return render_template("thinker/cluster_naming_run.html", job=_run(job_id))


@bp.route("/try/cluster-naming/<int:job_id>/results")
def cluster_naming_results(job_id: int):
    """The results region (reloaded when the job finishes)."""
    return render_template("thinker/_cluster_naming_results.html", job=_run(job_id))


def _run(job_id: int):
    job = job_service.get_job(job_id)
    if job.kind != framework.job_kind_name(FUNCTION):
        raise NotFound("That cluster-naming run does not exist.")
    return job


from app.blueprints import thinker  # noqa: E402,F401  (prompts, author profiles, strategies, AI settings)
