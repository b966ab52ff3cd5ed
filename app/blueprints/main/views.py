"""The dashboard and the health check."""

from __future__ import annotations

from flask import current_app, g, jsonify, redirect, render_template, send_from_directory, url_for
from flask_login import current_user

from app.blueprints.main import bp
from app.services.health import health_report
from app.services.jobs import recent_jobs
from app.services.accounts.sites import list_sites


@bp.route("/")
def dashboard():
    """Where a signed-in person lands: what exists and what to do next."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))

    if g.account is None:
        return redirect(url_for("operator.index") if current_user.is_operator else url_for("auth.login"))
    return render_template("main/dashboard.html", sites=list_sites(), jobs=recent_jobs(limit=5))


@bp.route("/healthz")
def healthz():
    """Machine-readable health of the database and Redis."""
    report = health_report()
    return jsonify(report), 200 if report["ok"] else 503


@bp.route("/favicon.ico")
def favicon():
    """The icon browsers ask for at the site root (pages also link it from /static)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)
