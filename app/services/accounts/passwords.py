"""Password rules and hashing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_DISTINCT = 4
COMMON_PASSWORDS = {
    "password", "password1", "password123", "passw0rd", "1234567890", "12345678910",
    "qwertyuiop", "letmein123", "welcome123", "iloveyou12", "administrator", "changeme123",
    "qwerty1234", "abc1234567", "football12", "monkey1234", "sunshine12", "princess12",
}


def _email_name(email: str) -> str:
    local = email.split("@")[0].lower() if email else ""
    return local if len(local) >= 4 else ""


@dataclass(frozen=True)
class Rule:
    """One password rule: what the hint says, what a refusal says, and the check."""

    hint: str
    problem: str
    broken: Callable[[str, str], bool]


# The one list of rules: the form enforces exactly these and the hint is made from them.
RULES: tuple[Rule, ...] = (
    Rule(f"at least {MIN_LENGTH} characters", f"Use at least {MIN_LENGTH} characters for the password.",
         lambda p, e: len(p) < MIN_LENGTH),
    Rule(f"at most {MAX_LENGTH} characters", f"Use at most {MAX_LENGTH} characters for the password.",
         lambda p, e: len(p) > MAX_LENGTH),
    Rule("not a common password", "That password is too easy to guess. Choose a less common one.",
         lambda p, e: p.lower() in COMMON_PASSWORDS),
    Rule(f"at least {MIN_DISTINCT} different characters",
         "That password is too easy to guess: use at least 4 different characters.",
         lambda p, e: len(set(p)) < MIN_DISTINCT),
    Rule("not only digits", "Use letters as well as digits in the password.",
         lambda p, e: p.isdigit()),
    Rule("not containing the part of your e-mail address before the @",
         "The password must not contain your e-mail name.",
         lambda p, e: bool(_email_name(e)) and _email_name(e) in p.lower()),
)


def rules_hint() -> str:
    """The password rules in one sentence, for the hint under every new-password field."""
    return "Password rules: " + "; ".join(rule.hint for rule in RULES) + "."


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a password is refused (the first rule it breaks), or None when it is acceptable."""
    for rule in RULES:
        if rule.broken(password, email):
            return rule.problem
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
