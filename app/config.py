"""Configuration classes, read from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("IGNY8_INSTANCE_DIR", BASE_DIR / "instance"))


def _env_list(name: str) -> list[str]:
    raw = os.environ.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in ("1", "true", "yes", "on")
def _env_counts(name: str) -> dict[str, int]:
    """"openai=8,runware=2" → {"openai": 8, "runware": 2}; malformed parts are ignored."""
    counts = {}
    for part in _env_list(name):
        key, _, value = part.partition("=")
        if key.strip() and value.strip().isdigit() and int(value) > 0:
            counts[key.strip()] = int(value)
    return counts


def _limiter_uri(redis_url: str) -> str:
    """Flask-Limiter names a unix-socket Redis differently from redis-py."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    # Sessions speak UTC, so every timestamptz read back is a UTC datetime whatever the server's zone.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "connect_args": {"options": "-c timezone=UTC"}}

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or getattr(self, "DEFAULT_SECRET_KEY", None)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(self.DATABASE_ENV) or self.default_database_url()
        # Extra PostgreSQL session settings for this process's connections ("-c name=value …"), e.g.
        # "-c max_parallel_workers_per_gather=0" for a web server with many requests at once on few cores.
        extra = os.environ.get("DATABASE_SESSION_OPTIONS", "").strip()
        if extra:
            options = f"{self.SQLALCHEMY_ENGINE_OPTIONS['connect_args']['options']} {extra}"
            self.SQLALCHEMY_ENGINE_OPTIONS = {**self.SQLALCHEMY_ENGINE_OPTIONS,
                                              "connect_args": {**self.SQLALCHEMY_ENGINE_OPTIONS["connect_args"],
                                                               "options": options}}
        self.REDIS_URL = os.environ.get(self.REDIS_ENV, self.DEFAULT_REDIS_URL)
        self.ENCRYPTION_KEYS = _env_list("ENCRYPTION_KEYS") or list(
            getattr(self, "DEFAULT_ENCRYPTION_KEYS", [])
        )
        self.RATELIMIT_STORAGE_URI = _limiter_uri(self.REDIS_URL)
        # Requests to customer URLs refuse non-public addresses unless allowed here (see
        # app/services/outbound.py); cloud-metadata addresses are refused regardless.
        self.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = _env_bool(
            "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", self.DEFAULT_OUTBOUND_ALLOW_PRIVATE)
        self.OUTBOUND_ALLOWED_NETWORKS = _env_list("OUTBOUND_ALLOWED_NETWORKS")
        # Links in e-mails are built from this, never from the request's Host header.
        self.PUBLIC_BASE_URL = (os.environ.get("PUBLIC_BASE_URL")
                                or getattr(self, "DEFAULT_PUBLIC_BASE_URL", "")).rstrip("/")
        # The demo card processor takes no money: it exists only where this is on.
        self.DEMO_PAYMENTS = _env_bool("DEMO_PAYMENTS", getattr(self, "DEFAULT_DEMO_PAYMENTS", False))
        self.INVOICE_BANK_DETAILS = os.environ.get(
            "INVOICE_BANK_DETAILS", getattr(self, "DEFAULT_INVOICE_BANK_DETAILS", ""))
        # Article images (app/services/images/storage.py): a local directory by default. Several hosts
        # must share it (a network file system) or use another storage backend.
        self.IMAGE_STORAGE = os.environ.get("IMAGE_STORAGE", "local")
        self.IMAGE_STORAGE_DIR = os.environ.get("IMAGE_STORAGE_DIR") or getattr(
            self, "DEFAULT_IMAGE_STORAGE_DIR", str(INSTANCE_DIR / "images"))

    DATABASE_ENV = "DATABASE_URL"
    REDIS_ENV = "REDIS_URL"
    DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
    DEFAULT_OUTBOUND_ALLOW_PRIVATE = False

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)

    WTF_CSRF_TIME_LIMIT = None
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]

    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMITS_PER_IP = "10 per minute"  # sign-up and invitation forms
    # Failed sign-ins only (see app/services/accounts/throttle.py): (failures, window in seconds).
    LOGIN_FAILURES_PER_PAIR = (5, 15 * 60)  # one e-mail from one address
    LOGIN_FAILURES_PER_EMAIL = (20, 60 * 60)  # one e-mail from addresses it has not signed in from
    LOGIN_FAILURES_PER_IP = (10, 60)  # many e-mails from one address
    LOGIN_KNOWN_ADDRESS_DAYS = 30
    RESET_LIMITS_PER_IP = "5 per hour"
    RESET_LIMITS_PER_ACCOUNT = "3 per hour"

    MAIL_FROM = os.environ.get("MAIL_FROM", "IGNY8 <no-reply@igny8.example.com>")
    PASSWORD_RESET_TTL = timedelta(hours=1)
    INVITATION_TTL = timedelta(days=7)
    PASSWORD_HASH_METHOD = "scrypt"
    SIGNUP_BONUS_CREDITS = int(os.environ.get("SIGNUP_BONUS_CREDITS", "0"))

    JOB_HEARTBEAT_SECONDS = 10
    JOB_STALE_AFTER_SECONDS = int(os.environ.get("JOB_STALE_AFTER_SECONDS", "90"))
    JOB_QUEUED_STALE_AFTER_SECONDS = int(os.environ.get("JOB_QUEUED_STALE_AFTER_SECONDS", "3600"))
    JOB_PROGRESS_THROTTLE_SECONDS = 1.0
    AUTOMATION_POLL_SECONDS = float(os.environ.get("AUTOMATION_POLL_SECONDS", "1.0"))  # a run waiting on a job
    # A run with no step for this long (and no live stage job) is marked interrupted; a long queue must not trip it.
    AUTOMATION_STALE_AFTER_SECONDS = int(os.environ.get("AUTOMATION_STALE_AFTER_SECONDS", "600"))
    RQ_QUEUES = ["default"]
    # Stored parts of the planner's list pages, exact through the account's data version (app/page_cache.py).
    PAGE_CACHE = _env_bool("PAGE_CACHE", True)
    # Model calls one batch job makes at once, per provider slug (AI_CONCURRENCY_BY_PROVIDER="openai=8").
    AI_CONCURRENCY = int(os.environ.get("AI_CONCURRENCY", "4"))
    AI_CONCURRENCY_BY_PROVIDER = _env_counts("AI_CONCURRENCY_BY_PROVIDER")
    RQ_DASHBOARD_REDIS_URL = None  # filled from REDIS_URL by the factory
    # Publishing: request timeout, attempts before giving up (with exponential backoff between them), quick
    # in-job retries of one step, and how long before its slot an article is handed to WordPress as "future".
    WORDPRESS_TIMEOUT_SECONDS = float(os.environ.get("WORDPRESS_TIMEOUT_SECONDS", "20"))
    PUBLISH_MAX_ATTEMPTS = int(os.environ.get("PUBLISH_MAX_ATTEMPTS", "6"))
    PUBLISH_RETRY_BASE_SECONDS = 60
    PUBLISH_INLINE_RETRIES = 2
    PUBLISH_INLINE_BACKOFF_SECONDS = 1.0
    PUBLISH_LEAD_SECONDS = int(os.environ.get("PUBLISH_LEAD_SECONDS", "3600"))
    # Images: compressed as WebP (or JPEG) at this quality; a generated file larger than this is refused.
    IMAGE_FORMAT = os.environ.get("IMAGE_FORMAT", "webp")
    IMAGE_QUALITY = int(os.environ.get("IMAGE_QUALITY", "82"))
    IMAGE_MAX_SOURCE_BYTES = 40 * 1024 * 1024

    def default_database_url(self) -> str | None:
        """The database used when the environment names none."""
        return getattr(self, "DEFAULT_DATABASE_URL", None)

    def missing_settings(self) -> list[str]:
        """Names of required settings that are absent."""
        return []

    def refused_settings(self) -> list[str]:
        """Settings that are on but must not be in this environment."""
        return []


