"""The one place where tenancy is enforced.

Every query of a tenant-owned model is filtered to the bound account (and, for
editors and viewers, to the sites granted to them). Nothing bound means no rows.
Writes are stamped with the bound account and cross-account writes are refused.
Operator and scheduler code opts out explicitly with ``all_accounts()``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import event, false, or_
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.models.accounts import Account, User
from app.models.ownership import TenantOwned
from app.models.sites import Site



class CrossTenantWrite(RuntimeError):
    """A write touched a row of an account other than the bound one."""


@dataclass(frozen=True)
class TenantScope:
    account_id: int | None
    site_ids: frozenset[int] | None = None  # None = every site of the account
    all_accounts: bool = False


_NO_SCOPE = TenantScope(account_id=None)
_scope: ContextVar[TenantScope] = ContextVar("igny8_tenant_scope", default=_NO_SCOPE)


_site_scoped: tuple[tuple[type, bool], ...] | None = None


def site_scoped_models() -> tuple[tuple[type, bool], ...]:
    """Every tenant-owned model with a `site_id` column, with whether the column may be empty.

    Found from the models, not listed: a new model that belongs to a site follows the site grants
    the moment it exists. A row with an empty site_id belongs to the whole account (e.g. a job that
    concerns no site) and is visible to everyone in the account.
    """
    global _site_scoped
    if _site_scoped is None:
        found, pending = [], list(TenantOwned.__subclasses__())
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            table = getattr(cls, "__table__", None)
            if table is not None and "site_id" in table.c and cls not in (c for c, _ in found):
                found.append((cls, bool(table.c.site_id.nullable)))
        _site_scoped = tuple(sorted(found, key=lambda item: item[0].__name__))
    return _site_scoped


def current_scope() -> TenantScope:
    """The scope bound to this request or job."""
    return _scope.get()


def current_account_id() -> int | None:
    """The bound account id, or None."""
    return _scope.get().account_id


def bind(account_id: int | None, site_ids: frozenset[int] | set[int] | None = None) -> None:
    """Bind the account (and optionally the granted sites) for the rest of this context."""
    _scope.set(
        TenantScope(
            account_id=account_id,
            site_ids=frozenset(site_ids) if site_ids is not None else None,
        )
    )


def unbind() -> None:
    """Forget the bound account: queries see no tenant rows."""
    _scope.set(_NO_SCOPE)


@contextmanager
def account_scope(account_id: int, site_ids: set[int] | None = None) -> Iterator[None]:
    """Temporarily bind an account."""
    token = _scope.set(
        TenantScope(account_id=account_id, site_ids=frozenset(site_ids) if site_ids is not None else None)
    )
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def all_accounts() -> Iterator[None]:
    """The explicit escape hatch for operator and scheduler code."""
    token = _scope.set(TenantScope(account_id=None, all_accounts=True))
    try:
        yield
    finally:
        _scope.reset(token)


def _restrict(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_accounts"):
        return
    scope = _scope.get()
    if scope.all_accounts:
        return

    account_id = scope.account_id
    if account_id is None:
        options = [
            with_loader_criteria(entity, lambda cls: false(), include_aliases=True)
            for entity in (TenantOwned, User, Account)
        ]
    else:
        options = [
            with_loader_criteria(
                TenantOwned, lambda cls: cls.account_id == account_id, include_aliases=True
            ),
            with_loader_criteria(
                User, lambda cls: cls.account_id == account_id, include_aliases=True
            ),
            with_loader_criteria(Account, lambda cls: cls.id == account_id, include_aliases=True),
        ]
    if account_id is not None and scope.site_ids is not None:
        site_ids = sorted(scope.site_ids) or [0]
        options.append(with_loader_criteria(Site, lambda cls: cls.id.in_(site_ids), include_aliases=True))
        for model, nullable in site_scoped_models():
            if nullable:
                options.append(with_loader_criteria(
                    model, lambda cls: or_(cls.site_id.in_(site_ids), cls.site_id.is_(None)),
                    include_aliases=True))
            else:
                options.append(with_loader_criteria(
                    model, lambda cls: cls.site_id.in_(site_ids), include_aliases=True))
    state.statement = state.statement.options(*options)


def _guard_writes(session: Session, flush_context, instances) -> None:
    scope = _scope.get()
    if scope.all_accounts:
        return
    site_scoped = dict(site_scoped_models())
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Account):
            if obj in session.new:
                continue  # sign-up creates the account it then binds
            if obj.id != scope.account_id:
                raise CrossTenantWrite("Refusing to write another account")
            continue
        if isinstance(obj, User):
            if obj.account_id is not None and obj.account_id != scope.account_id:
                raise CrossTenantWrite("Refusing to write a user of another account")
            if obj.account_id is None:
                raise CrossTenantWrite("Refusing to write an operator user from tenant code")
            continue
        if not isinstance(obj, TenantOwned):
            continue
        if obj.account_id is None and obj in session.new:
            if scope.account_id is None:
                raise CrossTenantWrite(
                    f"Refusing to create {type(obj).__name__} with no account bound"
                )
            obj.account_id = scope.account_id
        if scope.account_id is None or obj.account_id != scope.account_id:
            raise CrossTenantWrite(
                f"Refusing to write {type(obj).__name__} of another account"
            )
        if scope.site_ids is not None and type(obj) in site_scoped:
            account_wide = obj.site_id is None and site_scoped[type(obj)]
            if not account_wide and obj.site_id not in scope.site_ids:
                raise CrossTenantWrite(
                    f"Refusing to write {type(obj).__name__} of a site not granted"
                )


def install(session_class=Session) -> None:
    """Attach the query filter and the write guard to every ORM session."""
    if getattr(session_class, "_igny8_tenancy_installed", False):
        return
    event.listen(session_class, "do_orm_execute", _restrict)
    event.listen(session_class, "before_flush", _guard_writes)
    session_class._igny8_tenancy_installed = True
