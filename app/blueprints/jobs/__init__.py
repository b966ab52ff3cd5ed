from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
login_required_for(bp)

from app.blueprints.jobs import views  # noqa: E402,F401
