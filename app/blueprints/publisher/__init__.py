"""Publisher pages: the calendar, each site's schedule settings, and an article's publishing actions."""

from app.blueprints.modules import module_blueprint, set_module_home

bp = module_blueprint("publisher")
set_module_home("publisher", "publisher.calendar")

from app.blueprints.publisher import views  # noqa: E402,F401