class DevelopmentConfig(Config):
    """Laptop defaults: the embedded PostgreSQL and the bundled Redis that `scripts/run` starts."""

    ENV_NAME = "development"
    DEBUG = False
    DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    DEFAULT_DEMO_PAYMENTS = True
    DEFAULT_INVOICE_BANK_DETAILS = "IGNY8 Demo Ltd · IBAN XX00 DEMO 0000 0000 0000 · BIC DEMOXX00 (development)"
    DEFAULT_OUTBOUND_ALLOW_PRIVATE = True  # a laptop's own WordPress on loopback

    def default_database_url(self) -> str:
        """The embedded PostgreSQL of `scripts/run`, whose data lives in instance/postgres."""
        from app.embedded_db import database_url

        return database_url(INSTANCE_DIR)


class TestingConfig(Config):
    """Tests run against real PostgreSQL and Redis."""

    ENV_NAME = "testing"
    TESTING = True
    DEFAULT_SECRET_KEY = "test-secret-key"
    DATABASE_ENV = "TEST_DATABASE_URL"
    DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_test"
    REDIS_ENV = "TEST_REDIS_URL"
    DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
    DEFAULT_ENCRYPTION_KEYS = ["kPrZ0d1tdTq4a7mK6V0fSg9yq0p4f0yA2o8aX3zY3yU="]
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing for tests only
    DEFAULT_OUTBOUND_ALLOW_PRIVATE = True  # fake servers listen on loopback
    DEFAULT_PUBLIC_BASE_URL = "http://igny8.test"
    DEFAULT_DEMO_PAYMENTS = True
    AUTOMATION_POLL_SECONDS = 0.02
    DEFAULT_INVOICE_BANK_DETAILS = "IGNY8 Test Ltd · IBAN XX00 TEST 0000 0000 0000 · BIC TESTXX00"
    PUBLISH_INLINE_BACKOFF_SECONDS = 0.05
    DEFAULT_IMAGE_STORAGE_DIR = f"/tmp/igny8-test-images-{os.getpid()}"


