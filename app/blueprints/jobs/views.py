"""Background jobs of the account and their live progress."""

from __future__ import annotations

from flask import flash, g, make_response, redirect, render_template, url_for

from app.blueprints.jobs import bp
from app.errors import Conflict
from app.htmx import hx_trigger, is_htmx, stop_polling
from app.permissions import requires
from app.services import jobs as job_service
from app.services.billing import credits


@bp.route("/")
def index():
    """Recent jobs."""
    return render_template("jobs/index.html", jobs=job_service.recent_jobs())


@bp.route("/<int:job_id>")
def detail(job_id: int):
    """One job with its live progress."""
    return render_template("jobs/detail.html", job=job_service.get_job(job_id))


def _card(job):
    """The job card; once the job has ended, the header's credits badge comes along out of band,
    because settling or refunding changed the balance."""
    html = render_template("jobs/_job_progress.html", job=job)
    account = g.get("account")
    if job.is_finished and is_htmx() and account is not None:
        html += render_template("shared/_credits_badge.html", oob=True,
                                account={"credits": credits.balance(account.id)})
    return make_response(html)


@bp.route("/<int:job_id>/progress")
def progress(job_id: int):
    """The progress fragment; it stops polling and announces the end when the job ends."""
    job = job_service.get_job(job_id)
    response = _card(job)
    if job.is_finished and is_htmx():
        hx_trigger(response, "job-finished", {"id": job.id, "status": job.status})
        hx_trigger(response, "notifications-changed")  # the bell shows the job's notification at once
        stop_polling(response)
    return response


@bp.route("/<int:job_id>/cancel", methods=["POST"])
@requires("write")
def cancel(job_id: int):
    """Cancel a job that is still waiting."""
    try:
        job = job_service.cancel_job(job_id=job_id)
    except Conflict as exc:
        if is_htmx():
            raise  # answered as a flash fragment; a redirect would be swapped into the job card
        flash(exc.message, "error")
        return redirect(url_for("jobs.detail", job_id=job_id))
    if is_htmx():
        return _card(job)
    flash("Job cancelled.", "success")
    return redirect(url_for("jobs.detail", job_id=job_id))
