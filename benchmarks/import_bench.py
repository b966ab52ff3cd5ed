"""Import 100,000 keyword rows end to end: inspect + parse + insert into PostgreSQL in one transaction.

The import is timed up to its saved report (the keywords are in and searchable: a search of the sector reads
its keywords directly until their search entries exist); adding those entries in one pass, which the job
does right after the report, is timed and printed separately.

In the same run it times a plain COPY of the same rows into a scratch table with a unique index
(the floor any import can reach on this machine) and prints the ratio.
Targets: import <= 3 s on a quiet 2-core machine, <= 3x the plain COPY.
Run: .venv/bin/python benchmarks/import_bench.py [rows]
"""

from __future__ import annotations

import sys
import time

from _setup import fresh_app, keyword_rows, make_sector, peak_rss_mb, semrush_csv


def plain_copy_seconds(app, rows) -> float:
    """COPY the same rows into a scratch table with a unique (sector, keyword) index; seconds taken."""
    from app.extensions import db

    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
            cursor.execute("CREATE TABLE bench_plain_copy (id bigserial PRIMARY KEY, sector_id int, keyword varchar(200),"
                           " volume int, difficulty smallint, cpc numeric(10, 2), intent varchar(20),"
                           " UNIQUE (sector_id, keyword))")
            connection.commit()
            started = time.perf_counter()
            with cursor.copy("COPY bench_plain_copy (sector_id, keyword, volume, difficulty, cpc, intent) "
                             "FROM STDIN") as copy:
                for keyword, volume, difficulty, cpc, intent in rows:
                    copy.write_row((1, keyword, volume, difficulty, cpc, intent))
            connection.commit()
            seconds = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_plain_copy")
            connection.commit()
        finally:
            connection.close()
    return seconds


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    app = fresh_app()
    ids = make_sector(app)
    rows = keyword_rows(count)
    data = semrush_csv(rows)
    from sqlalchemy import func, select

    from app import tenancy
    from app.extensions import db
    from app.models import Keyword
    from app.services.planner import imports

    with app.app_context(), tenancy.account_scope(ids["account"]):
        started = time.perf_counter()
        imp = imports.create(sector_id=ids["sector"], data=data, filename="bench.csv", user_id=ids["user"])
        created = time.perf_counter()
        imports.run(imp.id)
        finished = time.perf_counter()
        imports.tidy_search_index(ids["sector"])  # the background job does this after the report is saved
        tidied = time.perf_counter()
        stored = db.session.scalar(select(func.count(Keyword.id)).where(Keyword.sector_id == ids["sector"]))
    plain = plain_copy_seconds(app, rows)
    total = finished - started
    print(f"rows in file:          {count:,} ({len(data) / 1e6:.1f} MB)")
    print(f"keywords stored:       {stored:,}")
    print(f"upload + inspect:      {created - started:.2f} s")
    print(f"parse + insert:        {finished - created:.2f} s")
    print(f"import total:          {total:.2f} s  (target <= 3 s on a quiet 2-core machine)")
    print(f"then, after the report: {tidied - finished:.2f} s  adding the keywords' search entries")
    print(f"plain COPY, same rows: {plain:.2f} s  (scratch table with a unique index)")
    print(f"import / plain COPY:   {total / plain:.1f}x  (target <= 3x)")
    print(f"peak memory (process): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
