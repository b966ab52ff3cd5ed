"""The model catalogue and provider settings: seeding, look-ups, pricing and operator changes."""

from __future__ import annotations

import math
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.crypto import SecretError, mask
from app.errors import DomainError, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, AIProvider
from app.timeutil import utcnow

PROVIDERS_PAGE = "Operator → AI → Providers"

DEFAULT_PROVIDERS = [
    dict(slug="demo", kind="demo", name="Offline demo", needs_key=False),
    dict(slug="openai", kind="openai", name="OpenAI", base_url="https://api.openai.com/v1"),
    dict(slug="runware", kind="runware", name="Runware", base_url="https://api.runware.ai/v1"),
]

DEFAULT_MODELS = [
    dict(provider="demo", model_id="demo-text", name="Demo text (offline, not AI)", model_type="text",
         tier="testing", tokens_per_credit=1000, min_credits=1),
    dict(provider="openai", model_id="gpt-4o-mini", name="GPT-4o mini", model_type="text", tier="live",
         is_default=True, cost_per_1k_input="0.00015", cost_per_1k_output="0.0006", tokens_per_credit=1000,
         min_credits=1, max_input_tokens=100000, max_output_tokens=4000),
    dict(provider="openai", model_id="gpt-4.1", name="GPT-4.1", model_type="text", tier="live",
         cost_per_1k_input="0.002", cost_per_1k_output="0.008", tokens_per_credit=200, min_credits=2,
         max_input_tokens=100000, max_output_tokens=8000),
    dict(provider="demo", model_id="demo-image", name="Demo image (offline placeholder)", model_type="image",
         tier="testing", credits_per_image=1),
    dict(provider="openai", model_id="gpt-image-1", name="GPT Image 1", model_type="image", tier="live",
         is_default=True, cost_per_image="0.04", credits_per_image=5),
    dict(provider="runware", model_id="runware:100@1", name="Runware FLUX.1 schnell", model_type="image",
         tier="live", cost_per_image="0.0013", credits_per_image=1),
    dict(provider="demo", model_id="demo-embedding", name="Demo embeddings (offline)", model_type="embedding",
         tier="testing", tokens_per_credit=20000),
    dict(provider="openai", model_id="text-embedding-3-small", name="Text embedding 3 small",
         model_type="embedding", tier="live", is_default=True, cost_per_1k_input="0.00002",
         tokens_per_credit=20000),
]


def seed_ai_catalogue() -> int:
    """Insert the default providers and models that are missing; safe to run again."""
    added = 0
    providers = {}
    for item in DEFAULT_PROVIDERS:
        provider = db.session.scalars(select(AIProvider).where(AIProvider.slug == item["slug"])).first()
        if provider is None:
            provider = AIProvider(**item)
            db.session.add(provider)
            db.session.flush()
            added += 1
        providers[item["slug"]] = provider
    for item in DEFAULT_MODELS:
        values = {k: v for k, v in item.items() if k != "provider"}
        provider = providers[item["provider"]]
        exists = db.session.scalars(select(AIModel).where(
            AIModel.provider_id == provider.id, AIModel.model_id == item["model_id"])).first()
        if exists is None:
            db.session.add(AIModel(provider_id=provider.id, **values))
            db.session.flush()
            added += 1
    db.session.commit()
    return added


def list_models() -> list[AIModel]:
    """Every model in the catalogue, grouped by type and tier."""
    return list(db.session.scalars(select(AIModel).order_by(AIModel.model_type, AIModel.tier, AIModel.name)))


def list_providers() -> list[AIProvider]:
    """Every configured provider."""
    return list(db.session.scalars(select(AIProvider).order_by(AIProvider.id)))


def get_model(model_pk: int) -> AIModel:
    """A catalogue entry, or NotFound."""
    model = db.session.get(AIModel, model_pk)
    if model is None:
        raise NotFound("That AI model does not exist.")
    return model


def get_provider(provider_pk: int) -> AIProvider:
    """A provider, or NotFound."""
    provider = db.session.get(AIProvider, provider_pk)
    if provider is None:
        raise NotFound("That AI provider does not exist.")
    return provider


def model_for(*, model_type: str, tier: str) -> AIModel:
    """The active Testing model, or the active default Live model, of a type."""
    stmt = select(AIModel).where(AIModel.model_type == model_type, AIModel.tier == tier,
                                 AIModel.is_active.is_(True))
    if tier == "live":
        stmt = stmt.where(AIModel.is_default.is_(True))
    model = db.session.scalars(stmt).first()
    if model is None:
        raise DomainError(f"No active {tier.capitalize()} {model_type} model is configured. "
                          "An operator can choose one in Operator → AI → Models.")
    return model


