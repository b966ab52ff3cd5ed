from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
login_required_for(bp)

from app.blueprints.notifications import views  # noqa: E402,F401
