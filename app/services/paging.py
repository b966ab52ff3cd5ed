"""One page of a list and the query that fetches it, shared by every paged list."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db

PER_PAGE = 50


@dataclass
class Page:
    """One page of a list, newest first."""

    items: list
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(stmt, page: int, per_page: int = PER_PAGE) -> Page:
    """Run a select one page at a time."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page or 1), pages)
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, pages=pages, total=total)