def check_usable(model: AIModel) -> None:
    """Refuse a model that is switched off or whose provider cannot be called (nothing is charged)."""
    if not model.is_active:
        raise DomainError(f"The model {model.name} is inactive. Choose an active model, or an operator "
                          "can re-activate it in Operator → AI → Models.")
    provider = model.provider
    if not provider.is_enabled:
        raise DomainError(f"The {provider.name} provider is switched off. An operator can enable it "
                          f"in {PROVIDERS_PAGE}.")
    if provider.needs_key and not provider.api_key:
        raise DomainError(f"The {provider.name} API key is missing. An operator must add it in "
                          f"{PROVIDERS_PAGE} → {provider.name} before {model.name} can be used.")


def live_problem(model_type: str = "text") -> str | None:
    """Why the Live model of a type cannot run now (no model, switched off, no key), or None when it can."""
    try:
        check_usable(model_for(model_type=model_type, tier="live"))
    except DomainError as exc:
        return exc.message
    return None


def live_available(model_type: str = "text") -> bool:
    """Customers are offered Live only when the platform can actually call it."""
    return live_problem(model_type) is None


def offered_tier(tier: str, model_type: str = "text") -> str:
    """The tier a customer asked for, refusing a Live model that cannot run (without operator jargon)."""
    tier = tier if tier in ("testing", "live") else "testing"
    if tier == "live" and not live_available(model_type):
        raise ValidationError("The Live model is not available right now. Choose Testing, or try Live later.",
                              field="tier")
    return tier


def live_problems() -> dict[str, str]:
    """For the operator overview: each model type whose Live model customers cannot use, and why."""
    types = sorted(set(db.session.scalars(select(AIModel.model_type).where(AIModel.tier == "live"))))
    return {t: problem for t in types if (problem := live_problem(t))}


def credits_for_tokens(model: AIModel, tokens: int) -> int:
    """The price of text work: ceil(tokens / tokens_per_credit), never below the model's minimum."""
    return max(int(model.min_credits), math.ceil(max(0, tokens) / model.tokens_per_credit))


def cost_usd(model: AIModel, *, tokens_in: int, tokens_out: int, images: int = 0) -> Decimal:
    """What the provider charges us for the work."""
    return (Decimal(model.cost_per_1k_input) * tokens_in / 1000
            + Decimal(model.cost_per_1k_output) * tokens_out / 1000
            + Decimal(model.cost_per_image) * images).quantize(Decimal("0.000001"))


def update_model(*, model_pk: int, values: dict) -> AIModel:
    """Change a catalogue entry; the database refuses a second active Testing or default Live model."""
    model = get_model(model_pk)
    for name, value in values.items():
        setattr(model, name, value)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError(
            "Only one active Testing model and one active default Live model per type are allowed. "
            "Deactivate (or un-default) the current one first.") from None
    return model


def update_provider(*, provider_pk: int, base_url: str | None, timeout_seconds: Decimal, max_retries: int,
                    is_enabled: bool, api_key: str | None = None, clear_key: bool = False) -> AIProvider:
    """Change a provider's endpoint and limits; a new key replaces the stored one (blank keeps it)."""
    provider = get_provider(provider_pk)
    provider.base_url = (base_url or "").strip() or None
    provider.timeout_seconds = timeout_seconds
    provider.max_retries = max_retries
    provider.is_enabled = is_enabled
    if clear_key:
        provider.api_key = None
    elif api_key and api_key.strip():
        provider.api_key = api_key.strip()
    db.session.commit()
    return provider


def masked_key(provider: AIProvider) -> str:
    """The provider's key with only its last characters visible."""
    try:
        return mask(provider.api_key) if provider.api_key else ""
    except SecretError:
        return "(cannot be decrypted — re-enter it)"


def test_connection(*, provider_pk: int) -> tuple[bool, str]:
    """Make one cheap call to the provider and remember the outcome."""
    from app.services.ai.providers import ProviderError, provider_for

    provider = get_provider(provider_pk)
    try:
        ok, message = True, provider_for(provider).test_connection()
    except ProviderError as exc:
        ok, message = False, exc.message
    provider.last_test_ok, provider.last_test_message, provider.last_tested_at = ok, message[:500], utcnow()
    db.session.commit()
    return ok, message
