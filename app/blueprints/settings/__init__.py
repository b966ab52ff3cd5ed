from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("settings", __name__, url_prefix="/settings")
login_required_for(bp)

from app.blueprints.settings import views  # noqa: E402,F401
