"""Operator use-cases: account search, suspension, act-as, operator logins."""

from __future__ import annotations

from flask import session
from sqlalchemy import func, or_, select

from app import tenancy
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import Account, AuditEvent, OutboxMessage, User
from app.services import audit
from app.services.accounts.auth import find_user_by_email, normalize_email
from app.services.accounts.passwords import check_strength, hash_password


def search_accounts(*, query: str = "", limit: int = 100) -> list[Account]:
    """Accounts whose name or a member's e-mail matches."""
    with tenancy.all_accounts():
        stmt = select(Account).order_by(Account.id.desc()).limit(limit)
        query = (query or "").strip()
        if query:
            like = f"%{query.lower()}%"
            member = select(User.account_id).where(func.lower(User.email).like(like))
            conditions = [func.lower(Account.name).like(like), Account.id.in_(member)]
            if query.isdigit():
                conditions.append(Account.id == int(query))
            stmt = stmt.where(or_(*conditions))
        return list(db.session.scalars(stmt))


def get_account(account_id: int) -> Account:
    """Any account, for operators."""
    with tenancy.all_accounts():
        account = db.session.scalars(select(Account).where(Account.id == account_id)).first()
    if account is None:
        raise NotFound("No account with that id.")
    return account


def account_members(account_id: int) -> list[User]:
    """The people of an account, for operators."""
    with tenancy.all_accounts():
        return list(db.session.scalars(select(User).where(User.account_id == account_id).order_by(User.id)))


def set_account_status(*, account_id: int, suspended: bool, operator: User, reason: str = "") -> Account:
    """Suspend (members are signed out at their next request) or reactivate an account."""
    account = get_account(account_id)
    with tenancy.all_accounts():
        account.status = "suspended" if suspended else "active"
        audit.record("operator.suspend" if suspended else "operator.reactivate",
                     actor_id=operator.id, account_id=account.id, reason=reason)
        db.session.commit()
    return account


def start_acting_as(*, account_id: int, operator: User) -> Account:
    """Act as an account; visible on every page and logged."""
    account = get_account(account_id)
    with tenancy.all_accounts():
        audit.record("operator.act_as_start", actor_id=operator.id, account_id=account.id)
        db.session.commit()
    session["act_as_account_id"] = account.id
    return account


def stop_acting_as(*, operator: User) -> None:
    """Leave the account being acted as."""
    account_id = session.pop("act_as_account_id", None)
    if account_id is None:
        return
    with tenancy.all_accounts():
        audit.record("operator.act_as_stop", actor_id=operator.id, account_id=account_id)
        db.session.commit()


def create_operator(*, email: str, password: str, name: str = "Operator") -> User:
    """Create (or promote) a platform operator login."""
    email = normalize_email(email)
    check_strength(password, email=email)
    with tenancy.all_accounts():
        user = find_user_by_email(email)
        if user is not None:
            raise ValidationError("A login with that e-mail already exists.", field="email")
        user = User(email=email, name=name, password_hash=hash_password(password),
                    role="viewer", is_operator=True, account_id=None)
        db.session.add(user)
        db.session.flush()
        audit.record("operator.created", actor_id=user.id, account_id=None)
        db.session.commit()
    return user


def outbox(*, limit: int = 100) -> list[OutboxMessage]:
    """The newest e-mails the platform sent."""
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))


def audit_log(*, account_id: int | None = None, limit: int = 200) -> list[AuditEvent]:
    """The newest audit events, optionally of one account."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if account_id is not None:
        stmt = stmt.where(AuditEvent.account_id == account_id)
    return list(db.session.scalars(stmt))
