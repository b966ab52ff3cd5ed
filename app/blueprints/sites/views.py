"""Sites and their sectors."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.forms import attach_error
from app.blueprints.sites import bp
from app.blueprints.sites.forms import (
    DeleteSiteForm, NewSiteForm, SectorForm, SiteDefaultsForm, SiteForm, WordPressConnectionForm,
)
from app.blueprints.thinker.forms import AISettingsForm, settings_table
from app.errors import ValidationError
from app.htmx import is_htmx
from app.params import MAX_ID, int_arg
from app.permissions import requires
from app.services import jobs as job_service
from app.services.accounts import sites as site_service
from app.services import thinker as thinker_service
from app.services.ai import settings as ai_settings
from app.services.publishing import connection as connection_service
from app.services.publishing import settings as publish_settings


def _industry_choices():
    return [(0, "— None —")] + [(i.id, i.name) for i in site_service.industries()]


@bp.route("/")
def index():
    """All sites the person can see."""
    return render_template("sites/index.html", sites=site_service.list_sites())


@bp.route("/industry-sectors")
def industry_sectors():
    """Sector choices of an industry, for the new-site form (htmx)."""
    industry_id = int_arg(request.args, "industry_id", 0, low=0, high=MAX_ID)
    return render_template("sites/_sector_choices.html", sectors=site_service.industry_sectors(industry_id), selected=[])


@bp.route("/new", methods=["GET", "POST"])
@requires("manage_sites")
def new():
    """Create a site with its first sectors."""
    form = NewSiteForm()
    form.industry_id.choices = _industry_choices()
    if form.validate_on_submit():
        try:
            site = site_service.create_site(
                name=form.name.data, url=form.url.data, timezone=form.timezone.data,
                industry_id=form.industry_id.data or None,
                sector_template_ids=form.sector_template_ids.data or [],
                sector_names=(form.sector_names.data or "").split(","))
        except ValidationError as exc:
            attach_error(form, exc)
            return _new_page(form, 422)
        flash(f"Site “{site.name}” created.", "success")
        return redirect(url_for("sites.detail", site_id=site.id))
    if request.method == "POST":
        return _new_page(form, 422)
    return _new_page(form)


def _new_page(form: NewSiteForm, status: int = 200):
    sectors = site_service.industry_sectors(form.industry_id.data)
    return render_template("sites/new.html", form=form, sectors=sectors,
                           selected=form.sector_template_ids.data or []), status


@bp.route("/<int:site_id>")
def detail(site_id: int):
    """A site with its sectors, its WordPress connection and the latest site check."""
    return detail_page(site_service.get_site(site_id))


def detail_page(site, *, wp_form: WordPressConnectionForm | None = None, status: int = 200):
    """The site page; wp_form carries a connection form coming back with errors."""
    form = SectorForm(prefix="sector")
    form.template_id.choices = [(0, "— Type a name —")] + [(s.id, s.name) for s in (site.industry.sectors if site.industry else [])]
    if wp_form is None:
        wp_form = WordPressConnectionForm(prefix="wp", formdata=None,
                                          data={"wp_url": site.wp_url or site.url, "username": site.wp_username})
    return make_response(render_template(
        "sites/detail.html", site=site, sector_form=form, delete_form=DeleteSiteForm(prefix="del"),
        last_check=site_service.latest_check(site.id), wp_form=wp_form,
        wp_job=connection_service.latest_doctor_job(site.id),
        seo_note=publish_settings.settings_for(site.id).seo_note if site.wp_connected else ""), status)


def _edit_page(site, form: SiteForm, *, defaults_form: SiteDefaultsForm | None = None,
               settings_form: AISettingsForm | None = None, status: int = 200):
    """The edit page: details, the default author profile and strategy, and the site's AI settings."""
    if defaults_form is None:
        defaults_form = SiteDefaultsForm(prefix="defaults", data={
            "author_profile_id": site.default_author_profile_id or 0, "strategy_id": site.default_strategy_id or 0})
    defaults_form.author_profile_id.choices = [(0, "— None —")] + [
        (p.id, p.name) for p in thinker_service.list_profiles()]
    defaults_form.strategy_id.choices = [(0, "— None —")] + [(s.id, s.name) for s in thinker_service.list_strategies()]
    if settings_form is None:
        settings_form = AISettingsForm(prefix="ai")
        settings_form.fill(ai_settings.levels(site)["site"])
    return make_response(render_template(
        "sites/edit.html", form=form, site=site, defaults_form=defaults_form, settings_form=settings_form,
        settings=settings_table(site, level="site")), status)


