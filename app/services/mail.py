"""Outgoing e-mail. The development backend logs each message and keeps it in the outbox."""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.models import OutboxMessage


def send_mail(*, to: str, subject: str, body: str) -> OutboxMessage:
    """Record an e-mail in the outbox and the log (the caller commits)."""
    message = OutboxMessage(to=to, subject=subject, body=body)
    db.session.add(message)
    current_app.logger.info("E-mail to %s: %s\n%s", to, subject, body)
    return message


def absolute_url(path: str) -> str:
    """A link usable from an e-mail, always on PUBLIC_BASE_URL: never built from request headers,
    which a caller controls (a forged Host header would otherwise put their host in a reset link)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        raise RuntimeError("PUBLIC_BASE_URL is not set; links in e-mails cannot be made.")
    return base.rstrip("/") + path
