"""Planner → Clusters: the active sector's clusters, one cluster's keywords and ideas, and their edits."""

from __future__ import annotations

from flask import current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app import page_cache, params
from app.blueprints.forms import attach_error
from app.blueprints.planner import bp
from app.errors import ValidationError
from app.htmx import add_vary, is_htmx
from app.models.planner import INTENTS
from app.permissions import requires
from app.services.planner import clusters as cluster_service
from app.web import safe_next

PER_PAGE = 50
KEYWORDS_PER_PAGE = 100
INTENT_CHOICES = [("", "— Not set —")] + [(i, i.capitalize()) for i in INTENTS]
UNCLUSTERED = "unclustered"
CLUSTER_NOT_FOUND = "That cluster does not exist or you do not have access to it."


class ClusterForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the cluster a name."),
                                           Length(max=cluster_service.NAME_MAX)])
    description = TextAreaField("Description", validators=[Length(max=cluster_service.DESCRIPTION_MAX)],
                                render_kw={"rows": 3})


class IntentForm(FlaskForm):
    intent = SelectField("Search intent", choices=INTENT_CHOICES)


def _page_arg() -> int:
    return params.page_arg(request.args)


def _ids(name: str) -> list[int]:
    """Integer ids of a multi-value form field; a malformed id names nothing the person can see."""
    return params.id_list(request.form.getlist(name))


