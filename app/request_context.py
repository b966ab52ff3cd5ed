"""Per-request binding of the signed-in person, their account, role, sites and modules."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import select

from app import tenancy
from app.errors import Forbidden, ModuleDisabled
from app.extensions import db, login_manager
from app.models import Account, SiteAccess, User
from app.modules import MODULE_LABELS

# Endpoints a read-only viewer may still POST to: they change only the viewer's own things.
VIEWER_WRITABLE_ENDPOINTS = {
    "auth.logout",
    "settings.profile",
    "settings.password",
    "settings.sign_out_everywhere",
    "context.set_site",
    "context.set_sector",
    "notifications.mark_read",
    "notifications.mark_all_read",
}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Find the session's user while that sign-in is live (revoked, expired or outdated: signed out)."""
    from app.services.accounts.sessions import load

    return load(user_id)


def bind_request() -> None:
    """Bind the tenant for this request; unauthenticated requests see no tenant rows."""
    tenancy.unbind()
    g.account = None
    g.role = None
    g.acting_as = None
    g.active_site = None
    g.active_sector = None
    if not current_user.is_authenticated:
        return
    user: User = current_user._get_current_object()
    account_id = user.account_id
    if user.is_operator and session.get("act_as_account_id"):
        account_id = session["act_as_account_id"]
    if account_id is None:
        return
    # The person's own account was loaded with them (app.services.accounts.sessions.load): no statement.
    account = db.session.get(Account, account_id, execution_options={"all_accounts": True})
    if account is None:
        session.pop("act_as_account_id", None)
        return
    acting = user.is_operator and user.account_id != account.id
    if account.is_suspended and not acting:
        logout_user()
        flash("This account is suspended. Contact IGNY8 support to reactivate it.", "error")
        return
    g.account = account
    g.acting_as = account if acting else None
    g.role = "owner" if acting else user.role
    site_ids = None
    if g.role in ("editor", "viewer"):
        site_ids = set(
            db.session.scalars(
                select(SiteAccess.site_id)
                .where(SiteAccess.user_id == user.id, SiteAccess.account_id == account.id)
                .execution_options(all_accounts=True)
            )
        )
    tenancy.bind(account.id, site_ids)
    from app.services.context import resolve_active

    g.active_site, g.active_sector = resolve_active(user=user)


def enforce_read_only_roles() -> None:
    """Viewers change nothing; the check is made here, on the server, for every request."""
    if request.method in ("GET", "HEAD", "OPTIONS") or g.get("role") != "viewer":
        return
    if request.endpoint in VIEWER_WRITABLE_ENDPOINTS:
        return
    raise Forbidden("Your role is read-only. Ask an account owner or admin for editor access.")


def enforce_modules() -> None:
    """A switched-off module's routes refuse, whatever the navigation shows."""
    module = next((MODULE_BLUEPRINTS[b] for b in request.blueprints if b in MODULE_BLUEPRINTS), None)
    if module and g.get("account") is not None and not g.account.module_enabled(module):
        raise ModuleDisabled(
            f"The {MODULE_LABELS[module]} module is turned off for this account. "
            "An owner or admin can turn it on in Settings → Modules."
        )


MODULE_BLUEPRINTS: dict[str, str] = {}


def register_module_blueprint(blueprint_name: str, module: str) -> None:
    """Declare that a blueprint belongs to a module, so switching the module off closes it."""
    MODULE_BLUEPRINTS[blueprint_name] = module


def install(app: Flask) -> None:
    """Attach the per-request hooks."""
    app.before_request(bind_request)
    app.before_request(enforce_read_only_roles)
    app.before_request(enforce_modules)

    @app.teardown_request
    def _unbind(exc=None):
        tenancy.unbind()


def login_required_for(blueprint) -> None:
    """Every view of the blueprint needs a signed-in person with an account bound."""

    @blueprint.before_request
    def _require_login():
        if not current_user.is_authenticated:
            if request.headers.get("HX-Request"):
                from app.htmx import hx_redirect

                return hx_redirect(url_for("auth.login", next=request.path))
            return redirect(url_for("auth.login", next=request.full_path))
        if g.get("account") is None:
            if current_user.is_operator:
                flash("Choose an account to act as before opening its pages.", "info")
                return redirect(url_for("operator.accounts"))
            logout_user()
            return redirect(url_for("auth.login"))
        return None
