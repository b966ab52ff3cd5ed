"""Blueprint registration."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Mount every feature's blueprint."""
    from app.blueprints.auth import bp as auth_bp
    from app.blueprints.billing import bp as billing_bp
    from app.blueprints.context import bp as context_bp
    from app.blueprints.jobs import bp as jobs_bp
    from app.blueprints.main import bp as main_bp
    from app.blueprints.modules import register_module_pages
    from app.blueprints.notifications import bp as notifications_bp
    from app.blueprints.operator import bp as operator_bp, mount_rq_dashboard
    from app.blueprints.settings import bp as settings_bp
    from app.blueprints.sites import bp as sites_bp

    for blueprint in (auth_bp, main_bp, context_bp, settings_bp, sites_bp, jobs_bp,
                      notifications_bp, operator_bp, billing_bp):
        app.register_blueprint(blueprint)
    from app.blueprints import thinker  # noqa: F401  (adds Thinker routes before mounting)
    from app.blueprints import planner  # noqa: F401  (adds Planner routes before mounting)
    from app.blueprints import writer  # noqa: F401  (adds Writer routes before mounting)
    from app.blueprints import publisher  # noqa: F401  (adds Publisher routes before mounting)

    register_module_pages(app)
    mount_rq_dashboard(app)
