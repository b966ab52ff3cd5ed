"""Image and embedding providers (OpenAI through the real client, Runware over HTTP, the offline demo)
against fake servers, and item-by-item batches in the AI framework with their credit settlement."""

from __future__ import annotations

import base64
import json
import math
import time

import pytest
from werkzeug import Response

from app import tenancy
from app.extensions import db
from app.services.ai import catalogue
from app.services.ai.catalogue import seed_ai_catalogue
from app.services.ai.demo_media import placeholder_png
from app.services.ai.framework import start_function
from app.services.ai.providers import DEMO_IMAGE_MAX_SIDE, ImageRequest, ProviderError
from tests.integration.ai_support import (
    EMAIL,
    call_provider,
    chat_answer,
    configure_openai,
    configure_provider,
    embedding_answer,
    good_clusters,
    image_answer,
    job_row,
    ledger,
    read_png,
    run_worker,
    setup_account,
)
from tests.integration.helpers import signed_in

CHAT = "/v1/chat/completions"
RUNWARE = "/v1"
PNG = placeholder_png("a fixture image", 64, 32)


@pytest.fixture
def ids(app):
    return setup_account(app)


@pytest.fixture
def seeded(app):
    """Only the catalogue: provider-level tests need no account."""
    with app.app_context():
        seed_ai_catalogue()
        db.session.remove()


@pytest.fixture
def fake_openai(app, seeded, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    return httpserver


@pytest.fixture
def fake_runware(app, seeded, httpserver):
    configure_provider(app, "runware", base_url=httpserver.url_for(RUNWARE), api_key="rw-test-key-5678",
                       timeout=5, max_retries=2)
    return httpserver


def bodies(server) -> list:
    return [json.loads(request.get_data()) for request, _ in server.log]


def runware_images(request) -> Response:
    """A Runware answer: one base64 PNG per requested result, tagged with the task's UUID."""
    data = [{"taskType": "authentication", "connectionSessionUUID": "session-1"}]
    for task in json.loads(request.get_data()):
        if task["taskType"] == "imageInference":
            data += [{"taskType": "imageInference", "taskUUID": task["taskUUID"], "imageUUID": f"img-{n}",
                      "imageBase64Data": base64.b64encode(PNG).decode(), "cost": 0.0013}
                     for n in range(task["numberResults"])]
    return Response(json.dumps({"data": data}), content_type="application/json")


# ---- OpenAI: images and embeddings through the real client ------------------------------------------

def test_openai_images_are_decoded_from_base64(app, seeded, fake_openai):
    fake_openai.expect_request("/v1/images/generations", method="POST").respond_with_json(image_answer(PNG))
    result = call_provider(app, "openai", "generate_images", model_id="gpt-image-1",
                           request=ImageRequest("A red bicycle by a canal", size="1024x1536", style="watercolour"))
    body = bodies(fake_openai)[0]
    assert body["model"] == "gpt-image-1" and body["n"] == 1 and body["size"] == "1024x1536"
    assert body["prompt"].startswith("A red bicycle by a canal") and "Style: watercolour" in body["prompt"]
    assert "response_format" not in body  # GPT Image models always answer in base64
    assert fake_openai.log[0][0].headers["Authorization"] == "Bearer sk-test-key-1234"
    assert result.count == 1
    image = result.images[0]
    assert image.data == PNG and read_png(image.data)[:2] == (64, 32)
    assert (image.mime, image.width, image.height) == ("image/png", 64, 32)


def test_openai_image_links_are_fetched(app, seeded, fake_openai):
    link = fake_openai.url_for("/files/generated.png")
    fake_openai.expect_request("/v1/images/generations", method="POST").respond_with_json(
        {"created": 1_700_000_000, "data": [{"url": link}]})
    fake_openai.expect_request("/files/generated.png", method="GET").respond_with_data(PNG, content_type="image/png")
    result = call_provider(app, "openai", "generate_images", model_id="dall-e-3",
                           request=ImageRequest("A lighthouse", size="1024x1024"))
    assert json.loads(fake_openai.log[0][0].get_data())["response_format"] == "b64_json"  # asked where supported
    assert result.images[0].data == PNG and result.images[0].width == 64


def test_openai_embeddings_come_back_in_input_order(app, seeded, fake_openai):
    fake_openai.expect_request("/v1/embeddings", method="POST").respond_with_json(
        embedding_answer([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]], tokens=9))
    result = call_provider(app, "openai", "embed", model_id="text-embedding-3-small",
                           texts=["espresso machine", "descaling guide"])
    body = bodies(fake_openai)[0]
    assert body["model"] == "text-embedding-3-small" and body["input"] == ["espresso machine", "descaling guide"]
    assert body["encoding_format"] == "float"
    assert result.vectors == [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]] and result.tokens_in == 9


