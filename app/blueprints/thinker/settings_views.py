"""Thinker → AI settings: the account's own values over the platform defaults."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from app.blueprints.forms import attach_error
from app.blueprints.thinker import bp
from app.blueprints.thinker.forms import AISettingsForm, settings_table
from app.errors import ValidationError
from app.permissions import can, require
from app.services.ai import settings as ai_settings


@bp.route("/ai-settings", methods=["GET", "POST"])
def ai_settings_page():
    """The account's AI settings; owners and admins change them, everyone sees what is in effect."""
    form = AISettingsForm()
    status = 200
    if request.method == "POST":
        require("settings")
        if form.validate_on_submit():
            try:
                ai_settings.save_account(form.values())
            except ValidationError as exc:
                attach_error(form, exc)
            else:
                flash("AI settings saved. Sites without their own values use them from now on.", "success")
                return redirect(url_for("thinker.ai_settings_page"))
        status = 422
    else:
        form.fill(ai_settings.levels()["account"])
    return make_response(render_template(
        "thinker/ai_settings.html", form=form, can_edit=can("settings"),
        table=settings_table(level="account")), status)
