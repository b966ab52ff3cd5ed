"""Shared fixtures: a real PostgreSQL database built by the migrations, a real Redis."""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

os.environ.setdefault("IGNY8_ENV", "testing")
# Each pytest run gets its own database and its own Redis server, so runs side by side on one
# machine never truncate or flush each other's data, and nothing else using the machine's Redis
# is touched. Subprocesses (live server, workers) inherit these variables.
TEST_DATABASE_URL = os.environ.setdefault(
    "TEST_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/igny8_test_{os.getpid()}"
)
if "TEST_REDIS_URL" not in os.environ:
    from tests.private_redis import start_private_redis

    os.environ["TEST_REDIS_URL"] = start_private_redis()

from app import create_app  # noqa: E402
from app import tenancy  # noqa: E402
from app.extensions import db  # noqa: E402
from tests.wordpress import real_wordpress  # noqa: E402,F401  (the loopback WordPress fixture)

# Reference data is loaded once per run and kept; everything else is emptied before each test.
KEEP_TABLES = {"alembic_version", "industries", "industry_sectors", "seed_keywords", "plans",
               "credit_packages", "operation_prices"}


def _recreate_database(url: str, *, create: bool = True) -> None:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": target.database})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        if create:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def app():
    """The app on a fresh test database whose schema comes from the Alembic migrations."""
    _recreate_database(TEST_DATABASE_URL)
    application = create_app("testing")
    application.config["SERVER_NAME"] = None
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
        from app.services.reference import load_reference_data

        with tenancy.all_accounts():
            load_reference_data()
    from workers.tasks import use_app

    use_app(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    if f"igny8_test_{os.getpid()}" in TEST_DATABASE_URL:
        _recreate_database(TEST_DATABASE_URL, create=False)


def truncate_all(application) -> None:
    """Empty every table (the live server and workers use their own connections)."""
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            names = [r[0] for r in conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                if r[0] not in KEEP_TABLES]
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(autouse=True)
def clean_state(request, app):
    """Each test starts with empty tables and an empty Redis database."""
    truncate_all(app)
    app.extensions["redis"].flushdb()
    tenancy.unbind()
    yield
    tenancy.unbind()
    with app.app_context():
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def reference(app):
    """Industries, sectors, seed keywords and plans (loaded once per run, never truncated)."""
    return app


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
HX_CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """Fetch a page and read the CSRF token it carries."""
    html = client.get(path).get_data(as_text=True)
    match = HX_CSRF_RE.search(html) or CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return next(g for g in match.groups() if g)


class Browserless:
    """A test client that fills in the CSRF token like a browser would."""

    def __init__(self, client):
        self.client = client

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(self.client, token_from or "/login"))
        return self.client.post(path, data=data, **kwargs)


def make_account(app, *, email: str, password: str = "correct-horse-battery", account_name: str = "Acme Agency",
                 name: str = "Olive Owner"):
    """Sign up an account and its owner through the service; returns (account_id, user_id)."""
    from app.services.accounts.auth import signup

    with app.app_context():
        user = signup(account_name=account_name, name=name, email=email, password=password)
        ids = (user.account_id, user.id)
        tenancy.unbind()
        db.session.remove()
    return ids


def login(client, email: str, password: str = "correct-horse-battery"):
    """Sign in through the login form."""
    return Browserless(client).post("/login", {"email": email, "password": password})


class _WordPressHandler(BaseHTTPRequestHandler):
    """Answers like the front of a WordPress site: a home page and the REST index."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path == "/":
            body, content_type = b"<html><body>A WordPress blog</body></html>", "text/html"
        elif self.path == "/wp-json/":
            body, content_type = json.dumps({"namespaces": ["wp/v2"]}).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def wordpress_site():
    """A local HTTP server answering like a WordPress site; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WordPressHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def web(client):
    return Browserless(client)


def pytest_collection_modifyitems(config, items):
    """Run unit tests first and browser tests last: the e2e live server and worker stay up until
    the session ends, and a worker left running would take the integration tests' jobs."""
    order = {"unit": 0, "integration": 1, "e2e": 2}

    def layer(item) -> int:
        parts = item.nodeid.split("/")
        return order.get(parts[1] if len(parts) > 1 else "", 1)

    items.sort(key=layer)
