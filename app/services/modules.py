"""Per-account module switches."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Account
from app.modules import MODULE_LABELS
from app.services import audit


def set_modules(*, enabled: set[str], actor_id: int) -> Account:
    """Switch modules on or off for the bound account."""
    account = db.session.scalars(select(Account)).one()
    unknown = set(enabled) - set(MODULE_LABELS)
    enabled = set(enabled) - unknown
    account.modules = {name: name in enabled for name in MODULE_LABELS}
    audit.record("account.modules", actor_id=actor_id, account_id=account.id,
                 enabled=sorted(enabled))
    db.session.commit()
    return account
