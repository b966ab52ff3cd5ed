from flask import Blueprint

from app.request_context import login_required_for
from app.services import job_display

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
login_required_for(bp)
bp.add_app_template_global(job_display.phase_label, "job_phase")
bp.add_app_template_global(job_display.time_left, "job_time_left")
bp.add_app_template_global(job_display.STATUS_WORDS, "JOB_STATUS_WORDS")

from app.blueprints.jobs import views  # noqa: E402,F401
