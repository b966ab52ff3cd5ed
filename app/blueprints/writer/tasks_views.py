"""Writer → Tasks: choose tasks, see the estimate, write them as articles, follow the progress, retry failures."""

from __future__ import annotations

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.writer import bp
from app.errors import DomainError, NotFound
from app.htmx import is_htmx
from app.permissions import requires
from app.services.planner import tasks as task_service
from app.services.planner.ideas import CONTENT_TYPE_LABELS, STRUCTURE_LABELS
from app.services.writer import runner

STATUS_LABELS = {"queued": "To write", "in_progress": "Being written", "completed": "Written", "failed": "Failed"}


def _task_ids() -> list[str]:
    return [value for value in request.form.getlist("task_ids") if value.strip()]


@bp.route("/tasks")
def tasks():
    """The active sector's writing tasks with their writing status and failure reasons."""
    if g.active_sector is None:
        return render_template("writer/tasks.html", page=None, filters=None)
    filters = task_service.TaskFilters.from_args(request.args)
    page = task_service.list_tasks(sector=g.active_sector, filters=filters,
                                   page=request.args.get("page", 1, type=int) or 1)
    context = dict(page=page, filters=filters, statuses=STATUS_LABELS, content_types=CONTENT_TYPE_LABELS,
                   structures=STRUCTURE_LABELS)
    if is_htmx() and request.headers.get("HX-Target") == "writer-tasks-list":
        return render_template("writer/_tasks_list.html", **context)
    return render_template("writer/tasks.html", **context)


def _generate_page(*, task_ids, tier, estimate=None, error=None, status=200):
    return make_response(render_template("writer/generate.html", task_ids=task_ids, tier=tier, estimate=estimate,
                                         error=error), status)


@bp.route("/tasks/estimate", methods=["POST"])
@requires("write")
def generate_estimate():
    """Chosen tasks (task_ids) → what writing them costs, which would be skipped, and a confirm button."""
    task_ids, tier = _task_ids(), request.form.get("tier", "testing")
    if not task_ids:
        flash("Choose at least one task to write.", "error")
        return redirect(url_for("writer.tasks"))
    try:
        estimate = runner.estimate_generation(task_ids=task_ids, tier=tier)
    except NotFound:
        raise
    except DomainError as exc:
        return _generate_page(task_ids=task_ids, tier=tier, error=exc, status=exc.status_code
                              if exc.status_code not in (400,) else 422)
    return _generate_page(task_ids=task_ids, tier=tier, estimate=estimate)


@bp.route("/tasks/generate", methods=["POST"])
@requires("write")
def generate_start():
    """Reserve the estimate and start writing the chosen tasks; then show the run's progress."""
    task_ids, tier = _task_ids(), request.form.get("tier", "testing")
    try:
        job, skipped = runner.start_generation(task_ids=task_ids, tier=tier, created_by_id=current_user.id)
    except NotFound:
        raise
    except DomainError as exc:
        return _generate_page(task_ids=task_ids, tier=tier, error=exc,
                              status=exc.status_code if exc.status_code != 400 else 422)
    for title, reason in skipped[:10]:
        flash(f"“{title}” was skipped: it {reason}.", "warning")
    return redirect(url_for("writer.run", job_id=job.id))


@bp.route("/tasks/<int:task_id>/retry", methods=["POST"])
@requires("write")
def retry(task_id: int):
    """Write one failed task again: like any run, its cost and model are shown first, then confirmed."""
    task = task_service.get_task(task_id)
    tier = request.form.get("tier", "testing")
    try:
        estimate = runner.estimate_generation(task_ids=[task.id], tier=tier)
    except NotFound:
        raise
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("writer.tasks"))
    return _generate_page(task_ids=[str(task.id)], tier=tier, estimate=estimate)


@bp.route("/runs/<int:job_id>")
def run(job_id: int):
    """A writing run: live progress, then each task's outcome with links to the articles."""
    return render_template("writer/run.html", job=runner.get_run(job_id))


@bp.route("/runs/<int:job_id>/results")
def run_results(job_id: int):
    """The run's results region (reloaded when the job finishes)."""
    return render_template("writer/_run_results.html", job=runner.get_run(job_id))
