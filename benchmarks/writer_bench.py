"""Benchmark article writing (stage 4): 20 articles against a local fake OpenAI server with a fixed latency.

    .venv/bin/python benchmarks/writer_bench.py [--articles 20] [--latency 2.0] [--concurrency 1 4 8]

Each concurrency runs in a fresh process (its own scratch database and peak memory). The real `openai`
client calls a local threaded HTTP server that answers every chat completion after `latency` seconds with
a usable article. The job runs through a real RQ worker in-process, as in the tests, after the same
start-up preparation as `workers.worker`. Reported: wall time
of the job, the ideal time (rounds of calls × latency), the overhead per article beyond the model's
latency, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _fake_openai import fake_openai  # noqa: E402

OUTLINE = [{"level": 2, "text": "Why it matters"}, {"level": 3, "text": "The basics"},
           {"level": 2, "text": "How to choose"}, {"level": 2, "text": "Frequently asked questions"}]
TARGET = 800


def run_one(articles: int, latency: float, concurrency: int) -> dict:
    """Write `articles` articles at one concurrency in this process; return the figures."""
    if "TEST_REDIS_URL" not in os.environ:
        from tests.private_redis import start_private_redis

        os.environ["TEST_REDIS_URL"] = start_private_redis()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench_writer")
    from benchmarks._setup import fresh_app, make_sector, peak_rss_mb
    from rq import SimpleWorker
    from sqlalchemy import select

    from app import tenancy
    from app.extensions import db
    from app.models import AIProvider, Content, Job, Task
    from app.queue import get_queue
    from app.services.ai.catalogue import seed_ai_catalogue
    from app.services.billing import credits
    from app.services.writer import runner
    from workers.tasks import use_app
    from workers.worker import freeze_startup_heap

    app = fresh_app()
    app.config["AI_CONCURRENCY"] = concurrency
    use_app(app)
    server, _calls = fake_openai(latency)
    world = make_sector(app)
    with app.app_context():
        seed_ai_catalogue()
        with tenancy.all_accounts():
            provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == "openai")).one()
            provider.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
            provider.api_key, provider.timeout_seconds, provider.max_retries = "sk-bench", 30, 0
            db.session.commit()
        with tenancy.account_scope(world["account"]):
            credits.grant(account_id=world["account"], amount=10_000, key="bench", description="Bench credits")
            tasks = [Task(site_id=world["site"], sector_id=world["sector"], title=f"Espresso guide {n}",
                          outline=OUTLINE, primary_keyword="espresso", keywords=["espresso"], target_words=TARGET)
                     for n in range(articles)]
            db.session.add_all(tasks)
            db.session.commit()
            job, _ = runner.start_generation(task_ids=[t.id for t in tasks], tier="live",
                                             created_by_id=world["user"])
            job_id = job.id
        db.session.remove()
        queue = get_queue("default")
    freeze_startup_heap()  # as the worker does once it has started
    began = time.perf_counter()
    SimpleWorker([queue], connection=app.extensions["redis"]).work(burst=True)
    wall = time.perf_counter() - began
    with app.app_context(), tenancy.account_scope(world["account"]):
        job = db.session.get(Job, job_id)
        saved = len(list(db.session.scalars(select(Content.id))))
        status, error = job.status, job.error
        db.session.remove()
    server.shutdown()
    ideal = math.ceil(articles / concurrency) * latency
    return {"concurrency": concurrency, "articles": articles, "saved": saved, "status": status, "error": error,
            "wall_s": round(wall, 2), "ideal_s": round(ideal, 2),
            "overhead_ms_per_article": round((wall - ideal) / articles * 1000, 1), "peak_rss_mb": round(peak_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.articles, args.latency, args.concurrency[0])))
        return
    print(f"{args.articles} articles, fake model latency {args.latency:.1f} s")
    print(f"{'concurrency':>11} {'wall s':>8} {'ideal s':>8} {'overhead/article':>17} {'peak RSS':>9}  saved")
    for concurrency in args.concurrency:
        out = subprocess.run([sys.executable, __file__, "--one", "--articles", str(args.articles), "--latency",
                              str(args.latency), "--concurrency", str(concurrency)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{row['concurrency']:>11} {row['wall_s']:>8.2f} {row['ideal_s']:>8.2f} "
              f"{row['overhead_ms_per_article']:>14.1f} ms {row['peak_rss_mb']:>6} MB  {row['saved']}"
              + (f"  ({row['status']}: {row['error']})" if row["status"] != "succeeded" else ""))


if __name__ == "__main__":
    main()
