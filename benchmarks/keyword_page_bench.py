"""The planner's list pages under load, as a client sees them: keywords, clusters and ideas.

One sector holds 100,000 keywords, 2,000 clusters (every keyword in one) and 10,000 ideas (five per
cluster). Serves the app with the production server configuration (gunicorn.conf.py: pre-forked workers,
two per core) on loopback, signs in, and for each page sends the filtered and sorted loads below from 1, 4
and 16 client threads at once; prints requests per second and client-side p50/p95 per page and
concurrency. Each client thread keeps one connection open (HTTP keep-alive), as a browser does. The client
threads run on the same machine and take CPU from the server, so the figures are conservative.

Three rounds: "stored" serves pages through the account's page cache (app/page_cache.py) as in production,
so after the warm-up each load of an unchanged view is a stored one; "first" keeps the cache on but makes
every load a view no one has loaded since the last change; "uncached" runs the server with PAGE_CACHE=0.
PAGE_CACHE=0 in this script's environment runs only the last.
Targets (each page): p95 <= 50 ms at 1 client; >= 200 requests/s at 16 clients with p95 <= 150 ms.

Run: .venv/bin/python benchmarks/keyword_page_bench.py [keywords] [requests per client] [levels, e.g. 1,4,16]
     [pages, e.g. keywords,clusters,ideas]
"""

from __future__ import annotations

import http.client
import itertools
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

CLUSTERS, IDEAS_PER_CLUSTER = 2_000, 5
KEYWORD_QUERIES = [
    "sort=volume&direction=desc",
    "sort=difficulty&direction=asc&volume_min=1000",
    "q=espresso&sort=volume&direction=desc",
    "intent=commercial&difficulty_max=40&sort=cpc&direction=desc",
    "unclustered=1&sort=keyword&direction=asc&page=40",
    "volume_min=500&volume_max=5000&sort=created&direction=desc&per_page=100",
    "q=grinder+burr&status=all&sort=keyword&direction=desc",
]
CLUSTER_QUERIES = [
    "",  # volume, largest first
    "sort=keywords&dir=desc&page=3",
    "sort=name&dir=asc&page=20",
    "intent=commercial&sort=difficulty&dir=asc",
    "q=espresso&sort=volume&dir=desc",
    "sort=ideas&dir=desc&page=40",
    "sort=created&dir=desc",
]
IDEA_QUERIES = [
    "",
    "status=new",
    "type=post&page=20",
    "structure=guide&status=new&page=3",
    "q=espresso",
    "page=150",
    "cluster={cluster}",
]
PAGES = {"keywords": ("/planner/keywords", KEYWORD_QUERIES), "clusters": ("/planner/clusters", CLUSTER_QUERIES),
         "ideas": ("/planner/ideas", IDEA_QUERIES)}


def add_clusters_and_ideas(app, ids: dict) -> None:
    """2,000 clusters over the sector's keywords (50 each) and five ideas per cluster, written with SQL."""
    from app.extensions import db

    intents = "ARRAY['informational', 'commercial', 'transactional', 'navigational']"
    with app.app_context():
        params = {"a": ids["account"], "s": ids["site"], "sec": ids["sector"], "n": CLUSTERS}
        db.session.execute(db.text(
            f"INSERT INTO clusters (account_id, site_id, sector_id, name, intent, source) "
            f"SELECT :a, :s, :sec, 'cluster ' || g || ' ' || (SELECT keyword FROM keywords WHERE sector_id = :sec "
            f"ORDER BY id OFFSET g LIMIT 1), ({intents})[1 + g % 4], 'semantic' FROM generate_series(1, :n) g"),
            params)
        db.session.execute(db.text(
            "WITH c AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM clusters WHERE sector_id = :sec), "
            "k AS (SELECT id, (row_number() OVER (ORDER BY id) - 1) % :n AS n FROM keywords WHERE sector_id = :sec) "
            "UPDATE keywords SET cluster_id = c.id FROM k JOIN c USING (n) WHERE keywords.id = k.id"), params)
        db.session.execute(db.text(
            "INSERT INTO ideas (account_id, site_id, sector_id, cluster_id, title, summary, outline, content_type, "
            "structure, primary_keyword, secondary_keywords, status) "
            "SELECT :a, :s, :sec, c.id, 'How to choose ' || c.name || ' #' || i, 'A guide.', '[]', "
            "(ARRAY['post', 'page', 'product'])[1 + i % 3], (ARRAY['guide', 'how-to', 'listicle'])[1 + i % 3], "
            "c.name, '[]', (ARRAY['new', 'new', 'queued', 'archived', 'new'])[i] "
            "FROM clusters c, generate_series(1, :per) i WHERE c.sector_id = :sec"), {**params, "per": IDEAS_PER_CLUSTER})
        db.session.commit()