def test_openai_embeddings_with_a_revoked_key_say_what_to_fix(app, seeded, fake_openai):
    fake_openai.expect_request("/v1/embeddings").respond_with_json(
        {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, status=401)
    with pytest.raises(ProviderError, match=r"OpenAI API key was rejected \(401\).*Operator → AI → Providers → OpenAI"):
        call_provider(app, "openai", "embed", model_id="text-embedding-3-small", texts=["x"])


# ---- Runware over its HTTP API ----------------------------------------------------------------------

def test_runware_generates_images(app, fake_runware):
    fake_runware.expect_request(RUNWARE, method="POST").respond_with_handler(runware_images)
    result = call_provider(app, "runware", "generate_images", model_id="runware:100@1",
                           request=ImageRequest("A cosy reading nook", size="1000x600", count=2))
    auth, task = bodies(fake_runware)[0]
    assert auth == {"taskType": "authentication", "apiKey": "rw-test-key-5678"}
    assert task["taskType"] == "imageInference" and len(task["taskUUID"]) == 36
    assert task["positivePrompt"] == "A cosy reading nook" and task["model"] == "runware:100@1"
    assert (task["width"], task["height"]) == (1024, 576)  # Runware takes multiples of 64
    assert task["numberResults"] == 2 and task["outputType"] == "base64Data" and task["outputFormat"] == "PNG"
    assert result.count == 2 and all(i.data == PNG and i.mime == "image/png" for i in result.images)


def test_runware_bad_key_names_where_to_fix_it(app, fake_runware):
    fake_runware.expect_request(RUNWARE).respond_with_json({"errors": [{
        "code": "invalidApiKey", "message": "Invalid API key.", "parameter": "apiKey",
        "taskType": "authentication"}]}, status=401)
    with pytest.raises(ProviderError) as caught:
        call_provider(app, "runware", "generate_images", model_id="runware:100@1", request=ImageRequest("x"))
    assert "Runware API key was rejected" in caught.value.message
    assert "Operator → AI → Providers → Runware" in caught.value.message
    assert len(fake_runware.log) == 1  # a rejected key is not retried


def test_runware_connection_test_sends_only_the_authentication_task(app, seeded, fake_runware):
    fake_runware.expect_request(RUNWARE).respond_with_handler(runware_images)
    with app.app_context(), tenancy.all_accounts():
        provider = next(p for p in catalogue.list_providers() if p.slug == "runware")
        ok, message = catalogue.test_connection(provider_pk=provider.id)
        assert provider.last_test_ok is True
        db.session.remove()
    assert ok and "API key was accepted" in message
    assert bodies(fake_runware) == [[{"taskType": "authentication", "apiKey": "rw-test-key-5678"}]]


def test_runware_retries_a_server_error_then_succeeds(app, fake_runware):
    fake_runware.expect_ordered_request(RUNWARE).respond_with_json({"error": "boom"}, status=500)
    fake_runware.expect_ordered_request(RUNWARE).respond_with_handler(runware_images)
    result = call_provider(app, "runware", "generate_images", model_id="runware:100@1", request=ImageRequest("x"))
    assert result.count == 1 and len(fake_runware.log) == 2


def test_runware_timeout_is_explained(app, seeded, httpserver):
    configure_provider(app, "runware", base_url=httpserver.url_for(RUNWARE), timeout=0.5, max_retries=0)

    def slow(request):
        time.sleep(1.0)
        return runware_images(request)

    httpserver.expect_request(RUNWARE).respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"Runware did not answer within 0.50 seconds \(1 tries\)"):
        call_provider(app, "runware", "generate_images", model_id="runware:100@1", request=ImageRequest("x"))
    assert time.monotonic() - started < 1.0


