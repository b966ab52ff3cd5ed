"""Planner → Ideas: generate ideas for chosen clusters (estimate → confirm → progress), list, edit, delete."""

from __future__ import annotations

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, NumberRange

from app.blueprints.forms import attach_error
from app import page_cache, params
from app.blueprints.planner import bp
from app.blueprints.planner.options import StoredOptions
from app.errors import DomainError, NotFound, ValidationError
from app.htmx import is_htmx
from app.models.planner import CONTENT_TYPES, IDEA_STATUSES, STRUCTURES
from app.permissions import require, requires
from app.services import jobs as job_service
from app.services.ai.catalogue import offered_tier
from app.services.planner import ideas as idea_service
from app.services.planner.ideas import CONTENT_TYPE_LABELS, STRUCTURE_LABELS


class IdeaForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give the idea a title.")])
    summary = TextAreaField("Summary", render_kw={"rows": 3})
    outline = TextAreaField("Outline", render_kw={"rows": 12})
    content_type = SelectField("Content type", choices=[(t, CONTENT_TYPE_LABELS[t]) for t in CONTENT_TYPES])
    structure = SelectField("Structure", choices=[(s, STRUCTURE_LABELS[s]) for s in STRUCTURES])
    primary_keyword = StringField("Primary keyword", validators=[InputRequired("Give a primary keyword.")])
    secondary_keywords = TextAreaField("Secondary keywords", render_kw={"rows": 3})
    target_words = IntegerField("Target length (words)", validators=[
        InputRequired("Give a target length in words."),
        NumberRange(min=1, max=100_000, message="Give a target length from 1 to 100,000 words.")])


def _selected_ids(name: str) -> list[str]:
    return [value for value in request.form.getlist(name) if value.strip()]


def _per_cluster(source) -> int:
    raw = source.get("per_cluster", str(idea_service.DEFAULT_PER_CLUSTER))
    return params.required_int(raw, label="Ideas per cluster", low=1, high=idea_service.MAX_PER_CLUSTER,
                               field="per_cluster")


def _no_sector_page():
    return render_template("planner/ideas.html", page=None, filters=None, clusters=[])


def _generate_page(*, clusters: list[dict], per_cluster: int, tier: str, estimate: dict | None = None,
                   error: DomainError | None = None, status: int = 200):
    return make_response(render_template(
        "planner/ideas_generate.html", clusters=clusters, per_cluster=per_cluster, tier=tier, estimate=estimate,
        error=error, per_cluster_choices=range(1, idea_service.MAX_PER_CLUSTER + 1)), status)


@bp.route("/ideas")
def ideas():
    """The active sector's ideas with filters; htmx gets only the list region."""
    if g.active_sector is None:
        return _no_sector_page()
    filters = idea_service.IdeaFilters.from_args(request.args)
    page_number = params.page_arg(request.args)
    sector = g.active_sector

    def build() -> dict:
        page = idea_service.list_ideas(sector=sector, filters=filters, page=page_number)
        clusters = StoredOptions("idea-cluster-options", sector.id, lambda: idea_service.sector_clusters(sector=sector))
        return dict(page=page, filters=filters, clusters=clusters,
                    statuses=IDEA_STATUSES, content_types=CONTENT_TYPE_LABELS, structures=STRUCTURE_LABELS)

    if is_htmx() and request.headers.get("HX-Target") == "ideas-list":
        return page_cache.render_fragment("planner/_ideas_list.html", build)
    return page_cache.render_page("planner/ideas.html", build)


def _generate_args(source) -> tuple[list[int], str]:
    """The chosen clusters and the model tier, from a form or a query string."""
    tier = source.get("tier", "testing")
    return params.id_list(source.getlist("cluster_ids")), tier if tier in ("testing", "live") else "testing"


@bp.route("/ideas/generate/estimate", methods=["POST"])
@requires("write")
def ideas_generate_choose():
    """Clusters ticked on the clusters list → the estimate page, by redirect (so Back and reload are safe)."""
    if g.active_sector is None:
        raise ValidationError("Choose a site and a sector first.")
    cluster_ids, tier = _generate_args(request.form)
    if not cluster_ids:
        flash("Choose at least one cluster to generate ideas for.", "error")
        return redirect(url_for("planner.ideas"))
    try:
        idea_service.describe_clusters(sector_id=g.active_sector.id, cluster_ids=cluster_ids)  # 404: not theirs
    except ValidationError:
        pass  # the estimate page says what is wrong
    per_cluster = request.form.get("per_cluster") or idea_service.DEFAULT_PER_CLUSTER
    return redirect(url_for("planner.ideas_generate_estimate", cluster_ids=cluster_ids, per_cluster=per_cluster,
                            tier=tier), 303)


