"""Sign-up, sign-in, password reset and the person's own profile."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select, update

from app import tenancy
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, PasswordResetToken, User
from app.services import audit
from app.services.billing import credits
from app.services.billing.subscriptions import default_plan, start_subscription
from app.services.mail import absolute_url, send_mail
from app.services.accounts import sessions, throttle
from app.services.accounts.passwords import check_strength, hash_password, verify_password
from app.services.accounts.tokens import hash_token, new_token
from app.timeutil import utcnow


class AuthError(ValidationError):
    """Sign-in refused; the message says why without revealing which accounts exist."""


def normalize_email(raw: str) -> str:
    """Validate an address and give back its canonical, lower-case form."""
    try:
        info = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"That e-mail address is not valid: {exc}", field="email") from exc
    return info.normalized.lower()


def find_user_by_email(email: str) -> User | None:
    """Look a person up across accounts (sign-in happens before any account is bound)."""
    return db.session.scalars(
        select(User).where(func.lower(User.email) == email.lower()).execution_options(all_accounts=True)
    ).first()


def signup(*, account_name: str, name: str, email: str, password: str) -> User:
    """Create an account, its owner, a subscription to the default plan and starting credits."""
    email = normalize_email(email)
    account_name = (account_name or "").strip()
    name = (name or "").strip()
    if not account_name:
        raise ValidationError("Give your company or agency a name.", field="account_name")
    if not name:
        raise ValidationError("Tell us your name.", field="name")
    check_strength(password, email=email)
    if find_user_by_email(email) is not None:
        raise ValidationError(
            "An IGNY8 login already exists for that e-mail. Sign in or reset your password.",
            field="email",
        )
    plan = default_plan()
    account = Account(name=account_name[:120], status="active", credits=0)
    db.session.add(account)
    db.session.flush()
    tenancy.bind(account.id)
    user = User(account_id=account.id, email=email, name=name[:120],
                password_hash=hash_password(password), role="owner")
    db.session.add(user)
    db.session.flush()
    audit.record("account.signup", actor_id=user.id, account_id=account.id)
    start_subscription(account_id=account.id, plan=plan)  # grants the first month's credits; commits
    bonus = current_app.config["SIGNUP_BONUS_CREDITS"]
    if bonus:
        credits.grant(account_id=account.id, amount=bonus, key=f"signup-bonus:{account.id}",
                      description="Welcome bonus")
    return user


def authenticate(*, email: str, password: str, address: str) -> User:
    """Check credentials from a client address; raise RateLimited while failures from there (or for
    that e-mail) are over the limit, AuthError with a message fit to show otherwise."""
    wrong = AuthError("That e-mail and password do not match an IGNY8 login.")
    try:
        email = normalize_email(email)
    except ValidationError:
        email = (email or "").strip().lower()
        throttle.check(email=email, address=address)
        throttle.record_failure(email=email, address=address)
        raise wrong from None
    throttle.check(email=email, address=address)
    user = find_user_by_email(email)
    if user is None or not verify_password(user.password_hash, password or ""):
        throttle.record_failure(email=email, address=address)
        raise wrong
    throttle.record_success(email=email, address=address)
    if not user.active:
        raise AuthError("This login has been deactivated. Ask an owner or admin of your account.")
    with tenancy.all_accounts():
        if user.account is not None and user.account.is_suspended:
            raise AuthError("This account is suspended. Contact IGNY8 support to reactivate it.")
        user.last_login_at = utcnow()
        audit.record("user.login", actor_id=user.id, account_id=user.account_id)
        db.session.commit()
    return user


def request_password_reset(*, email: str) -> None:
    """E-mail a single-use reset link if the address has a login; say nothing either way."""
    try:
        email = normalize_email(email)
    except ValidationError:
        return
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    token, token_hash = new_token()
    with tenancy.all_accounts():
        db.session.add(PasswordResetToken(
            user_id=user.id, token_hash=token_hash,
            expires_at=utcnow() + current_app.config["PASSWORD_RESET_TTL"]))
        link = absolute_url(f"/reset/{token}")
        minutes = int(current_app.config["PASSWORD_RESET_TTL"].total_seconds() // 60)
        send_mail(to=user.email, subject="Reset your IGNY8 password",
                  body=(f"Hello {user.name or user.email},\n\nSomeone asked to reset the password "
                        f"of your IGNY8 login. Open this link within {minutes} minutes to choose a "
                        f"new one:\n\n{link}\n\nIf it was not you, ignore this message; your "
                        "password stays as it is.\n"))
        db.session.commit()


def reset_token_problem(token: str) -> tuple[PasswordResetToken | None, str | None]:
    """The token row and, when it cannot be used, why."""
    row = db.session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token or ""))
    ).first()
    if row is None:
        return None, "This reset link is not valid. Ask for a new one."
    if row.used_at is not None:
        return row, "This reset link has already been used. Ask for a new one if you need it."
    if row.expires_at < utcnow():
        return row, "This reset link has expired. Ask for a new one."
    return row, None


def reset_password(*, token: str, password: str) -> User:
    """Set a new password from a reset link, once; every other session of the person ends."""
    row, problem = reset_token_problem(token)
    if problem:
        raise ValidationError(problem, field="token")
    user = db.session.scalars(
        select(User).where(User.id == row.user_id).execution_options(all_accounts=True)
    ).one()
    check_strength(password, email=user.email)
    with tenancy.all_accounts():
        claimed = db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            raise ValidationError("This reset link has already been used.", field="token")
        user.password_hash = hash_password(password)
        sessions.end_other_sessions(user)  # not loaded from a session: ends every one
        db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=utcnow())
        )
        audit.record("user.password_reset", actor_id=user.id, account_id=user.account_id)
        db.session.commit()
    throttle.forget_failures(email=user.email)
    return user


def change_password(*, user: User, current_password: str, new_password: str) -> User:
    """Change one's own password; every other session ends and this one carries on."""
    if not verify_password(user.password_hash, current_password or ""):
        raise ValidationError("Your current password is not right.", field="current_password")
    check_strength(new_password, email=user.email, field="new_password")
    with tenancy.all_accounts():
        user.password_hash = hash_password(new_password)
        sessions.end_other_sessions(user)
        audit.record("user.password_changed", actor_id=user.id, account_id=user.account_id)
        db.session.commit()
    sessions.keep_this_session(user)
    return user


def update_profile(*, user: User, name: str) -> User:
    """Change one's display name."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Your name cannot be empty.", field="name")
    with tenancy.all_accounts():
        user.name = name[:120]
        db.session.commit()
    return user
