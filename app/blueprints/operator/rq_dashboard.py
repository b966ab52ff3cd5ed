"""The RQ dashboard, mounted at /operator/rq for operators only, with IGNY8's CSRF check on its actions."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Flask, current_app, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from werkzeug.exceptions import MethodNotAllowed

from app.blueprints.operator import require_operator
from app.errors import Forbidden

# The dashboard's own scripts read this cookie and send it back as the X-CSRFToken header.
CSRF_COOKIE = "_csrf_token"
PREFIX = "/operator/rq"
# Endpoints that change queue state; the dashboard declares some of them for GET as well.
STATE_CHANGES = {"requeue_all", "requeue_job_view", "delete_job_view", "empty_queue", "compact_queue"}


def _guard_rq_dashboard():
    """Operators only; state changes only by a same-origin POST (the CSRF token is checked before this)."""
    refusal = require_operator()
    if refusal is not None:
        return refusal
    action = (request.endpoint or "").rsplit(".", 1)[-1]
    if action in STATE_CHANGES and request.method != "POST":
        raise MethodNotAllowed(valid_methods=["POST"])
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        source = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if urlparse(source).netloc != request.host:
            raise Forbidden("Queue actions must come from the IGNY8 operator pages.")
    return None


def _back_link() -> str:
    href = escape(url_for("operator.index"))
    return (f'<div style="padding:.5rem 1rem;background:#f1f5f9;border-bottom:1px solid #cbd5e1">'
            f'<a href="{href}" data-testid="back-to-operator">← Back to the operator area</a></div>')


def _dress_rq_dashboard(response):
    """Add a way back to the operator area and hand the dashboard's scripts a CSRF token."""
    if response.mimetype != "text/html" or response.direct_passthrough or response.status_code != 200:
        return response
    body = response.get_data(as_text=True)
    if "<body>" in body:
        response.set_data(body.replace("<body>", "<body>" + _back_link(), 1))
    response.set_cookie(CSRF_COOKIE, generate_csrf(), path=PREFIX, httponly=False, samesite="Strict",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def mount_rq_dashboard(app: Flask) -> None:
    """Mount rq-dashboard at /operator/rq behind the operator check."""
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    dashboard = rq_dashboard.blueprint
    if not getattr(dashboard, "_igny8_guarded", False):
        # The blueprint object is shared by every app instance; guard it once.
        dashboard.before_request_funcs.setdefault(None, []).insert(0, _guard_rq_dashboard)
        dashboard.after_request(_dress_rq_dashboard)
        dashboard._igny8_guarded = True
    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]
    setup_rq_connection(app)
    app.register_blueprint(dashboard, url_prefix=PREFIX)
