"""Operator pages for the AI engine: the model catalogue and provider keys (masked, with a connection test)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, URL

from app.blueprints.operator import bp
from app.errors import ValidationError
from app.models.ai import TIERS, TIER_LABELS
from app.services.ai import catalogue


class ModelForm(FlaskForm):
    name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    model_id = StringField("Provider model id", validators=[DataRequired(), Length(max=120)])
    tier = SelectField("Tier", choices=[(t, TIER_LABELS[t]) for t in TIERS])
    is_default = BooleanField("Default Live model of its type")
    is_active = BooleanField("Active")
    cost_per_1k_input = DecimalField("Provider cost per 1k input tokens (USD)", places=6, validators=[NumberRange(min=0)])
    cost_per_1k_output = DecimalField("Provider cost per 1k output tokens (USD)", places=6, validators=[NumberRange(min=0)])
    cost_per_image = DecimalField("Provider cost per image (USD)", places=6, validators=[NumberRange(min=0)])
    tokens_per_credit = IntegerField("Tokens per credit", validators=[NumberRange(min=1)])
    credits_per_image = IntegerField("Credits per image", validators=[NumberRange(min=0)])
    min_credits = IntegerField("Minimum credits per operation", validators=[NumberRange(min=0)])
    max_input_tokens = IntegerField("Largest input (tokens)", validators=[NumberRange(min=1)])
    max_output_tokens = IntegerField("Largest answer (tokens)", validators=[NumberRange(min=1)])


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
