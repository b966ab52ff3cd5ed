from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("context", __name__, url_prefix="/context")
login_required_for(bp)

from app.blueprints.context import views  # noqa: E402,F401
