"""Operator billing use-cases: plans, credit packages, orders and credit adjustments.

Every function runs under ``tenancy.all_accounts()`` (operators see every account) and owns
its transaction: it commits on success and rolls back whatever it started on a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, DomainError, InsufficientCredits, NotFound, ValidationError
from app.extensions import db
from app.models import Account, CreditPackage, CreditTransaction, Order, Plan, User
from app.services import audit
from app.services.billing import credits, orders

MAX_CREDITS = 10_000_000
MAX_PRICE = Decimal("99999999.99")  # Numeric(10, 2)
BILLING_CYCLES = ("monthly", "yearly")
ORDER_FILTERS = ("pending", "paid", "cancelled", "failed", "all")
PER_PAGE = 50


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _page_number(page: int | None) -> int:
    return page if isinstance(page, int) and page > 0 else 1


def _text(value: str | None, *, field: str, label: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"Enter the {label}.", field=field)
    if len(value) > limit:
        raise ValidationError(f"The {label} can be at most {limit} characters.", field=field)
    return value


def _whole(value, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("Enter a whole number.", field=field)
    if not low <= value <= high:
        raise ValidationError(f"Enter a whole number from {low:,} to {high:,}.", field=field)
    return value


def _price(value) -> Decimal:
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError("Enter a price such as 49 or 49.90.", field="price") from None
    if not price.is_finite() or price < 0:
        raise ValidationError("The price cannot be negative.", field="price")
    if price > MAX_PRICE:
        raise ValidationError(f"The price can be at most {MAX_PRICE:,}.", field="price")
    if price != price.quantize(Decimal("0.01")):
        raise ValidationError("Use at most 2 decimals for the price.", field="price")
    return price.quantize(Decimal("0.01"))


def _unique_name(model, name: str, own_id: int | None, what: str) -> None:
    stmt = select(model.id).where(func.lower(model.name) == name.lower())
    if own_id is not None:
        stmt = stmt.where(model.id != own_id)
    if db.session.scalars(stmt).first() is not None:
        raise ValidationError(f"A {what} named {name!r} already exists.", field="name")


def _get(model, object_id: int, message: str):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(message)
    return obj


# Plans -------------------------------------------------------------------------------------

def list_plans() -> list[Plan]:
    """Every plan, the default first, then by price."""
    with tenancy.all_accounts():
        return list(db.session.scalars(select(Plan).order_by(Plan.is_default.desc(), Plan.price, Plan.name)))


def get_plan(plan_id: int) -> Plan:
    with tenancy.all_accounts():
        return _get(Plan, plan_id, "No plan with that id.")


def save_plan(*, plan_id: int | None, name: str, monthly_credits: int, price, billing_cycle: str,
              support_level: str, features: str, is_active: bool, is_default: bool, actor_id: int) -> Plan:
    """Create (plan_id None) or edit a plan; exactly one plan is the default and it stays active."""
    values = dict(
        name=_text(name, field="name", label="plan name", limit=80),
        monthly_credits=_whole(monthly_credits, field="monthly_credits", low=0, high=MAX_CREDITS),
        price=_price(price),
        billing_cycle=billing_cycle,
        support_level=_text(support_level, field="support_level", label="support level", limit=40),
        features=_text(features, field="features", label="features", limit=5000, required=False),
        is_active=bool(is_active), is_default=bool(is_default))
    if billing_cycle not in BILLING_CYCLES:
        raise ValidationError("Choose monthly or yearly billing.", field="billing_cycle")
    if values["is_default"] and not values["is_active"]:
        raise ValidationError("The default plan must stay active; new accounts start on it.", field="is_active")
    with tenancy.all_accounts():
        try:
            # Lock the plans so two operators cannot each make a different plan the default.
            db.session.execute(select(Plan.id).with_for_update())
            plan = _get(Plan, plan_id, "No plan with that id.") if plan_id is not None else Plan()
            _unique_name(Plan, values["name"], plan_id, "plan")
            if plan.is_default and not values["is_default"]:
                raise ValidationError("There must be one default plan: make another plan the default instead.",
                                      field="is_default")
            if values["is_default"]:
                # Clear the old default first: the database allows only one default plan.
                others = update(Plan).where(Plan.is_default.is_(True))
                if plan_id is not None:
                    others = others.where(Plan.id != plan_id)
                db.session.execute(others.values(is_default=False))
            for key, value in values.items():
                setattr(plan, key, value)
            db.session.add(plan)
            db.session.flush()
            audit.record("operator.plan_saved", actor_id=actor_id, account_id=None, plan_id=plan.id,
                         created=plan_id is None, name=plan.name, is_default=plan.is_default,
                         is_active=plan.is_active)
            db.session.commit()
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError:
            db.session.rollback()
            raise ValidationError(f"A plan named {values['name']!r} already exists.", field="name") from None
    return plan


# Credit packages ---------------------------------------------------------------------------

def list_packages() -> list[CreditPackage]:
    """Every credit package, smallest first."""
    with tenancy.all_accounts():
        return list(db.session.scalars(select(CreditPackage).order_by(CreditPackage.credits, CreditPackage.name)))


def get_package(package_id: int) -> CreditPackage:
    with tenancy.all_accounts():
        return _get(CreditPackage, package_id, "No credit package with that id.")


def save_package(*, package_id: int | None, name: str, credits_: int, price, is_active: bool,
                 actor_id: int) -> CreditPackage:
    """Create (package_id None) or edit a credit package."""
    values = dict(name=_text(name, field="name", label="package name", limit=80),
                  credits=_whole(credits_, field="credits", low=1, high=MAX_CREDITS),
                  price=_price(price), is_active=bool(is_active))
    with tenancy.all_accounts():
        try:
            package = (_get(CreditPackage, package_id, "No credit package with that id.")
                       if package_id is not None else CreditPackage())
            _unique_name(CreditPackage, values["name"], package_id, "package")
            for key, value in values.items():
                setattr(package, key, value)
            db.session.add(package)
            db.session.flush()
            audit.record("operator.package_saved", actor_id=actor_id, account_id=None, package_id=package.id,
                         created=package_id is None, name=package.name, credits=package.credits,
                         price=str(package.price), is_active=package.is_active)
            db.session.commit()
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError:
            db.session.rollback()
            raise ValidationError(f"A package named {values['name']!r} already exists.", field="name") from None
    return package


# Orders ------------------------------------------------------------------------------------

def list_orders(*, status: str = "pending", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Orders with their account names: pending ones oldest first, others newest first."""
    status = status if status in ORDER_FILTERS else "pending"
    page = _page_number(page)
    with tenancy.all_accounts():
        stmt = select(Order, Account.name).join(Account, Account.id == Order.account_id)
        count = select(func.count(Order.id))
        if status != "all":
            stmt, count = stmt.where(Order.status == status), count.where(Order.status == status)
        order_by = Order.id if status == "pending" else Order.id.desc()
        rows = db.session.execute(stmt.order_by(order_by).limit(per_page).offset((page - 1) * per_page)).all()
        return Page(items=[(o, name) for o, name in rows], page=page, per_page=per_page,
                    total=db.session.scalar(count))


