"""One request of each planner list page, in process: SQL statements, time and where the Python time goes.

Builds the keyword page benchmark's data (100,000 keywords, 2,000 clusters, 10,000 ideas in one sector) on
BENCH_DATABASE_URL unless `--reuse` is given (then it reuses the account the last run made), signs in with
the Flask test client, and for each page and query prints the statements sent to PostgreSQL and the median
time of a few loads; `--profile` adds a cProfile of the page's first query (top functions by own time).

Run: .venv/bin/python benchmarks/page_profile.py [--reuse] [--profile] [--sql] [pages, e.g. keywords,clusters]
"""

from __future__ import annotations

import cProfile
import pstats
import re
import statistics
import sys
import time

from _setup import keyword_rows, make_sector, semrush_csv

import keyword_page_bench as bench


def build(app) -> dict:
    ids = make_sector(app)
    from app import tenancy
    from app.extensions import db
    from app.services.planner import imports

    with app.app_context(), tenancy.account_scope(ids["account"]):
        imp = imports.create(sector_id=ids["sector"], data=semrush_csv(keyword_rows(100_000)), filename="bench.csv",
                             user_id=ids["user"])
        imports.run(imp.id)
        imports.tidy_search_index(ids["sector"])  # as the import job does after the report
    bench.add_clusters_and_ideas(app, ids)
    with app.app_context(), db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("keywords", "clusters", "ideas"):
            conn.execute(db.text(f"VACUUM ANALYZE {table}"))
    return ids


def main() -> None:
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    rest = [a for a in sys.argv[1:] if not a.startswith("--")]
    pages = rest[0].split(",") if rest else list(bench.PAGES)
    if "--reuse" in flags:
        import os

        from _setup import BENCH_DATABASE_URL

        os.environ["TEST_DATABASE_URL"] = BENCH_DATABASE_URL
        from app import create_app

        app = create_app("testing")
        ids = {"email": "bench@igny8.example.com", "password": "quiet-harbour-77"}
    else:
        from _setup import fresh_app

        app = fresh_app()
        ids = build(app)
    app.config["RATELIMIT_ENABLED"] = False
    from sqlalchemy import event

    from app.extensions import db

    statements: list[str] = []
    sql_ms: list[float] = []
    with app.app_context():
        engine = db.engine
        cluster = db.session.execute(db.text("SELECT min(id) FROM clusters")).scalar()
    started_at: list[float] = [0.0]

    def before(conn, cursor, statement, *args):
        statements.append(statement)
        started_at[0] = time.perf_counter()

    def after(conn, cursor, statement, *args):
        sql_ms.append((time.perf_counter() - started_at[0]) * 1000)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)

    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    client.post("/login", data={"email": ids["email"], "password": ids["password"], "csrf_token": token})
    for name in pages:
        path, queries = bench.PAGES[name]
        print(f"== {name}")
        for i, query in enumerate(queries):
            url = f"{path}?{query.format(cluster=cluster)}"
            for _ in range(2):
                assert client.get(url).status_code == 200
            statements.clear()
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            count = len(statements)
            if "--sql" in flags and i == 0:
                for stmt in statements:
                    print("   ", " ".join(stmt.split())[:100], "…", " ".join(stmt.split())[-60:])
            times, in_sql = [], []
            for _ in range(5):
                sql_ms.clear()
                started = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                in_sql.append(sum(sql_ms))
            print(f"  {count:>3} statements {statistics.median(times):>7.1f} ms (SQL {statistics.median(in_sql):>6.1f} ms)"
                  f"  {url}")
        if "--profile" in flags:
            url = f"{path}?{queries[0].format(cluster=cluster)}"
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(20):
                client.get(url)
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
