"""Automation pages: per-site settings, Run now, live progress with pause/resume/cancel, run log, overview."""

from app.blueprints.modules import module_blueprint, set_module_home

bp = module_blueprint("automation")
set_module_home("automation", "automation.overview")

from app.blueprints.automation import views  # noqa: E402,F401
