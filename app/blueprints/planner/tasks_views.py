"""Planner → Tasks: make writing tasks from chosen ideas (no AI, no credits), list and delete them."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from app import params
from app.blueprints.planner import bp
from app.errors import ValidationError
from app.htmx import is_htmx
from app.permissions import requires
from app.services.planner import ideas as idea_service
from app.services.planner import tasks as task_service
from app.services.planner.ideas import CONTENT_TYPE_LABELS, STRUCTURE_LABELS

STATUS_LABELS = {"queued": "Queued", "in_progress": "In progress", "completed": "Completed", "failed": "Failed"}


def _selected_ids(name: str) -> list[str]:
    return [value for value in request.form.getlist(name) if value.strip()]


@bp.route("/tasks")
def tasks():
    """The active sector's writing tasks with their status; htmx gets only the list region."""
    if g.active_sector is None:
        return render_template("planner/tasks.html", page=None, filters=None)
    filters = task_service.TaskFilters.from_args(request.args)
    page = task_service.list_tasks(sector=g.active_sector, filters=filters,
                                   page=params.page_arg(request.args))
    context = dict(page=page, filters=filters, clusters=idea_service.sector_clusters(sector=g.active_sector),
                   statuses=STATUS_LABELS, content_types=CONTENT_TYPE_LABELS, structures=STRUCTURE_LABELS)
    if is_htmx() and request.headers.get("HX-Target") == "tasks-list":
        return render_template("planner/_tasks_list.html", **context)
    return render_template("planner/tasks.html", **context)


@bp.route("/tasks/create", methods=["POST"])
@requires("write")
def tasks_create():
    """Make a task from each chosen idea (idea_ids); ideas that already have one are reported, not repeated."""
    try:
        created, skipped = task_service.create_tasks(idea_ids=_selected_ids("idea_ids"), user=current_user)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("planner.ideas"))
    if created:
        flash(f"Created {len(created)} task(s).", "success")
    for item in skipped[:10]:
        flash(f"“{item.title}” was skipped: it {item.reason}.", "warning")
    if len(skipped) > 10:
        flash(f"{len(skipped) - 10} more idea(s) were skipped.", "warning")
    return redirect(url_for("planner.tasks") if created else url_for("planner.ideas"))


@bp.route("/tasks/delete", methods=["POST"])
@requires("write")
def tasks_delete():
    """Delete the chosen tasks (task_ids); their ideas become new again."""
    try:
        count, kept = task_service.delete_tasks(ids=_selected_ids("task_ids"))
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Deleted {count} task(s); their ideas are new again.", "success")
        if kept:
            flash(f"Kept {len(kept)} task(s) that are being written: {', '.join(kept[:5])}.", "warning")
    return redirect(url_for("planner.tasks"))


@bp.route("/tasks/<int:task_id>")
def task_detail(task_id: int):
    """One task: everything the writer will get."""
    task = task_service.get_task(task_id)
    return render_template("planner/tasks_detail.html", task=task, statuses=STATUS_LABELS,
                           content_types=CONTENT_TYPE_LABELS, structures=STRUCTURE_LABELS,
                           profile=task_service.profile_of(task), strategy=task_service.strategy_of(task))
