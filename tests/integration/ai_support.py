"""Helpers for the AI engine tests: an account with credits, the catalogue, a fake OpenAI server."""

from __future__ import annotations

import json

from rq import SimpleWorker
from sqlalchemy import select

from app import tenancy
from app.extensions import db
from app.models import AIModel, AIProvider, CreditReservation, CreditUsageLog, Job
from app.queue import get_queue
from app.services.billing import credits
from app.services.ai.catalogue import seed_ai_catalogue
from tests.conftest import make_account

START_BALANCE = 100
EMAIL = "ai@acme.example.com"


def setup_account(app) -> dict:
    """The seeded catalogue and an account holding START_BALANCE credits."""
    with app.app_context():
        seed_ai_catalogue()
    account_id, user_id = make_account(app, email=EMAIL)
    with app.app_context(), tenancy.account_scope(account_id):
        credits.grant(account_id=account_id, amount=START_BALANCE, key="test-grant", description="Test credits")
        start = credits.balance(account_id)  # the plan's monthly credits plus the grant
        db.session.remove()
    return {"account": account_id, "user": user_id, "start": start}


def configure_openai(app, *, base_url: str | None, api_key: str | None = "sk-test-key-1234",
                     timeout: float = 5, max_retries: int = 2) -> None:
    """Point the OpenAI provider at a (fake) server."""
    with app.app_context(), tenancy.all_accounts():
        provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == "openai")).one()
        provider.base_url, provider.api_key = base_url, api_key
        provider.timeout_seconds, provider.max_retries = timeout, max_retries
        db.session.commit()
        db.session.remove()


def set_model(app, model_id: str, **values) -> int:
    """Change a catalogue entry directly; returns its primary key."""
    with app.app_context():
        model = db.session.scalars(select(AIModel).where(AIModel.model_id == model_id)).one()
        for name, value in values.items():
            setattr(model, name, value)
        db.session.commit()
        pk = model.id
        db.session.remove()
    return pk


def run_worker(app) -> None:
    """A real RQ worker drains the queue in this process."""
    with app.app_context():
        queue = get_queue("default")
    SimpleWorker([queue], connection=app.extensions["redis"]).work(burst=True)


def chat_answer(content: str | dict, *, tokens_in: int = 2100, tokens_out: int = 400) -> dict:
    """An OpenAI chat-completion response body."""
    text = content if isinstance(content, str) else json.dumps(content)
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                      "total_tokens": tokens_in + tokens_out}}


def good_clusters(count: int = 2) -> dict:
    intents = ["commercial", "informational"]
    return {"clusters": [{"group": n, "name": f"Cluster {n}", "description": f"About topic {n}.",
                          "intent": intents[(n - 1) % 2]} for n in range(1, count + 1)]}


def ledger(app, account_id: int) -> dict:
    """Balance, ledger sum, usage rows and reservations of the account."""
    with app.app_context(), tenancy.account_scope(account_id):
        usage = list(db.session.scalars(select(CreditUsageLog)))
        reservations = list(db.session.scalars(select(CreditReservation)))
        out = {"balance": credits.balance(account_id), "ledger": credits.ledger_sum(account_id),
               "usage": [(u.credits, u.provider, u.model, u.tokens_in, u.tokens_out) for u in usage],
               "reservations": [(r.status, r.amount, r.charged) for r in reservations]}
        db.session.remove()
    return out


def job_row(app, job_id: int) -> dict:
    with app.app_context(), tenancy.all_accounts():
        job = db.session.get(Job, job_id)
        out = {"status": job.status, "error": job.error, "result": job.result, "phase": job.phase,
               "progress": job.progress, "charged": job.credits_charged, "reserved": job.credits_reserved}
        db.session.remove()
    return out


def job_count(app) -> int:
    with app.app_context(), tenancy.all_accounts():
        count = len(list(db.session.scalars(select(Job.id))))
        db.session.remove()
    return count


def configure_provider(app, slug: str, *, base_url: str | None, api_key: str | None = "sk-test-key-1234",
                       timeout: float = 5, max_retries: int = 2) -> None:
    """Point any provider (openai, runware) at a (fake) server with the given limits."""
    with app.app_context(), tenancy.all_accounts():
        provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == slug)).one()
        provider.base_url, provider.api_key = base_url, api_key
        provider.timeout_seconds, provider.max_retries = timeout, max_retries
        db.session.commit()
        db.session.remove()


def call_provider(app, slug: str, method: str, **kwargs):
    """Call one method of a provider's registered implementation, the way the framework does."""
    from app.services.ai.providers import provider_for

    with app.app_context(), tenancy.all_accounts():
        row = db.session.scalars(select(AIProvider).where(AIProvider.slug == slug)).one()
        try:
            return getattr(provider_for(row), method)(**kwargs)
        finally:
            db.session.remove()


def image_answer(*images: bytes, output_format: str = "png") -> dict:
    """An OpenAI images response body with base64 images."""
    import base64

    return {"created": 1_700_000_000, "output_format": output_format,
            "data": [{"b64_json": base64.b64encode(data).decode()} for data in images]}


def embedding_answer(vectors: list[list[float]], *, tokens: int = 7, model: str = "text-embedding-3-small") -> dict:
    """An OpenAI embeddings response body (the items deliberately listed last first)."""
    items = [{"object": "embedding", "index": n, "embedding": v} for n, v in enumerate(vectors)]
    return {"object": "list", "data": items[::-1], "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw scanlines of an 8-bit RGB PNG; checks the signature and every chunk CRC."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, f"bad CRC in {tag!r}"
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    assert b"IEND" in chunks
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw
