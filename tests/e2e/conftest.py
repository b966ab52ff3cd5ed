"""Browser tests: the real app served by waitress, a real RQ worker, headless Chromium.

The live server and the worker are separate processes on the same test database and
Redis as the rest of the suite (tests/conftest.py): the session ``app`` fixture builds
the schema (and loads the reference data) first, and the autouse ``clean_state`` fixture
empties every other table and the Redis database before each test, so each test seeds
what it needs. Test modules here carry ``pytestmark = pytest.mark.e2e``; logs of the
server and worker, and a screenshot + HTML of a failing page, go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 10_000

expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(**extra: str) -> dict[str, str]:
    """The environment of the server and worker: the same test database and Redis as the tests."""
    env = dict(os.environ)
    env.update(
        IGNY8_ENV="testing",
        TEST_DATABASE_URL=os.environ["TEST_DATABASE_URL"],
        TEST_REDIS_URL=os.environ["TEST_REDIS_URL"],
        PYTHONUNBUFFERED="1",
    )
    # The testing default is a directory per process; the server must read the files the worker writes.
    env.setdefault("IMAGE_STORAGE_DIR", f"/tmp/igny8-e2e-images-{os.getpid()}")
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def _start(args: list[str], env: dict[str, str], log_name: str) -> tuple[subprocess.Popen, Path]:
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / log_name
    log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc._e2e_log = log  # type: ignore[attr-defined]
    return proc, log_path


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    proc._e2e_log.close()  # type: ignore[attr-defined]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def live_server(app):
    """The app under waitress on a free port (after ``app`` migrated the test database)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _child_env(PUBLIC_BASE_URL=base_url)
    proc, log_path = _start(
        [PYTHON, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8", "wsgi:app"],
        env, "live_server.log")
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"The live server exited ({proc.returncode}):\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"The live server did not answer /healthz in 30s:\n{_tail(log_path)}")
        time.sleep(0.1)
    yield base_url
    _stop(proc)


@pytest.fixture(scope="session")
def worker(app, live_server):
    """An RQ worker (``--simple``: jobs run in the worker process) on the test Redis."""
    proc, log_path = _start([PYTHON, "-m", "workers.worker", "--simple"],
                            _child_env(PUBLIC_BASE_URL=live_server), "worker.log")
    redis = app.extensions["redis"]
    deadline = time.monotonic() + 30
    # Registered workers are listed in the rq:workers set once the worker has booted.
    while not redis.scard("rq:workers"):
        if proc.poll() is not None:
            raise RuntimeError(f"The worker exited ({proc.returncode}):\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"The worker did not register in 30s:\n{_tail(log_path)}")
        time.sleep(0.1)
    yield proc
    _stop(proc)


@pytest.fixture(scope="session")
def playwright_driver():
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


@pytest.fixture
def page(request, browser, live_server):
    """A fresh browser context per test; a screenshot lands in test-artifacts/ on failure."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    yield page
    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call"))
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = _artifact_name(request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content())
            if js_errors:
                (ARTIFACTS / f"{name}.js-errors.txt").write_text("\n".join(js_errors))
        except Exception:  # noqa: BLE001 - a screenshot is best effort
            pass
    context.close()
