"""Plans, subscriptions and the monthly credit replenishment."""

from __future__ import annotations

import calendar
from datetime import datetime

from sqlalchemy import select

from app import tenancy
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import Plan, Subscription
from app.services import audit
from app.services.billing import credits
from app.timeutil import utcnow


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_index(started_at: datetime, now: datetime) -> int:
    """Which monthly credit period `now` falls in (0 = the first month)."""
    if now < started_at:
        return -1
    months = (now.year - started_at.year) * 12 + now.month - started_at.month
    if add_months(started_at, months) > now:
        months -= 1
    return months


def needs_payment(plan: Plan) -> bool:
    """A plan with a price gives its credits only for periods an order has paid for."""
    return plan.price > 0


def months_per_payment(plan: Plan) -> int:
    """How many monthly periods one payment of the plan's price covers."""
    return 12 if plan.billing_cycle == "yearly" else 1


def default_plan() -> Plan:
    """The plan new accounts start on; a free plan is created if the catalogue has none."""
    plan = db.session.scalars(
        select(Plan).where(Plan.is_default.is_(True), Plan.is_active.is_(True))
    ).first()
    if plan is None:
        plan = Plan(name="Free", monthly_credits=100, price=0, billing_cycle="monthly",
                    support_level="community", features="Everything in IGNY8, paid for with credits.",
                    is_default=True, is_active=True)
        db.session.add(plan)
        db.session.flush()
    return plan


def _lapse(subscription: Subscription) -> Plan:
    """A paid term ran out without a renewal: back to the default plan from this period on."""
    fallback = default_plan()
    audit.record("billing.plan_lapsed", actor_id=None, account_id=subscription.account_id,
                 before=subscription.plan_id, after=fallback.id)
    subscription.plan_id = fallback.id
    subscription.paid_through = None
    return fallback


def _grant_due(subscription: Subscription, now: datetime) -> int:
    """Grant the periods due up to now (the caller holds the row lock and commits)."""
    started = subscription.started_at or subscription.current_period_start
    due = period_index(started, now)
    plan = db.session.get(Plan, subscription.plan_id)
    granted = 0
    with tenancy.account_scope(subscription.account_id):
        for index in range(subscription.credits_granted_through + 1, due + 1):
            period_start = add_months(started, index)
            paid_through = subscription.paid_through
            if needs_payment(plan) and (paid_through is None or period_start >= paid_through):
                plan = _lapse(subscription)
            if plan.monthly_credits > 0:
                credits.grant(
                    account_id=subscription.account_id, amount=plan.monthly_credits, type_="subscription",
                    # The exact start keeps a term restarted on the same day (a paid upgrade) apart.
                    key=f"subscription:{subscription.account_id}:{period_start:%Y-%m-%dT%H:%M:%S.%f}",
                    description=f"{plan.name} plan credits for {period_start:%d %b %Y}",
                    related=("subscription", subscription.id), commit=False)
                granted += plan.monthly_credits
        if due > subscription.credits_granted_through:
            subscription.credits_granted_through = due
            subscription.current_period_start = add_months(started, due)
            subscription.current_period_end = add_months(started, due + 1)
        db.session.flush()  # the subscription is written while its account is in scope
    return granted


def _locked(account_id: int) -> Subscription | None:
    return db.session.scalars(
        select(Subscription).where(Subscription.account_id == account_id)
        .execution_options(all_accounts=True).with_for_update()).first()


def replenish_subscription(*, subscription_id: int, now: datetime | None = None) -> int:
    """Grant every monthly credit period due up to now, once each; returns credits granted."""
    now = now or utcnow()
    subscription = db.session.scalars(
        select(Subscription).where(Subscription.id == subscription_id)
        .execution_options(all_accounts=True).with_for_update()).one()
    if subscription.status != "active":
        db.session.rollback()
        return 0
    granted = _grant_due(subscription, now)
    db.session.commit()
    return granted


def activate_paid_plan(*, account_id: int, plan_id: int, order_id: int,
                       now: datetime | None = None) -> Subscription:
    """A plan order was paid: renew the running term of that plan, or start the plan now with its
    first month's credits. The caller (marking the order paid) commits."""
    now = now or utcnow()
    subscription = _locked(account_id)
    plan = db.session.get(Plan, plan_id)
    if subscription is None or plan is None:
        raise NotFound("The subscription or plan of this order no longer exists.")
    months = months_per_payment(plan)
    paid_through = subscription.paid_through
    if subscription.plan_id == plan.id and paid_through is not None and paid_through > now:
        subscription.paid_through = add_months(paid_through, months)
    else:
        _grant_due(subscription, now)  # what the old plan still owes up to today
        subscription.plan_id = plan.id
        subscription.status = "active"
        subscription.started_at = subscription.current_period_start = now
        subscription.current_period_end = add_months(now, 1)
        subscription.credits_granted_through = -1
        subscription.paid_through = add_months(now, months)
        _grant_due(subscription, now)
    db.session.flush()
    with tenancy.all_accounts():
        audit.record("billing.plan_paid", actor_id=None, account_id=account_id, plan_id=plan.id,
                     order_id=order_id)
    return subscription


def replenish_all(now: datetime | None = None) -> int:
    """The scheduled job: every active subscription gets what is due (safe to run again)."""
    with tenancy.all_accounts():
        ids = list(db.session.scalars(select(Subscription.id).where(Subscription.status == "active")))
    return sum(replenish_subscription(subscription_id=sid, now=now) for sid in ids)


def start_subscription(*, account_id: int, plan: Plan, now: datetime | None = None) -> Subscription:
    """Subscribe a new account and grant its first month."""
    now = now or utcnow()
    subscription = Subscription(account_id=account_id, plan_id=plan.id, status="active",
                                started_at=now, current_period_start=now,
                                current_period_end=add_months(now, 1))
    db.session.add(subscription)
    db.session.flush()
    replenish_subscription(subscription_id=subscription.id, now=now)
    return subscription


def active_plans() -> list[Plan]:
    """Plans customers can choose, cheapest first."""
    return list(db.session.scalars(select(Plan).where(Plan.is_active.is_(True)).order_by(Plan.price, Plan.name)))


def current_subscription() -> Subscription | None:
    """The bound account's subscription."""
    return db.session.scalars(select(Subscription)).first()


def available_plan(plan_id: int) -> Plan:
    """An active plan customers may choose."""
    plan = db.session.get(Plan, plan_id)
    if plan is None or not plan.is_active:
        raise NotFound("That plan is not available.")
    return plan


def change_plan(*, plan_id: int, actor_id: int) -> Subscription:
    """Switch to a plan without a price; its credits apply from the next monthly period.
    A priced plan is never switched to here: it starts when its order is paid."""
    plan = available_plan(plan_id)
    if needs_payment(plan):
        raise ValidationError(f"The {plan.name} plan starts when it is paid for: choose how to pay.",
                              field="provider")
    subscription = current_subscription()
    if subscription is None:
        raise ValidationError("This account has no subscription.")
    previous = subscription.plan_id
    subscription.plan_id = plan.id
    subscription.paid_through = None
    audit.record("billing.plan_changed", actor_id=actor_id, account_id=subscription.account_id,
                 before=previous, after=plan.id)
    db.session.commit()
    return subscription
