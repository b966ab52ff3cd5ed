"""The AI framework end to end: the real openai client against a fake OpenAI-compatible server,
a real RQ worker, real PostgreSQL; credits reserved, settled or refunded."""

from __future__ import annotations

import json
import socket
import time

import httpx2
import pytest
from werkzeug import Response

from app import tenancy
from app.errors import DomainError, ValidationError
from app.extensions import db
from app.services.billing import credits
from app.services.ai.framework import start_function
from tests.integration.ai_support import (
        chat_answer,
    configure_openai,
    good_clusters,
    job_count,
    job_row,
    ledger,
    run_worker,
    set_model,
    setup_account,
)

GROUPS = [["espresso machine", "best espresso machine"], ["how to descale", "descaling guide"]]
PATH = "/v1/chat/completions"


@pytest.fixture
def ids(app):
    return setup_account(app)


@pytest.fixture
def fake_openai(app, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"))
    return httpserver


def start(app, ids, *, groups=GROUPS, tier="live", model_pk=None) -> int:
    with app.app_context(), tenancy.account_scope(ids["account"]):
        job = start_function(function="cluster_naming", payload={"groups": groups}, tier=tier,
                             model_pk=model_pk, created_by_id=ids["user"])
        job_id = job.id
        db.session.remove()
    return job_id


def sent_bodies(server) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def test_good_answer_is_saved_and_exactly_the_settled_amount_is_charged(app, ids, fake_openai):
    fake_openai.expect_request(PATH, method="POST").respond_with_json(chat_answer(good_clusters()))
    job_id = start(app, ids)
    assert ledger(app, ids["account"])["reservations"][0][0] == "open"
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert [c["name"] for c in job["result"]["clusters"]] == ["Cluster 1", "Cluster 2"]
    assert job["result"]["clusters"][1]["keywords"] == GROUPS[1]
    # 2,100 + 400 tokens at 1,000 tokens per credit → 3 credits, charged once.
    books = ledger(app, ids["account"])
    assert job["charged"] == 3 and books["balance"] == ids["start"] - 3 == books["ledger"]
    assert books["usage"] == [(3, "openai", "gpt-4o-mini", 2100, 400)]
    request, _ = fake_openai.log[0]
    assert request.headers["Authorization"] == "Bearer sk-test-key-1234"
    body = sent_bodies(fake_openai)[0]
    assert body["model"] == "gpt-4o-mini" and body["response_format"] == {"type": "json_object"}
    assert "1. espresso machine, best espresso machine" in body["messages"][-1]["content"]


def test_malformed_json_is_repaired_once_with_the_validation_error(app, ids, fake_openai):
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer('{"clusters": [', tokens_in=900, tokens_out=50))
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer(good_clusters(), tokens_in=1000, tokens_out=300))
    job_id = start(app, ids)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    repair = sent_bodies(fake_openai)[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"clusters": ['}
    assert "not valid JSON" in repair[-1]["content"]
    assert job["result"]["calls"] == 2
    books = ledger(app, ids["account"])  # 900 + 50 + 1,000 + 300 = 2,250 tokens → 3 credits
    assert books["balance"] == ids["start"] - 3 and books["usage"][0][0] == 3


def test_malformed_twice_fails_readably_saves_nothing_and_refunds(app, ids, fake_openai):
    wrong = {"clusters": [{"group": 1, "name": "A", "description": "B", "intent": "curious"},
                          {"group": 2, "name": "C", "description": "D", "intent": "commercial"}]}
    fake_openai.expect_request(PATH).respond_with_json(chat_answer(wrong))
    job_id = start(app, ids)
    run_worker(app)

    job = job_row(app, job_id)
    assert job["status"] == "failed" and job["result"] is None
    assert "unusable answer twice" in job["error"] and "intent must be one of" in job["error"]
    assert len(fake_openai.log) == 2
    books = ledger(app, ids["account"])
    assert books["balance"] == ids["start"] == books["ledger"]
    assert books["usage"] == [] and books["reservations"][0][0] == "refunded"


def test_answer_with_the_wrong_number_of_groups_is_not_half_saved(app, ids, fake_openai):
    fake_openai.expect_request(PATH).respond_with_json(chat_answer(good_clusters(1)))
    job_id = start(app, ids)
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed" and job["result"] is None
    assert "exactly one entry for each group 1–2" in job["error"]
    assert ledger(app, ids["account"])["balance"] == ids["start"]


def test_a_429_is_retried_then_succeeds(app, ids, fake_openai):
    fake_openai.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "Rate limit", "type": "rate_limit"}}, status=429, headers={"retry-after-ms": "20"})
    fake_openai.expect_ordered_request(PATH).respond_with_json(chat_answer(good_clusters()))
    job_id = start(app, ids)
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"
    assert len(fake_openai.log) == 2
    assert ledger(app, ids["account"])["balance"] == ids["start"] - 3


def test_a_500_storm_fails_after_the_retries_and_refunds(app, ids, fake_openai):
    fake_openai.expect_request(PATH).respond_with_json({"error": {"message": "boom"}}, status=500)
    job_id = start(app, ids)
    started = time.monotonic()
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed"
    assert "server error (500) on all 3 tries" in job["error"]
    assert len(fake_openai.log) == 3
    assert time.monotonic() - started > 0.5  # backed off between tries
    assert ledger(app, ids["account"])["balance"] == ids["start"]


