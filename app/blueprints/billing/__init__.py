from flask import Blueprint

from app.request_context import login_required_for

bp = Blueprint("billing", __name__, url_prefix="/billing")
login_required_for(bp)

from app.blueprints.billing import views  # noqa: E402,F401
