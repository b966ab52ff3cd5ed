"""Stages 5–6: image prompts and images through the offline demo, the real `openai` client against a local fake
server (chat, images as b64_json and as links) and Runware against a fake, with a real RQ worker."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from werkzeug import Response

from app import tenancy
from app.extensions import db
from app.services.images import generation
from app.services.images import prompts as image_prompts
from tests.integration.ai_support import (
    chat_answer,
    configure_openai,
    configure_provider,
    job_row,
    ledger,
    run_worker,
    setup_account,
)
from tests.integration.images_support import (
    BODY,
    body_of,
    images_of,
    make_site_article,
    png_bytes,
    set_image_model_default,
    stored_file,
)


@pytest.fixture
def ids(app):
    out = setup_account(app)
    return {**out, **make_site_article(app, out["account"])}


def start_prompts(app, ids, content_ids, tier="testing"):
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job = image_prompts.start_prompts(content_ids=content_ids, tier=tier, created_by_id=ids["user"])
        job_id = job.id
        db.session.remove()
    run_worker(app)
    return job_id


def start_images(app, ids, content_ids, tier="testing"):
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job = generation.start_images(content_ids=content_ids, tier=tier, created_by_id=ids["user"])
        job_id = job.id
        db.session.remove()
    run_worker(app)
    return job_id


def prompts_answer(count=2, headings=("Why it matters", "How to choose")):
    return {"featured": {"prompt": "A cup of espresso on a wooden table", "alt": "Espresso cup",
                         "caption": "A fresh shot"},
            "in_article": [{"prompt": f"Scene {n}", "alt": f"Alt {n}", "caption": f"Caption {n}",
                            "after_heading": headings[(n - 1) % len(headings)]} for n in range(1, count + 1)]}


def test_demo_prompts_then_images_are_placed_as_figures_and_charged_per_image(app, ids):
    job_id = start_prompts(app, ids, [ids["content"]])
    assert job_row(app, job_id)["status"] == "succeeded"
    images = images_of(app, ids["account"], ids["content"])
    assert [i["kind"] for i in images] == ["featured", "in_article", "in_article"]  # default count 2
    assert all(i["status"] == "pending" and "Demo" in i["prompt"] and i["alt"] for i in images)
    assert [i["placement"] for i in images[1:]] == ["Why it matters", "How to choose"]
    before = ledger(app, ids["account"])["balance"]
    job_id = start_images(app, ids, [ids["content"]])
    row = job_row(app, job_id)
    assert row["status"] == "succeeded", row
    images = images_of(app, ids["account"], ids["content"])
    assert all(i["status"] == "generated" and i["mime"] == "image/webp" for i in images)
    assert (images[0]["width"], images[0]["height"]) == (1200, 630)
    assert (images[1]["width"], images[1]["height"]) == (1024, 768)
    data = stored_file(app, images[0]["file_key"])
    assert Image.open(io.BytesIO(data)).size == (1200, 630)
    after = ledger(app, ids["account"])
    assert before - after["balance"] == 3 and row["charged"] == 3  # demo image: 1 credit each
    assert after["balance"] == after["ledger"]
    body = body_of(app, ids["account"], ids["content"])
    assert body.count("<figure>") == 2
    first_h2, second_h2 = body.index("Why it matters"), body.index("How to choose")
    first_fig = body.index(f'/writer/images/{images[1]["id"]}/file/')
    assert first_h2 < first_fig < second_h2
    assert "<figcaption>" in body and 'alt="Demo image 1' in body


def test_openai_chat_and_images_b64_and_url_through_the_real_client(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), max_retries=0)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        chat_answer(prompts_answer(2), tokens_in=900, tokens_out=200))
    job_id = start_prompts(app, ids, [ids["content"]], tier="live")
    assert job_row(app, job_id)["status"] == "succeeded"
    images = images_of(app, ids["account"], ids["content"])
    assert [i["prompt"] for i in images] == ["A cup of espresso on a wooden table", "Scene 1", "Scene 2"]
    assert images[0]["caption"] == "A fresh shot" and images[2]["placement"] == "How to choose"
    # Three image calls: base64, a link to fetch, base64 again.
    answers = iter([
        {"created": 1, "output_format": "png", "data": [{"b64_json": base64.b64encode(png_bytes(1536, 1024)).decode()}]},
        {"created": 1, "data": [{"url": httpserver.url_for("/files/one.png")}]},
        {"created": 1, "output_format": "png", "data": [{"b64_json": base64.b64encode(png_bytes(1536, 1024)).decode()}]},
    ])
    httpserver.expect_request("/v1/images/generations", method="POST").respond_with_handler(
        lambda request: Response(json.dumps(next(answers)), content_type="application/json"))
    httpserver.expect_request("/files/one.png").respond_with_data(png_bytes(1024, 1024), content_type="image/png")
    before = ledger(app, ids["account"])["balance"]
    job_id = start_images(app, ids, [ids["content"]], tier="live")
    assert job_row(app, job_id)["status"] == "succeeded", job_row(app, job_id)
    sizes = [json.loads(r.get_data())["size"] for r, _ in httpserver.log if r.path == "/v1/images/generations"]
    assert sizes == ["1536x1024", "1536x1024", "1536x1024"]  # nearest gpt-image-1 size to 1200×630 / 1024×768
    images = images_of(app, ids["account"], ids["content"])
    assert [i["status"] for i in images] == ["generated"] * 3
    assert Image.open(io.BytesIO(stored_file(app, images[1]["file_key"]))).size == (1024, 768)
    assert before - ledger(app, ids["account"])["balance"] == 15  # GPT Image 1: 5 credits per image
    # Cost truth in provider USD too: GPT Image 1 costs $0.04 per image; the prompts call cost its tokens.
    from decimal import Decimal

    from app.services.images import costs

    with app.app_context(), tenancy.account_scope(ids["account"]):
        found = costs.article_costs([ids["content"]])[ids["content"]]
        db.session.remove()
    assert found["images"] == {"credits": 15, "usd": Decimal("0.12")}
    assert 0 < found["prompts"]["usd"] < Decimal("0.01") and found["prompts"]["credits"] >= 1
    assert found["total"]["usd"] == found["images"]["usd"] + found["prompts"]["usd"] + found["text"]["usd"]


def test_no_in_article_images_and_the_sites_style_reach_the_model_and_only_the_featured_image_is_made(
        app, ids, httpserver):
    from app.services.images import site_settings

    with app.app_context(), tenancy.account_scope(ids["account"]):
        site_settings.save(site_id=ids["site"], values={"image_count": "0", "image_style": "illustration",
                                                       "image_style_note": "warm morning light"})
        db.session.remove()
    configure_openai(app, base_url=httpserver.url_for("/v1"), max_retries=0)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        chat_answer(prompts_answer(0)))
    start_prompts(app, ids, [ids["content"]], tier="live")
    asked = json.loads(httpserver.log[0][0].get_data())["messages"]
    text = "\n".join(m["content"] for m in asked)
    assert "exactly 0 in-article image(s)" in text and "warm morning light" in text and "llustration" in text
    assert [i["kind"] for i in images_of(app, ids["account"], ids["content"])] == ["featured"]

    httpserver.expect_request("/v1/images/generations", method="POST").respond_with_json(
        {"created": 1, "data": [{"b64_json": base64.b64encode(png_bytes(1536, 1024)).decode()}]})
    job_id = start_images(app, ids, [ids["content"]], tier="live")
    assert job_row(app, job_id)["status"] == "succeeded", job_row(app, job_id)
    image_call = json.loads(next(r for r, _ in httpserver.log if r.path == "/v1/images/generations").get_data())
    assert "warm morning light" in image_call["prompt"]  # the style goes with the image prompt too
    [featured] = images_of(app, ids["account"], ids["content"])
    assert featured["status"] == "generated" and (featured["width"], featured["height"]) == (1200, 630)
    assert body_of(app, ids["account"], ids["content"]) == BODY  # the featured image is not placed in the body


def test_runware_images_through_its_http_api(app, ids, httpserver):
    configure_provider(app, "runware", base_url=httpserver.url_for("/v1"), api_key="rw-key", max_retries=0)
    set_image_model_default(app, "runware:100@1")
    start_prompts(app, ids, [ids["content"]])

    def runware(request):
        tasks = json.loads(request.get_data())
        data = [{"taskType": "imageInference", "taskUUID": t["taskUUID"],
                 "imageBase64Data": base64.b64encode(png_bytes(t["width"], t["height"])).decode()}
                for t in tasks if t["taskType"] == "imageInference"]
        return Response(json.dumps({"data": data}), content_type="application/json")

    httpserver.expect_request("/v1", method="POST").respond_with_handler(runware)
    before = ledger(app, ids["account"])["balance"]
    job_id = start_images(app, ids, [ids["content"]], tier="live")
    assert job_row(app, job_id)["status"] == "succeeded", job_row(app, job_id)
    assert all(json.loads(r.get_data())[0] == {"taskType": "authentication", "apiKey": "rw-key"}
               for r, _ in httpserver.log)
    tasks = [json.loads(r.get_data())[1] for r, _ in httpserver.log]
    assert {t["model"] for t in tasks} == {"runware:100@1"} and all(t["positivePrompt"] for t in tasks)
    after = ledger(app, ids["account"])
    assert before - after["balance"] == 3 and after["balance"] == after["ledger"]  # FLUX.1 schnell: 1 credit each
    images = images_of(app, ids["account"], ids["content"])
    assert Image.open(io.BytesIO(stored_file(app, images[0]["file_key"]))).size == (1200, 630)
    assert body_of(app, ids["account"], ids["content"]).count("<figure>") == 2
    # The images are made in parallel, so in any order: 1200×630 in Runware's steps of 64, and 1024×768 twice.
    assert sorted((t["width"], t["height"]) for t in tasks) == [(1024, 768), (1024, 768), (1216, 640)]
    assert [i["status"] for i in images_of(app, ids["account"], ids["content"])] == ["generated"] * 3


def test_non_image_bytes_fail_that_image_only_and_it_is_not_charged(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), max_retries=0)
    start_prompts(app, ids, [ids["content"]])
    broken = images_of(app, ids["account"], ids["content"])[1]["prompt"]  # the images are made in parallel

    def answer(request):
        prompt = json.loads(request.get_data())["prompt"]
        data = b"<html>not an image</html>" if prompt.startswith(broken) else png_bytes(1536, 1024)
        return Response(json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(data).decode()}]}),
                        content_type="application/json")

    httpserver.expect_request("/v1/images/generations", method="POST").respond_with_handler(answer)
    before = ledger(app, ids["account"])["balance"]
    job_id = start_images(app, ids, [ids["content"]], tier="live")
    assert job_row(app, job_id)["status"] == "succeeded"
    images = images_of(app, ids["account"], ids["content"])
    assert [i["status"] for i in images] == ["generated", "failed", "generated"]
    assert "not an image" in images[1]["error"] and "not charged" in images[1]["error"]
    assert images[1]["credits"] == 0
    after = ledger(app, ids["account"])
    assert before - after["balance"] == 10 and after["balance"] == after["ledger"]
    body = body_of(app, ids["account"], ids["content"])
    assert body.count("<figure>") == 1 and "Fresh beans make the cup." in body
    # The person sees which image failed and why, in the gallery and on the article.
    from tests.integration.ai_support import EMAIL
    from tests.integration.helpers import signed_in

    web = signed_in(app, EMAIL)
    gallery = web.get("/writer/images?status=failed").get_data(as_text=True)
    assert gallery.count('data-status="failed"') == 1 and 'data-testid="image-error"' in gallery
    assert "not an image" in gallery and "not charged" in gallery
    article = web.get(f"/writer/content/{ids['content']}").get_data(as_text=True)
    assert "not an image" in article[article.index('id="article-images"'):]


def test_a_500_storm_fails_the_images_refunds_everything_and_leaves_the_article_intact(app, ids, httpserver,
                                                                                      monkeypatch):
    # One call at a time, so the images after the first failure are not even attempted.
    monkeypatch.setitem(app.config, "AI_CONCURRENCY_BY_PROVIDER", {"openai": 1})
    configure_openai(app, base_url=httpserver.url_for("/v1"), max_retries=1)
    start_prompts(app, ids, [ids["content"]])
    httpserver.expect_request("/v1/images/generations").respond_with_json({"error": {"message": "boom"}},
                                                                          status=500)
    before = ledger(app, ids["account"])["balance"]
    job_id = start_images(app, ids, [ids["content"]], tier="live")
    row = job_row(app, job_id)
    assert row["status"] == "failed" and row["charged"] == 0
    images = images_of(app, ids["account"], ids["content"])
    assert all(i["status"] == "failed" and i["error"] for i in images)
    assert "Not attempted" in images[2]["error"] and len(httpserver.log) == 2  # one call and its one retry
    after = ledger(app, ids["account"])
    assert after["balance"] == before and after["balance"] == after["ledger"]
    assert body_of(app, ids["account"], ids["content"]) == BODY


def test_a_malformed_prompts_answer_is_repaired_once_then_fails_without_charge(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), max_retries=0)
    httpserver.expect_request("/v1/chat/completions").respond_with_json(chat_answer("{not json"))
    before = ledger(app, ids["account"])["balance"]
    job_id = start_prompts(app, ids, [ids["content"]], tier="live")
    row = job_row(app, job_id)
    assert row["status"] == "failed" and "unusable answer" in (row["error"] or "")
    assert len(httpserver.log) == 2  # the call and one repair
    assert images_of(app, ids["account"], ids["content"]) == []
    assert ledger(app, ids["account"])["balance"] == before


def test_cost_truth_splits_each_articles_credits_into_text_prompts_and_images_and_adds_up(app):
    from app.services.images import costs
    from app.services.writer import runner
    from tests.integration.writer_support import articles, make_tasks

    out = setup_account(app)
    world = make_tasks(app, out["account"], ["Espresso basics", "Grinder guide"])
    start = ledger(app, out["account"])["balance"]
    with app.app_context(), tenancy.account_scope(out["account"]):
        runner.start_generation(task_ids=world["tasks"], tier="testing", created_by_id=out["user"])
        db.session.remove()
    run_worker(app)
    made = [a["id"] for a in articles(app, out["account"])]
    assert len(made) == 2
    ids = {**out, **world}
    start_prompts(app, ids, made)
    start_images(app, ids, [made[0]])
    spent = start - ledger(app, out["account"])["balance"]
    with app.app_context(), tenancy.account_scope(out["account"]):
        from sqlalchemy import select

        from app.models import Content
        from app.services.writer import listing

        found = costs.article_costs(made)
        # The content list sorts by the same sum, computed in SQL.
        in_sql = dict(db.session.execute(select(Content.id, listing.credits_spent()).where(Content.id.in_(made))).all())
        db.session.remove()
    assert {cid: round(value, 2) for cid, value in in_sql.items()} == {
        cid: found[cid]["total"]["credits"] for cid in made}
    first, second = found[made[0]], found[made[1]]
    assert first["text"]["credits"] > 0 and second["text"]["credits"] > 0
    assert first["prompts"]["credits"] == second["prompts"]["credits"] > 0  # one run for both, shared evenly
    assert first["images"]["credits"] == 3 and second["images"]["credits"] == 0
    assert first["total"]["credits"] == first["text"]["credits"] + first["prompts"]["credits"] + 3
    assert round(first["total"]["credits"] + second["total"]["credits"]) == spent
