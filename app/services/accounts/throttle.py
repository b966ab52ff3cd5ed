"""Sign-in throttling: failed attempts only, counted in Redis so every web process shares them.

Three counters, each a fixed window that starts with its first failure:
- one e-mail from one client address (strict): guessing from one place stops quickly;
- one e-mail from any address (higher, slower): a spread-out attack stops too, but it does not
  apply to an address the person has signed in from recently, so a stranger hammering someone's
  e-mail from elsewhere cannot lock that person out of their own browser;
- one client address across e-mails: credential stuffing from one place.
A successful sign-in adds nothing and clears its own pair counter.
"""

from __future__ import annotations

import hashlib
import math

from flask import current_app

from app.errors import RateLimited
from app.queue import redis_connection

PREFIX = "igny8:login"


def _who(email: str) -> str:
    # Hashed so Redis holds no e-mail addresses.
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]


def _keys(email: str, address: str) -> dict[str, str]:
    who = _who(email)
    return {
        "pair": f"{PREFIX}:fail:pair:{who}:{address}",
        "email": f"{PREFIX}:fail:email:{who}",
        "address": f"{PREFIX}:fail:ip:{address}",
        "known": f"{PREFIX}:known:{who}:{address}",
    }


def _limits() -> dict[str, tuple[int, int]]:
    config = current_app.config
    return {"pair": tuple(config["LOGIN_FAILURES_PER_PAIR"]),
            "email": tuple(config["LOGIN_FAILURES_PER_EMAIL"]),
            "address": tuple(config["LOGIN_FAILURES_PER_IP"])}


def _refuse(ttl_seconds: int) -> RateLimited:
    minutes = max(1, math.ceil(max(ttl_seconds, 1) / 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    return RateLimited(f"Too many failed attempts to sign in. Wait {wait} and try again, "
                       "or reset your password.")


def check(*, email: str, address: str) -> None:
    """Raise RateLimited (before the password is even looked at) when this attempt must wait."""
    keys, limits = _keys(email, address), _limits()
    redis = redis_connection()
    pipe = redis.pipeline(transaction=False)
    for name in ("pair", "email", "address"):
        pipe.get(keys[name])
        pipe.ttl(keys[name])
    pipe.exists(keys["known"])
    values = pipe.execute()
    known = bool(values[-1])
    for index, name in enumerate(("pair", "email", "address")):
        count, ttl = int(values[2 * index] or 0), int(values[2 * index + 1] or 0)
        if name == "email" and known:
            continue
        if count >= limits[name][0]:
            raise _refuse(ttl if ttl > 0 else limits[name][1])


def record_failure(*, email: str, address: str) -> None:
    """Count a failed sign-in against all three counters."""
    keys, limits = _keys(email, address), _limits()
    pipe = redis_connection().pipeline(transaction=True)
    for name in ("pair", "email", "address"):
        # SET NX EX starts the window with the first failure; INCR keeps its expiry.
        pipe.set(keys[name], 0, ex=limits[name][1], nx=True)
        pipe.incr(keys[name])
    pipe.execute()


def record_success(*, email: str, address: str) -> None:
    """Remember the address as one this person signs in from, and forget its failures."""
    keys = _keys(email, address)
    days = int(current_app.config["LOGIN_KNOWN_ADDRESS_DAYS"])
    pipe = redis_connection().pipeline(transaction=True)
    pipe.delete(keys["pair"])
    pipe.set(keys["known"], 1, ex=days * 86400)
    pipe.execute()


def forget_failures(*, email: str) -> None:
    """After a password reset the person has proved who they are: lift the per-e-mail limit."""
    redis_connection().delete(_keys(email, "-")["email"])
