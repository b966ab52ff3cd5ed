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


def replenish_subscription(*, subscription_id: int, now: datetime | None = None) -> int:
    """Grant every monthly credit period due up to now, once each; returns credits granted."""
    now = now or utcnow()
    subscription = db.session.scalars(
        select(Subscription).where(Subscription.id == subscription_id)
        .execution_options(all_accounts=True).with_for_update()).one()
    if subscription.status != "active":
        db.session.rollback()
        return 0
    started = subscription.started_at or subscription.current_period_start
    due = period_index(started, now)
    plan = db.session.get(Plan, subscription.plan_id)
    granted = 0
    with tenancy.account_scope(subscription.account_id):
        for index in range(subscription.credits_granted_through + 1, due + 1):
            period_start = add_months(started, index)
            if plan.monthly_credits > 0:
                credits.grant(
                    account_id=subscription.account_id, amount=plan.monthly_credits, type_="subscription",
                    key=f"subscription:{subscription.account_id}:{period_start:%Y-%m-%d}",
                    description=f"{plan.name} plan credits for {period_start:%d %b %Y}",
                    related=("subscription", subscription.id), commit=False)
                granted += plan.monthly_credits
        if due > subscription.credits_granted_through:
            subscription.credits_granted_through = due
            subscription.current_period_start = add_months(started, due)
            subscription.current_period_end = add_months(started, due + 1)
        db.session.commit()
    return granted


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


def change_plan(*, plan_id: int, actor_id: int) -> Subscription:
    """Switch plan; the new plan's credits apply from the next monthly period."""
    plan = db.session.get(Plan, plan_id)
    if plan is None or not plan.is_active:
        raise NotFound("That plan is not available.")
    subscription = current_subscription()
    if subscription is None:
        raise ValidationError("This account has no subscription.")
    previous = subscription.plan_id
    subscription.plan_id = plan.id
    audit.record("billing.plan_changed", actor_id=actor_id, account_id=subscription.account_id,
                 before=previous, after=plan.id)
    db.session.commit()
    return subscription
