"""Import 100,000 keyword rows end to end: inspect + parse + insert into PostgreSQL in one transaction.

Target: under 10 s. Run: .venv/bin/python benchmarks/import_bench.py [rows]
"""

from __future__ import annotations

import sys
import time

from _setup import fresh_app, keyword_rows, make_sector, peak_rss_mb, semrush_csv


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    app = fresh_app()
    ids = make_sector(app)
    data = semrush_csv(keyword_rows(count))
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
        stored = db.session.scalar(select(func.count(Keyword.id)).where(Keyword.sector_id == ids["sector"]))
    print(f"rows in file:          {count:,} ({len(data) / 1e6:.1f} MB)")
    print(f"keywords stored:       {stored:,}")
    print(f"upload + inspect:      {created - started:.2f} s")
    print(f"parse + insert:        {finished - created:.2f} s")
    print(f"import total:          {finished - started:.2f} s  (target < 10 s)")
    print(f"peak memory (process): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
