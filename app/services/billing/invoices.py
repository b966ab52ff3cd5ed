"""The invoice e-mailed for an order paid by bank transfer, and the receipt once an order is paid."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import Account, Order, Plan, Subscription, User
from app.services.mail import absolute_url, send_mail


def _money(order: Order) -> str:
    return f"{order.currency or 'USD'} {order.amount:,.2f}"


def _recipients(order: Order) -> tuple[str, list[str]]:
    """The account's name and who gets its billing mail: the buyer, else the active owners."""
    with tenancy.all_accounts():
        account_name = db.session.scalar(select(Account.name).where(Account.id == order.account_id)) or ""
        buyer = db.session.get(User, order.created_by_id) if order.created_by_id else None
        if buyer is not None and buyer.active:
            return account_name, [buyer.email]
        owners = db.session.scalars(select(User.email).where(
            User.account_id == order.account_id, User.role == "owner", User.active.is_(True)))
        return account_name, list(owners)


def payment_instructions() -> str:
    """How to pay an invoice, from the INVOICE_BANK_DETAILS setting."""
    details = (current_app.config.get("INVOICE_BANK_DETAILS") or "").strip()
    if not details:
        return "Reply to this e-mail and we will send you our bank details."
    return f"Pay by bank transfer to:\n  {details}"


def send_invoice(order: Order) -> None:
    """E-mail the invoice of a pending order: what is bought, the amount due and how to pay it."""
    account_name, recipients = _recipients(order)
    reference = order.provider_ref or f"order #{order.id}"
    outcome = ("The plan starts, with its first month's credits," if order.plan_id
               else f"The {order.credits:,} credits are added to your balance")
    body = (f"Invoice {reference}\n"
            f"Billed to: {account_name}\n\n"
            f"{order.description}\n"
            f"Amount due: {_money(order)}\n\n"
            f"{payment_instructions()}\n"
            f"Quote the reference {reference} with your payment so we can match it.\n\n"
            f"{outcome} as soon as the payment is confirmed.\n"
            f"Your orders: {absolute_url('/billing/orders')}\n")
    for to in recipients:
        send_mail(to=to, subject=f"IGNY8 invoice {reference}: {_money(order)} due", body=body)


def send_receipt(order: Order) -> None:
    """E-mail a receipt for a paid order (the caller commits, together with the payment)."""
    account_name, recipients = _recipients(order)
    reference = order.provider_ref or f"order #{order.id}"
    if order.plan_id:
        with tenancy.all_accounts():
            plan = db.session.get(Plan, order.plan_id)
            subscription = db.session.scalars(
                select(Subscription).where(Subscription.account_id == order.account_id)).first()
        until = (f" It is paid through {subscription.paid_through:%d %b %Y}."
                 if subscription is not None and subscription.paid_through else "")
        outcome = f"Your {plan.name if plan else ''} plan is active.{until}"
    else:
        outcome = f"{order.credits:,} credits have been added to your balance."
    paid_on = f" on {order.paid_at:%d %b %Y}" if order.paid_at else ""
    body = (f"Receipt for {reference}\n"
            f"Billed to: {account_name}\n\n"
            f"{order.description}\n"
            f"Paid: {_money(order)}{paid_on}\n\n"
            f"{outcome}\n"
            f"Your orders: {absolute_url('/billing/orders')}\n")
    for to in recipients:
        send_mail(to=to, subject=f"IGNY8 receipt for {reference}", body=body)
