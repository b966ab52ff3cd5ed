"""What the customer billing pages show: overview, ledger, usage reports, threshold and plan."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date, cast, func, select

from app.billing_ops import OPERATIONS
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, CreditTransaction, CreditUsageLog, OperationPrice, Order, Site
from app.services import audit
from app.services.billing import credits, subscriptions
from app.services.paging import Page
from app.timeutil import utcnow

PER_PAGE = 50
MAX_THRESHOLD = 1_000_000
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 366


def _paginate(stmt, count_stmt, page: int, per_page: int = PER_PAGE) -> Page:
    total = db.session.scalar(count_stmt) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all())
    return Page(items=items, page=page, pages=pages, total=total)


# --- Overview ---------------------------------------------------------------------------------

def price_rows() -> list[dict]:
    """The configured prices of local operations, for the "What things cost" table."""
    rows = db.session.scalars(select(OperationPrice).order_by(OperationPrice.operation))
    return [{"operation": p.operation, "label": OPERATIONS.get(p.operation, p.operation), "unit": p.unit,
             "credits_per_unit": p.credits_per_unit.normalize() if p.credits_per_unit is not None else 0,
             "min_credits": p.min_credits, "description": p.description} for p in rows]


def overview(*, account_id: int) -> dict:
    """Balance, plan, plans on offer and prices of the bound account."""
    prices = price_rows()
    priced = {row["operation"] for row in prices}
    subscription = subscriptions.current_subscription()
    return {
        "balance": credits.balance(account_id),
        "subscription": subscription,
        "plan": subscription.plan if subscription else None,
        "plans": subscriptions.active_plans(),
        "pending_plan_orders": list(db.session.scalars(
            select(Order).where(Order.plan_id.is_not(None), Order.status == "pending").order_by(Order.id))),
        "prices": prices,
        "ai_operations": [label for op, label in OPERATIONS.items() if op not in priced],
    }


def set_low_balance_threshold(*, threshold: int, actor_id: int | None = None) -> Account:
    """Change when the owners are warned about a low balance (0 turns the warning off)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ValidationError("Enter the threshold as a whole number of credits, like 100.", field="threshold")
    if threshold < 0 or threshold > MAX_THRESHOLD:
        raise ValidationError(f"The threshold must be between 0 and {MAX_THRESHOLD:,} credits.",
                              field="threshold")
    account = db.session.scalars(select(Account)).first()
    if account is None:
        raise ValidationError("No account is bound.")
    before = account.low_balance_threshold
    account.low_balance_threshold = threshold
    if account.credits >= threshold:
        # Above the new line: the next drop below it warns again.
        account.low_balance_notified = False
    audit.record("billing.threshold_changed", actor_id=actor_id, account_id=account.id,
                 before=before, after=threshold)
    db.session.commit()
    return account


# --- Ledger -----------------------------------------------------------------------------------

def transactions_page(page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The bound account's ledger, newest first."""
    stmt = select(CreditTransaction).order_by(CreditTransaction.id.desc())
    count = select(func.count(CreditTransaction.id))
    result = _paginate(stmt, count, page, per_page)
    result.items = [row[0] for row in result.items]
    return result


# --- Usage ------------------------------------------------------------------------------------

@dataclass
class UsageFilters:
    """Which usage to report: a date range (inclusive, UTC days) and optional narrowing."""

    date_from: date
    date_to: date
    operation: str | None = None
    site_id: int | None = None
    model: str | None = None

    @property
    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=i) for i in range((self.date_to - self.date_from).days + 1)]


def usage_filters(*, date_from: date | None = None, date_to: date | None = None, operation: str | None = None,
                  site_id: int | None = None, model: str | None = None, today: date | None = None) -> UsageFilters:
    """Complete and check filters; the default range is the last 30 days. Raises ValidationError."""
    today = today or utcnow().date()
    date_to = date_to or (max(today, date_from) if date_from else today)
    date_from = date_from or date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if date_from > date_to:
        raise ValidationError("The start date is after the end date. Choose a start date on or before "
                              "the end date.", field="date_from")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError(f"Choose a range of at most {MAX_RANGE_DAYS} days.", field="date_from")
    if operation and operation not in OPERATIONS:
        raise ValidationError("Choose an operation from the list.", field="operation")
    return UsageFilters(date_from=date_from, date_to=date_to, operation=operation or None,
                        site_id=site_id or None, model=(model or "").strip()[:120] or None)


def _bounds(filters: UsageFilters) -> tuple[datetime, datetime]:
    start = datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc)
    return start, datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=timezone.utc)


def _where(stmt, filters: UsageFilters):
    start, end = _bounds(filters)
    stmt = stmt.where(CreditUsageLog.created_at >= start, CreditUsageLog.created_at < end)
    if filters.operation:
        stmt = stmt.where(CreditUsageLog.operation == filters.operation)
    if filters.site_id:
        stmt = stmt.where(CreditUsageLog.site_id == filters.site_id)
    if filters.model:
        stmt = stmt.where(CreditUsageLog.model == filters.model)
    return stmt


def usage_rows(filters: UsageFilters, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Usage log entries matching the filters, newest first, with the site's name when visible."""
    stmt = _where(select(CreditUsageLog, Site.name.label("site_name"))
                  .outerjoin(Site, Site.id == CreditUsageLog.site_id), filters)
    stmt = stmt.order_by(CreditUsageLog.created_at.desc(), CreditUsageLog.id.desc())
    count = _where(select(func.count(CreditUsageLog.id)), filters)
    return _paginate(stmt, count, page, per_page)


def _day_column():
    """The UTC calendar day of a usage entry."""
    return cast(func.timezone("UTC", CreditUsageLog.created_at), Date)


def usage_by_day(filters: UsageFilters) -> list[tuple[date, str, int]]:
    """Credits used per UTC day and operation in the range: [(day, operation, credits)], by day."""
    day = _day_column().label("day")
    stmt = _where(select(day, CreditUsageLog.operation, func.sum(CreditUsageLog.credits)), filters)
    stmt = stmt.group_by(day, CreditUsageLog.operation).order_by(day, CreditUsageLog.operation)
    return [(d, op, int(total or 0)) for d, op, total in db.session.execute(stmt).all()]


def usage_models() -> list[str]:
    """AI models that appear in the bound account's usage, for the filter."""
    stmt = (select(CreditUsageLog.model).where(CreditUsageLog.model.is_not(None))
            .group_by(CreditUsageLog.model).order_by(CreditUsageLog.model))
    return [m for m in db.session.scalars(stmt) if m]
