"""Customer billing: balance and plan, ledger, usage, orders, buying credits and the estimate."""

from __future__ import annotations

import secrets

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from app.billing_ops import OPERATIONS
from app.blueprints.billing import bp
from app.blueprints.billing.chart import usage_chart
from app.blueprints.billing.forms import BuyForm, EstimateForm, PlanForm, ThresholdForm, UsageFilterForm
from app.blueprints.forms import attach_error, invalid
from app.errors import ValidationError
from app.permissions import require
from app.services.billing import reports as reports
from app.services.billing import credits as credit_service
from app.services.billing import orders as order_service
from app.params import page_arg
from app.services.billing.payments import PROVIDERS
from app.services.accounts.sites import list_sites

STATUS_PILLS = {"paid": "pill-ok", "pending": "pill-warn", "failed": "pill-err", "cancelled": ""}


def _page_number() -> int:
    return page_arg(request.args)


def _overview_page(threshold_form: ThresholdForm | None = None, status: int = 200):
    threshold_form = threshold_form or ThresholdForm(threshold=g.account.low_balance_threshold)
    data = reports.overview(account_id=g.account.id)
    return render_template("billing/overview.html", threshold_form=threshold_form, **data), status


@bp.route("/")
def index():
    """Balance, plan, low-balance warning, prices and how charging works."""
    return _overview_page()


@bp.route("/threshold", methods=["POST"])
def threshold():
    """The owner changes when the low-balance warning is sent."""
    require("billing")
    form = ThresholdForm()
    if form.validate_on_submit():
        try:
            reports.set_low_balance_threshold(threshold=form.threshold.data, actor_id=current_user.id)
        except ValidationError as exc:
            attach_error(form, exc)
            return _overview_page(form, 422)
        flash(f"Low-balance warning set to {form.threshold.data:,} credits." if form.threshold.data
              else "Low-balance warning turned off.", "success")
        return redirect(url_for("billing.index"))
    return _overview_page(form, 422)


@bp.route("/plan", methods=["POST"])
def plan():
    """The owner switches plan; the new plan's credits start with the next monthly period."""
    require("billing")
    form = PlanForm()
    if not form.validate_on_submit():
        flash(next(iter(form.plan_id.errors), "Choose a plan from the list."), "error")
        return redirect(url_for("billing.index"))
    subscription, changed = reports.choose_plan(plan_id=form.plan_id.data, actor_id=current_user.id)
    new_plan = subscription.plan
    if not changed:
        flash(f"You are already on the {new_plan.name} plan.", "info")
    else:
        flash(f"You are now on the {new_plan.name} plan. Its {new_plan.monthly_credits:,} monthly credits "
              f"apply from the next monthly period ({subscription.current_period_end:%d %b %Y}); "
              "credits you already have stay.", "success")
    return redirect(url_for("billing.index"))


@bp.route("/transactions")
def transactions():
    """The ledger: every change of the balance, newest first."""
    return render_template("billing/transactions.html", page=reports.transactions_page(_page_number()))


def _usage_form() -> UsageFilterForm:
    form = UsageFilterForm(request.args)
    form.site.choices = [("", "All sites")] + [(str(site.id), site.name) for site in list_sites()]
    models = reports.usage_models()
    form.model.choices = [("", "All models")] + [(m, m) for m in models]
    return form


@bp.route("/usage")
def usage():
    """What the credits were spent on: a per-day chart by operation and the log, with filters."""
    form = _usage_form()
    filters = None
    if form.validate():
        try:
            filters = reports.usage_filters(date_from=form.date_from.data, date_to=form.date_to.data,
                                            operation=form.operation.data, site_id=form.site_id(),
                                            model=form.model.data)
        except ValidationError as exc:
            attach_error(form, exc)
    if filters is None:
        return invalid("billing/usage.html", form=form, filters=None, chart=None, page=None, query={})
    form.date_from.data, form.date_to.data = filters.date_from, filters.date_to
    chart = usage_chart(filters.days, reports.usage_by_day(filters))
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("billing/usage.html", form=form, filters=filters, chart=chart, operations=OPERATIONS,
                           page=reports.usage_rows(filters, _page_number()), query=query)


@bp.route("/orders")
def orders():
    """Credit purchases and their payment status."""
    return render_template("billing/orders.html", orders=order_service.account_orders(),
                           pills=STATUS_PILLS, providers=PROVIDERS)


def _customer_providers():
    return [cls() for cls in PROVIDERS.values() if cls.available_to_customers]


def _buy_page(form: BuyForm | None = None, status: int = 200):
    providers = _customer_providers()
    if form is None:
        form = BuyForm(providers=providers)
        default = "fake_card" if "fake_card" in PROVIDERS else (providers[0].name if providers else None)
        form.provider.data = default
    form.request_token.data = secrets.token_urlsafe(24)
    return render_template("billing/buy.html", form=form, packages=order_service.active_packages(),
                           providers=providers, balance=g.account.credits), status


@bp.route("/buy", methods=["GET", "POST"])
def buy():
    """Packages and payment; only owners see the form and may buy."""
    if request.method == "GET":
        return _buy_page()
    require("billing")
    form = BuyForm(providers=_customer_providers())
    if not form.validate_on_submit():
        return _buy_page(form, 422)
    try:
        order = order_service.buy_package(
            package_id=form.package_id.data, provider=form.provider.data,
            details={"card_number": form.card_number.data or ""}, actor_id=current_user.id,
            # Scoped to the account: tokens of two accounts can never meet.
            request_token=form.request_token.data)
    except ValidationError as exc:
        attach_error(form, exc)
        return _buy_page(form, 422)
    if order.status == "paid":
        flash(f"{order.credits:,} credits added. Thank you!", "success")
    elif order.status == "pending":
        flash((order.details or {}).get("message") or "Your order is waiting for payment.", "info")
    else:
        flash(order.failure_reason or "The payment did not go through. No credits were added.", "error")
    return redirect(url_for("billing.orders"))


@bp.route("/estimate")
def estimate():
    """The estimate component for the bound account (htmx): ?credits=N[&label=Start]."""
    form = EstimateForm(request.args)
    if not form.validate():
        message = next((e for f in (form.credits, form.label) for e in f.errors),
                       "Give the estimate as a whole number of credits.")
        raise ValidationError(message, field="credits")
    summary = credit_service.estimate_summary(account_id=g.account.id, credits=form.credits.data)
    return render_template("shared/_estimate.html", estimate=summary,
                           confirm_label=form.label.data or None)
