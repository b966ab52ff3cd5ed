"""Operator billing pages: plans, credit packages, orders and an account's credits."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError as FieldError

from app.blueprints.forms import attach_error, invalid
from app.blueprints.operator import bp
from app.errors import Conflict, ValidationError
from app.services.billing import admin as billing_admin
from app.params import page_arg, whole
from app.services.billing.payments import PROVIDERS

MAX = billing_admin.MAX_CREDITS
WHOLE = "Enter a whole number such as 2000."


class WholeNumberField(IntegerField):
    """An integer field with a readable message for text that is not a whole number."""

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            self.data = whole(valuelist[0]) if "." not in valuelist[0] else None
            if self.data is None:
                raise ValueError(WHOLE)


class PriceField(DecimalField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
        if valuelist and valuelist[0].strip() and (self.data is None or not self.data.is_finite()):
            self.data = None
            raise ValueError("Enter a price such as 49 or 49.90.")


def price_rules(form, field) -> None:
    if field.data is None:
        return
    if field.data < 0:
        raise FieldError("The price cannot be negative.")
    if field.data > billing_admin.MAX_PRICE:
        raise FieldError(f"The price can be at most {billing_admin.MAX_PRICE:,}.")
    if field.data != field.data.quantize(Decimal("0.01")):
        raise FieldError("Use at most 2 decimals for the price.")


PRICE_VALIDATORS = [InputRequired(message="Enter a price (0 for free)."), price_rules]


class PlanForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the plan a name."), Length(max=80)])
    monthly_credits = WholeNumberField("Monthly credits", validators=[
        InputRequired(message=WHOLE), NumberRange(min=0, max=MAX, message=f"Enter 0 to {MAX:,} credits.")])
    price = PriceField("Price (USD)", places=2, validators=PRICE_VALIDATORS)
    billing_cycle = SelectField("Billing cycle", choices=[("monthly", "Monthly"), ("yearly", "Yearly")])
    support_level = StringField("Support level", default="community", validators=[
        DataRequired(message="Enter the support level, e.g. community, email or priority."), Length(max=40)])
    features = TextAreaField("Features", validators=[Length(max=5000)])
    is_active = BooleanField("Active (customers can choose it)", default=True)
    is_default = BooleanField("Default plan (new accounts start on it)")


class PackageForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the package a name."), Length(max=80)])
    credits = WholeNumberField("Credits", validators=[
        InputRequired(message=WHOLE), NumberRange(min=1, max=MAX, message=f"Enter 1 to {MAX:,} credits.")])
    price = PriceField("Price (USD)", places=2, validators=PRICE_VALIDATORS)
    is_active = BooleanField("On sale", default=True)


class AdjustForm(FlaskForm):
    amount = StringField("Credits to add or remove", validators=[
        DataRequired(message="Enter a number of credits, such as 200 or -50.")])
    reason = StringField("Reason (the customer sees it)", validators=[
        DataRequired(message="Give a reason for the adjustment; the customer sees it."), Length(max=300)])
    token = HiddenField()

    def validate_amount(self, field) -> None:
        text = (field.data or "").strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise FieldError("Enter a whole number of credits, such as 200 or -50.")
        value = int(text)
        if value == 0:
            raise FieldError("Enter a non-zero number of credits.")
        if abs(value) > MAX:
            raise FieldError(f"At most {MAX:,} credits can be added or removed at once.")
        field.value = value


def _page() -> int:
    return page_arg(request.args)


# Plans -------------------------------------------------------------------------------------

@bp.route("/plans")
def plans():
    """Every plan with its credits, price and flags."""
    return render_template("operator/billing/plans.html", plans=billing_admin.list_plans())


def _save_plan(form: PlanForm, plan_id: int | None, plan=None):
    template = "operator/billing/plan_form.html"
    if not form.validate_on_submit():
        return invalid(template, form=form, plan=plan)
    try:
        saved = billing_admin.save_plan(
            plan_id=plan_id, name=form.name.data, monthly_credits=form.monthly_credits.data,
            price=form.price.data, billing_cycle=form.billing_cycle.data, support_level=form.support_level.data,
            features=form.features.data or "", is_active=form.is_active.data, is_default=form.is_default.data,
            actor_id=current_user.id)
    except ValidationError as exc:
        attach_error(form, exc)
        return invalid(template, form=form, plan=plan)
    flash(f"Plan {saved.name} saved.", "success")
    return redirect(url_for("operator.plans"))


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    """Create a plan."""
    form = PlanForm()
    if request.method == "POST":
        return _save_plan(form, None)
    return render_template("operator/billing/plan_form.html", form=form, plan=None)


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
def plan_edit(plan_id: int):
    """Edit a plan."""
    plan = billing_admin.get_plan(plan_id)
    form = PlanForm(obj=plan)
    if request.method == "POST":
        return _save_plan(form, plan_id, plan)
    return render_template("operator/billing/plan_form.html", form=form, plan=plan)


# Credit packages ---------------------------------------------------------------------------

@bp.route("/packages")
def packages():
    """Every credit package."""
    return render_template("operator/billing/packages.html", packages=billing_admin.list_packages())


def _save_package(form: PackageForm, package_id: int | None, package=None):
    template = "operator/billing/package_form.html"
    if not form.validate_on_submit():
        return invalid(template, form=form, package=package)
    try:
        saved = billing_admin.save_package(package_id=package_id, name=form.name.data, credits_=form.credits.data,
                                           price=form.price.data, is_active=form.is_active.data,
                                           actor_id=current_user.id)
    except ValidationError as exc:
        attach_error(form, exc)
        return invalid(template, form=form, package=package)
    flash(f"Package {saved.name} saved.", "success")
    return redirect(url_for("operator.packages"))


@bp.route("/packages/new", methods=["GET", "POST"])
def package_new():
    """Create a credit package."""
    form = PackageForm()
    if request.method == "POST":
        return _save_package(form, None)
    return render_template("operator/billing/package_form.html", form=form, package=None)


@bp.route("/packages/<int:package_id>/edit", methods=["GET", "POST"])
def package_edit(package_id: int):
    """Edit a credit package."""
    package = billing_admin.get_package(package_id)
    form = PackageForm(obj=package)
    if request.method == "POST":
        return _save_package(form, package_id, package)
    return render_template("operator/billing/package_form.html", form=form, package=package)


# Orders ------------------------------------------------------------------------------------

class OrderActionForm(FlaskForm):
    status = HiddenField()


@bp.route("/orders")
def orders():
    """Pending orders across accounts (or every order), with Mark paid and Cancel."""
    status = request.args.get("status", "pending")
    status = status if status in billing_admin.ORDER_FILTERS else "pending"
    return render_template("operator/billing/orders.html", status=status, filters=billing_admin.ORDER_FILTERS,
                           orders=billing_admin.list_orders(status=status, page=_page()),
                           providers={name: cls.label for name, cls in PROVIDERS.items()})


def _order_action(action, order_id: int, done: str):
    form = OrderActionForm()
    if not form.validate_on_submit():
        flash("Your form expired. Reload the page and try again.", "error")
    else:
        try:
            order, account_name = action(order_id=order_id, actor_id=current_user.id)
        except Conflict as exc:
            flash(exc.message, "warning")
        else:
            flash(done.format(order=order, account=account_name), "success")
    status = form.status.data if form.status.data in billing_admin.ORDER_FILTERS else "pending"
    return redirect(url_for("operator.orders", status=status))


@bp.route("/orders/<int:order_id>/paid", methods=["POST"])
def order_paid(order_id: int):
    """Mark an order paid: its credits are added once."""
    return _order_action(billing_admin.mark_order_paid, order_id,
                         "Order #{order.id} marked paid: {order.credits:,} credits added to {account}.")


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
def order_cancel(order_id: int):
    """Cancel a pending order."""
    return _order_action(billing_admin.cancel_order, order_id, "Order #{order.id} of {account} cancelled.")


# Account credits ---------------------------------------------------------------------------

def _credits_page(account_id: int, form: AdjustForm, status: int = 200):
    ledger = billing_admin.account_ledger(account_id, page=_page())
    return render_template("operator/billing/credits.html", form=form, **ledger), status


@bp.route("/accounts/<int:account_id>/credits", methods=["GET", "POST"])
def account_credits(account_id: int):
    """An account's balance and ledger, and a signed adjustment with a reason."""
    form = AdjustForm()
    if request.method == "GET":
        form.token.data = secrets.token_urlsafe(24)
        return _credits_page(account_id, form)
    if not form.validate_on_submit():
        return _credits_page(account_id, form, 422)
    try:
        result = billing_admin.adjust_account_credits(
            account_id=account_id, amount=form.amount.value, reason=form.reason.data,
            token=form.token.data, actor_id=current_user.id)
    except (ValidationError, Conflict) as exc:
        attach_error(form, exc)
        return _credits_page(account_id, form, exc.status_code)
    if result.created:
        flash(f"Adjusted by {result.amount:+,} credits. New balance: {result.balance_after:,}.", "success")
    else:
        flash("This adjustment was already made; nothing more was changed.", "info")
    return redirect(url_for("operator.account_credits", account_id=account_id))
