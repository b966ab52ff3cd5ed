"""Benchmark automation: 1,000 keywords to 50 articles with images, against a local fake OpenAI server.

    .venv/bin/python benchmarks/automation_bench.py [--keywords 1000] [--articles 50] [--sites 4]
                                                     [--latency 0.25] [--workers 1 2 4] [--repeat 3]

The keywords are spread over `sites` sites of one account, each with automation set to stop at its share of the
articles; one run per site is started at once and real RQ worker processes (`python -m workers.worker`) carry
them. Stages 1–3 use the Testing tier (clustering embeds locally; naming and ideas are the offline demo model);
stages 4–6 (articles, image prompts, images) use the Live tier, i.e. the real `openai` client calling a local
threaded HTTP server that answers every chat completion and every image after `latency` seconds. One article is
five model calls (the article, its image prompts, three images), one after another within its run.

Reported per worker count (median of `repeat` fresh runs, each in a new process with a new scratch database):
wall time from the runs' start to the last run finishing, the ideal time (the model calls of the busiest
worker-share × latency), the pipeline overhead per article and per handled item beyond the model's latency
(worker time spent outside model calls), and the speed-up over one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _fake_openai import fake_openai  # noqa: E402

def _settings_form(articles: int) -> dict:
    """Stages 1–3 on the Testing tier, 4–6 Live; enough clusters for `articles` ideas; one article per job."""
    ideas_per_cluster = 2
    values = {"enabled": "", "frequency": "daily", "run_time": "02:00", "weekday": "0", "item_delay": "0",
              "stage_delay": "0", "credit_cap": ""}
    stages = {1: (1000, 0, "testing"), 2: (5, -(-articles // ideas_per_cluster), "testing"), 3: (20, 0, "testing"),
              4: (1, articles, "live"), 5: (1, 0, "live"), 6: (1, 0, "live"), 7: (20, 0, "testing")}
    for n, (batch, limit, tier) in stages.items():
        values.update({f"s{n}_enabled": "on", f"s{n}_batch": str(batch), f"s{n}_limit": str(limit),
                       f"s{n}_tier": tier, f"s{n}_budget": "0"})
    return values


def _rq_times(app) -> dict:
    """RQ jobs run, by function: count and seconds inside the work horse."""
    from rq.job import Job as RQJob
    from rq.registry import FinishedJobRegistry

    with app.app_context():
        from app.queue import get_queue

        queue = get_queue("default")
        registry = FinishedJobRegistry(queue=queue)
        out: dict[str, list] = {}
        for job in RQJob.fetch_many(registry.get_job_ids(), connection=queue.connection):
            if job is None or not (job.started_at and job.ended_at):
                continue
            row = out.setdefault(job.func_name.rsplit(".", 1)[-1], [0, 0.0])
            row[0] += 1
            row[1] = round(row[1] + (job.ended_at - job.started_at).total_seconds(), 2)
    return out


def run_one(keywords: int, articles: int, sites: int, latency: float, workers: int) -> dict:
    """One measured run in this process: scratch database, private Redis, `workers` worker processes."""
    if "TEST_REDIS_URL" not in os.environ:
        from tests.private_redis import start_private_redis

        os.environ["TEST_REDIS_URL"] = start_private_redis()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/igny8_bench_automation")
    from benchmarks._setup import fresh_app, keyword_rows, make_sector
    from sqlalchemy import func, select

    from app import tenancy
    from app.extensions import db
    from app.models import AIProvider, AutomationItem, AutomationRun, Content, ContentImage, Job, Keyword
    from app.services.accounts.sites import create_site
    from app.services.ai.catalogue import seed_ai_catalogue
    from app.services.automation import runs as run_service
    from app.services.automation import settings as automation_settings
    from app.services.billing import credits
    from app.services.writer import status as writer_status

    app = fresh_app()
    server, calls = fake_openai(latency)
    world = make_sector(app)
    rows = keyword_rows(keywords)
    share = [articles // sites + (1 if n < articles % sites else 0) for n in range(sites)]
    with app.app_context():
        seed_ai_catalogue()
        with tenancy.all_accounts():
            provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == "openai")).one()
            provider.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
            provider.api_key, provider.timeout_seconds, provider.max_retries = "sk-bench", 60, 0
            db.session.commit()
        with tenancy.account_scope(world["account"]):
            credits.grant(account_id=world["account"], amount=1_000_000, key="bench", description="Bench credits")
            site_ids = [(world["site"], world["sector"])]
            for n in range(1, sites):
                site = create_site(name=f"Bench {n}", url=f"https://bench-{n}.example.com", timezone="UTC",
                                   industry_id=None, sector_template_ids=[], sector_names=["Coffee"])
                site_ids.append((site.id, site.sectors[0].id))
            for n, (site_id, sector_id) in enumerate(site_ids):
                mine = rows[n::sites]
                db.session.add_all([Keyword(site_id=site_id, sector_id=sector_id, keyword=k, normalized=k.lower(),
                                            volume=v) for k, v, _, _, _ in mine])
                automation_settings.save_settings(site_id=site_id, form=_settings_form(share[n]))
                writer_status.save_settings(site_id=site_id, auto_approve=True)
            db.session.commit()
        db.session.remove()

    env = {**os.environ, "IGNY8_ENV": "testing", "IMAGE_STORAGE_DIR": tempfile.mkdtemp(prefix="igny8-bench-img-")}
    extra = ["--simple"] if os.environ.get("BENCH_SIMPLE_WORKERS") else []
    log = open(os.environ.get("BENCH_WORKER_LOG", os.devnull), "a")  # noqa: SIM115 (closed with the workers)
    procs = [subprocess.Popen([sys.executable, "-m", "workers.worker", *extra], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
             for _ in range(workers)]
    try:
        redis = app.extensions["redis"]
        deadline = time.monotonic() + 60
        while redis.scard("rq:workers") < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.05)
        began, kicked = time.perf_counter(), time.monotonic()
        with app.app_context(), tenancy.account_scope(world["account"]):
            run_ids = [run_service.start_run(site_id=site_id, user_id=world["user"]).id for site_id, _ in site_ids]
            db.session.remove()
        while True:
            with app.app_context(), tenancy.account_scope(world["account"]):
                active = db.session.scalar(select(func.count()).select_from(AutomationRun).where(
                    AutomationRun.id.in_(run_ids), AutomationRun.status.in_(("queued", "running", "cancelling"))))
                db.session.remove()
            if not active:
                break
            if time.monotonic() - kicked > 5:  # the scheduler's minute tick: re-queue a step RQ stranded
                with app.app_context():
                    run_service.kick_stalled_runs()
                    db.session.remove()
                kicked = time.monotonic()
            time.sleep(0.05)
        wall = time.perf_counter() - began
        rq_jobs = _rq_times(app)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            proc.wait(timeout=30)
        log.close()
    with app.app_context(), tenancy.account_scope(world["account"]):
        outcomes = sorted(db.session.scalars(select(AutomationRun.status).where(AutomationRun.id.in_(run_ids))))
        made = db.session.scalar(select(func.count()).select_from(Content))
        images = db.session.scalar(select(func.count()).select_from(ContentImage).where(
            ContentImage.status == "generated"))
        items = db.session.scalar(select(func.coalesce(func.sum(AutomationItem.count), 0)).where(
            AutomationItem.outcome == "done"))
        jobs = {}
        for kind, started, finished in db.session.execute(select(Job.kind, Job.started_at, Job.finished_at)):
            count, seconds = jobs.get(kind, (0, 0.0))
            jobs[kind] = (count + 1, seconds + ((finished - started).total_seconds() if started and finished else 0))
        db.session.remove()
    server.shutdown()
    model_calls = calls["chat"] + calls["images"]
    per_run_calls = model_calls / sites
    # Each run's calls are sequential; the runs share the workers.
    ideal = per_run_calls * latency * -(-sites // min(workers, sites))
    model_time = model_calls * latency
    worker_time = wall * min(workers, sites)
    return {"workers": workers, "wall_s": round(wall, 2), "ideal_s": round(ideal, 2), "articles": made,
            "images": images, "items": items, "model_calls": model_calls, "outcomes": outcomes,
            "overhead_ms_per_article": round((worker_time - model_time) / max(1, made) * 1000, 1),
            "overhead_ms_per_item": round((worker_time - model_time) / max(1, items) * 1000, 1),
            "jobs": {kind: [count, round(seconds, 2)] for kind, (count, seconds) in sorted(jobs.items())},
            "rq_jobs": rq_jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keywords", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.keywords, args.articles, args.sites, args.latency, args.workers[0])))
        return
    print(f"{args.keywords} keywords → {args.articles} articles over {args.sites} sites, "
          f"fake model latency {args.latency:.2f} s, median of {args.repeat}")
    print(f"{'workers':>7} {'wall s':>8} {'ideal s':>8} {'speed-up':>8} {'overhead/article':>17} "
          f"{'overhead/item':>14}  made")
    base = None
    for workers in args.workers:
        results = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--one", "--keywords", str(args.keywords), "--articles",
                                  str(args.articles), "--sites", str(args.sites), "--latency", str(args.latency),
                                  "--workers", str(workers)], capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = sorted(results, key=lambda r: r["wall_s"])[len(results) // 2]
        wall = statistics.median(r["wall_s"] for r in results)
        base = base or wall
        print(f"{workers:>7} {wall:>8.2f} {row['ideal_s']:>8.2f} {base / wall:>7.2f}x "
              f"{statistics.median(r['overhead_ms_per_article'] for r in results):>14.1f} ms "
              f"{statistics.median(r['overhead_ms_per_item'] for r in results):>11.1f} ms  "
              f"{row['articles']} articles, {row['images']} images, {row['items']} items, "
              f"{row['model_calls']} model calls; runs {', '.join(sorted(set(row['outcomes'])))}")


if __name__ == "__main__":
    main()