@bp.route("/ideas/generate/estimate", methods=["GET"])
@requires("write")
def ideas_generate_estimate():
    """Chosen clusters (cluster_ids) → the cost of generating ideas, with the per-cluster choice and a confirm."""
    if g.active_sector is None:
        raise ValidationError("Choose a site and a sector first.")
    cluster_ids, tier = _generate_args(request.args)
    if not cluster_ids:
        flash("Choose at least one cluster to generate ideas for.", "error")
        return redirect(url_for("planner.ideas"))
    try:
        clusters = idea_service.describe_clusters(sector_id=g.active_sector.id, cluster_ids=cluster_ids)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("planner.ideas"))
    per_cluster = idea_service.DEFAULT_PER_CLUSTER
    try:
        per_cluster = _per_cluster(request.args)
        tier = offered_tier(tier)
        estimate = idea_service.estimate_ideas(sector_id=g.active_sector.id, cluster_ids=cluster_ids,
                                               per_cluster=per_cluster, tier=tier)
    except NotFound:
        raise
    except DomainError as exc:
        return _generate_page(clusters=clusters, per_cluster=per_cluster, tier=tier, error=exc, status=422)
    return _generate_page(clusters=clusters, per_cluster=per_cluster, tier=tier, estimate=estimate)


@bp.route("/ideas/generate", methods=["POST"])
@requires("write")
def ideas_generate_start():
    """Reserve the estimate and start generating ideas; then show the run's progress."""
    if g.active_sector is None:
        raise ValidationError("Choose a site and a sector first.")
    cluster_ids, tier = _generate_args(request.form)
    clusters = idea_service.describe_clusters(sector_id=g.active_sector.id, cluster_ids=cluster_ids) \
        if cluster_ids else []
    per_cluster = idea_service.DEFAULT_PER_CLUSTER
    try:
        per_cluster = _per_cluster(request.form)
        tier = offered_tier(tier)
        with job_service.submission(request.form.get("submit_token")):  # a second submit finds this run
            job = idea_service.start_ideas(sector_id=g.active_sector.id, cluster_ids=cluster_ids,
                                           per_cluster=per_cluster, tier=tier, created_by_id=current_user.id)
    except NotFound:
        raise
    except DomainError as exc:
        estimate = None
        try:
            estimate = idea_service.estimate_ideas(sector_id=g.active_sector.id, cluster_ids=cluster_ids,
                                                   per_cluster=per_cluster, tier=tier)
        except DomainError:
            pass
        status = exc.status_code if exc.status_code not in (400, 404) else 422
        return _generate_page(clusters=clusters, per_cluster=per_cluster, tier=tier, estimate=estimate,
                              error=exc, status=status)
    return redirect(url_for("planner.ideas_generate_run", job_id=job.id))


@bp.route("/ideas/generate/<int:job_id>")
def ideas_generate_run(job_id: int):
    """An idea-generation run: live progress, then what it made and a link to the ideas."""
    return render_template("planner/ideas_run.html", job=idea_service.get_run(job_id))


@bp.route("/ideas/generate/<int:job_id>/results")
def ideas_generate_results(job_id: int):
    """The run's results region (reloaded when the job finishes)."""
    return render_template("planner/_ideas_run_results.html", job=idea_service.get_run(job_id))


def _idea_page(form: IdeaForm, idea, status: int = 200):
    return make_response(render_template("planner/idea_edit.html", form=form, idea=idea,
                                         content_types=CONTENT_TYPE_LABELS, structures=STRUCTURE_LABELS), status)


@bp.route("/ideas/<int:idea_id>", methods=["GET", "POST"])
def idea_edit(idea_id: int):
    """One idea: read it, or (with write access) change its title, outline, type, structure, keywords, length."""
    idea = idea_service.get_idea(idea_id)
    if request.method == "GET":
        form = IdeaForm(data={"title": idea.title, "summary": idea.summary,
                              "outline": idea_service.outline_text(idea.outline),
                              "content_type": idea.content_type, "structure": idea.structure,
                              "primary_keyword": idea.primary_keyword,
                              "secondary_keywords": ", ".join(idea.secondary_keywords or []),
                              "target_words": idea.target_words})
        return _idea_page(form, idea)
    require("write")
    form = IdeaForm()
    if not form.validate_on_submit():
        return _idea_page(form, idea, 422)
    try:
        idea_service.update_idea(idea_id=idea.id, fields={
            "title": form.title.data, "summary": form.summary.data, "outline": form.outline.data,
            "content_type": form.content_type.data, "structure": form.structure.data,
            "primary_keyword": form.primary_keyword.data, "secondary_keywords": form.secondary_keywords.data,
            "target_words": form.target_words.data})
    except ValidationError as exc:
        attach_error(form, exc)
        return _idea_page(form, idea, 422)
    flash("Idea saved.", "success")
    return redirect(url_for("planner.idea_edit", idea_id=idea.id))


@bp.route("/ideas/delete", methods=["POST"])
@requires("write")
def ideas_delete():
    """Delete the chosen ideas (idea_ids)."""
    try:
        count = idea_service.delete_ideas(ids=_selected_ids("idea_ids"))
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Deleted {count} idea(s).", "success")
    return redirect(url_for("planner.ideas"))
