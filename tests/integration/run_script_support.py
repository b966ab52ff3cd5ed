"""Drive `scripts/run` from tests: start it on a folder of its own, watch every process it starts, talk to the
app over HTTP like a browser would (forms, CSRF tokens, cookies, uploads)."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from html.parser import HTMLParser
from pathlib import Path

import psutil
import sqlalchemy as sa

from app.embedded_db import database_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunScript:
    """One `scripts/run` process with its instance folder, log and the processes seen under it."""

    def __init__(self, instance_dir: Path, log_path: Path) -> None:
        self.instance_dir, self.log_path = instance_dir, log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.seen: dict[int, tuple[float, str]] = {}  # pid -> (create time, command line)
        self.health_failures: list[str] = []
        self.counts_at_stop: dict[str, int] = {}  # row counts a test noted before stopping, for the next start
        self._stop_watching = threading.Event()
        self._watcher: threading.Thread | None = None
        self._log_start = 0  # where the current start's output begins in the log

    # --- starting and stopping --------------------------------------------------------------------------
    def start(self, timeout: float = 420) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "TEST_REDIS_URL", "SECRET_KEY",
                            "ENCRYPTION_KEYS")}
        env.update(IGNY8_ENV="development", IGNY8_INSTANCE_DIR=str(self.instance_dir), PORT=str(self.port),
                   HOST="127.0.0.1", IGNY8_STOP_GRACE="5", IGNY8_WORKERS="2")
        self._log_start = len(self.log())
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open while the script runs)
        self.proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._stop_watching.clear()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        deadline = time.monotonic() + timeout
        while "IGNY8 is running at" not in self.this_start():
            if self.proc.poll() is not None:
                raise AssertionError(f"scripts/run exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"scripts/run was not ready in {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.5)

    def stop(self, timeout: float = 120) -> int:
        """Stop it as Ctrl-C would (SIGINT to the script) and wait for it to exit."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_everything()
                raise AssertionError(f"scripts/run did not stop in {timeout}s:\n{self.tail()}") from None
        self._stop_watching.set()
        if self._watcher:
            self._watcher.join(timeout=5)
        return self.proc.returncode

    def kill_everything(self) -> None:
        """Last resort for a failed test: no process of this run outlives it."""
        for pid in list(self.seen):
            if self.still_running(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stop_watching.set()

    # --- watching ---------------------------------------------------------------------------------------
    def remember(self, process: psutil.Process) -> None:
        """Count a process as this run's (the watcher does so for everything under the script)."""
        try:
            if process.pid not in self.seen:
                self.seen[process.pid] = (process.create_time(), " ".join(process.cmdline()))
        except psutil.Error:
            pass

    def _watch(self) -> None:
        """Every process under the script (work horses included), the postmaster, and /healthz answers."""
        while not self._stop_watching.is_set() and self.proc and self.proc.poll() is None:
            try:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    self.remember(child)
                pid = self.postmaster_pid()
                if pid:
                    self.remember(psutil.Process(pid))
            except psutil.Error:
                pass
            if "IGNY8 is running at" in self.this_start():
                try:
                    with urllib.request.urlopen(self.base_url + "/healthz", timeout=10) as response:
                        if response.status != 200:
                            self.health_failures.append(f"status {response.status}")
                except (urllib.error.URLError, OSError) as exc:
                    self.health_failures.append(repr(exc))
            time.sleep(0.3)

    def still_running(self, pid: int) -> bool:
        created, _ = self.seen[pid]
        try:
            process = psutil.Process(pid)
            return abs(process.create_time() - created) < 0.01 and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def left_running(self) -> list[str]:
        return [f"{pid} {self.seen[pid][1]}" for pid in self.seen if self.still_running(pid)]

    def processes(self, needle: str) -> list[psutil.Process]:
        """Live processes of this run whose command line contains needle, oldest first."""
        assert self.proc is not None
        found = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if needle in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                pass
        return sorted(found, key=lambda p: p.create_time())

    def postmaster_pid(self) -> int | None:
        """The running server's pid (initdb's bootstrap backend writes a negative one: not a server yet)."""
        try:
            pid = int((self.instance_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid > 0 else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def this_start(self) -> str:
        """The log of the latest start only."""
        return self.log()[self._log_start:]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def database(self) -> sa.Engine:
        return sa.create_engine(database_url(self.instance_dir), poolclass=sa.pool.NullPool)


class _Forms(HTMLParser):
    """The forms of a page: action, method, the values a browser would send, and buttons' formactions."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "action": a.get("action", ""), "fields": [],
                               "formactions": []})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("file", "submit", "button"):
                fields.append((a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self._select, self._select_value = a.get("name"), None
        elif tag == "option" and self._select is not None:
            if self._select_value is None or "selected" in a:
                self._select_value = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            fields.append((self._textarea, ""))
        elif tag == "button" and a.get("formaction"):
            self.forms[-1]["formactions"].append(a["formaction"])

    def handle_data(self, data):
        if self._textarea and self.forms:
            name, value = self.forms[-1]["fields"][-1]
            self.forms[-1]["fields"][-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            if self._select_value is not None:
                self.forms[-1]["fields"].append((self._select, self._select_value))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class Browser:
    """Cookies, CSRF tokens and forms over plain HTTP, following redirects."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.last_url = ""

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None) -> str:
        url = path if path.startswith("http") else self.base_url + path
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=120) as response:
                self.last_url = response.geturl()
                return response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", errors="replace")
            raise AssertionError(f"{exc.code} from {url}:\n{body[:2000]}") from None

    def get(self, path: str) -> str:
        return self.request(path)

    def post(self, path: str, fields: list[tuple[str, str]]) -> str:
        return self.request(path, urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def token(self, page: str) -> str:
        match = re.search(r'"X-CSRFToken": "([^"]+)"', page) or re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                                                                           page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, page: str, *, form_id: str | None = None, action: str | None = None,
               changes: dict | None = None) -> str:
        """Send a form of the page as a browser would (optionally with some values changed)."""
        here = urllib.parse.urlsplit(self.last_url).path  # a form without an action posts to its page
        forms = [f for f in forms_of(page) if (form_id is None or f["id"] == form_id)
                 and (action is None or (f["action"] or here).endswith(action))]
        assert forms, f"no form {form_id or action} on the page"
        form = forms[0]
        fields = [(k, v) for k, v in form["fields"] if k not in (changes or {})]
        for key, value in (changes or {}).items():
            fields += [(key, v) for v in (value if isinstance(value, list) else [value])]
        return self.post(form["action"] or here, fields)

    def upload(self, path: str, *, field: str, filename: str, content: bytes, fields: dict) -> str:
        boundary = uuid.uuid4().hex
        parts = []
        for key, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                     "Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(path, b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def sign_in(self, email: str, password: str) -> None:
        page = self.get("/login")
        self.submit(page, action="/login", changes={"email": email, "password": password})
        assert not self.last_url.endswith("/login"), "sign-in failed"

    def choose_sector(self, sector_id: int) -> None:
        page = self.get("/")
        self.post("/context/sector", [("csrf_token", self.token(page)), ("sector_id", str(sector_id)),
                                      ("next", "/planner/keywords")])
