"""The only code that changes a credit balance.

Every change is one atomic UPDATE of the account row (guarded so the balance never goes
negative) plus one ledger row carrying the balance after it and a unique idempotency key.
The row lock taken by the UPDATE orders concurrent changes, so `balance_after` follows the
ledger order and the balance always equals the sum of the ledger.
"""

from __future__ import annotations

import math
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app import tenancy
from app.errors import Conflict, InsufficientCredits, NotFound, ValidationError
from app.extensions import db
from app.models import Account, CreditReservation, CreditTransaction, CreditUsageLog, Job
from app.tenancy import CrossTenantWrite
from app.timeutil import utcnow

ACCOUNTS = Account.__table__
MAX_SINGLE_CHANGE = 10_000_000
MAX_BALANCE = 1_000_000_000


def _check_scope(account_id: int) -> None:
    scope = tenancy.current_scope()
    if not scope.all_accounts and scope.account_id != account_id:
        raise CrossTenantWrite("Refusing to change the credits of another account")


def _check_amount(amount: int, *, allow_zero: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError("Credit amounts are whole numbers.", field="amount")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError("Credit amounts must be positive.", field="amount")
    if amount > MAX_SINGLE_CHANGE:
        raise ValidationError(f"At most {MAX_SINGLE_CHANGE:,} credits can move in one change.", field="amount")
    return amount


def _by_key(key: str) -> CreditTransaction | None:
    return db.session.scalars(
        select(CreditTransaction).where(CreditTransaction.idempotency_key == key)
        .execution_options(all_accounts=True)
    ).first()


def balance(account_id: int) -> int:
    """The account's current balance."""
    with db.engine.connect() as conn:
        return conn.execute(select(ACCOUNTS.c.credits).where(ACCOUNTS.c.id == account_id)).scalar_one()


def ledger_sum(account_id: int) -> int:
    """The sum of the account's ledger (always equal to the balance)."""
    with tenancy.all_accounts():
        return db.session.scalar(
            select(func.coalesce(func.sum(CreditTransaction.amount), 0))
            .where(CreditTransaction.account_id == account_id)
        )


def _apply(*, account_id: int, delta: int, type_: str, key: str, description: str = "",
           related: tuple[str, int] | None = None, actor_user_id: int | None = None,
           job_id: int | None = None, what: str = "this") -> CreditTransaction:
    """Change the balance by delta and write the ledger row; the caller's transaction holds it."""
    _check_scope(account_id)
    existing = _by_key(key)
    if existing is not None:
        if existing.account_id != account_id or existing.amount != delta:
            raise Conflict("That change was already made with different details; nothing was changed.")
        return existing
    stmt = update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
    if delta < 0:
        stmt = stmt.where(ACCOUNTS.c.credits >= -delta)
    else:
        stmt = stmt.where(ACCOUNTS.c.credits <= MAX_BALANCE - delta)
    row = db.session.execute(
        stmt.values(credits=ACCOUNTS.c.credits + delta).returning(ACCOUNTS.c.credits)
    ).first()
    if row is None:
        available = balance_in_session(account_id)
        if available is None:
            raise NotFound("No such account.")
        if delta < 0:
            raise InsufficientCredits(needed=-delta, available=available, what=what)
        raise ValidationError("That would take the balance over the maximum.", field="amount")
    entry = CreditTransaction(
        account_id=account_id, type=type_, amount=delta, balance_after=row[0],
        description=description[:300], related_type=related[0] if related else None,
        related_id=related[1] if related else None, idempotency_key=key,
        actor_user_id=actor_user_id, job_id=job_id)
    try:
        with db.session.begin_nested(), tenancy.all_accounts():
            db.session.add(entry)
    except IntegrityError:
        # Another process wrote the same key between our look-up and insert: undo ours.
        db.session.rollback()
        existing = _by_key(key)
        if existing is None:
            raise
        return existing
    _track_low_balance(account_id, row[0])
    return entry


def balance_in_session(account_id: int) -> int | None:
    """The balance as seen by the current transaction."""
    return db.session.execute(select(ACCOUNTS.c.credits).where(ACCOUNTS.c.id == account_id)).scalar()


def _track_low_balance(account_id: int, new_balance: int) -> None:
    threshold = db.session.execute(
        select(ACCOUNTS.c.low_balance_threshold).where(ACCOUNTS.c.id == account_id)).scalar_one()
    if new_balance >= threshold:
        db.session.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == account_id,
                                                  ACCOUNTS.c.low_balance_notified.is_(True))
                           .values(low_balance_notified=False))
        return
    crossed = db.session.execute(
        update(ACCOUNTS).where(ACCOUNTS.c.id == account_id, ACCOUNTS.c.low_balance_notified.is_(False))
        .values(low_balance_notified=True)).rowcount
    if crossed:
        from app.services.billing.notices import low_balance_notice

        low_balance_notice(account_id=account_id, balance=new_balance, threshold=threshold)