def _order_action(action, order_id: int, actor_id: int) -> tuple[Order, str]:
    with tenancy.all_accounts():
        try:
            order = action(order_id=order_id, actor_id=actor_id)
        except DomainError:
            db.session.rollback()
            raise
        name = db.session.scalar(select(Account.name).where(Account.id == order.account_id))
    return order, name


def mark_order_paid(*, order_id: int, actor_id: int) -> tuple[Order, str]:
    """Mark a pending order paid (its credits are granted once); Conflict if it is not pending."""
    return _order_action(orders.mark_paid, order_id, actor_id)


def cancel_order(*, order_id: int, actor_id: int) -> tuple[Order, str]:
    """Cancel a pending order; Conflict if it is not pending."""
    return _order_action(orders.cancel_order, order_id, actor_id)


# Account credits ---------------------------------------------------------------------------

def account_ledger(account_id: int, *, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """An account, its balance and ledger sum (read in one statement) and a page of its ledger."""
    page = _page_number(page)
    with tenancy.all_accounts():
        account = _get(Account, account_id, "No account with that id.")
        ledger_sum = (select(func.coalesce(func.sum(CreditTransaction.amount), 0))
                      .where(CreditTransaction.account_id == account_id).scalar_subquery())
        total = (select(func.count(CreditTransaction.id))
                 .where(CreditTransaction.account_id == account_id).scalar_subquery())
        balance, summed, count = db.session.execute(
            select(Account.credits, ledger_sum, total).where(Account.id == account_id)).one()
        rows = db.session.execute(
            select(CreditTransaction, User.email).outerjoin(User, User.id == CreditTransaction.actor_user_id)
            .where(CreditTransaction.account_id == account_id).order_by(CreditTransaction.id.desc())
            .limit(per_page).offset((page - 1) * per_page)).all()
    # "customer", not "account": base.html reads `account` as the tenant bound to the request.
    return {"customer": account, "balance": balance, "ledger_sum": summed,
            "transactions": Page(items=[(t, email) for t, email in rows], page=page, per_page=per_page,
                                 total=count)}


@dataclass
class Adjustment:
    amount: int
    balance_after: int
    created: bool  # False when this form token had already made the adjustment


def adjust_account_credits(*, account_id: int, amount: int, reason: str, token: str,
                           actor_id: int) -> Adjustment:
    """An operator's signed adjustment with a mandatory reason, made once per form token."""
    token = (token or "").strip()
    if not token or len(token) > 100:
        raise ValidationError("This form has expired. Reload the page and enter the adjustment again.")
    key = f"adjust:{token}"
    with tenancy.all_accounts():
        try:
            # The account row lock orders this after any adjustment with the same key in flight.
            account = db.session.scalars(
                select(Account).where(Account.id == account_id).with_for_update()
                .execution_options(populate_existing=True)).first()
            if account is None:
                raise NotFound("No account with that id.")
            name = account.name
            existing = db.session.scalars(
                select(CreditTransaction).where(CreditTransaction.idempotency_key == key)).first()
            # A repeated key returns the first entry; reuse for other details raises Conflict.
            entry = credits.adjust(account_id=account_id, amount=amount, reason=reason,
                                   actor_user_id=actor_id, key=key, commit=False)
            if existing is None:
                audit.record("operator.credit_adjustment", actor_id=actor_id, account_id=account_id,
                             amount=amount, reason=entry.description, transaction_id=entry.id,
                             balance_after=entry.balance_after)
            result = Adjustment(entry.amount, entry.balance_after, created=existing is None)
            db.session.commit()
        except Conflict:
            db.session.rollback()
            raise Conflict("This form was already used for another adjustment; nothing was changed. "
                           "Reload the page and try again.") from None
        except InsufficientCredits as exc:
            db.session.rollback()
            raise ValidationError(f"{name} has only {exc.available:,} credits, so {exc.needed:,} cannot be "
                                  "taken away. Nothing was changed.", field="amount") from None
        except DomainError:
            db.session.rollback()
            raise
    return result
