"""The operator area: accounts, act-as, outbox and audit log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.operator import bp
from app.services import operator as operator_service
from app.services.ai.catalogue import live_problems
from app.services.health import health_report


@bp.route("/")
def index():
    """Operator overview."""
    return render_template("operator/index.html", health=health_report(),
                           accounts=operator_service.search_accounts(limit=10), live_problems=live_problems())


@bp.route("/accounts")
def accounts():
    """Search accounts by name, member e-mail or id."""
    query = request.args.get("q", "")
    return render_template("operator/accounts.html", accounts=operator_service.search_accounts(query=query),
                           query=query)


@bp.route("/accounts/<int:account_id>")
def account(account_id: int):
    """One account with its members and audit trail."""
    return render_template("operator/account.html", target=operator_service.get_account(account_id),
                           members=operator_service.account_members(account_id),
                           events=operator_service.audit_log(account_id=account_id, limit=50))


@bp.route("/accounts/<int:account_id>/suspend", methods=["POST"])
def suspend(account_id: int):
    """Suspend an account: its people are signed out."""
    operator_service.set_account_status(account_id=account_id, suspended=True, operator=current_user,
                                        reason=request.form.get("reason", ""))
    flash("Account suspended.", "success")
    return redirect(url_for("operator.account", account_id=account_id))


@bp.route("/accounts/<int:account_id>/reactivate", methods=["POST"])
def reactivate(account_id: int):
    """Reactivate a suspended account."""
    operator_service.set_account_status(account_id=account_id, suspended=False, operator=current_user)
    flash("Account reactivated.", "success")
    return redirect(url_for("operator.account", account_id=account_id))


@bp.route("/accounts/<int:account_id>/act-as", methods=["POST"])
def act_as(account_id: int):
    """Act as the account; a banner shows it on every page until left."""
    account = operator_service.start_acting_as(account_id=account_id, operator=current_user)
    flash(f"You are now acting as {account.name}.", "warning")
    return redirect(url_for("main.dashboard"))


@bp.route("/act-as/leave", methods=["POST"])
def leave_act_as():
    """Stop acting as an account."""
    operator_service.stop_acting_as(operator=current_user)
    flash("You left the account.", "info")
    return redirect(url_for("operator.accounts"))


@bp.route("/outbox")
def outbox():
    """E-mails the platform sent (the only delivery in development)."""
    return render_template("operator/outbox.html", messages=operator_service.outbox())


@bp.route("/audit")
def audit():
    """The audit log."""
    return render_template("operator/audit.html", events=operator_service.audit_log())
