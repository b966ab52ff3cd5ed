"""The notification bell and list."""

from __future__ import annotations

from flask import make_response, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.notifications import bp
from app.htmx import hx_trigger, is_htmx
from app.services import notifications as notification_service


@bp.route("/")
def index():
    """The person's notifications, newest first."""
    return render_template("notifications/index.html",
                           notifications=notification_service.recent(user_id=current_user.id))


@bp.route("/bell")
def bell():
    """The header bell with the unread count."""
    return render_template("notifications/_bell.html",
                           unread=notification_service.unread_count(user_id=current_user.id))


@bp.route("/<int:notification_id>/read", methods=["POST"])
def mark_read(notification_id: int):
    """Mark one notification read."""
    notification_service.mark_read(user_id=current_user.id, notification_id=notification_id)
    return _done()


@bp.route("/read-all", methods=["POST"])
def mark_all_read():
    """Mark every notification read."""
    notification_service.mark_all_read(user_id=current_user.id)
    return _done()


def _done():
    if is_htmx():
        response = make_response(render_template(
            "notifications/_list.html",
            notifications=notification_service.recent(user_id=current_user.id)))
        return hx_trigger(response, "notifications-changed")
    return redirect(url_for("notifications.index"))
