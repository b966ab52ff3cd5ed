"""Image runs: parallel calls up to the provider's concurrency, each image charged once; a worker killed mid-run
keeps what it made (charged) and returns the rest; image files leave storage with their article or when replaced.

The real `openai` client against a threaded local fake server, a real RQ worker (in this process, or a
subprocess that is SIGKILLed), real PostgreSQL and the local storage directory."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Response

from app import tenancy
from app.extensions import db
from app.models import CreditReservation, CreditUsageLog
from app.services.images import generation
from app.services.images import prompts as image_prompts
from app.services.jobs import reap_stale_jobs
from tests.conftest import TEST_DATABASE_URL
from tests.integration.ai_support import EMAIL, configure_openai, job_row, ledger, run_worker, setup_account
from tests.integration.helpers import signed_in
from tests.integration.images_support import body_of, images_of, make_site_article, png_bytes

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
IMAGES = "/v1/images/generations"
GPT_IMAGE_CREDITS = 5  # the seeded Live image model (GPT Image 1) costs 5 credits an image


@pytest.fixture(autouse=True)
def own_storage(app, tmp_path, monkeypatch):
    """A storage directory of this test's own, so the files counted are this test's."""
    monkeypatch.setitem(app.config, "IMAGE_STORAGE_DIR", str(tmp_path / "images"))


@pytest.fixture
def ids(app):
    return setup_account(app)


@pytest.fixture
def fake_openai(app, ids):
    """A threaded fake OpenAI server, so parallel image calls really overlap."""
    server = HTTPServer(threaded=True)
    server.start()
    configure_openai(app, base_url=server.url_for("/v1"), timeout=60, max_retries=0)
    yield server
    server.clear()
    server.stop()


def image_answer(width: int = 1536, height: int = 1024) -> Response:
    data = base64.b64encode(png_bytes(width, height)).decode()
    return Response(json.dumps({"created": 1, "output_format": "png", "data": [{"b64_json": data}]}),
                    content_type="application/json")


def with_prompts(app, ids: dict, content_ids: list[int]) -> None:
    """Image prompts for the articles from the offline demo (three images each by default)."""
    with app.app_context(), tenancy.account_scope(ids["account"]):
        image_prompts.start_prompts(content_ids=content_ids, tier="testing", created_by_id=ids["user"])
        db.session.remove()
    run_worker(app)


def start_images(app, ids: dict, content_ids: list[int], tier: str = "live") -> int:
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job_id = generation.start_images(content_ids=content_ids, tier=tier, created_by_id=ids["user"]).id
        db.session.remove()
    return job_id


def books(app, account_id: int) -> dict:
    """The account's ledger with each reservation (status, amount, charged) and each usage row's images."""
    with app.app_context(), tenancy.account_scope(account_id):
        out = {**ledger(app, account_id),
               "reservations": sorted((r.status, r.amount, r.charged) for r in db.session.scalars(
                   select(CreditReservation).where(CreditReservation.operation == "image_generation"))),
               "image_usage": [(u.credits, u.images) for u in db.session.scalars(
                   select(CreditUsageLog).where(CreditUsageLog.operation == "image_generation"))]}
        db.session.remove()
    return out


def files_in(app) -> set[str]:
    root = Path(app.config["IMAGE_STORAGE_DIR"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def two_articles(app, ids):
    first = make_site_article(app, ids["account"])
    second = make_site_article(app, ids["account"], title="Grinder guide", world=first)
    ids.update(site=first["site"], sector=first["sector"], contents=[first["content"], second["content"]])
    with_prompts(app, ids, ids["contents"])
    return ids


# --- Parallel ----------------------------------------------------------------------------------------------

def test_images_of_a_batch_are_made_in_parallel_and_each_is_charged_once(app, two_articles, fake_openai,
                                                                          monkeypatch):
    ids, latency, concurrency = two_articles, 2.0, 3
    monkeypatch.setitem(app.config, "AI_CONCURRENCY_BY_PROVIDER", {"openai": concurrency})
    lock, state = threading.Lock(), {"now": 0, "peak": 0, "calls": 0}
    body = image_answer().get_data()

    def slow(request):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(latency)
        with lock:
            state["now"] -= 1
        return Response(body, content_type="application/json")

    fake_openai.expect_request(IMAGES, method="POST").respond_with_handler(slow)
    before = books(app, ids["account"])
    job_id = start_images(app, ids, ids["contents"])
    began = time.monotonic()
    run_worker(app)
    elapsed = time.monotonic() - began

    row = job_row(app, job_id)
    assert row["status"] == "succeeded", row
    made = [i for c in ids["contents"] for i in images_of(app, ids["account"], c)]
    assert len(made) == 6 and all(i["status"] == "generated" and i["credits"] == GPT_IMAGE_CREDITS for i in made)
    assert state["calls"] == 6 and state["peak"] == concurrency
    serial = 6 * latency
    # Two rounds of three take about 4 s; one after another would take 12 s.
    assert elapsed < 0.6 * serial, f"{elapsed:.1f} s for 6 images at concurrency {concurrency}"
    after = books(app, ids["account"])
    assert before["balance"] - after["balance"] == 6 * GPT_IMAGE_CREDITS == row["charged"]
    assert after["reservations"] == [("settled", GPT_IMAGE_CREDITS, GPT_IMAGE_CREDITS)] * 6
    assert after["image_usage"] == [(GPT_IMAGE_CREDITS, 1)] * 6  # one usage row per image, none twice
    assert after["balance"] == after["ledger"]
    assert len(files_in(app)) == 6
    for content_id in ids["contents"]:  # each article got its two in-article images, placed once
        assert body_of(app, ids["account"], content_id).count("<figure>") == 2


# --- A worker killed mid-run -------------------------------------------------------------------------------

def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_worker_killed_mid_run_keeps_made_images_charged_and_returns_the_rest(app, ids, fake_openai, monkeypatch,
                                                                                 tmp_path):
    ids.update(make_site_article(app, ids["account"]))
    with_prompts(app, ids, [ids["content"]])
    held_prompt = images_of(app, ids["account"], ids["content"])[2]["prompt"]
    release = threading.Event()

    def answer(request):
        if json.loads(request.get_data())["prompt"].startswith(held_prompt):
            release.wait(60)  # this image is still being made when the worker dies
        return image_answer()

    fake_openai.expect_request(IMAGES, method="POST").respond_with_handler(answer)
    before = books(app, ids["account"])
    job_id = start_images(app, ids, [ids["content"]])
    env = {**os.environ, "IGNY8_ENV": "testing", "TEST_DATABASE_URL": TEST_DATABASE_URL,
           "TEST_REDIS_URL": os.environ["TEST_REDIS_URL"], "IMAGE_STORAGE_DIR": app.config["IMAGE_STORAGE_DIR"]}
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        # A production-style worker that runs the job in its own process, in its own process group.
        worker = subprocess.Popen([str(PYTHON), "-c", "from workers.worker import main; main()", "--burst",
                                   "--simple"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while sum(i["status"] == "generated" for i in images_of(app, ids["account"], ids["content"])) < 2:
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "two images were never made:\n" + log_path.read_text()
            time.sleep(0.05)
        _kill_group(worker.pid)  # the machine loses the worker in the middle of the run
        worker.wait(timeout=10)
    finally:
        _kill_group(worker.pid)
        worker.wait(timeout=10)
        release.set()

    assert job_row(app, job_id)["status"] == "running"  # nobody has noticed yet
    monkeypatch.setitem(app.config, "JOB_STALE_AFTER_SECONDS", 0)
    with app.app_context():
        assert reap_stale_jobs() == 1

    row = job_row(app, job_id)
    assert row["status"] == "failed" and "stopped unexpectedly" in row["error"]
    images = images_of(app, ids["account"], ids["content"])
    assert [i["status"] for i in images] == ["generated", "generated", "failed"]
    assert [i["credits"] for i in images] == [GPT_IMAGE_CREDITS, GPT_IMAGE_CREDITS, 0]
    assert "stopped before this image was made" in images[2]["error"] and "not charged" in images[2]["error"]
    assert {i["file_key"] for i in images[:2]} == files_in(app)  # the made files are kept, nothing else
    assert body_of(app, ids["account"], ids["content"]).count("<figure>") == 1  # the made one is placed
    after = books(app, ids["account"])
    assert before["balance"] - after["balance"] == 2 * GPT_IMAGE_CREDITS  # made: charged; the third: returned
    assert after["reservations"] == [("refunded", GPT_IMAGE_CREDITS, 0)] + \
        [("settled", GPT_IMAGE_CREDITS, GPT_IMAGE_CREDITS)] * 2
    assert after["image_usage"] == [(GPT_IMAGE_CREDITS, 1)] * 2
    assert after["balance"] == after["ledger"]

    # The failed image is made again on its own, charged once more, and placed.
    retry = start_images(app, ids, [ids["content"]])
    run_worker(app)
    assert job_row(app, retry)["status"] == "succeeded"
    assert [i["status"] for i in images_of(app, ids["account"], ids["content"])] == ["generated"] * 3
    final = books(app, ids["account"])
    assert before["balance"] - final["balance"] == 3 * GPT_IMAGE_CREDITS and final["balance"] == final["ledger"]
    assert body_of(app, ids["account"], ids["content"]).count("<figure>") == 2


# --- Files leave storage -------------------------------------------------------------------------------------

def test_deleting_an_article_deletes_its_image_files_and_a_missing_file_is_no_error(app, two_articles):
    ids = two_articles
    start_images(app, ids, ids["contents"], tier="testing")
    run_worker(app)
    doomed, kept = (images_of(app, ids["account"], c) for c in ids["contents"])
    assert len(files_in(app)) == 6
    root = Path(app.config["IMAGE_STORAGE_DIR"])
    (root / doomed[0]["file_key"]).unlink()  # already gone (e.g. removed by hand): deleting still works

    web = signed_in(app, EMAIL)
    response = web.post("/writer/content/bulk", {"content_ids": [ids["contents"][0]], "action": "delete"},
                        token_from="/writer/content")
    assert response.status_code == 302
    assert files_in(app) == {i["file_key"] for i in kept}  # the other article's files stay
    assert images_of(app, ids["account"], ids["contents"][0]) == []
    for image in kept:
        assert web.get(f"/writer/images/{image['id']}/file/{image['file_key'].rsplit('/', 1)[-1]}").status_code == 200


def test_regenerating_deletes_the_old_file_only_once_the_new_one_is_stored(app, ids, fake_openai):
    ids.update(make_site_article(app, ids["account"]))
    with_prompts(app, ids, [ids["content"]])
    start_images(app, ids, [ids["content"]], tier="testing")
    run_worker(app)
    image = images_of(app, ids["account"], ids["content"])[1]
    assert image["file_key"] in files_in(app)

    fake_openai.expect_request(IMAGES, method="POST").respond_with_json({"error": {"message": "boom"}}, status=500)
    with app.app_context(), tenancy.account_scope(ids["account"]):
        generation.start_regenerate(image_id=image["id"], prompt="A red espresso machine", tier="live",
                                    created_by_id=ids["user"])
        db.session.remove()
    run_worker(app)
    failed = images_of(app, ids["account"], ids["content"])[1]
    assert failed["status"] == "generated" and failed["file_key"] == image["file_key"]
    assert "previous image was kept" in failed["error"] and image["file_key"] in files_in(app)

    fake_openai.clear()
    fake_openai.expect_request(IMAGES, method="POST").respond_with_handler(lambda request: image_answer())
    with app.app_context(), tenancy.account_scope(ids["account"]):
        generation.start_regenerate(image_id=image["id"], prompt="A red espresso machine", tier="live",
                                    created_by_id=ids["user"])
        db.session.remove()
    run_worker(app)
    new = images_of(app, ids["account"], ids["content"])[1]
    assert new["status"] == "generated" and new["prompt"] == "A red espresso machine"
    assert new["file_key"] != image["file_key"]
    assert new["file_key"] in files_in(app) and image["file_key"] not in files_in(app)
    assert len(files_in(app)) == 3


def test_deleting_a_site_deletes_its_image_files(app, two_articles):
    ids = two_articles
    start_images(app, ids, ids["contents"], tier="testing")
    run_worker(app)
    assert len(files_in(app)) == 6
    web = signed_in(app, EMAIL)
    response = web.post(f"/sites/{ids['site']}/delete", {"del-confirm_name": "Coffee Blog"},
                        token_from=f"/sites/{ids['site']}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sites/")
    assert files_in(app) == set()
