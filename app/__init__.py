"""IGNY8 application factory."""

from __future__ import annotations

from flask import Flask

from app.config import INSTANCE_DIR, Config, load_config


def create_app(config: str | Config | None = None) -> Flask:
    """Build the app: config → extensions → tenancy → htmx helpers → errors → blueprints → CLI."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    cfg = config if isinstance(config, Config) else load_config(config)
    app.config.from_object(cfg)
    app.config["RQ_DASHBOARD_REDIS_URL"] = app.config["REDIS_URL"]

    from app import extensions, tenancy
    from app.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    limiter.init_app(app)
    tenancy.install()

    from app.queue import init_queue

    init_queue(app)
    del extensions

    from app import request_context, web

    request_context.install(app)
    web.install(app)
    from app import page_cache

    page_cache.install(app)

    from app.errors import register_error_handlers

    register_error_handlers(app)

    from app.blueprints import register_blueprints

    register_blueprints(app)

    from app.services.accounts import site_check  # noqa: F401  (registers the job kind)
    from app.services.publishing import connection, runner  # noqa: F401  (register the publishing job kinds)
    from app.cli import register_cli

    register_cli(app)
    return app
