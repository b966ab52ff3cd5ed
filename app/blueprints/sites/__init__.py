from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("sites", __name__, url_prefix="/sites")
login_required_for(bp)

from app.blueprints.sites import views, wordpress_views  # noqa: E402,F401
