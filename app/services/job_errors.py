"""What people are told when a job fails: customers a plain message with a reference, operators the detail."""

from __future__ import annotations

import secrets
import traceback

from flask import current_app
from sqlalchemy import or_, select

from app import tenancy
from app.errors import DomainError, NotFound
from app.extensions import db
from app.models import Account, Job

MAX_DETAIL_CHARS = 20_000


def failure_report(exc: BaseException, job_id: int) -> tuple[str, str | None]:
    """(the message for the account's people, the detail for operators — None for a domain error)."""
    if isinstance(exc, DomainError):
        return exc.message, None
    reference = f"E{job_id}-{secrets.token_hex(3).upper()}"
    current_app.logger.error("Job %s failed unexpectedly (reference %s)", job_id, reference, exc_info=exc)
    message = (f"Something went wrong on our side (reference {reference}), so this job stopped. Any credits "
               "reserved for it were returned. Try again later; if it happens again, contact support with "
               "the reference.")
    detail = f"Reference {reference}\n" + "".join(traceback.format_exception(exc))
    return message, detail[-MAX_DETAIL_CHARS:]


def operator_job_log(*, query: str = "", failed_only: bool = True, limit: int = 100) -> list[tuple[Job, Account]]:
    """Jobs of every account for operators, newest first; the query matches a reference, job id,
    kind or account name."""
    with tenancy.all_accounts():
        stmt = select(Job, Account).join(Account, Account.id == Job.account_id).order_by(Job.id.desc()).limit(limit)
        if failed_only:
            stmt = stmt.where(Job.status == "failed")
        query = (query or "").strip()
        if query:
            like = f"%{query.lower()}%"
            conditions = [Job.error_detail.ilike(like), Job.error.ilike(like), Job.kind.ilike(like),
                          Account.name.ilike(like)]
            digits = query.lstrip("#Ee").split("-", 1)[0]
            if digits.isdigit() and len(digits) < 12:
                conditions.append(Job.id == int(digits))
            stmt = stmt.where(or_(*conditions))
        return [(job, account) for job, account in db.session.execute(stmt)]


def operator_job(job_id: int) -> tuple[Job, Account]:
    """One job of any account, with its account, for operators."""
    with tenancy.all_accounts():
        row = db.session.execute(select(Job, Account).join(Account, Account.id == Job.account_id)
                                 .where(Job.id == job_id)).first()
    if row is None:
        raise NotFound("No job with that id.")
    return row[0], row[1]