class ProductionConfig(Config):
    """Production: every secret must come from the environment."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    def missing_settings(self) -> list[str]:
        """Names of required settings that are absent."""
        missing = []
        if not self.SECRET_KEY:
            missing.append("SECRET_KEY")
        if not self.SQLALCHEMY_DATABASE_URI:
            missing.append("DATABASE_URL")
        if not self.ENCRYPTION_KEYS:
            missing.append("ENCRYPTION_KEYS")
        if not self.PUBLIC_BASE_URL:
            missing.append("PUBLIC_BASE_URL")
        return missing

    def refused_settings(self) -> list[str]:
        """Settings that must not be on in production."""
        return ["DEMO_PAYMENTS (the demo card processor takes no money)"] if self.DEMO_PAYMENTS else []


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """Pick the config class named by IGNY8_ENV (default development) and instantiate it."""
    name = name or os.environ.get("IGNY8_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"Unknown IGNY8_ENV {name!r}; use one of {', '.join(CONFIGS)}")
    config = CONFIGS[name]()
    missing = config.missing_settings()
    if missing:
        raise RuntimeError(
            "IGNY8 cannot start in production without these settings: " + ", ".join(missing)
        )
    refused = config.refused_settings()
    if refused:
        raise RuntimeError("IGNY8 refuses to start in production with these settings on: " + ", ".join(refused))
    url = config.SQLALCHEMY_DATABASE_URI or ""
    if url and not url.startswith("postgresql"):
        scheme = url.split(":", 1)[0]
        raise RuntimeError(
            f"IGNY8 runs on PostgreSQL only; the database URL starts with {scheme!r}. "
            "Use a postgresql+psycopg://user:password@host:5432/igny8 URL, or leave DATABASE_URL unset "
            "in development to use the embedded PostgreSQL that ./scripts/run starts."
        )
    return config
