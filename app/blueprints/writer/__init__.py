"""Writer pages: tasks to write, articles with the editor and versions, review and approval."""

from app.blueprints.modules import module_blueprint, set_module_home

bp = module_blueprint("writer")
set_module_home("writer", "writer.tasks")

from app.blueprints.writer import content_views, image_views, review_views, tasks_views  # noqa: E402,F401
