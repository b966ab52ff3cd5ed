"""Sign-in sessions, recorded on the server so signing out ends them for good.

Every sign-in gets a row and a random key. The key travels inside the signed session cookie and
the "keep me signed in" cookie (Flask-Login stores the user's get_id() in both), and the user
loader accepts a cookie only while its row is live. Logout revokes the row, so a copied session
or remember cookie replayed later is signed out; "sign out everywhere" (and a password change or
reset) also moves the person's session version on, which ends every session at once.
"""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import User, UserSession
from app.services import audit
from app.services.accounts.tokens import hash_token, new_token
from app.timeutil import utcnow


def _lifetime():
    config = current_app.config
    return max(config["REMEMBER_COOKIE_DURATION"], config["PERMANENT_SESSION_LIFETIME"])


def sign_in(user: User, *, remember: bool = False) -> None:
    """Start a recorded session for the person on this browser."""
    now = utcnow()
    key, key_hash = new_token()
    agent = (request.user_agent.string or "")[:200] if has_request_context() else ""
    # Old rows of this person are no use to anyone: drop them as a new one is made.
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.expires_at < now, UserSession.revoked_at.is_not(None))))
    db.session.add(UserSession(user_id=user.id, key_hash=key_hash, remember=bool(remember),
                               user_agent=agent, expires_at=now + _lifetime()))
    db.session.commit()
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    user.session_key = key
    login_user(user, remember=remember)


def load(user_id: str) -> User | None:
    """The person a session or remember cookie names, if that session is still live."""
    try:
        uid_text, version_text, key = user_id.split(":")
        uid, version = int(uid_text), int(version_text)
    except (ValueError, AttributeError):
        return None
    if not key:
        return None
    # The person's own account comes in the same statement: every request binds it next.
    user = db.session.scalars(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == uid, UserSession.key_hash == hash_token(key),
               UserSession.revoked_at.is_(None), UserSession.expires_at > func.now())
        .options(joinedload(User.account))
        .execution_options(all_accounts=True)
    ).first()
    if user is None or user.session_version != version or not user.active:
        return None
    user.session_key = key
    return user


def _revoke(*conditions) -> int:
    return db.session.execute(
        update(UserSession).where(UserSession.revoked_at.is_(None), *conditions).values(revoked_at=utcnow())
    ).rowcount


def sign_out() -> None:
    """End this browser's session on the server and clear its cookies."""
    if current_user.is_authenticated and current_user.session_key:
        _revoke(UserSession.user_id == current_user.id,
                UserSession.key_hash == hash_token(current_user.session_key))
        db.session.commit()
    session.clear()
    logout_user()  # after clear(): it marks the remember cookie for deletion in the session


def end_other_sessions(user: User) -> None:
    """End every session of the person except this browser's (the caller commits)."""
    user.session_version += 1
    keep = user.session_key
    conditions = [UserSession.user_id == user.id]
    if keep:
        conditions.append(UserSession.key_hash != hash_token(keep))
    _revoke(*conditions)


def keep_this_session(user: User) -> None:
    """After the person's own password change: this browser stays signed in under the new version."""
    remember = bool(user.session_key) and bool(db.session.scalar(select(UserSession.remember).where(
        UserSession.user_id == user.id, UserSession.key_hash == hash_token(user.session_key))))
    login_user(user, remember=remember)


def sign_out_everywhere(user: User) -> None:
    """End every session of the person, this one included."""
    user = db.session.scalars(
        select(User).where(User.id == user.id).execution_options(all_accounts=True)).one()
    user.session_version += 1
    _revoke(UserSession.user_id == user.id)
    audit.record("user.signed_out_everywhere", actor_id=user.id, account_id=user.account_id)
    db.session.commit()
    session.clear()
    logout_user()


def live_session_count(user: User) -> int:
    """How many sessions of the person are live (this one included)."""
    return db.session.scalar(select(func.count(UserSession.id)).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
        UserSession.expires_at > func.now())) or 0