def serve(page_cache: bool = True) -> tuple[subprocess.Popen, str]:
    """The production server configuration (gunicorn.conf.py: pre-forked workers) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "ACCESS_LOG": "", "TEST_DATABASE_URL": BENCH_DATABASE_URL,
           "PAGE_CACHE": "1" if page_cache else "0"}
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
    pages = sys.argv[4].split(",") if len(sys.argv) > 4 else list(PAGES)
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
        imports.tidy_search_index(ids["sector"])  # as the import job does after the report
        db.session.commit()
    if "clusters" in pages or "ideas" in pages:
        add_clusters_and_ideas(app, ids)
    with app.app_context(), db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("keywords", "clusters", "ideas"):
            conn.execute(db.text(f"VACUUM ANALYZE {table}"))
        cluster = conn.execute(db.text("SELECT min(id) FROM clusters")).scalar()
    modes = ["stored", "first", "uncached"] if os.environ.get("PAGE_CACHE", "1") != "0" else ["uncached"]
    print(f"keywords in sector: {count:,}; clusters: {CLUSTERS:,}; ideas: {CLUSTERS * IDEAS_PER_CLUSTER:,}; "
          f"server: gunicorn.conf.py ({workers()} workers); client-side times")
    print("stored: the page cache on, as in production (each view rendered once, then served while the data is "
          "unchanged); first: the cache on but every load a view no one has loaded since the last change (a "
          "never-seen query string each time: the table is rendered, the sector's cluster choices come stored); "
          "uncached: PAGE_CACHE=0, every part of every load rendered from the database")
    print(f"{'cache':>8} {'page':>9} {'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for mode in modes:
        server, base = serve(page_cache=mode != "uncached")
        try:
            opener = signed_in_opener(base, ids["email"], ids["password"])
            for name in pages:
                path, queries = PAGES[name]
                urls = [f"{base}{path}?{q.format(cluster=cluster)}" for q in queries]
                for url in urls * 3:  # warm up every worker's caches a little
                    opener.open(url).read()
                for clients in levels:
                    done, wall, times = load(urls, opener, clients, per_client * clients, fresh=mode == "first")
                    print(f"{mode:>8} {name:>9} {clients:>7} {done:>8} {done / wall:>7.1f} "
                          f"{percentile(times, 50):>7.1f} {percentile(times, 95):>7.1f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("Targets: p95 <= 50 ms at 1 client; >= 200 req/s at 16 clients with p95 <= 150 ms.")


def workers() -> int:
    import multiprocessing

    return int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count() * 2))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def cookie_header(opener) -> str:
    """The signed-in session's cookies, for clients that send requests without the opener."""
    jar = next(h.cookiejar for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor))
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class KeepAliveClient:
    """One persistent HTTP connection, reopened when the server closes it."""

    def __init__(self, base: str, cookie: str):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port, self.cookie = parts.hostname, parts.port, cookie
        self.conn: http.client.HTTPConnection | None = None

    def get(self, url: str) -> int:
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request("GET", path, headers={"Cookie": self.cookie})
                response = self.conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def load(urls: list[str], opener, clients: int, requests: int, *, fresh: bool = False) -> tuple[int, float, list[float]]:
    """Send `requests` loads of the urls in turn from `clients` threads at once; (done, seconds, times in ms).

    ``fresh``: each load carries a query argument never sent before (which the pages ignore), so no stored
    copy of that view exists."""
    times: list[float] = []
    lock = threading.Lock()
    base = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(urls[0]))
    cookie = cookie_header(opener)
    serial = itertools.count(int(time.time() * 1000))

    def worker(number: int) -> None:
        client = KeepAliveClient(base, cookie)
        try:
            for i in range(number, requests, clients):
                url = urls[i % len(urls)]
                if fresh:
                    url += f"&fresh={next(serial)}" if "?" in url else f"?fresh={next(serial)}"
                started = time.perf_counter()
                status = client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                assert status == 200, status
                with lock:
                    times.append(elapsed)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(times), time.perf_counter() - started, times


if __name__ == "__main__":
    main()