def _endpoint_exists(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _list_query() -> dict:
    """The list's filters and order as given in the address, cleaned."""
    sort = request.args.get("sort", "volume")
    intent = request.args.get("intent", "")
    return {
        "q": request.args.get("q", "").strip()[:200],
        "intent": intent if intent in INTENTS or intent == cluster_service.NO_INTENT else "",
        "sort": sort if sort in cluster_service.CLUSTER_SORTS else "volume",
        "dir": "asc" if request.args.get("dir") == "asc" else "desc",
    }


def _url_maker(endpoint: str, base: dict, **fixed):
    """A template helper: this page's address with some arguments changed, empty ones left out."""

    def make(**changes) -> str:
        args = {**base, **changes}
        args = {k: v for k, v in args.items() if v not in ("", None) and not (k == "page" and v == 1)}
        return url_for(endpoint, **fixed, **args)

    return make


def _back_to_list() -> str:
    """Return to the list as it was (filters and page), never to another site."""
    list_url = url_for("planner.clusters")
    return safe_next(request.form.get("next"), list_url, within=list_url)


@bp.route("/clusters", endpoint="clusters")
def clusters():
    """The active sector's clusters with keyword count, volume, difficulty, intent and ideas."""
    query = _list_query()
    page = _page_arg()

    def build() -> dict:
        rows, total = [], 0
        if g.active_sector is not None:
            rows, total = cluster_service.list_clusters(
                sector_id=g.active_sector.id, q=query["q"], intent=query["intent"] or None, sort=query["sort"],
                direction=query["dir"], page=page, per_page=PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        return {
            "rows": rows, "total": total, "page": page, "pages": pages, "query": query,
            "filtered": bool(query["q"] or query["intent"]), "intent_choices": INTENT_CHOICES,
            "url": _url_maker("planner.clusters", {**query, "page": page}), "per_page": PER_PAGE,
            "no_intent": cluster_service.NO_INTENT,
            "has_keywords_page": _endpoint_exists("planner.keywords"),
            "has_generate_ideas": _endpoint_exists("planner.ideas_generate_estimate"),
        }

    if is_htmx():
        return add_vary(make_response(page_cache.render_fragment("planner/_clusters_table.html", build)))
    return add_vary(make_response(page_cache.render_page("planner/clusters.html", build)))


def _detail(cluster_id: int, *, form: ClusterForm | None = None, intent_form: IntentForm | None = None,
            status: int = 200):
    summary = cluster_service.cluster_summary(cluster_id)
    cluster = summary.cluster
    sort = request.args.get("sort", "volume")
    sort = sort if sort in cluster_service.KEYWORD_SORTS else "volume"
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    page = _page_arg()
    keywords, keyword_total = cluster_service.cluster_keywords(
        cluster.id, sort=sort, direction=direction, page=page, per_page=KEYWORDS_PER_PAGE)
    context = {
        "summary": summary, "cluster": cluster, "keywords": keywords, "keyword_total": keyword_total,
        "page": page, "pages": max(1, -(-keyword_total // KEYWORDS_PER_PAGE)),
        "query": {"sort": sort, "dir": direction}, "per_page": KEYWORDS_PER_PAGE,
        "url": _url_maker("planner.cluster_detail", {"sort": sort, "dir": direction, "page": page},
                          cluster_id=cluster.id),
    }
    if is_htmx() and status == 200:
        return add_vary(make_response(render_template("planner/_clusters_keywords.html", **context)))
    context.update(
        form=form or ClusterForm(obj=cluster),
        intent_form=intent_form or IntentForm(intent=cluster.intent or ""),
        ideas=cluster_service.cluster_ideas(cluster.id),
        move_choices=cluster_service.cluster_choices(sector_id=cluster.sector_id, exclude_id=cluster.id),
        unclustered=UNCLUSTERED, has_idea_page=_endpoint_exists("planner.idea_edit"),
        in_active_sector=g.active_sector is not None and g.active_sector.id == cluster.sector_id,
    )
    return add_vary(make_response(render_template("planner/cluster_detail.html", **context), status))


@bp.route("/clusters/<int:cluster_id>", endpoint="cluster_detail")
def cluster_detail(cluster_id: int):
    """One cluster: its figures, name and description, intent, keywords and ideas."""
    return _detail(cluster_id)


@bp.route("/clusters/<int:cluster_id>/rename", methods=["POST"], endpoint="cluster_rename")
@requires("write")
def cluster_rename(cluster_id: int):
    """Change the cluster's name and description."""
    cluster_service.get_cluster(cluster_id)
    form = ClusterForm()
    if not form.validate_on_submit():
        return _detail(cluster_id, form=form, status=422)
    try:
        cluster_service.rename(cluster_id=cluster_id, name=form.name.data, description=form.description.data or "")
    except ValidationError as exc:
        attach_error(form, exc)
        return _detail(cluster_id, form=form, status=422)
    flash("Cluster saved.", "success")
    return redirect(url_for("planner.cluster_detail", cluster_id=cluster_id))


@bp.route("/clusters/<int:cluster_id>/intent", methods=["POST"], endpoint="cluster_intent")
@requires("write")
def cluster_intent(cluster_id: int):
    """Set or clear the cluster's search intent."""
    cluster_service.get_cluster(cluster_id)
    form = IntentForm()
    if not form.validate_on_submit():
        return _detail(cluster_id, intent_form=form, status=422)
    cluster = cluster_service.set_intent(cluster_id=cluster_id, intent=form.intent.data or None)
    flash(f"Intent set to {cluster.intent}." if cluster.intent else "Intent cleared.", "success")
    return redirect(url_for("planner.cluster_detail", cluster_id=cluster_id))


@bp.route("/clusters/<int:cluster_id>/keywords/move", methods=["POST"], endpoint="cluster_move_keywords")
@requires("write")
def cluster_move_keywords(cluster_id: int):
    """Move the selected keywords of this cluster to another cluster of the sector or to unclustered."""
    cluster = cluster_service.get_cluster(cluster_id)
    keyword_ids = _ids("keyword_ids")
    target = request.form.get("to_cluster_id", "").strip()
    back = redirect(url_for("planner.cluster_detail", cluster_id=cluster.id))
    if not target:
        flash("Choose where to move the keywords: another cluster or Unclustered.", "error")
        return back
    if target == UNCLUSTERED:
        to_cluster_id = None
    else:
        to_cluster_id = params.id_or_404(target, CLUSTER_NOT_FOUND)
    try:
        moved = cluster_service.move_keywords(keyword_ids=keyword_ids, to_cluster_id=to_cluster_id,
                                              sector_id=cluster.sector_id)
    except ValidationError as exc:
        flash(exc.message, "error")
        return back
    where = "Unclustered" if to_cluster_id is None else f"“{cluster_service.get_cluster(to_cluster_id).name}”"
    flash(f"Moved {moved:,} keyword{'s' if moved != 1 else ''} to {where}.", "success")
    return back


@bp.route("/clusters/<int:cluster_id>/delete", methods=["POST"], endpoint="cluster_delete")
@requires("write")
def cluster_delete(cluster_id: int):
    """Delete this cluster; its keywords return to unclustered and its ideas stay."""
    cluster = cluster_service.get_cluster(cluster_id)
    name = cluster.name
    cluster_service.delete_clusters(ids=[cluster.id])
    flash(f"Cluster “{name}” deleted. Its keywords are unclustered again.", "success")
    return redirect(url_for("planner.clusters"))


def _require_sector():
    if g.active_sector is None:
        raise ValidationError("Choose a site and sector in the header first.")
    return g.active_sector


@bp.route("/clusters/delete", methods=["POST"], endpoint="clusters_delete")
@requires("write")
def clusters_delete():
    """Delete the selected clusters of the active sector."""
    sector = _require_sector()
    ids = _ids("cluster_ids")
    try:
        count = cluster_service.delete_clusters(ids=ids, sector_id=sector.id)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(_back_to_list())
    flash(f"Deleted {count:,} cluster{'s' if count != 1 else ''}. Their keywords are unclustered again.",
          "success")
    return redirect(_back_to_list())


@bp.route("/clusters/merge", methods=["POST"], endpoint="cluster_merge")
@requires("write")
def cluster_merge():
    """Without a target: choose which selected cluster to keep. With one: merge the others into it."""
    sector = _require_sector()
    ids = _ids("cluster_ids")
    target = request.form.get("target_id", "").strip()
    if not target:
        try:
            rows = cluster_service.merge_preview(sector_id=sector.id, cluster_ids=ids)
        except ValidationError as exc:
            flash(exc.message, "error")
            return redirect(_back_to_list())
        return render_template("planner/cluster_merge.html", rows=rows, back=_back_to_list())
    target_id = params.id_or_404(target, CLUSTER_NOT_FOUND)
    try:
        result = cluster_service.merge(target_id=target_id, source_ids=[i for i in ids if i != target_id],
                                       sector_id=sector.id)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(_back_to_list())
    flash(f"Merged {result.clusters_merged:,} cluster{'s' if result.clusters_merged != 1 else ''} into "
          f"“{result.target.name}”: {result.keywords_moved:,} keywords and {result.ideas_moved:,} ideas moved.",
          "success")
    return redirect(url_for("planner.cluster_detail", cluster_id=result.target.id))
