"""Publisher → calendar (month and list), schedule settings per site, and an article's publish actions."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import ValidationError
from app.blueprints.publisher import bp
from app.htmx import hx_redirect, is_htmx
from app.params import page_arg
from app.permissions import require, requires
from app.services.accounts import sites as site_service
from app.services.publishing import calendar as calendar_service
from app.services.publishing import records
from app.services.publishing import schedule as schedule_service
from app.services.publishing import settings as settings_service
from app.services.publishing.slots import capacity
from app.services.writer import content as content_service
from app.timeutil import utcnow

ACTIONS = {"unpublish": "Unpublish requested: the post goes back to draft on WordPress.",
           "trash": "Trash requested: the post moves to WordPress's trash.",
           "check": "Checking the post on WordPress…"}


def _site_filter() -> int | None:
    raw = request.args.get("site", "")
    if raw in ("", "all"):
        return None
    try:
        return site_service.get_site(int(raw)).id
    except ValueError:
        raise ValidationError("Choose a site from the list.", field="site") from None


@bp.route("/calendar")
def calendar():
    """Scheduled, published and failed articles: a month grid or a list, for one site or all."""
    site_id = _site_filter()
    view = "list" if request.args.get("view") == "list" else "month"
    month = calendar_service.parse_month(request.args.get("month"), utcnow().date())
    if view == "month":
        start, end = calendar_service.month_bounds(month)
        entries = calendar_service.items(site_id=site_id, start=start, end=end)
        pager = None
    else:
        pager = calendar_service.list_page(site_id=site_id, page=page_arg(request.args))
        entries = pager.items
    prev_month = (month.replace(day=1) - timedelta(days=1)).replace(day=1)
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    response = make_response(render_template(
        "publisher/calendar.html", view=view, month=month, entries=entries, site_id=site_id, pager=pager,
        weeks=calendar_service.month_grid(month, entries) if view == "month" else None,
        sites=site_service.list_sites(include_inactive=False), prev_month=prev_month, next_month=next_month))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.route("/sites/<int:site_id>/schedule", methods=["GET", "POST"])
def site_schedule(site_id: int):
    """A site's publish days × time slots, auto-publish, categories and tags."""
    site = site_service.get_site(site_id)
    settings = settings_service.settings_for(site.id)
    error, status = None, 200
    form = None
    if request.method == "POST":
        require("manage_sites")
        form = request.form
        try:
            settings_service.save_settings(
                site_id=site.id, days=form.getlist("days"), slots=form.get("slots", ""),
                auto_publish=bool(form.get("auto_publish")), category_source=form.get("category_source", ""),
                default_category=form.get("default_category", ""), max_tags=form.get("max_tags", ""),
                fix_missed_schedule=bool(form.get("fix_missed_schedule")))
        except ValidationError as exc:
            error, status = exc, exc.status_code
        else:
            flash("Schedule saved.", "success")
            return redirect(url_for("publisher.site_schedule", site_id=site.id))
    per_day, per_week = capacity(days=settings.publish_days or [], slots=settings.publish_slots or [])
    return make_response(render_template(
        "publisher/schedule.html", site=site, settings=settings, error=error, form=form,
        days=settings_service.DAY_NAMES, per_day=per_day, per_week=per_week), status)


def _back(content_id: int):
    target = request.form.get("next", "")
    target = target if target.startswith("/publisher/") or target.startswith("/writer/") else \
        url_for("writer.content_edit", content_id=content_id)
    return hx_redirect(target) if is_htmx() else redirect(target)


@bp.route("/content/<int:content_id>/publish", methods=["POST"])
@requires("write")
def publish_now(content_id: int):
    """Publish (or update) the article on WordPress now."""
    try:
        job = schedule_service.publish_now(content_id=content_id, user_id=current_user.id)
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Publishing started (job {job.id}).", "success")
    return _back(content_id)


@bp.route("/content/<int:content_id>/schedule", methods=["POST"])
@requires("write")
def schedule(content_id: int):
    """Schedule or reschedule at a chosen time (site's clock), or in the next free slot."""
    try:
        if request.form.get("next_free"):
            publication = schedule_service.schedule_next_free(content_id=content_id, user_id=current_user.id)
        else:
            publication = schedule_service.schedule_at(content_id=content_id, when=request.form.get("when", ""),
                                                       user_id=current_user.id)
    except ValidationError as exc:
        if is_htmx() and request.form.get("from") == "calendar":
            return _move_form(content_id, error=exc, status=exc.status_code)
        flash(exc.message, "error")
    else:
        site = site_service.get_site(publication.site_id)
        local = publication.scheduled_at.astimezone(ZoneInfo(site.timezone or "UTC"))
        flash(f"Scheduled for {local:%a %d %b %Y %H:%M} ({site.timezone}).", "success")
    return _back(content_id)


@bp.route("/content/<int:content_id>/unschedule", methods=["POST"])
@requires("write")
def unschedule(content_id: int):
    """Take the article off the schedule (it stays approved)."""
    try:
        schedule_service.unschedule(content_id=content_id, user_id=current_user.id)
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash("Taken off the schedule; the article is approved again.", "success")
    return _back(content_id)


@bp.route("/content/<int:content_id>/wordpress", methods=["POST"])
@requires("write")
def post_action(content_id: int):
    """Unpublish (back to draft), trash, or check the article's post on WordPress."""
    action = request.form.get("action", "")
    try:
        schedule_service.act(content_id=content_id, action=action, user_id=current_user.id)
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(ACTIONS[action], "success")
    return _back(content_id)


def _move_form(content_id: int, *, error=None, status: int = 200):
    content = content_service.get_content(content_id, with_body=False)
    publication = records.publication_for(content)
    site = site_service.get_site(content.site_id)
    # Back to the calendar page the form was opened from (its site filter and page), else the list.
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    back = request.form.get("next") or (current.path + (f"?{current.query}" if current.query else ""))
    if not back.startswith("/publisher/calendar"):
        back = url_for("publisher.calendar", view="list")
    return make_response(render_template("publisher/_move.html", content=content, publication=publication,
                                         site=site, error=error, tz=ZoneInfo, back=back), status)


@bp.route("/content/<int:content_id>/move")
def move_form(content_id: int):
    """The form (an htmx fragment in the calendar) to move an article to another time."""
    return _move_form(content_id)


@bp.route("/content/<int:content_id>/panel")
def panel(content_id: int):
    """The article's publishing panel: where it is on WordPress and what can be done."""
    content = content_service.get_content(content_id, with_body=False)
    return render_template("publisher/_panel.html", content=content, publication=records.publication_for(content),
                           site=site_service.get_site(content.site_id), tz=ZoneInfo)
