"""The header switcher: active site and sector, remembered per user."""

from __future__ import annotations

from flask import redirect, request
from flask_login import current_user

from app.blueprints.context import bp
from app.params import id_or_404
from app.htmx import hx_refresh, is_htmx
from app.services import context as context_service
from app.web import safe_next


def _back():
    if is_htmx():
        return hx_refresh()
    return redirect(safe_next(request.form.get("next"), "/"))


def _int(name: str) -> int:
    return id_or_404(request.form.get(name))


@bp.route("/site", methods=["POST"])
def set_site():
    """Switch the active site."""
    context_service.set_active_site(user=current_user, site_id=_int("site_id"))
    return _back()


@bp.route("/sector", methods=["POST"])
def set_sector():
    """Switch the active sector."""
    context_service.set_active_sector(user=current_user, sector_id=_int("sector_id"))
    return _back()
