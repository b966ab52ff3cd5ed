"""Buying credit packages: orders, payment and granting credits exactly once."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import CreditPackage, Order
from app.services import audit
from app.services.billing import credits
from app.services.billing.payments import provider_for
from app.timeutil import utcnow

ORDERS = Order.__table__


def active_packages() -> list[CreditPackage]:
    """Packages on sale, smallest first."""
    return list(db.session.scalars(select(CreditPackage).where(CreditPackage.is_active.is_(True))
                                   .order_by(CreditPackage.credits)))


def buy_package(*, package_id: int, provider: str, details: dict, actor_id: int, request_token: str) -> Order:
    """Create an order for a package and start its payment; a repeated token returns the first order."""
    # Tokens are unique across accounts; scoping them keeps one account's token from meeting another's.
    request_token = f"{tenancy.current_account_id()}:{request_token}" if request_token else None
    if request_token:
        existing = db.session.scalars(select(Order).where(Order.request_token == request_token)).first()
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
    try:
        with db.session.begin_nested():
            db.session.add(order)
    except IntegrityError:
        db.session.rollback()
        return db.session.scalars(select(Order).where(Order.request_token == request_token)).one()
    db.session.commit()
    result = payment.start(order, details)
    order.provider_ref = result.reference
    order.details = {**(order.details or {}), "message": result.message}
    db.session.commit()
    if result.status == "paid":
        mark_paid(order_id=order.id, actor_id=actor_id)
    elif result.status == "failed":
        _close(order.id, "failed", reason=result.message)
    db.session.refresh(order)
    return order


def _close(order_id: int, status: str, *, reason: str | None = None) -> bool:
    changed = db.session.execute(
        update(ORDERS).where(ORDERS.c.id == order_id, ORDERS.c.status == "pending")
        .values(status=status, failure_reason=reason)).rowcount
    db.session.commit()
    return changed == 1


def mark_paid(*, order_id: int, actor_id: int | None) -> Order:
    """Mark a pending order paid and grant its credits exactly once."""
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
            credits.grant(account_id=order.account_id, amount=order.credits, type_="topup",
                          key=f"order:{order.id}", description=order.description,
                          related=("order", order.id), actor_user_id=actor_id, commit=False)
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
