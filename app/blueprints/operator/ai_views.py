"""Operator pages for the AI engine: the model catalogue, provider keys (masked, with a connection test),
the platform's prompt templates and its AI defaults."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, URL

from app.blueprints.forms import attach_error
from app.blueprints.operator import bp
from app.params import MAX_NUMBER
from app.blueprints.thinker.forms import AISettingsForm, PromptForm, settings_table
from app.errors import ValidationError
from app.htmx import is_htmx
from app.models.ai import TIERS, TIER_LABELS
from app.services.ai import catalogue
from app.services.ai import prompts as prompt_service
from app.services.ai import settings as ai_settings


class ModelForm(FlaskForm):
    name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    model_id = StringField("Provider model id", validators=[DataRequired(), Length(max=120)])
    tier = SelectField("Tier", choices=[(t, TIER_LABELS[t]) for t in TIERS])
    is_default = BooleanField("Default Live model of its type")
    is_active = BooleanField("Active")
    cost_per_1k_input = DecimalField("Provider cost per 1k input tokens (USD)", places=6, validators=[NumberRange(min=0, max=999_999)])
    cost_per_1k_output = DecimalField("Provider cost per 1k output tokens (USD)", places=6, validators=[NumberRange(min=0, max=999_999)])
    cost_per_image = DecimalField("Provider cost per image (USD)", places=6, validators=[NumberRange(min=0, max=999_999)])
    tokens_per_credit = IntegerField("Tokens per credit", validators=[NumberRange(min=1, max=MAX_NUMBER)])
    credits_per_image = IntegerField("Credits per image", validators=[NumberRange(min=0, max=MAX_NUMBER)])
    min_credits = IntegerField("Minimum credits per operation", validators=[NumberRange(min=0, max=MAX_NUMBER)])
    max_input_tokens = IntegerField("Largest input (tokens)", validators=[NumberRange(min=1, max=MAX_NUMBER)])
    max_output_tokens = IntegerField("Largest answer (tokens)", validators=[NumberRange(min=1, max=MAX_NUMBER)])


MODEL_FIELDS = ("name", "model_id", "tier", "is_default", "is_active", "cost_per_1k_input", "cost_per_1k_output",
                "cost_per_image", "tokens_per_credit", "credits_per_image", "min_credits", "max_input_tokens",
                "max_output_tokens")


class ProviderForm(FlaskForm):
    base_url = StringField("Base URL", validators=[Optional(), URL(require_tld=False), Length(max=300)])
    api_key = PasswordField("New API key", validators=[Optional(), Length(max=500)])
    clear_key = BooleanField("Remove the stored key")
    timeout_seconds = DecimalField("Timeout (seconds)", places=2, validators=[NumberRange(min=0.1, max=600)])
    max_retries = IntegerField("Retries on 429/5xx/timeouts", validators=[NumberRange(min=0, max=10)])
    is_enabled = BooleanField("Enabled")


@bp.route("/ai/models")
def ai_models():
    """The model catalogue: cost, price and which model is Testing or default Live per type."""
    return render_template("operator/ai/models.html", models=catalogue.list_models())


@bp.route("/ai/models/<int:model_pk>", methods=["GET", "POST"])
def ai_model_edit(model_pk: int):
    """Edit one catalogue entry."""
    model = catalogue.get_model(model_pk)
    form = ModelForm(obj=model)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in MODEL_FIELDS}
        try:
            catalogue.update_model(model_pk=model_pk, values=values)
        except ValidationError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(f"{model.name} saved.", "success")
            return redirect(url_for("operator.ai_models"))
        return render_template("operator/ai/model_form.html", form=form, model=catalogue.get_model(model_pk)), 422
    status = 422 if form.is_submitted() else 200
    return render_template("operator/ai/model_form.html", form=form, model=model), status


@bp.route("/ai/providers")
def ai_providers():
    """Providers with their masked keys and last connection test."""
    providers = catalogue.list_providers()
    return render_template("operator/ai/providers.html", providers=providers,
                           keys={p.id: catalogue.masked_key(p) for p in providers})


@bp.route("/ai/providers/<int:provider_pk>", methods=["GET", "POST"])
def ai_provider_edit(provider_pk: int):
    """Edit a provider's endpoint, limits and key (the key is never shown again)."""
    provider = catalogue.get_provider(provider_pk)
    form = ProviderForm(obj=provider)
    if form.validate_on_submit():
        catalogue.update_provider(provider_pk=provider_pk, base_url=form.base_url.data,
                                  timeout_seconds=form.timeout_seconds.data, max_retries=form.max_retries.data,
                                  is_enabled=form.is_enabled.data, api_key=form.api_key.data,
                                  clear_key=form.clear_key.data)
        flash(f"{provider.name} saved.", "success")
        return redirect(url_for("operator.ai_providers"))
    status = 422 if form.is_submitted() else 200
    return render_template("operator/ai/provider_form.html", form=form, provider=provider,
                           masked=catalogue.masked_key(provider)), status


