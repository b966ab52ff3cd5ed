"""In-app notifications. Every other feature creates them through notify()."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app import tenancy
from app.extensions import db
from app.models import Notification, User
from app.timeutil import utcnow

LEVELS = ("info", "success", "warning", "error")


def notify(
    *,
    account_id: int,
    title: str,
    body: str = "",
    link: str | None = None,
    level: str = "info",
    user_ids: list[int] | None = None,
    roles: tuple[str, ...] | None = None,
    commit: bool = True,
) -> list[Notification]:
    """Notify chosen people of an account (default: every active member)."""
    if level not in LEVELS:
        level = "info"
    with tenancy.account_scope(account_id):
        query = select(User.id).where(User.active.is_(True))
        if user_ids is not None:
            query = query.where(User.id.in_(user_ids or [0]))
        if roles is not None:
            query = query.where(User.role.in_(roles))
        rows = [
            Notification(user_id=uid, title=title[:200], body=body, link=link, level=level)
            for uid in db.session.scalars(query)
        ]
        db.session.add_all(rows)
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    return rows


def unread_count(*, user_id: int) -> int:
    """Unread notifications of a person in the bound account."""
    return db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
    )


def recent(*, user_id: int, limit: int = 50) -> list[Notification]:
    """Newest notifications first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(*, user_id: int, notification_id: int) -> None:
    """Mark one of the person's notifications read."""
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id)
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def mark_all_read(*, user_id: int) -> None:
    """Mark all of the person's notifications read."""
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
