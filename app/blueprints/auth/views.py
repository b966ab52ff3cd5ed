"""Sign-up, sign-in, sign-out, password reset and accepting invitations."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import AcceptInviteForm, ForgotForm, LoginForm, ResetForm, SignupForm
from app.blueprints.forms import attach_error, invalid
from app.errors import RateLimited, ValidationError
from app.extensions import client_ip, limiter
from app.services.accounts import auth as account_service
from app.services.accounts.passwords import rules_hint
from app.services.accounts import sessions
from app.services.accounts import team as team_service
from app.web import safe_next


def _email_key() -> str:
    """Rate-limit key per e-mail: the address a reset is asked for."""
    return "email:" + (request.form.get("email") or "").strip().lower()


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("main.dashboard"))


def _login_limits() -> str:
    return current_app.config["LOGIN_LIMITS_PER_IP"]


def _reset_limits() -> str:
    return current_app.config["RESET_LIMITS_PER_IP"]


def _reset_account_limits() -> str:
    return current_app.config["RESET_LIMITS_PER_ACCOUNT"]


def _post_only() -> bool:
    return request.method != "POST"


@bp.context_processor
def _password_rules() -> dict:
    # The hint under new-password fields is made from the rules the service enforces.
    return {"password_rules": rules_hint()}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password (failed attempts are throttled by the service)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = account_service.authenticate(email=form.email.data, password=form.password.data,
                                                address=client_ip())
        except RateLimited as exc:
            form.form_errors.append(exc.message)
            return invalid("auth/login.html", status=429, form=form)
        except ValidationError as exc:
            form.form_errors.append(exc.message)
            return invalid("auth/login.html", form=form)
        sessions.sign_in(user, remember=form.remember.data)
        return redirect(url_for("operator.index") if user.is_operator and not user.account_id
                        else _safe_next(request.args.get("next")))
    if request.method == "POST":
        return invalid("auth/login.html", form=form)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: this session ends on the server and its cookies are cleared."""
    sessions.sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limits, exempt_when=_post_only)
def signup():
    """Create an account and its owner."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = account_service.signup(account_name=form.account_name.data, name=form.name.data,
                                          email=form.email.data, password=form.password.data)
        except ValidationError as exc:
            attach_error(form, exc)
            return invalid("auth/signup.html", form=form)
        sessions.sign_in(user)
        flash("Welcome to IGNY8! Start by adding your first site.", "success")
        return redirect(url_for("sites.new"))
    if request.method == "POST":
        return invalid("auth/signup.html", form=form)
    return render_template("auth/signup.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limits, exempt_when=_post_only)
@limiter.limit(_reset_account_limits, key_func=_email_key, exempt_when=_post_only)
def forgot():
    """Ask for a password reset link."""
    form = ForgotForm()
    if form.validate_on_submit():
        account_service.request_password_reset(email=form.email.data)
        return render_template("auth/forgot_sent.html", email=form.email.data)
    if request.method == "POST":
        return invalid("auth/forgot.html", form=form)
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_reset_limits, exempt_when=_post_only)
def reset(token: str):
    """Choose a new password from an e-mailed link."""
    _row, problem = account_service.reset_token_problem(token)
    if problem:
        return invalid("auth/reset_invalid.html", status=400, message=problem)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            account_service.reset_password(token=token, password=form.password.data)
        except ValidationError as exc:
            if exc.field == "token":
                return invalid("auth/reset_invalid.html", status=400, message=exc.message)
            attach_error(form, exc)
            return invalid("auth/reset.html", form=form, token=token)
        sessions.sign_out()
        flash("Your password has been changed. Sign in with the new one.", "success")
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        return invalid("auth/reset.html", form=form, token=token)
    return render_template("auth/reset.html", form=form, token=token)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limits, exempt_when=_post_only)
def accept_invite(token: str):
    """Join an account from an invitation link."""
    invitation, problem = team_service.invitation_for_token(token)
    if problem:
        return invalid("auth/invite_invalid.html", status=400, message=problem)
    form = AcceptInviteForm()
    account_name = team_service.inviting_account_name(invitation)
    if form.validate_on_submit():
        try:
            user = team_service.accept_invitation(token=token, name=form.name.data,
                                                  password=form.password.data)
        except ValidationError as exc:
            attach_error(form, exc)
            return invalid("auth/accept_invite.html", form=form, invitation=invitation, token=token,
                           account_name=account_name)
        sessions.sign_out()
        sessions.sign_in(user)
        flash("Welcome aboard!", "success")
        return redirect(url_for("main.dashboard"))
    if request.method == "POST":
        return invalid("auth/accept_invite.html", form=form, invitation=invitation, token=token,
                           account_name=account_name)
    return render_template("auth/accept_invite.html", form=form, invitation=invitation, token=token,
                           account_name=account_name)