def test_a_timeout_fails_with_a_readable_message_and_refunds(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=0.4, max_retries=0)

    def slow(request):
        time.sleep(1.2)
        return Response(json.dumps(chat_answer(good_clusters())), content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    job_id = start(app, ids)
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed" and "did not answer within 0.40 seconds" in job["error"]
    assert ledger(app, ids["account"])["balance"] == ids["start"]


def test_a_slow_answer_within_the_timeout_succeeds(app, ids, httpserver):
    configure_openai(app, base_url=httpserver.url_for("/v1"), timeout=5, max_retries=0)

    def slow(request):
        time.sleep(0.6)
        return Response(json.dumps(chat_answer(good_clusters())), content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    job_id = start(app, ids)
    run_worker(app)
    assert job_row(app, job_id)["status"] == "succeeded"


def test_revoked_key_fails_naming_what_to_fix_and_takes_no_credits(app, ids, fake_openai):
    fake_openai.expect_request(PATH).respond_with_json(
        {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, status=401)
    job_id = start(app, ids)
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed"
    assert "OpenAI API key was rejected (401)" in job["error"] and "Operator → AI → Providers → OpenAI" in job["error"]
    assert len(fake_openai.log) == 1  # a 401 is not retried
    assert ledger(app, ids["account"])["balance"] == ids["start"]


def test_missing_key_is_refused_before_anything_is_reserved(app, ids, fake_openai):
    configure_openai(app, base_url=fake_openai.url_for("/v1"), api_key=None)
    with pytest.raises(DomainError, match="OpenAI API key is missing.*Operator → AI → Providers"):
        start(app, ids)
    assert job_count(app) == 0 and ledger(app, ids["account"])["reservations"] == []
    assert ledger(app, ids["account"])["balance"] == ids["start"] and fake_openai.log == []


def test_inactive_model_is_refused(app, ids, fake_openai):
    model_pk = set_model(app, "gpt-4.1", is_active=False)
    with pytest.raises(DomainError, match="GPT-4.1 is inactive"):
        start(app, ids, model_pk=model_pk)
    assert job_count(app) == 0


def test_model_deactivated_after_enqueue_fails_the_job_and_refunds(app, ids, fake_openai):
    job_id = start(app, ids)
    set_model(app, "gpt-4o-mini", is_active=False)
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "failed" and "inactive" in job["error"]
    assert fake_openai.log == [] and ledger(app, ids["account"])["balance"] == ids["start"]


def test_oversized_input_is_refused_before_spending(app, ids, fake_openai):
    too_many = [[f"keyword {n}"] for n in range(51)]
    with pytest.raises(ValidationError, match="At most 50 groups"):
        start(app, ids, groups=too_many)
    huge = [[f"{'very long keyword ' * 5}{g}-{k}" for k in range(100)] for g in range(3)]
    with pytest.raises(ValidationError, match="input is too large"):
        start(app, ids, groups=huge)
    assert job_count(app) == 0 and ledger(app, ids["account"])["balance"] == ids["start"]


def test_model_markup_is_stored_clean(app, ids, fake_openai):
    dirty = {"clusters": [
        {"group": 1, "name": "<script>alert(1)</script>Espresso <b onclick='x()'>gear</b>",
         "description": 'Buying <a href="javascript:alert(1)">guide</a><img src=x onerror=alert(2)>.',
         "intent": "commercial"},
        {"group": 2, "name": "Descaling", "description": "How to descale.", "intent": "informational"}]}
    fake_openai.expect_request(PATH).respond_with_json(chat_answer(dirty))
    job_id = start(app, ids)
    run_worker(app)
    stored = json.dumps(job_row(app, job_id)["result"])
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "<a "):
        assert bad not in stored
    assert job_row(app, job_id)["result"]["clusters"][0]["name"] == "Espresso gear"


def test_a_finished_job_is_never_charged_twice(app, ids, fake_openai):
    fake_openai.expect_request(PATH).respond_with_json(chat_answer(good_clusters()))
    job_id = start(app, ids)
    run_worker(app)
    from workers.tasks import run_job

    run_job(job_id)  # a redelivered queue entry
    with app.app_context(), tenancy.account_scope(ids["account"]):
        from app.models import CreditReservation

        reservation = db.session.query(CreditReservation).one()
        credits.settle(reservation_id=reservation.id, actual=50)  # a repeated settlement
        db.session.remove()
    books = ledger(app, ids["account"])
    assert books["balance"] == ids["start"] - 3 == books["ledger"] and len(books["usage"]) == 1
    assert len(fake_openai.log) == 1


def test_offline_demo_provider_runs_the_whole_path_without_network(app, ids, fake_openai, monkeypatch):
    local = {"127.0.0.1", "localhost", "::1"}
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in local:
            raise OSError(f"network access to {host} is not allowed in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    def no_http(*args, **kwargs):
        raise AssertionError("the demo provider must not make HTTP calls")

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    monkeypatch.setattr(httpx2.Client, "send", no_http)
    job_id = start(app, ids, tier="testing")
    run_worker(app)
    job = job_row(app, job_id)
    assert job["status"] == "succeeded", job["error"]
    clusters = job["result"]["clusters"]
    assert job["result"]["demo"] is True
    assert all("Demo text — not written by AI" in c["description"] for c in clusters)
    assert [c["intent"] for c in clusters] == ["commercial", "informational"]
    books = ledger(app, ids["account"])
    assert books["balance"] == ids["start"] - 1 and books["usage"][0][1] == "demo"
    assert fake_openai.log == []
