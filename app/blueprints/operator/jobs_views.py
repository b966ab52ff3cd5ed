"""The operator job log: every account's jobs, with the full detail of unexpected failures."""

from __future__ import annotations

from flask import render_template, request

from app.blueprints.operator import bp
from app.services import job_errors


@bp.route("/jobs")
def jobs():
    """Jobs of every account, failed ones first by default; search by reference, id, kind or account."""
    query = request.args.get("q", "")[:100]
    failed_only = request.args.get("all") != "1"
    return render_template("operator/jobs.html", rows=job_errors.operator_job_log(query=query, failed_only=failed_only),
                           query=query, failed_only=failed_only)


@bp.route("/jobs/<int:job_id>")
def job(job_id: int):
    """One job with its customer-facing error and the operator-only detail."""
    job, account = job_errors.operator_job(job_id)
    return render_template("operator/job.html", job=job, target=account)