@bp.route("/ai/providers/<int:provider_pk>/test", methods=["POST"])
def ai_provider_test(provider_pk: int):
    """Test the connection with the stored key and settings."""
    ok, message = catalogue.test_connection(provider_pk=provider_pk)
    flash(message, "success" if ok else "error")
    return redirect(url_for("operator.ai_providers"))


# Platform prompt defaults and AI defaults (Operator → AI → Prompts, Defaults).

def _prompt_page(spec, form, *, preview_text: str | None = None, preview_error: str | None = None,
                 status: int = 200):
    _body, source = prompt_service.platform_template(spec.name)
    editor = {
        "save_url": url_for("operator.ai_prompt_edit", function=spec.name),
        "preview_url": url_for("operator.ai_prompt_preview", function=spec.name),
        "reset_url": url_for("operator.ai_prompt_reset", function=spec.name) if source == "platform" else None,
        "reset_confirm": "Go back to the built-in prompt for every account without its own version?",
        "can_edit": True,
    }
    return render_template("operator/ai/prompt_edit.html", spec=spec, form=form, source=source, editor=editor,
                           preview_text=preview_text, preview_error=preview_error), status


@bp.route("/ai/prompts")
def ai_prompts():
    """The platform's prompt templates: edited by an operator or built in."""
    rows = [(spec, prompt_service.platform_template(spec.name)[1]) for spec in prompt_service.FUNCTIONS.values()]
    return render_template("operator/ai/prompts.html", rows=rows)


@bp.route("/ai/prompts/<function>", methods=["GET", "POST"])
def ai_prompt_edit(function: str):
    """Edit the platform default of one function's prompt (accounts with their own version keep it)."""
    spec = prompt_service.get_function(function)
    form = PromptForm()
    if request.method == "GET":
        form.body.data = prompt_service.platform_template(function)[0]
        return _prompt_page(spec, form)
    if form.validate_on_submit():
        try:
            prompt_service.save_platform_default(function, form.body.data, current_user)
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash(f"The platform's {spec.title} prompt is saved.", "success")
            return redirect(url_for("operator.ai_prompt_edit", function=function))
    return _prompt_page(spec, form, status=422)


@bp.route("/ai/prompts/<function>/preview", methods=["GET", "POST"])
def ai_prompt_preview(function: str):
    """The platform prompt (or a typed draft) filled with labelled samples."""
    spec = prompt_service.get_function(function)
    form = PromptForm()
    body = (form.body.data or "") if request.method == "POST" else prompt_service.platform_template(function)[0]
    form.body.data = body
    text, error, status = None, None, 200
    try:
        text = prompt_service.preview(function, body)
    except ValidationError as exc:
        error, status = exc.message, 422
    if is_htmx():
        return render_template("shared/_prompt_preview.html", preview_text=text, preview_error=error), status
    return _prompt_page(spec, form, preview_text=text, preview_error=error, status=status)


@bp.route("/ai/prompts/<function>/reset", methods=["POST"])
def ai_prompt_reset(function: str):
    """Go back to the built-in prompt."""
    spec = prompt_service.get_function(function)
    prompt_service.reset_platform_default(function, current_user)
    flash(f"The platform's {spec.title} prompt is back to the built-in version.", "success")
    return redirect(url_for("operator.ai_prompt_edit", function=function))


@bp.route("/ai/defaults", methods=["GET", "POST"])
def ai_defaults():
    """The platform's AI defaults, used where an account or site sets nothing."""
    form = AISettingsForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                ai_settings.save_platform(form.values(), current_user)
            except ValidationError as exc:
                attach_error(form, exc)
            else:
                flash("AI defaults saved.", "success")
                return redirect(url_for("operator.ai_defaults"))
        status = 422
    else:
        form.fill(ai_settings.levels()["platform"])
    return render_template("operator/ai/defaults.html", form=form, table=settings_table(level="platform")), status
