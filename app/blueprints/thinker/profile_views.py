"""Thinker → Author profiles and Strategies: list, create, edit, delete."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.blueprints.forms import attach_error, invalid
from app.blueprints.thinker import bp
from app.blueprints.thinker.forms import ProfileForm, StrategyForm
from app.errors import ValidationError
from app.permissions import can, require, requires
from app.services import thinker as thinker_service


def _read_only(form) -> None:
    """People who may not change it see the form's values, disabled."""
    for field in form:
        if field.type not in ("CSRFTokenField", "HiddenField"):
            field.render_kw = {**(field.render_kw or {}), "disabled": True}


def _sites_note(sites: list[str]) -> str:
    if not sites:
        return ""
    which = "that site has" if len(sites) == 1 else "those sites have"
    return f" It was the default of {', '.join(sites)}; {which} none now."


# Author profiles

@bp.route("/author-profiles")
def profiles():
    """The account's author profiles."""
    return render_template("thinker/profiles.html", profiles=thinker_service.list_profiles())


def _profile_values(form: ProfileForm) -> dict:
    return {"name": form.name.data, **{name: getattr(form, name).data for name in ProfileForm.FIELDS}}


@bp.route("/author-profiles/new", methods=["GET", "POST"])
@requires("write")
def profile_new():
    """Add an author profile."""
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            profile = thinker_service.create_profile(**_profile_values(form))
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash(f"Author profile “{profile.name}” added.", "success")
            return redirect(url_for("thinker.profiles"))
    if request.method == "POST":
        return invalid("thinker/profile_form.html", form=form, profile=None)
    return render_template("thinker/profile_form.html", form=form, profile=None)


@bp.route("/author-profiles/<int:profile_id>", methods=["GET", "POST"])
def profile_edit(profile_id: int):
    """One author profile; editors and above change it."""
    profile = thinker_service.get_profile(profile_id)
    form = ProfileForm(obj=profile)
    if request.method == "POST":
        require("write")
        if form.validate_on_submit():
            try:
                thinker_service.update_profile(profile_id=profile.id, **_profile_values(form))
            except ValidationError as exc:
                attach_error(form, exc)
            else:
                flash(f"Author profile “{profile.name}” saved.", "success")
                return redirect(url_for("thinker.profiles"))
        return invalid("thinker/profile_form.html", form=form, profile=profile)
    if not can("write"):
        _read_only(form)
    return render_template("thinker/profile_form.html", form=form, profile=profile)


@bp.route("/author-profiles/<int:profile_id>/delete", methods=["POST"])
@requires("write")
def profile_delete(profile_id: int):
    """Delete an author profile; sites that used it as default get none."""
    profile = thinker_service.get_profile(profile_id)
    name = profile.name
    sites = thinker_service.delete_profile(profile_id=profile.id)
    flash(f"Author profile “{name}” deleted.{_sites_note(sites)}", "success")
    return redirect(url_for("thinker.profiles"))


# Strategies

@bp.route("/strategies")
def strategies():
    """The account's content strategies."""
    return render_template("thinker/strategies.html", strategies=thinker_service.list_strategies())


def _strategy_values(form: StrategyForm) -> dict:
    return {"name": form.name.data, **{name: getattr(form, name).data for name in StrategyForm.FIELDS}}


@bp.route("/strategies/new", methods=["GET", "POST"])
@requires("write")
def strategy_new():
    """Add a content strategy."""
    form = StrategyForm()
    if form.validate_on_submit():
        try:
            strategy = thinker_service.create_strategy(**_strategy_values(form))
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash(f"Strategy “{strategy.name}” added.", "success")
            return redirect(url_for("thinker.strategies"))
    if request.method == "POST":
        return invalid("thinker/strategy_form.html", form=form, strategy=None)
    return render_template("thinker/strategy_form.html", form=form, strategy=None)


@bp.route("/strategies/<int:strategy_id>", methods=["GET", "POST"])
def strategy_edit(strategy_id: int):
    """One content strategy; editors and above change it."""
    strategy = thinker_service.get_strategy(strategy_id)
    form = StrategyForm(obj=strategy)
    if request.method == "POST":
        require("write")
        if form.validate_on_submit():
            try:
                thinker_service.update_strategy(strategy_id=strategy.id, **_strategy_values(form))
            except ValidationError as exc:
                attach_error(form, exc)
            else:
                flash(f"Strategy “{strategy.name}” saved.", "success")
                return redirect(url_for("thinker.strategies"))
        return invalid("thinker/strategy_form.html", form=form, strategy=strategy)
    if not can("write"):
        _read_only(form)
    return render_template("thinker/strategy_form.html", form=form, strategy=strategy)


@bp.route("/strategies/<int:strategy_id>/delete", methods=["POST"])
@requires("write")
def strategy_delete(strategy_id: int):
    """Delete a content strategy; sites that used it as default get none."""
    strategy = thinker_service.get_strategy(strategy_id)
    name = strategy.name
    sites = thinker_service.delete_strategy(strategy_id=strategy.id)
    flash(f"Strategy “{name}” deleted.{_sites_note(sites)}", "success")
    return redirect(url_for("thinker.strategies"))
