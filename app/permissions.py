"""Role checks made on the server for every action."""

from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import g

from app.errors import Forbidden

# What each role may do. Views ask with require(); templates ask with can().
ABILITIES: dict[str, set[str]] = {
    "owner": {"read", "write", "manage_sites", "manage_users", "manage_owners", "billing", "settings"},
    "admin": {"read", "write", "manage_sites", "manage_users", "settings"},
    "editor": {"read", "write"},
    "viewer": {"read"},
}

ABILITY_MESSAGES = {
    "write": "Your role is read-only. Ask an account owner or admin for editor access.",
    "manage_sites": "Only owners and admins can add, change or remove sites.",
    "manage_users": "Only owners and admins can manage the team.",
    "manage_owners": "Only an owner can grant or change the owner role.",
    "billing": "Only an account owner can manage billing.",
    "settings": "Only owners and admins can change account settings.",
}


def can(ability: str) -> bool:
    """Whether the signed-in person's role in the bound account has this ability."""
    role = getattr(g, "role", None)
    return bool(role) and ability in ABILITIES.get(role, set())


def require(ability: str) -> None:
    """Raise Forbidden unless the current role has the ability."""
    if not can(ability):
        raise Forbidden(ABILITY_MESSAGES.get(ability, "You do not have permission to do that."))


def requires(ability: str) -> Callable:
    """Decorator form of require()."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            require(ability)
            return view(*args, **kwargs)

        return wrapper

    return decorator
