"""Keyword list page with 100,000 keywords in the sector: server time of filtered, sorted pages.

Serves the real app with waitress on loopback, signs in, and sends requests from several client threads
at once. Server time is read from the X-Server-Time header the benchmark adds around each request
(time spent inside the app, not in the client or on the socket). Target: p95 under 150 ms.

Run: .venv/bin/python benchmarks/keyword_page_bench.py [keywords] [requests] [concurrency]
"""

from __future__ import annotations

import http.cookiejar
import re
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

from _setup import fresh_app, keyword_rows, make_sector, semrush_csv

QUERIES = [
    "sort=volume&direction=desc",
    "sort=difficulty&direction=asc&volume_min=1000",
    "q=espresso&sort=volume&direction=desc",
    "intent=commercial&difficulty_max=40&sort=cpc&direction=desc",
    "unclustered=1&sort=keyword&direction=asc&page=40",
    "volume_min=500&volume_max=5000&sort=created&direction=desc&per_page=100",
    "q=grinder+burr&status=all&sort=keyword&direction=desc",
]


def serve(app):
    from waitress.server import create_server

    def timed(environ, start_response):
        started = time.perf_counter()

        def start(status, headers, exc_info=None):
            headers.append(("X-Server-Time", f"{(time.perf_counter() - started) * 1000:.2f}"))
            return start_response(status, headers, exc_info)

        return app.wsgi_app(environ, start)

    app.wsgi_app_timed = timed
    server = create_server(timed, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.effective_port}"


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
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 280
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 4
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
    server, base = serve(app)
    opener = signed_in_opener(base, ids["email"], ids["password"])
    openers = [opener] * concurrency  # one session shared by the client threads
    for query in QUERIES:  # warm up
        openers[0].open(f"{base}/planner/keywords?{query}").read()
    server_ms: list[float] = []
    client_ms: list[float] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        opener = openers[number]
        for i in range(number, requests, concurrency):
            url = f"{base}/planner/keywords?{QUERIES[i % len(QUERIES)]}"
            started = time.perf_counter()
            response = opener.open(url)
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200
            with lock:
                server_ms.append(float(response.headers["X-Server-Time"]))
                client_ms.append(elapsed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started

    def p(values, q):
        return statistics.quantiles(values, n=100)[q - 1]

    print(f"keywords in sector:  {count:,}")
    print(f"requests:            {len(server_ms)} from {concurrency} concurrent clients in {wall:.1f} s")
    print(f"server time p50:     {p(server_ms, 50):.1f} ms")
    print(f"server time p95:     {p(server_ms, 95):.1f} ms  (target < 150 ms)")
    print(f"client time p95:     {p(client_ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
