"""Failed sign-ins are throttled in Redis per e-mail and address; a stranger cannot lock a user out."""

from __future__ import annotations

from app import create_app
from tests.conftest import Browserless, make_account

EMAIL, PASSWORD = "olive@acme.example.com", "correct-horse-battery"


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(app, address: str, password: str, email: str = EMAIL) -> int:
    return Browserless(_from(app, address)).post("/login", {"email": email, "password": password}).status_code


def test_failures_from_one_address_stop_that_address_only(app):
    make_account(app, email=EMAIL)
    statuses = [_try(app, "10.0.0.1", "wrong-password-x") for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    assert _try(app, "10.0.0.1", PASSWORD) == 429  # even the right password waits there
    assert _try(app, "10.0.0.2", PASSWORD) == 302  # the person elsewhere is not locked out


def test_successful_sign_ins_never_count(app):
    make_account(app, email=EMAIL)
    assert [_try(app, "10.0.0.1", PASSWORD) for _ in range(12)] == [302] * 12
    assert [_try(app, "10.0.0.1", "wrong-password-x") for _ in range(5)] == [422] * 5


def test_a_stranger_hammering_from_many_addresses_cannot_lock_the_user_out_of_their_own(app):
    make_account(app, email=EMAIL)
    assert _try(app, "192.0.2.10", PASSWORD) == 302  # the person's usual address
    for n in range(4):  # 5 failures from each of 4 addresses: 20, the e-mail-wide limit
        assert [_try(app, f"203.0.113.{n}", "guess-number-x") for _ in range(5)] == [422] * 5
    # The e-mail-wide limit now holds new addresses back, the attacker's and any other ...
    assert _try(app, "203.0.113.99", "guess-number-y") == 429
    assert _try(app, "198.51.100.7", PASSWORD) == 429
    # ... but the person still signs in from their own address with the right password.
    assert _try(app, "192.0.2.10", PASSWORD) == 302


def test_counts_are_shared_by_every_web_process(app):
    make_account(app, email=EMAIL)
    other_process = create_app("testing")  # a second app: nothing held in memory is shared
    other_process.config["SERVER_NAME"] = None
    assert [_try(app, "10.0.0.1", "wrong-password-x") for _ in range(3)] == [422] * 3
    assert [_try(other_process, "10.0.0.1", "wrong-password-x") for _ in range(2)] == [422] * 2
    assert _try(app, "10.0.0.1", "wrong-password-x") == 429
    assert _try(other_process, "10.0.0.1", PASSWORD) == 429
