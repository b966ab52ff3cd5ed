"""A site's WordPress connection: the form, the connection test and disconnecting."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.forms import attach_error
from app.blueprints.sites import bp
from app.blueprints.sites.forms import WordPressConnectionForm
from app.blueprints.sites.views import detail_page
from app.errors import ValidationError
from app.htmx import is_htmx
from app.permissions import requires
from app.services.accounts import sites as site_service
from app.services.publishing import connection as connection_service


@bp.route("/<int:site_id>/wordpress", methods=["POST"])
@requires("manage_sites")
def save_wordpress(site_id: int):
    """Save the WordPress address, user name and (when typed) a new application password."""
    site = site_service.get_site(site_id)
    form = WordPressConnectionForm(prefix="wp")
    if form.validate_on_submit():
        try:
            connection_service.save_connection(site_id=site.id, wp_url=form.wp_url.data or "",
                                               username=form.username.data or "",
                                               app_password=form.app_password.data or "")
        except ValidationError as exc:
            attach_error(form, exc)
        else:
            flash("WordPress connection saved. Test it to see whether publishing will work.", "success")
            return redirect(url_for("sites.detail", site_id=site.id) + "#wordpress")
    return detail_page(site, wp_form=form, status=422)


@bp.route("/<int:site_id>/wordpress/test", methods=["POST"])
@requires("write")
def test_wordpress(site_id: int):
    """Start the connection doctor in the background."""
    site = site_service.get_site(site_id)
    try:
        job = connection_service.start_doctor(site_id=site.id, user_id=current_user.id)
    except ValidationError as exc:
        if is_htmx():
            raise
        flash(exc.message, "error")
        return redirect(url_for("sites.detail", site_id=site.id) + "#wordpress")
    if is_htmx():
        return render_template("jobs/_job_progress.html", job=job)
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/<int:site_id>/wordpress/checks")
def wordpress_checks(site_id: int):
    """The last connection test's checks (refreshed when a test finishes)."""
    return render_template("sites/_wordpress_checks.html", site=site_service.get_site(site_id))


@bp.route("/<int:site_id>/wordpress/disconnect", methods=["POST"])
@requires("manage_sites")
def disconnect_wordpress(site_id: int):
    """Forget the site's WordPress credentials."""
    site = connection_service.disconnect(site_id=site_id)
    flash(f"“{site.name}” is no longer connected to WordPress.", "success")
    return redirect(url_for("sites.detail", site_id=site.id))
