"""Keyword list page with 100,000 keywords in the sector under load, as a client sees it.

Serves the app with the production server configuration (gunicorn.conf.py: pre-forked workers, two per
core) on loopback, signs in, and sends the filtered and sorted page loads below from 1, 4 and 16 client
threads at once; prints requests per second and client-side p50/p95 for each. The client threads run
on the same machine and take CPU from the server, so the figures are conservative.
Targets: p95 <= 50 ms at 1 client; >= 200 requests/s at 16 clients with p95 <= 150 ms.

Run: .venv/bin/python benchmarks/keyword_page_bench.py [keywords] [requests per client] [levels, e.g. 1,4,16]
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from _setup import BENCH_DATABASE_URL, ROOT, fresh_app, keyword_rows, make_sector, semrush_csv

QUERIES = [
    "sort=volume&direction=desc",
    "sort=difficulty&direction=asc&volume_min=1000",
    "q=espresso&sort=volume&direction=desc",
    "intent=commercial&difficulty_max=40&sort=cpc&direction=desc",
    "unclustered=1&sort=keyword&direction=asc&page=40",
    "volume_min=500&volume_max=5000&sort=created&direction=desc&per_page=100",
    "q=grinder+burr&status=all&sort=keyword&direction=desc",
]


def serve() -> tuple[subprocess.Popen, str]:
    """The production server configuration (gunicorn.conf.py: pre-forked workers) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "ACCESS_LOG": "", "TEST_DATABASE_URL": BENCH_DATABASE_URL}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                               "--chdir", str(ROOT / "benchmarks"), "_bench_wsgi:app"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/login", timeout=2).read()
            return server, base
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def signed_in_opener(base: str, email: str, password: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login").read().decode()
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    token = match.group(1)
    body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    opener.open(f"{base}/login", body)
    return opener


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    per_client = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    levels = [int(c) for c in sys.argv[3].split(",")] if len(sys.argv) > 3 else [1, 4, 16]
    app = fresh_app()
    app.config["RATELIMIT_ENABLED"] = False
    ids = make_sector(app)
    from app import tenancy
    from app.extensions import db
    from app.services.planner import imports

    with app.app_context(), tenancy.account_scope(ids["account"]):
        imp = imports.create(sector_id=ids["sector"], data=semrush_csv(keyword_rows(count)), filename="bench.csv",
                             user_id=ids["user"])
        imports.run(imp.id)
        db.session.commit()
    with app.app_context(), db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(db.text("VACUUM ANALYZE keywords"))
    server, base = serve()
    try:
        opener = signed_in_opener(base, ids["email"], ids["password"])
        for query in QUERIES * 3:  # warm up every worker's caches a little
            opener.open(f"{base}/planner/keywords?{query}").read()
        print(f"keywords in sector: {count:,}; server: gunicorn.conf.py ({workers()} workers); client-side times")
        print(f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}")
        for clients in levels:
            done, wall, times = load(base, opener, clients, per_client * clients)
            print(f"{clients:>7} {done:>8} {done / wall:>7.1f} {percentile(times, 50):>7.1f} "
                  f"{percentile(times, 95):>7.1f}", flush=True)
        print("Targets: p95 <= 50 ms at 1 client; >= 200 req/s at 16 clients with p95 <= 150 ms.")
    finally:
        server.terminate()
        server.wait(timeout=30)


def workers() -> int:
    import multiprocessing

    return int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count() * 2))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def load(base: str, opener, clients: int, requests: int) -> tuple[int, float, list[float]]:
    """Send `requests` page loads from `clients` threads at once; (done, seconds, client times in ms)."""
    times: list[float] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        for i in range(number, requests, clients):
            url = f"{base}/planner/keywords?{QUERIES[i % len(QUERIES)]}"
            started = time.perf_counter()
            response = opener.open(url)
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200
            with lock:
                times.append(elapsed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(times), time.perf_counter() - started, times


if __name__ == "__main__":
    main()
