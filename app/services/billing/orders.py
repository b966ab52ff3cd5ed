"""Orders for credit packages and plans: payment, then credits or the plan granted exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import CreditPackage, Order, Plan, Subscription
from app.services import audit
from app.services.billing import credits, invoices, subscriptions
from app.services.billing.payments import provider_for
from app.timeutil import utcnow

ORDERS = Order.__table__


def active_packages() -> list[CreditPackage]:
    """Packages on sale, smallest first."""
    return list(db.session.scalars(select(CreditPackage).where(CreditPackage.is_active.is_(True))
                                   .order_by(CreditPackage.credits)))


def _existing(request_token: str | None) -> Order | None:
    if not request_token:
        return None
    return db.session.scalars(select(Order).where(Order.request_token == request_token)).first()


def _scoped(request_token: str | None) -> str | None:
    # Tokens are unique across accounts; scoping them keeps one account's token from meeting another's.
    return f"{tenancy.current_account_id()}:{request_token}" if request_token else None


def _place(order: Order, payment, details: dict, actor_id: int) -> Order:
    """Save the order, start its payment and settle what the provider answered at once."""
    try:
        with db.session.begin_nested():
            db.session.add(order)
    except IntegrityError:
        db.session.rollback()
        return db.session.scalars(select(Order).where(Order.request_token == order.request_token)).one()
    db.session.commit()
    result = payment.start(order, details)
    order.provider_ref = result.reference
    order.details = {**(order.details or {}), "message": result.message}
    if result.status == "pending" and payment.sends_invoice:
        invoices.send_invoice(order)
    db.session.commit()
    if result.status == "paid":
        mark_paid(order_id=order.id, actor_id=actor_id)
    elif result.status == "failed":
        _close(order.id, "failed", reason=result.message)
    db.session.refresh(order)
    return order


def buy_package(*, package_id: int, provider: str, details: dict, actor_id: int, request_token: str) -> Order:
    """Create an order for a package and start its payment; a repeated token returns the first order."""
    request_token = _scoped(request_token)
    existing = _existing(request_token)
    if existing is not None:
        return existing
    package = db.session.get(CreditPackage, package_id)
    if package is None or not package.is_active:
        raise NotFound("That credit package is not on sale.")
    payment = provider_for(provider)
    if not payment.available_to_customers:
        raise ValidationError("Choose a payment method from the list.", field="provider")
    payment.validate(details)  # bad payment details are refused before any order exists
    order = Order(package_id=package.id, description=f"{package.name}: {package.credits:,} credits",
                  credits=package.credits, amount=package.price, provider=payment.name,
                  created_by_id=actor_id, request_token=request_token, status="pending")
    return _place(order, payment, details, actor_id)


@dataclass
class PlanChoice:
    """What choosing a plan did: switched at once (a plan without a price) or placed an order."""

    plan: Plan
    changed: bool
    subscription: Subscription | None = None
    order: Order | None = None


def choose_plan(*, plan_id: int, actor_id: int, provider: str | None = None, details: dict | None = None,
                request_token: str | None = None) -> PlanChoice:
    """Switch to a free plan from the next period, or order a priced one: it starts when paid."""
    plan = subscriptions.available_plan(plan_id)
    current = subscriptions.current_subscription()
    if not subscriptions.needs_payment(plan):
        if current is not None and current.plan_id == plan.id:
            return PlanChoice(plan=plan, changed=False, subscription=current)
        return PlanChoice(plan=plan, changed=True,
                          subscription=subscriptions.change_plan(plan_id=plan.id, actor_id=actor_id))
    request_token = _scoped(request_token)
    existing = _existing(request_token)
    if existing is not None:
        return PlanChoice(plan=plan, changed=False, subscription=current, order=existing)
    if not provider:
        raise ValidationError(f"Choose how to pay for the {plan.name} plan.", field="provider")
    payment = provider_for(provider)
    if not payment.available_to_customers:
        raise ValidationError("Choose a payment method from the list.", field="provider")
    details = details or {}
    payment.validate(details)
    renewal = current is not None and current.plan_id == plan.id and current.paid_through is not None
    term = "1 year" if subscriptions.months_per_payment(plan) == 12 else "1 month"
    order = Order(plan_id=plan.id, credits=plan.monthly_credits, amount=plan.price, provider=payment.name,
                  description=(f"{plan.name} plan{' renewal' if renewal else ''}, {term}: "
                               f"{plan.monthly_credits:,} credits a month"),
                  created_by_id=actor_id, request_token=request_token, status="pending")
    order = _place(order, payment, details, actor_id)
    return PlanChoice(plan=plan, changed=order.status == "paid",
                      subscription=subscriptions.current_subscription(), order=order)


def _close(order_id: int, status: str, *, reason: str | None = None) -> bool:
    changed = db.session.execute(
        update(ORDERS).where(ORDERS.c.id == order_id, ORDERS.c.status == "pending")
        .values(status=status, failure_reason=reason)).rowcount
    db.session.commit()
    return changed == 1


def mark_paid(*, order_id: int, actor_id: int | None) -> Order:
    """Mark a pending order paid, grant its credits (or start its plan) exactly once and send a receipt."""
    order = db.session.scalars(select(Order).where(Order.id == order_id)).first()
    if order is None:
        raise NotFound("No such order.")
    changed = db.session.execute(
        update(ORDERS).where(ORDERS.c.id == order.id, ORDERS.c.status == "pending")
        .values(status="paid", paid_at=utcnow())).rowcount
    if changed != 1:
        db.session.rollback()
        db.session.refresh(order)
        raise Conflict(f"Order #{order.id} is already {order.status}; nothing was changed.")
    try:
        with tenancy.account_scope(order.account_id):
            if order.plan_id is not None:
                subscriptions.activate_paid_plan(account_id=order.account_id, plan_id=order.plan_id,
                                                 order_id=order.id)
            else:
                credits.grant(account_id=order.account_id, amount=order.credits, type_="topup",
                              key=f"order:{order.id}", description=order.description,
                              related=("order", order.id), actor_user_id=actor_id, commit=False)
            db.session.refresh(order)
            invoices.send_receipt(order)
    except Exception:
        db.session.rollback()  # the order stays pending: paid and credited, or neither
        raise
    with tenancy.all_accounts():
        audit.record("billing.order_paid", actor_id=actor_id, account_id=order.account_id, order_id=order.id)
    db.session.commit()
    db.session.refresh(order)
    return order


def cancel_order(*, order_id: int, actor_id: int | None) -> Order:
    """Cancel a pending order."""
    order = db.session.scalars(select(Order).where(Order.id == order_id)).first()
    if order is None:
        raise NotFound("No such order.")
    if not _close(order.id, "cancelled"):
        db.session.refresh(order)
        raise Conflict(f"Order #{order.id} is already {order.status}; nothing was changed.")
    with tenancy.all_accounts():
        audit.record("billing.order_cancelled", actor_id=actor_id, account_id=order.account_id, order_id=order.id)
        db.session.commit()
    db.session.refresh(order)
    return order


def account_orders(*, limit: int = 100) -> list[Order]:
    """The bound account's orders, newest first."""
    return list(db.session.scalars(select(Order).order_by(Order.id.desc()).limit(limit)))


def pending_orders() -> list[Order]:
    """Orders waiting for an operator, across accounts."""
    with tenancy.all_accounts():
        return list(db.session.scalars(select(Order).where(Order.status == "pending").order_by(Order.id)))
