"""Account settings: profile, password, team and modules."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.forms import attach_error, invalid
from app.blueprints.settings import bp
from app.blueprints.settings.forms import InviteForm, ModulesForm, PasswordForm, ProfileForm, SitesForm
from app.errors import ValidationError
from app.models.accounts import ROLE_LABELS
from app.modules import MODULE_DESCRIPTIONS, MODULE_LABELS
from app.permissions import require, requires
from app.services.accounts import auth as account_service
from app.services.accounts import sessions
from app.services.accounts.passwords import rules_hint
from app.services import modules as module_service
from app.services.accounts import team as team_service
from app.services.accounts.sites import list_sites


@bp.context_processor
def _page_extras() -> dict:
    # The password hint is made from the rules the service enforces; the session count is a lazy
    # callable so only the profile page, which shows it, queries.
    return {"password_rules": rules_hint(),
            "live_session_count": lambda: sessions.live_session_count(current_user)}


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Your name and password."""
    form = ProfileForm(obj=current_user)
    password_form = PasswordForm(prefix="pw")
    if request.method == "POST" and form.validate_on_submit():
        try:
            account_service.update_profile(user=current_user, name=form.name.data)
        except ValidationError as exc:
            attach_error(form, exc)
            return invalid("settings/profile.html", form=form, password_form=password_form)
        flash("Profile saved.", "success")
        return redirect(url_for("settings.profile"))
    if request.method == "POST":
        return invalid("settings/profile.html", form=form, password_form=password_form)
    return render_template("settings/profile.html", form=form, password_form=password_form)


@bp.route("/password", methods=["POST"])
def password():
    """Change your password; other devices are signed out."""
    form = ProfileForm(obj=current_user)
    password_form = PasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            account_service.change_password(
                user=current_user._get_current_object(), current_password=password_form.current_password.data,
                new_password=password_form.new_password.data)
        except ValidationError as exc:
            attach_error(password_form, exc)
            return invalid("settings/profile.html", form=form, password_form=password_form)
        flash("Password changed. Other devices have been signed out.", "success")
        return redirect(url_for("settings.profile"))
    return invalid("settings/profile.html", form=form, password_form=password_form)


@bp.route("/sign-out-everywhere", methods=["POST"])
def sign_out_everywhere():
    """End every session of this person, on every device, this one included."""
    sessions.sign_out_everywhere(current_user._get_current_object())
    flash("You are signed out on every device, this one included.", "info")
    return redirect(url_for("auth.login"))


def _site_choices():
    return [(site.id, site.name) for site in list_sites()]


def _users_page(invite_form: InviteForm | None = None, status: int = 200):
    invite_form = invite_form or InviteForm()
    invite_form.site_ids.choices = _site_choices()
    if g.role != "owner":
        invite_form.role.choices = [c for c in invite_form.role.choices if c[0] != "owner"]
    members = team_service.list_members()
    grants = {m.id: team_service.granted_site_ids(m) for m in members}
    return render_template(
        "settings/users.html", members=members, grants=grants, invite_form=invite_form,
        invitations=team_service.pending_invitations(), sites=list_sites(),
        roles=ROLE_LABELS), status


@bp.route("/users")
@requires("manage_users")
def users():
    """The team of the account."""
    return _users_page()


@bp.route("/users/invite", methods=["POST"])
@requires("manage_users")
def invite():
    """Invite a person by e-mail with a role (and sites for editors and viewers)."""
    form = InviteForm()
    form.site_ids.choices = _site_choices()
    if form.validate_on_submit():
        try:
            _invitation, link = team_service.invite(
                email=form.email.data, role=form.role.data, site_ids=form.site_ids.data or [],
                actor=current_user, actor_role=g.role)
        except ValidationError as exc:
            attach_error(form, exc)
            return _users_page(form, 422)
        flash(f"Invitation sent to {form.email.data}. You can also share this link: {link}", "success")
        return redirect(url_for("settings.users"))
    return _users_page(form, 422)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@requires("manage_users")
def change_role(user_id: int):
    """Change a person's role."""
    try:
        member = team_service.change_role(user_id=user_id, role=request.form.get("role", ""),
                                          actor=current_user, actor_role=g.role)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.users"))
    flash(f"{member.email} is now {ROLE_LABELS[member.role].lower()}.", "success")
    return redirect(url_for("settings.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@requires("manage_users")
def set_active(user_id: int):
    """Deactivate or reactivate a person."""
    active = request.form.get("active") == "1"
    try:
        member = team_service.set_active(user_id=user_id, active=active, actor=current_user, actor_role=g.role)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.users"))
    flash(f"{member.email} {'reactivated' if active else 'deactivated and signed out'}.", "success")
    return redirect(url_for("settings.users"))


@bp.route("/users/<int:user_id>/sites", methods=["POST"])
@requires("manage_users")
def set_sites(user_id: int):
    """Choose the sites an editor or viewer may work on."""
    form = SitesForm()
    form.site_ids.choices = _site_choices()
    form.validate()
    try:
        member = team_service.set_site_grants(user_id=user_id, site_ids=form.site_ids.data or [],
                                              actor=current_user)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.users"))
    flash(f"Site access for {member.email} saved.", "success")
    return redirect(url_for("settings.users"))


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@requires("manage_users")
def revoke_invitation(invitation_id: int):
    """Withdraw a pending invitation."""
    team_service.revoke_invitation(invitation_id=invitation_id)
    flash("Invitation withdrawn.", "success")
    return redirect(url_for("settings.users"))


@bp.route("/modules", methods=["GET", "POST"])
def modules():
    """Switch modules on or off for the whole account."""
    require("settings")
    form = ModulesForm()
    form.modules.choices = list(MODULE_LABELS.items())
    if request.method == "POST" and form.validate_on_submit():
        module_service.set_modules(enabled=set(form.modules.data or []), actor_id=current_user.id)
        flash("Modules saved.", "success")
        return redirect(url_for("settings.modules"))
    form.modules.data = [m for m in MODULE_LABELS if g.account.module_enabled(m)]
    return render_template("settings/modules.html", form=form, labels=MODULE_LABELS,
                           descriptions=MODULE_DESCRIPTIONS)
