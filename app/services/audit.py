"""The audit trail of security-relevant actions."""

from __future__ import annotations

from flask import has_request_context, request

from app.extensions import db
from app.models import AuditEvent


def record(action: str, *, actor_id: int | None, account_id: int | None, **detail) -> AuditEvent:
    """Add an audit row to the session (the caller commits)."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        account_id=account_id,
        detail=detail,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
