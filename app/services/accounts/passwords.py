"""Password rules and hashing."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ValidationError

MIN_LENGTH = 10
COMMON_PASSWORDS = {
    "password", "password1", "password123", "passw0rd", "1234567890", "12345678910",
    "qwertyuiop", "letmein123", "welcome123", "iloveyou12", "administrator", "changeme123",
    "qwerty1234", "abc1234567", "football12", "monkey1234", "sunshine12", "princess12",
}


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a password is too weak, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters for the password."
    if len(password) > 200:
        return "Use at most 200 characters for the password."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "That password is too easy to guess. Choose a less common one."
    if password.isdigit():
        return "Use letters as well as digits in the password."
    local = email.split("@")[0].lower() if email else ""
    if local and len(local) >= 4 and local in password.lower():
        return "The password must not contain your e-mail name."
    return None


def check_strength(password: str, *, email: str = "", field: str = "password") -> None:
    """Raise a ValidationError naming the problem with a weak password."""
    problem = password_problem(password, email=email)
    if problem:
        raise ValidationError(problem, field=field)


def hash_password(password: str) -> str:
    """A salted, slow hash (the method is configurable so tests can use a cheaper one)."""
    from flask import current_app

    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    return check_password_hash(password_hash, password)