@bp.route("/<int:site_id>/edit", methods=["GET", "POST"])
@requires("manage_sites")
def edit(site_id: int):
    """Change a site's details."""
    site = site_service.get_site(site_id)
    form = SiteForm(obj=site)
    form.industry_id.choices = _industry_choices()
    if request.method == "GET":
        form.industry_id.data = site.industry_id or 0
    if form.validate_on_submit():
        try:
            site_service.update_site(site_id=site.id, name=form.name.data, url=form.url.data,
                                     timezone=form.timezone.data, industry_id=form.industry_id.data or None)
        except ValidationError as exc:
            attach_error(form, exc)
            return _edit_page(site, form, status=422)
        flash("Site saved.", "success")
        return redirect(url_for("sites.detail", site_id=site.id))
    if request.method == "POST":
        return _edit_page(site, form, status=422)
    return _edit_page(site, form)


def _details_form(site) -> SiteForm:
    form = SiteForm(obj=site, formdata=None)
    form.industry_id.choices = _industry_choices()
    form.industry_id.data = site.industry_id or 0
    return form


@bp.route("/<int:site_id>/writing-defaults", methods=["POST"])
@requires("manage_sites")
def writing_defaults(site_id: int):
    """Choose the site's default author profile and strategy."""
    site = site_service.get_site(site_id)
    form = SiteDefaultsForm(prefix="defaults")
    if not form.validate_on_submit():
        return _edit_page(site, _details_form(site), defaults_form=form, status=422)
    thinker_service.set_site_defaults(site_id=site.id, author_profile_id=form.author_profile_id.data or None,
                                      strategy_id=form.strategy_id.data or None)
    flash("Default author profile and strategy saved.", "success")
    return redirect(url_for("sites.edit", site_id=site.id))


@bp.route("/<int:site_id>/ai-settings", methods=["POST"])
@requires("manage_sites")
def site_ai_settings(site_id: int):
    """Set or clear the site's own AI settings."""
    site = site_service.get_site(site_id)
    form = AISettingsForm(prefix="ai")
    if form.validate_on_submit():
        try:
            ai_settings.save_site(site.id, form.values())
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash("The site's AI settings are saved.", "success")
            return redirect(url_for("sites.edit", site_id=site.id))
    return _edit_page(site, _details_form(site), settings_form=form, status=422)


@bp.route("/<int:site_id>/status", methods=["POST"])
@requires("manage_sites")
def set_status(site_id: int):
    """Deactivate or reactivate a site."""
    active = request.form.get("active") == "1"
    site = site_service.set_site_status(site_id=site_id, active=active)
    flash(f"Site “{site.name}” {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("sites.detail", site_id=site.id))


@bp.route("/<int:site_id>/delete", methods=["POST"])
@requires("manage_sites")
def delete(site_id: int):
    """Delete a site and all its content."""
    form = DeleteSiteForm(prefix="del")
    site = site_service.get_site(site_id)
    try:
        site_service.delete_site(site_id=site.id, confirm_name=form.confirm_name.data or "")
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    flash("Site deleted.", "success")
    return redirect(url_for("sites.index"))


@bp.route("/<int:site_id>/sectors", methods=["POST"])
@requires("manage_sites")
def add_sector(site_id: int):
    """Add a sector (up to five per site)."""
    form = SectorForm(prefix="sector")
    try:
        sector = site_service.add_sector(site_id=site_id, name=form.name.data or "",
                                         template_id=form.template_id.data or None)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    flash(f"Sector “{sector.name}” added.", "success")
    return redirect(url_for("sites.detail", site_id=site_id))


@bp.route("/<int:site_id>/sectors/<int:sector_id>/rename", methods=["POST"])
@requires("manage_sites")
def rename_sector(site_id: int, sector_id: int):
    """Rename a sector."""
    site_service.get_site(site_id)
    try:
        site_service.rename_sector(sector_id=sector_id, name=request.form.get("name", ""))
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    flash("Sector renamed.", "success")
    return redirect(url_for("sites.detail", site_id=site_id))


@bp.route("/<int:site_id>/sectors/<int:sector_id>/delete", methods=["POST"])
@requires("manage_sites")
def remove_sector(site_id: int, sector_id: int):
    """Remove a sector (a site keeps at least one)."""
    site_service.get_site(site_id)
    try:
        site_service.remove_sector(sector_id=sector_id)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    flash("Sector removed.", "success")
    return redirect(url_for("sites.detail", site_id=site_id))


@bp.route("/<int:site_id>/check", methods=["POST"])
@requires("write")
def check(site_id: int):
    """Start a background check of the site's address and WordPress REST API."""
    site = site_service.get_site(site_id)
    job = job_service.enqueue_job(kind="site.check", payload={"site_id": site.id},
                                  created_by_id=current_user.id, site_id=site.id,
                                  title=f"Site check: {site.name}")
    if is_htmx():
        return render_template("jobs/_job_progress.html", job=job)
    return redirect(url_for("jobs.detail", job_id=job.id))
