"""One blueprint per switchable module; switching a module off closes every route under it."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for

from app.modules import MODULE_DESCRIPTIONS, MODULE_LABELS
from app.request_context import login_required_for, register_module_blueprint

MODULE_BLUEPRINTS: dict[str, Blueprint] = {}
# A module's first page, once a feature gives it one (module -> endpoint).
MODULE_HOMES: dict[str, str] = {}


def _make(module: str) -> Blueprint:
    blueprint = Blueprint(module, __name__, url_prefix=f"/{module}")
    login_required_for(blueprint)
    register_module_blueprint(module, module)

    @blueprint.route("/")
    def index():
        """The module's home page."""
        if module in MODULE_HOMES:
            return redirect(url_for(MODULE_HOMES[module]))
        return render_template("modules/index.html", module=module, label=MODULE_LABELS[module],
                               description=MODULE_DESCRIPTIONS[module])

    return blueprint


for _module in MODULE_LABELS:
    MODULE_BLUEPRINTS[_module] = _make(_module)


def module_blueprint(module: str) -> Blueprint:
    """The blueprint later features add their module's routes to."""
    return MODULE_BLUEPRINTS[module]


def set_module_home(module: str, endpoint: str) -> None:
    """Send the module's index to this page."""
    MODULE_HOMES[module] = endpoint


def register_module_pages(app: Flask) -> None:
    """Mount every module blueprint."""
    for blueprint in MODULE_BLUEPRINTS.values():
        app.register_blueprint(blueprint)
