"""Planner pages: keywords, clusters, ideas and tasks of the active site and sector."""

from app.blueprints.modules import module_blueprint, set_module_home

from app.blueprints.planner.options import cluster_options

bp = module_blueprint("planner")
bp.add_app_template_global(cluster_options, "cluster_options")
set_module_home("planner", "planner.keywords")

from app.blueprints.planner import (  # noqa: E402,F401
    clustering_views,
    clusters_views,
    ideas_views,
    keywords_views,
    tasks_views,
)
