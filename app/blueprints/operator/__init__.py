from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from app.errors import NotFound

bp = Blueprint("operator", __name__, url_prefix="/operator")


def require_operator():
    """Operator pages exist only for operators; everyone else gets a 404."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    if not current_user.is_operator:
        raise NotFound()
    return None


bp.before_request(require_operator)

from app.blueprints.operator import views  # noqa: E402,F401
from app.blueprints.operator import billing_views  # noqa: E402,F401
from app.blueprints.operator.rq_dashboard import mount_rq_dashboard  # noqa: E402,F401
from app.blueprints.operator import ai_views  # noqa: E402,F401
from app.blueprints.operator import jobs_views  # noqa: E402,F401
