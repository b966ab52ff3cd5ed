"""Shared set-up for the benchmarks: a scratch PostgreSQL database built by the migrations, one account
with a site and a sector, and helpers to fill it. Nothing here is used by the app or the tests.

BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench) is dropped and
created again on every run.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench")
WORDS = ("coffee espresso grinder french press pour over latte milk frother beans roast decaf cold brew "
         "kettle scale filter paper moka pot aeropress machine cheap best review how to make buy near me "
         "vs price recipe ratio temperature tips guide iced caramel vanilla single origin arabica robusta "
         "dark light medium burr blade hand electric travel office home barista training course").split()


def fresh_app():
    """The app on a new benchmark database (schema from the migrations, reference data loaded)."""
    target = sa.engine.make_url(BENCH_DATABASE_URL)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": target.database})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    os.environ["TEST_DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    from app import create_app, tenancy

    app = create_app("testing")
    app.extensions["redis"].flushdb()  # the benchmark's own Redis database (rate-limit counters, queues)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        from app.services.reference import load_reference_data

        with tenancy.all_accounts():
            load_reference_data()
    return app


def make_sector(app, email: str = "bench@igny8.example.com") -> dict:
    """An account (owner with password quiet-harbour-77) with one site and one sector."""
    from app import tenancy
    from app.extensions import db
    from app.services.accounts.auth import signup
    from app.services.accounts.sites import create_site

    with app.app_context():
        user = signup(account_name="Bench Agency", name="Bench", email=email, password="quiet-harbour-77")
        account_id, user_id = user.account_id, user.id
        with tenancy.account_scope(account_id):
            site = create_site(name="Bench Coffee", url="https://bench.example.com", timezone="UTC",
                               industry_id=None, sector_template_ids=[], sector_names=["Coffee"])
            sector_id, site_id = site.sectors[0].id, site.id
        db.session.remove()
    return {"account": account_id, "user": user_id, "site": site_id, "sector": sector_id, "email": email,
            "password": "quiet-harbour-77"}


def keyword_rows(count: int, seed: int = 7) -> list[tuple[str, int, int, str, str]]:
    """Distinct made-up keywords with volume, difficulty, CPC and intent."""
    rng = random.Random(seed)
    seen, rows = set(), []
    intents = ("Informational", "Commercial", "Transactional", "Navigational")
    while len(rows) < count:
        words = " ".join(rng.sample(WORDS, rng.randint(2, 4)))
        text = f"{words} {len(rows)}" if words in seen else words
        seen.add(words)
        rows.append((text, rng.randint(10, 90_000), rng.randint(0, 100), f"{rng.uniform(0.1, 9):.2f}",
                     rng.choice(intents)))
    return rows


def semrush_csv(rows) -> bytes:
    lines = ["Keyword,Search Volume,Keyword Difficulty,CPC (USD),Intent"]
    lines += [f"{k},{v},{d},{c},{i}" for k, v, d, c, i in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
