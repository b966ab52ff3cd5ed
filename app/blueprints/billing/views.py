"""Customer billing: balance and plan, ledger, usage, orders, buying credits and the estimate."""

from __future__ import annotations

import secrets

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from app.billing_ops import OPERATIONS
from app.blueprints.billing import bp
from app.blueprints.billing.chart import usage_chart
from app.blueprints.billing.forms import (
    BuyForm,
    EstimateForm,
    PlanForm,
    PlanOrderForm,
    ThresholdForm,
    UsageFilterForm,
)
from app.blueprints.forms import attach_error, invalid
from app.errors import ValidationError
from app.permissions import require
from app.services.billing import reports as reports
from app.services.billing import credits as credit_service
from app.services.billing import orders as order_service
from app.services.billing import subscriptions
from app.services.billing.payments import PROVIDERS, customer_providers
from app.params import page_arg
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


def _plan_page(plan_id: int, form: PlanOrderForm | None = None, status: int = 200):
    plan = subscriptions.available_plan(plan_id)
    providers = customer_providers()
    if form is None:
        form = PlanOrderForm(providers=providers, plan_id=plan.id)
        form.provider.data = _default_provider(providers)
    form.request_token.data = secrets.token_urlsafe(24)
    return render_template("billing/plan.html", form=form, plan=plan, providers=providers,
                           subscription=subscriptions.current_subscription(),
                           months=subscriptions.months_per_payment(plan)), status


@bp.route("/plan/<int:plan_id>")
def plan_checkout(plan_id: int):
    """What a priced plan costs and how to pay for it; a free plan is chosen on the overview."""
    plan = subscriptions.available_plan(plan_id)
    if not subscriptions.needs_payment(plan):
        return redirect(url_for("billing.index"))
    return _plan_page(plan.id)


@bp.route("/plan", methods=["POST"])
def plan():
    """The owner switches to a free plan (from the next period) or orders a priced one (it starts when paid)."""
    require("billing")
    form = PlanForm()
    if not form.validate_on_submit():
        flash(next(iter(form.plan_id.errors), "Choose a plan from the list."), "error")
        return redirect(url_for("billing.index"))
    chosen = subscriptions.available_plan(form.plan_id.data)
    payment = {}
    if subscriptions.needs_payment(chosen):
        form = PlanOrderForm(providers=customer_providers())
        if not form.validate_on_submit():
            return _plan_page(chosen.id, form, 422)
        payment = {"provider": form.provider.data, "details": {"card_number": form.card_number.data or ""},
                   "request_token": form.request_token.data}
    try:
        choice = order_service.choose_plan(plan_id=chosen.id, actor_id=current_user.id, **payment)
    except ValidationError as exc:
        if not isinstance(form, PlanOrderForm):
            raise
        attach_error(form, exc)
        return _plan_page(chosen.id, form, 422)
    order = choice.order
    if order is None:
        if not choice.changed:
            flash(f"You are already on the {chosen.name} plan.", "info")
        else:
            flash(f"You are now on the {chosen.name} plan. Its {chosen.monthly_credits:,} monthly credits apply "
                  f"from the next monthly period ({choice.subscription.current_period_end:%d %b %Y}); "
                  "credits you already have stay.", "success")
        return redirect(url_for("billing.index"))
    if order.status == "paid":
        flash(f"Payment received: you are on the {chosen.name} plan and its first {chosen.monthly_credits:,} "
              "credits have been added.", "success")
        return redirect(url_for("billing.index"))
    if order.status == "pending":
        flash((order.details or {}).get("message") or "Your order is waiting for payment.", "info")
    else:
        flash(order.failure_reason or "The payment did not go through. Your plan has not changed.", "error")
    return redirect(url_for("billing.orders"))


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


def _default_provider(providers) -> str | None:
    names = [p.name for p in providers]
    return "fake_card" if "fake_card" in names else (names[0] if names else None)


def _buy_page(form: BuyForm | None = None, status: int = 200):
    providers = customer_providers()
    if form is None:
        form = BuyForm(providers=providers)
        form.provider.data = _default_provider(providers)
    form.request_token.data = secrets.token_urlsafe(24)
    return render_template("billing/buy.html", form=form, packages=order_service.active_packages(),
                           providers=providers, balance=g.account.credits), status


@bp.route("/buy", methods=["GET", "POST"])
def buy():
    """Packages and payment; only owners see the form and may buy."""
    if request.method == "GET":
        return _buy_page()
    require("billing")
    form = BuyForm(providers=customer_providers())
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
