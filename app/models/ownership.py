"""The columns that say who owns a row. A leaf module: app/tenancy.py reads these mixins to filter every
query, and the models use them, so neither imports the other through it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class TenantOwned:
    """Mixin for rows that belong to an account."""

    @declared_attr
    def account_id(cls) -> Mapped[int]:
        return mapped_column(
            Integer, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
        )


class SiteOwned(TenantOwned):
    """Mixin for rows that belong to one site of an account."""

    @declared_attr
    def site_id(cls) -> Mapped[int]:
        return mapped_column(
            Integer, ForeignKey("sites.id", ondelete="CASCADE"), index=True, nullable=False
        )