def test_runware_refuses_text_and_embeddings(app, fake_runware):
    with pytest.raises(ProviderError, match="Runware does not offer embeddings.*Operator → AI → Models"):
        call_provider(app, "runware", "embed", model_id="runware:100@1", texts=["x"])
    from app.services.ai.providers import TextRequest

    with pytest.raises(ProviderError, match="Runware does not offer text generation"):
        call_provider(app, "runware", "complete_json", model_id="runware:100@1",
                      request=TextRequest(messages=[{"role": "user", "content": "hi"}]))
    assert fake_runware.log == []


# ---- The offline demo provider ------------------------------------------------------------------

def test_demo_images_are_deterministic_pngs_of_the_requested_size(app, seeded):
    small = call_provider(app, "demo", "generate_images", model_id="demo-image",
                          request=ImageRequest("A quiet harbour", size="256x128", count=2))
    assert small.count == 2
    for image in small.images:
        assert read_png(image.data)[:2] == (256, 128) and (image.width, image.height, image.mime) == (
            256, 128, "image/png")
    assert small.images[0].data != small.images[1].data  # each of several images differs
    again = call_provider(app, "demo", "generate_images", model_id="demo-image",
                          request=ImageRequest("A quiet harbour", size="256x128", count=2))
    assert [i.data for i in again.images] == [i.data for i in small.images]
    other = call_provider(app, "demo", "generate_images", model_id="demo-image",
                          request=ImageRequest("A busy market", size="256x128"))
    assert other.images[0].data != small.images[0].data
    big = call_provider(app, "demo", "generate_images", model_id="demo-image",
                        request=ImageRequest("A wide view", size="1536x1024")).images[0]
    assert read_png(big.data)[:2] == (DEMO_IMAGE_MAX_SIDE, 341) == (big.width, big.height)  # capped, aspect kept
    assert b"not generated by AI" in big.data  # labelled in the file as well as drawn on it


def test_demo_embeddings_are_deterministic_unit_vectors(app, seeded):
    texts = ["best espresso machine", "espresso machines best", "how to descale a kettle", ""]
    first = call_provider(app, "demo", "embed", model_id="demo-embedding", texts=texts)
    second = call_provider(app, "demo", "embed", model_id="demo-embedding", texts=texts)
    assert first.vectors == second.vectors and len(first.vectors) == 4 and first.tokens_in > 0
    for vector in first.vectors:
        assert len(vector) == 256 and math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)
    a, b, c = first.vectors[:3]
    similar, unrelated = sum(x * y for x, y in zip(a, b)), sum(x * y for x, y in zip(a, c))
    assert similar > 0.5 > unrelated


# ---- Item-by-item batches in the framework ---------------------------------------------------------

def groups(count: int) -> list[list[str]]:
    return [[f"keyword-{n}", f"keyword-{n} ideas"] for n in range(1, count + 1)]


def start(app, ids, payload_groups, *, tier="live") -> int:
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job = start_function(function="cluster_naming", payload={"groups": payload_groups}, tier=tier,
                             created_by_id=ids["user"])
        job_id = job.id
        db.session.remove()
    return job_id


