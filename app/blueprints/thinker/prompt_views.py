"""Thinker → Prompts: the template of each AI function, the account's overrides, a live preview."""

from __future__ import annotations

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.forms import attach_error
from app.blueprints.thinker import bp
from app.blueprints.thinker.forms import PromptForm
from app.errors import ValidationError
from app.htmx import is_htmx
from app.permissions import can, require, requires
from app.services.ai import prompt_preview as prompt_preview_service
from app.services.ai import prompts as prompt_service


def _active_ids() -> dict:
    site, sector = g.get("active_site"), g.get("active_sector")
    return {"site_id": site.id if site else None, "sector_id": sector.id if sector else None}


@bp.route("/prompts")
def prompts():
    """Every AI function's prompt, where it comes from and the variables it may use."""
    rows = [(spec, prompt_service.get_template(spec.name)[1]) for spec in prompt_service.FUNCTIONS.values()]
    return render_template("thinker/prompts.html", rows=rows, labels=prompt_service.SOURCE_LABELS)


def _edit_page(spec, form: PromptForm, *, preview_text: str | None = None, preview_error: str | None = None,
               status: int = 200):
    _body, source = prompt_service.get_template(spec.name)
    editor = {
        "save_url": url_for("thinker.prompt_edit", function=spec.name),
        "preview_url": url_for("thinker.prompt_preview", function=spec.name),
        "reset_url": url_for("thinker.prompt_reset", function=spec.name) if source == "account" else None,
        "reset_confirm": "Drop your account's version of this prompt and use the platform default again?",
        "can_edit": can("settings"),
    }
    return make_response(render_template(
        "thinker/prompt_edit.html", spec=spec, form=form, source=source, labels=prompt_service.SOURCE_LABELS,
        editor=editor, preview_text=preview_text, preview_error=preview_error), status)


@bp.route("/prompts/<function>", methods=["GET", "POST"])
def prompt_edit(function: str):
    """The template in effect; owners and admins save the account's own version."""
    spec = prompt_service.get_function(function)
    form = PromptForm()
    if request.method == "GET":
        form.body.data = prompt_service.get_template(function)[0]
        return _edit_page(spec, form)
    require("settings")
    if form.validate_on_submit():
        try:
            prompt_service.save_override(function, form.body.data, current_user)
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash(f"Your {spec.title} prompt is saved; runs from now on use it.", "success")
            return redirect(url_for("thinker.prompt_edit", function=function))
    return _edit_page(spec, form, status=422)


@bp.route("/prompts/<function>/preview", methods=["GET", "POST"])
def prompt_preview(function: str):
    """The prompt as it would be sent, filled with this account's data (a typed draft when posted)."""
    spec = prompt_service.get_function(function)
    form = PromptForm()
    body = None
    if request.method == "POST":
        require("settings")
        body = form.body.data or ""
    error, text, status = None, None, 200
    try:
        text = prompt_preview_service.preview(function, body, **_active_ids())
    except ValidationError as exc:
        error, status = exc.message, 422
    if is_htmx():
        return make_response(render_template("shared/_prompt_preview.html", preview_text=text,
                                             preview_error=error), status)
    if body is None:
        form.body.data = prompt_service.get_template(function)[0]
    elif error:
        attach_error(form, ValidationError(error, field="body"))
    return _edit_page(spec, form, preview_text=text, preview_error=error, status=status)


@bp.route("/prompts/<function>/reset", methods=["POST"])
@requires("settings")
def prompt_reset(function: str):
    """Drop the account's version; the platform default applies again."""
    spec = prompt_service.get_function(function)
    if prompt_service.reset_override(function):
        flash(f"The {spec.title} prompt is back to the platform default.", "success")
    else:
        flash(f"The {spec.title} prompt already uses the platform default.", "info")
    return redirect(url_for("thinker.prompt_edit", function=function))
