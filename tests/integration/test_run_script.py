"""The one-command start (`scripts/run`) on a folder of its own: the embedded PostgreSQL and bundled Redis, the
supervisor restarting a killed worker or scheduler while the web server keeps answering, a 50,000-keyword import
through the running app while clustering and idea jobs run, and a stop that leaves no process behind.

The tests share one start of the script (it takes a while on a busy machine) and run in file order. They use the
project's .venv as it is: CI's ./scripts/test has installed requirements.txt, so the script installs nothing.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from app.services.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.integration.run_script_support import Browser, RunScript

IMPORT_ROWS = 50_000
JOB_TIMEOUT = 300


@pytest.fixture(scope="module")
def run():
    # Not under pytest's own temporary folder: each pytest session on the machine resets that to mode 0700,
    # which would lock out the system user the embedded PostgreSQL runs as (when run as root).
    folder = Path(tempfile.mkdtemp(prefix="igny8-run-script-"))
    script = RunScript(folder / "instance", folder / "run.log")
    try:
        script.start()
        yield script
        if script.proc and script.proc.poll() is None:
            script.stop()
    finally:
        script.kill_everything()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(what: str, predicate, timeout: float, run: RunScript):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f}s:\n{run.tail()}")
        time.sleep(0.5)


def _keyword_csv(rows: int) -> bytes:
    """A Semrush-style export of `rows` distinct keywords."""
    rng = random.Random(9)
    first = ["best", "cheap", "organic", "quick", "easy", "vegan", "gluten free", "homemade", "classic", "mini",
             "italian", "french", "healthy", "chocolate", "lemon", "spiced", "savory", "sweet", "rustic", "fluffy",
             "crispy", "soft", "dairy free", "keto", "sourdough"]
    second = ["bread", "cake", "cookies", "muffins", "scones", "pie", "tart", "brownies", "bagels", "rolls",
              "croissants", "pancakes", "waffles", "biscuits", "buns", "loaf", "cupcakes", "donuts", "pretzels",
              "focaccia"]
    third = ["recipe", "ideas", "for beginners", "without yeast", "in a pan", "at home", "for kids", "tips",
             "mistakes", "history", "calories", "near me", "step by step", "with oats", "with honey", "for two",
             "in the oven", "in an air fryer", "for breakfast", "for parties", "overnight", "in 30 minutes",
             "for christmas", "for easter", "on a budget"]
    variants = ["", " uk", " us", " 2026", " video", " printable", " simple", " nz", " easy version", " guide"]
    lines = ["Keyword,Search Volume,Keyword Difficulty,CPC (USD),Intent"]
    for a in first:
        for b in second:
            for c in third:
                for v in variants:
                    if len(lines) > rows:
                        break
                    lines.append(f"{a} {b} {c}{v},{rng.randint(10, 90000)},{rng.randint(1, 99)},"
                                 f"{rng.randint(5, 900) / 100:.2f},Informational")
    assert len(lines) == rows + 1
    return ("\n".join(lines) + "\n").encode()


def _demo_sectors(run: RunScript) -> dict[str, int]:
    with run.database().connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.name, s.id FROM sectors s JOIN users u ON u.account_id = s.account_id "
            "WHERE u.email = :email"), {"email": DEMO_EMAIL}).all()
    return {name: sector_id for name, sector_id in rows}


def _jobs(run: RunScript, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    with run.database().connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status, error FROM jobs WHERE id = ANY(:ids)"), {"ids": ids}).all()
    return {row.id: (row.status, row.error) for row in rows}


def _counts(run: RunScript) -> dict[str, int]:
    with run.database().connect() as conn:
        return {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("keywords", "clusters", "ideas", "tasks", "keyword_imports", "sectors", "users")}


def _job_id(url: str) -> int:
    match = re.search(r"/(\d+)(?:$|\?)", url)
    assert match, url
    return int(match.group(1))


def test_the_app_runs_on_the_embedded_postgresql_and_bundled_redis(run):
    log = run.log()
    assert "Starting the embedded PostgreSQL" in log
    assert "Starting the bundled Redis" in log
    with run.database().connect() as conn:
        assert conn.execute(sa.text("SHOW server_version")).scalar().startswith("18")
        assert conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
    assert not (run.instance_dir / "igny8.db").exists()
    browser = Browser(run.base_url)
    browser.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    assert "Demo Coffee Blog" in browser.get("/planner/keywords")


def test_a_killed_worker_and_scheduler_come_back_and_the_web_server_keeps_answering(run):
    web = run.processes("waitress-serve")
    workers = [p for p in run.processes("workers.worker") if p.parent().pid == run.proc.pid]
    schedulers = run.processes("workers.scheduler")
    assert len(web) == 1 and len(workers) == 2 and len(schedulers) == 1
    failures_before = len(run.health_failures)

    os.kill(workers[0].pid, signal.SIGKILL)
    os.kill(schedulers[0].pid, signal.SIGKILL)

    _wait("the restart messages", lambda: re.search(r"worker-\d exited with status 137; restarting in \d+s", run.log())
          and re.search(r"scheduler exited with status 137; restarting in \d+s", run.log()), 30, run)
    new_workers = _wait("a new worker", lambda: [p for p in run.processes("workers.worker")
                                                 if p.parent().pid == run.proc.pid
                                                 and p.pid not in (w.pid for w in workers)], 60, run)
    new_schedulers = _wait("a new scheduler", lambda: [p for p in run.processes("workers.scheduler")
                                                       if p.pid != schedulers[0].pid], 60, run)
    assert new_workers and new_schedulers
    # The restarted worker registers with RQ and the restarted scheduler ticks again.
    _wait("the new worker to start", lambda: f"started with PID {new_workers[0].pid}" in run.log(), 90, run)
    assert run.processes("waitress-serve")[0].pid == web[0].pid
    assert run.proc.poll() is None
    assert run.health_failures[failures_before:] == []


def test_a_50k_keyword_import_runs_while_clustering_and_idea_jobs_run(run):
    sectors = _demo_sectors(run)
    browser = Browser(run.base_url)
    browser.sign_in(DEMO_EMAIL, DEMO_PASSWORD)

    # Upload 50,000 keywords into the Baking sector and start the import (a background job).
    browser.choose_sector(sectors["Baking"])
    page = browser.get("/planner/keywords/import")
    page = browser.upload("/planner/keywords/import", field="file", filename="baking-50k.csv",
                          content=_keyword_csv(IMPORT_ROWS), fields={"csrf_token": browser.token(page)})
    import_id = _job_id(browser.last_url)
    browser.submit(page, form_id="mapping-form")
    with run.database().connect() as conn:
        import_job = conn.execute(sa.text("SELECT job_id FROM keyword_imports WHERE id = :id"),
                                  {"id": import_id}).scalar()
    assert import_job

    # Meanwhile in Coffee: new keywords clustered, and two idea runs started a moment apart.
    browser.choose_sector(sectors["Coffee"])
    page = browser.get("/planner/keywords/add")
    typed = "\n".join(f"{w} coffee {n}" for w in ("iced", "turkish", "vietnamese", "irish", "mocha", "hazelnut")
                      for n in ("recipe", "at home", "without machine", "calories", "history", "near me"))
    browser.submit(page, action="/planner/keywords/add", changes={"keywords": typed})
    page = browser.get("/planner/keywords/cluster?scope=unclustered")
    browser.submit(page, form_id="cluster-form")
    cluster_job = _job_id(browser.last_url)

    with run.database().connect() as conn:
        cluster_ids = list(conn.execute(sa.text("SELECT id FROM clusters WHERE sector_id = :s ORDER BY id LIMIT 4"),
                                        {"s": sectors["Coffee"]}).scalars())
        ideas_before = conn.execute(sa.text("SELECT count(*) FROM ideas WHERE cluster_id = ANY(:c)"),
                                    {"c": cluster_ids}).scalar()
    assert len(cluster_ids) >= 2
    half = len(cluster_ids) // 2
    idea_jobs = []
    for chunk in (cluster_ids[:half], cluster_ids[half:]):
        page = browser.post("/planner/ideas/generate/estimate",
                            [("csrf_token", browser.token(page)), ("per_cluster", "2")]
                            + [("cluster_ids", str(i)) for i in chunk])
        browser.submit(page, form_id="ideas-confirm-form")
        idea_jobs.append(_job_id(browser.last_url))

    jobs = [import_job, cluster_job, *idea_jobs]
    finished = _wait("every job to finish", lambda: (lambda s: s if all(v[0] not in ("queued", "running")
                                                                        for v in s.values()) and len(s) == 4
                                                     else None)(_jobs(run, jobs)), JOB_TIMEOUT, run)
    assert finished == {job: ("succeeded", None) for job in jobs}, finished

    report = browser.get(f"/planner/keywords/imports/{import_id}")
    assert "50,000" in report
    with run.database().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM keywords WHERE sector_id = :s"),
                            {"s": sectors["Baking"]}).scalar() == IMPORT_ROWS
        assert conn.execute(sa.text("SELECT count(*) FROM ideas WHERE cluster_id = ANY(:c)"),
                            {"c": cluster_ids}).scalar() == ideas_before + 2 * len(cluster_ids)
    assert "database is locked" not in run.log()
    assert run.proc.poll() is None
    assert run.health_failures == []


def test_stopping_the_app_stops_everything_it_started_even_a_busy_work_horse(run):
    sectors = _demo_sectors(run)
    browser = Browser(run.base_url)
    browser.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    browser.choose_sector(sectors["Baking"])
    page = browser.get("/planner/keywords/cluster?scope=unclustered")
    browser.submit(page, form_id="cluster-form")
    job = _job_id(browser.last_url)
    _wait("the clustering job to run", lambda: _jobs(run, [job]).get(job, ("",))[0] == "running", 120, run)
    workers = {p.pid for p in run.processes("workers.worker") if p.parent().pid == run.proc.pid}
    horses = _wait("a work horse", lambda: [p for p in run.processes("workers.worker")
                                            if p.parent().pid in workers], 30, run)
    postmaster, redis = run.postmaster_pid(), run.processes("redis-server")
    for process in [*horses, *redis, psutil.Process(postmaster)]:
        run.remember(process)

    run.counts_at_stop = _counts(run)
    assert run.stop() == 130
    assert "Stopping IGNY8" in run.log() and "stopped." in run.log()
    assert run.left_running() == []


def test_a_second_start_finds_the_data_and_seeds_nothing_twice(run):
    before = run.counts_at_stop
    run.start()
    assert "Starting the embedded PostgreSQL" in run.this_start()
    assert "first start" not in run.this_start()  # the database cluster is reused, not made anew
    assert _counts(run) == before
    assert before["keywords"] > IMPORT_ROWS
    assert run.stop() == 130
    assert run.left_running() == []
