"""Form input kept for an hour under a random token, so an estimate page can be a plain GET.

A form too long for an address (pasted keyword groups) is posted once, kept here, and the browser is
redirected to a page that names only the token: Back and reload then never re-send a form.
"""

from __future__ import annotations

import json
import secrets

from app import tenancy
from app.queue import redis_connection

DRAFT_TTL = 3600


def _key(kind: str, user_id: int, token: str) -> str:
    return f"igny8:draft:{kind}:{tenancy.current_account_id()}:{user_id}:{token}"


def remember_draft(*, kind: str, user_id: int, data: dict) -> str:
    """Keep the input of one person's form; returns the token that names it."""
    token = secrets.token_urlsafe(12)
    redis_connection().set(_key(kind, user_id, token), json.dumps(data), ex=DRAFT_TTL)
    return token


def recall_draft(*, kind: str, user_id: int, token: str | None) -> dict | None:
    """The kept input, or None when the token is unknown, expired or someone else's."""
    if not token or len(token) > 40:
        return None
    raw = redis_connection().get(_key(kind, user_id, token))
    return json.loads(raw) if raw else None