def test_a_bad_chunk_fails_only_its_items_and_only_saved_chunks_are_charged(app, ids, fake_openai):
    all_groups = groups(25)  # chunks of 10, 10 and 5 groups
    broken = chat_answer('{"clusters": [', tokens_in=900, tokens_out=50)
    fake_openai.expect_ordered_request(CHAT).respond_with_json(chat_answer(good_clusters(10)))  # 2,100 + 400
    fake_openai.expect_ordered_request(CHAT).respond_with_json(broken)
    fake_openai.expect_ordered_request(CHAT).respond_with_json(broken)
    fake_openai.expect_ordered_request(CHAT).respond_with_json(
        chat_answer(good_clusters(5), tokens_in=1000, tokens_out=300))
    job_id = start(app, ids, all_groups)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    assert (result["succeeded"], result["failed"], result["chunks"], result["calls"]) == (15, 10, 3, 4)
    assert [c["group"] for c in result["clusters"]] == [*range(1, 11), *range(21, 26)]
    assert result["clusters"][10]["keywords"] == all_groups[20]  # chunk 3's first group keeps its keywords
    assert result["clusters"][10]["name"] == "Cluster 1"
    items = result["items"]
    assert [i["index"] for i in items] == list(range(25))
    assert all(i["ok"] for i in items[:10] + items[20:])
    for item in items[10:20]:
        assert not item["ok"] and item["result"] is None
        assert "unusable answer twice" in item["error"] and "not valid JSON" in item["error"]
    # Found by content, not by position: the server's log may also hold a request the client sent again on a
    # dropped keep-alive connection (the job's own count of calls, above, is exact).
    sent = bodies(fake_openai)
    prompts = [body["messages"][-1]["content"] for body in sent]
    assert any("1. keyword-11, keyword-11 ideas" in p for p in prompts)  # each chunk numbers from 1
    assert any(body["messages"][-2] == {"role": "assistant", "content": '{"clusters": ['} for body in sent)
    assert any("1. keyword-21, keyword-21 ideas" in p for p in prompts)

    # Charged: the saved chunks' tokens only (2,100 + 400 + 1,000 + 300 = 3,800 → 4 credits);
    # chunk 2's 1,900 tokens are not charged.
    assert (result["tokens_in"], result["tokens_out"], result["unbilled_tokens"]) == (3100, 700, 1900)
    books = ledger(app, ids["account"])
    assert result["credits"] == job["charged"] == 4
    assert books["usage"] == [(4, "openai", "gpt-4o-mini", 3100, 700)]
    assert books["reservations"][0][0] == "settled" and books["reservations"][0][2] == 4
    assert books["balance"] == ids["start"] - 4 == books["ledger"]

    page = signed_in(app, EMAIL).get(f"/thinker/try/cluster-naming/{job_id}/results").get_data(as_text=True)
    assert 'data-testid="failed-groups"' in page and "Group 11: " in page and "Cluster 1" in page


def test_every_chunk_failing_fails_the_job_and_refunds_everything(app, ids, fake_openai):
    fake_openai.expect_request(CHAT).respond_with_json(chat_answer("this is not JSON"))
    job_id = start(app, ids, groups(15))
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "failed" and job["result"] is None
    assert "unusable answer twice" in job["error"] and "not valid JSON" in job["error"]
    assert len(fake_openai.log) == 4  # two chunks, each with its repair
    books = ledger(app, ids["account"])
    assert books["balance"] == ids["start"] == books["ledger"]
    assert books["usage"] == [] and books["reservations"][0][0] == "refunded"


def test_a_provider_failure_stops_the_later_chunks(app, ids, fake_openai):
    fake_openai.expect_ordered_request(CHAT).respond_with_json(chat_answer(good_clusters(10)))
    fake_openai.expect_ordered_request(CHAT).respond_with_json(
        {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, status=401)
    job_id = start(app, ids, groups(25))
    run_worker(app)

    result = job_row(app, job_id)["result"]
    assert (result["succeeded"], result["failed"], result["calls"]) == (10, 15, 1)  # answers received
    assert "API key was rejected (401)" in result["items"][10]["error"]
    assert result["items"][20]["error"].startswith("Not attempted because an earlier part failed")
    assert len(fake_openai.log) == 2
    assert ledger(app, ids["account"])["balance"] == ids["start"] - 3  # 2,500 tokens of chunk 1


def test_demo_batches_run_offline(app, ids):
    job_id = start(app, ids, groups(12), tier="testing")
    run_worker(app)
    result = job_row(app, job_id)["result"]
    assert (result["succeeded"], result["chunks"], result["demo"]) == (12, 2, True)
    assert result["clusters"][11] == {**result["clusters"][11], "group": 12, "name": "Demo: Keyword-12"}


def test_a_very_slow_answer_fails_with_the_timeout_and_refunds(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=0.5, max_retries=0)

    def slow(request):
        time.sleep(1.0)
        return Response(json.dumps(chat_answer(good_clusters())), content_type="application/json")

    httpserver.expect_request(CHAT).respond_with_handler(slow)
    job_id = start(app, ids, groups(2))
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed" and "did not answer within 0.50 seconds" in job["error"]
    books = ledger(app, ids["account"])
    assert books["balance"] == ids["start"] == books["ledger"] and books["reservations"][0][0] == "refunded"


def test_a_slow_answer_within_the_timeout_succeeds(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=3, max_retries=0)

    def slow(request):
        time.sleep(0.6)
        return Response(json.dumps(chat_answer(good_clusters())), content_type="application/json")

    httpserver.expect_request(CHAT).respond_with_handler(slow)
    job_id = start(app, ids, groups(2))
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["charged"] == 3 and ledger(app, ids["account"])["balance"] == ids["start"] - 3
