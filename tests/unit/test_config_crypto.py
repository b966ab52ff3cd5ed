"""Configuration checks and the secrets-at-rest helper."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from app import crypto
from app.config import load_config
from app.services.accounts.passwords import password_problem


def test_production_refuses_to_start_and_names_every_missing_setting(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "ENCRYPTION_KEYS", "PUBLIC_BASE_URL", "DEMO_PAYMENTS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError) as excinfo:
        load_config("production")
    assert "SECRET_KEY, DATABASE_URL, ENCRYPTION_KEYS, PUBLIC_BASE_URL" in str(excinfo.value)
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/igny8")
    monkeypatch.setenv("ENCRYPTION_KEYS", Fernet.generate_key().decode())
    with pytest.raises(RuntimeError) as excinfo:
        load_config("production")
    assert str(excinfo.value).endswith("without these settings: PUBLIC_BASE_URL")


def _production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/igny8")
    monkeypatch.setenv("ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://app.igny8.example.com/")
    monkeypatch.delenv("DEMO_PAYMENTS", raising=False)


def test_production_config_with_everything_set(monkeypatch):
    _production_env(monkeypatch)
    config = load_config("production")
    assert config.SESSION_COOKIE_SECURE and config.SESSION_COOKIE_HTTPONLY
    assert config.PUBLIC_BASE_URL == "https://app.igny8.example.com" and config.DEMO_PAYMENTS is False


def test_production_refuses_to_start_with_the_demo_card_processor_on(monkeypatch):
    _production_env(monkeypatch)
    monkeypatch.setenv("DEMO_PAYMENTS", "1")
    with pytest.raises(RuntimeError, match="DEMO_PAYMENTS"):
        load_config("production")


def test_demo_payments_and_a_public_base_url_default_on_in_development_and_testing(monkeypatch):
    for name in ("DEMO_PAYMENTS", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    development = load_config("development")
    assert development.DEMO_PAYMENTS and development.PUBLIC_BASE_URL == "http://127.0.0.1:5000"
    assert load_config("testing").DEMO_PAYMENTS
    monkeypatch.setenv("DEMO_PAYMENTS", "off")
    assert not load_config("development").DEMO_PAYMENTS


def test_links_in_emails_are_refused_rather_than_taken_from_the_request_without_a_base_url():
    from app.services.mail import absolute_url

    bare = Flask("mail-test")
    bare.config["PUBLIC_BASE_URL"] = ""
    with bare.test_request_context("/forgot", headers={"Host": "evil.example"}):
        with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
            absolute_url("/reset/abc")
    bare.config["PUBLIC_BASE_URL"] = "https://app.igny8.example.com"
    with bare.test_request_context("/forgot", headers={"Host": "evil.example"}):
        assert absolute_url("/reset/abc") == "https://app.igny8.example.com/reset/abc"


def test_unknown_environment_name_is_refused():
    with pytest.raises(RuntimeError, match="Unknown IGNY8_ENV"):
        load_config("staging-ish")


def _app_with_keys(*keys: bytes) -> Flask:
    app = Flask("crypto-test")
    app.config["ENCRYPTION_KEYS"] = [k.decode() for k in keys]
    return app


def test_secrets_round_trip_and_ciphertext_hides_plaintext():
    with _app_with_keys(Fernet.generate_key()).app_context():
        token = crypto.encrypt("wp-app-password 1234")
        assert "wp-app-password" not in token
        assert crypto.decrypt(token) == "wp-app-password 1234"


def test_key_rotation_keeps_old_secrets_readable_and_rotates_them():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    with _app_with_keys(old).app_context():
        sealed = crypto.encrypt("api-key-abc")
    with _app_with_keys(new, old).app_context():
        assert crypto.decrypt(sealed) == "api-key-abc"
        rotated = crypto.rotate(sealed)
    with _app_with_keys(new).app_context():
        assert crypto.decrypt(rotated) == "api-key-abc"
        with pytest.raises(crypto.SecretError):
            crypto.decrypt(sealed)


def test_mask_shows_only_the_end():
    assert crypto.mask("sk-abcdef123456") == "••••••••3456"
    assert crypto.mask("") == ""


@pytest.mark.parametrize("password,expected", [
    ("short", "at least 10"), ("password123", "too easy"), ("aaaaaaaaaaaa", "too easy"),
    ("98765432109", "letters as well"), ("olivia-secret-1", "e-mail name"), ("fine-password-42", None),
])
def test_password_rules(password, expected):
    problem = password_problem(password, email="olivia@acme.example.com")
    assert (problem is None) if expected is None else (expected in problem)