def _commit(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def grant(*, account_id: int, amount: int, key: str, description: str, type_: str = "grant",
          related: tuple[str, int] | None = None, actor_user_id: int | None = None,
          commit: bool = True) -> CreditTransaction:
    """Add credits (grant, subscription or top-up), once per key."""
    if type_ not in ("grant", "subscription", "topup"):
        raise ValueError(f"grant() cannot write {type_!r} rows")
    _check_amount(amount)
    entry = _apply(account_id=account_id, delta=amount, type_=type_, key=key, description=description,
                   related=related, actor_user_id=actor_user_id)
    _commit(commit)
    return entry


def adjust(*, account_id: int, amount: int, reason: str, actor_user_id: int | None, key: str,
           commit: bool = True) -> CreditTransaction:
    """An operator's signed correction with a mandatory reason, shown to the customer."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the adjustment; the customer sees it.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValidationError("Enter a non-zero whole number of credits.", field="amount")
    _check_amount(abs(amount))
    entry = _apply(account_id=account_id, delta=amount, type_="adjustment", key=key,
                   description=reason, actor_user_id=actor_user_id, what="this adjustment")
    _commit(commit)
    return entry


def reserve(*, account_id: int, amount: int, operation: str, key: str, job_id: int | None = None,
            site_id: int | None = None, description: str = "", commit: bool = True) -> CreditReservation:
    """Hold the estimate for a piece of work; raises InsufficientCredits and holds nothing if short."""
    _check_amount(amount)
    _check_scope(account_id)
    existing = db.session.scalars(
        select(CreditReservation).where(CreditReservation.idempotency_key == key)
        .execution_options(all_accounts=True)).first()
    if existing is not None:
        return existing
    from app.billing_ops import OPERATIONS

    label = description or OPERATIONS.get(operation, operation)
    reservation = CreditReservation(account_id=account_id, operation=operation, amount=amount,
                                    idempotency_key=key, job_id=job_id, site_id=site_id,
                                    description=label[:300])
    try:
        with db.session.begin_nested(), tenancy.all_accounts():
            db.session.add(reservation)
    except IntegrityError:
        # The same key was reserved concurrently: that reservation stands, this one is dropped.
        return db.session.scalars(select(CreditReservation).where(CreditReservation.idempotency_key == key)
                                  .execution_options(all_accounts=True)).one()
    _apply(account_id=account_id, delta=-amount, type_="reservation", key=f"reserve:{reservation.id}",
           description=f"Reserved for {label}", related=("reservation", reservation.id), job_id=job_id,
           what=label.lower())
    if job_id is not None:
        _add_to_job(job_id, reserved=amount)
    _commit(commit)
    return reservation


def _add_to_job(job_id: int, *, reserved: int = 0, charged: int = 0) -> None:
    jobs = Job.__table__
    db.session.execute(update(jobs).where(jobs.c.id == job_id).values(
        credits_reserved=jobs.c.credits_reserved + reserved,
        credits_charged=jobs.c.credits_charged + charged))


def _reservation(reservation_id: int) -> CreditReservation:
    return db.session.scalars(select(CreditReservation).where(CreditReservation.id == reservation_id)
                              .execution_options(all_accounts=True, populate_existing=True)).one()


def _claim(reservation_id: int, new_status: str, **values) -> CreditReservation | None:
    """Move an open reservation to a closed state; None when it was already closed."""
    table = CreditReservation.__table__
    changed = db.session.execute(
        update(table).where(table.c.id == reservation_id, table.c.status == "open")
        .values(status=new_status, closed_at=utcnow(), **values)).rowcount
    reservation = db.session.scalars(
        select(CreditReservation).where(CreditReservation.id == reservation_id)
        .execution_options(all_accounts=True, populate_existing=True)).first()
    if reservation is None:
        raise NotFound("No such reservation.")
    _check_scope(reservation.account_id)
    return reservation if changed == 1 else None


def settle(*, reservation_id: int, actual: int, model: str | None = None, provider: str | None = None,
           tokens_in: int = 0, tokens_out: int = 0, images: int = 0, cost_usd: Decimal | float = 0,
           related: tuple[str, int] | None = None, commit: bool = True) -> CreditReservation:
    """Charge the actual amount: refund the unused part, log the usage. A second call changes nothing."""
    _check_amount(actual, allow_zero=True)
    reservation = _claim(reservation_id, "settled")
    if reservation is None:
        return _reservation(reservation_id)  # already settled or refunded: nothing changes
    charged = actual
    unused = reservation.amount - actual
    if unused > 0:
        _apply(account_id=reservation.account_id, delta=unused, type_="refund",
               key=f"settle-refund:{reservation.id}", description=f"Unused part of: {reservation.description}",
               related=("reservation", reservation.id), job_id=reservation.job_id)
    elif unused < 0:
        # The work cost more than estimated: charge the rest, as far as the balance allows.
        extra = min(-unused, balance_in_session(reservation.account_id) or 0)
        charged = reservation.amount + extra
        if extra:
            _apply(account_id=reservation.account_id, delta=-extra, type_="charge",
                   key=f"settle-extra:{reservation.id}", description=f"Beyond the estimate: {reservation.description}",
                   related=("reservation", reservation.id), job_id=reservation.job_id)
    reservation.charged = charged
    with tenancy.all_accounts():
        db.session.add(CreditUsageLog(
            account_id=reservation.account_id, operation=reservation.operation, credits=charged,
            model=model, provider=provider, tokens_in=tokens_in, tokens_out=tokens_out, images=images,
            cost_usd=Decimal(str(cost_usd)), related_type=related[0] if related else None,
            related_id=related[1] if related else None, job_id=reservation.job_id,
            site_id=reservation.site_id, reservation_id=reservation.id))
        db.session.flush()
    if reservation.job_id is not None:
        _add_to_job(reservation.job_id, charged=charged)
    _commit(commit)
    return reservation


def refund(*, reservation_id: int, reason: str = "", commit: bool = True) -> CreditReservation:
    """Give the whole reservation back. A second call (or one after settling) changes nothing."""
    reservation = _claim(reservation_id, "refunded")
    if reservation is None:
        return _reservation(reservation_id)  # already refunded or settled: nothing changes
    _apply(account_id=reservation.account_id, delta=reservation.amount, type_="refund",
           key=f"refund:{reservation.id}",
           description=f"Refund: {reason or reservation.description}",
           related=("reservation", reservation.id), job_id=reservation.job_id)
    _commit(commit)
    return reservation


def refund_job(*, job_id: int, reason: str, commit: bool = True) -> int:
    """Refund every open reservation of a job (failed, cancelled or reaped); returns credits returned."""
    with tenancy.all_accounts():
        open_ids = list(db.session.scalars(
            select(CreditReservation.id).where(CreditReservation.job_id == job_id,
                                               CreditReservation.status == "open")))
    returned = 0
    for reservation_id in open_ids:
        reservation = _reservation(reservation_id)
        with tenancy.account_scope(reservation.account_id):
            before = reservation.status
            refund(reservation_id=reservation_id, reason=reason, commit=False)
            if before == "open":
                returned += reservation.amount
    _commit(commit)
    return returned


def estimate_from_price(*, units: int, credits_per_unit: Decimal | float, min_credits: int = 1) -> int:
    """Credits for a number of units at a per-unit price, never below the minimum."""
    return max(int(min_credits), math.ceil(Decimal(str(credits_per_unit)) * units))


def estimate_summary(*, account_id: int, credits: int) -> dict:
    """What the estimate component shows: cost, balance and whether it is enough."""
    available = balance(account_id)
    return {"credits": credits, "balance": available, "enough": available >= credits,
            "after": available - credits}
