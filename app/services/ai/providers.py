"""AI providers behind one registry and one interface; errors become messages naming what to fix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import openai

from app.crypto import SecretError
from app.errors import DomainError
from app.models import AIProvider

DEMO_LABEL = "Demo text — not written by AI"
PROVIDERS_PAGE = "Operator → AI → Providers"


class ProviderError(DomainError):
    """A provider call failed; the message says what happened and what to do."""


@dataclass
class TextRequest:
    """A chat completion asking for a JSON object."""

    messages: list[dict]
    max_tokens: int = 2000
    temperature: float = 0.4
    # The demo provider answers with this instead of a model (deterministic, right shape).
    demo_answer: Callable[[], dict] | None = field(default=None, repr=False)


@dataclass
class TextResult:
    text: str
    tokens_in: int
    tokens_out: int


class Provider:
    """One kind of provider. Subclasses set kind and implement what they support."""

    kind: str = ""

    def __init__(self, row: AIProvider) -> None:
        self.row = row

    @property
    def name(self) -> str:
        return self.row.name

    def complete_json(self, *, model_id: str, request: TextRequest) -> TextResult:
        """A JSON answer to the messages, with token usage."""
        raise ProviderError(f"{self.name} does not offer text generation.")

    def test_connection(self) -> str:
        """Make one cheap call; return a short success message or raise ProviderError."""
        raise NotImplementedError


PROVIDER_KINDS: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Class decorator adding a provider kind to the registry."""
    PROVIDER_KINDS[cls.kind] = cls
    return cls


def provider_for(row: AIProvider) -> Provider:
    """The registered implementation for a provider row."""
    try:
        return PROVIDER_KINDS[row.kind](row)
    except KeyError:
        raise ProviderError(f"The {row.name} provider is not supported yet in this version.") from None


def rough_tokens(text: str) -> int:
    """A provider-independent token estimate (about four characters per token)."""
    return max(1, (len(text) + 3) // 4)


@register
class DemoProvider(Provider):
    """Offline, deterministic, clearly labelled placeholder output; needs no network or key."""

    kind = "demo"

    def complete_json(self, *, model_id: str, request: TextRequest) -> TextResult:
        answer = request.demo_answer() if request.demo_answer else {"note": DEMO_LABEL}
        text = json.dumps(answer, ensure_ascii=False)
        prompt = "".join(str(m.get("content", "")) for m in request.messages)
        return TextResult(text=text, tokens_in=rough_tokens(prompt), tokens_out=rough_tokens(text))

    def test_connection(self) -> str:
        return "The offline demo provider is always available (it does not use AI)."


@register
class OpenAIProvider(Provider):
    """OpenAI and any OpenAI-compatible server, through the official client (retries 429/5xx with backoff)."""

    kind = "openai"

    def _client(self) -> openai.OpenAI:
        try:
            key = self.row.api_key
        except SecretError:
            raise ProviderError(f"The stored {self.name} API key cannot be decrypted with the configured "
                                f"ENCRYPTION_KEYS. Re-enter the key in {PROVIDERS_PAGE} → {self.name}.") from None
        if not key:
            raise ProviderError(f"The {self.name} API key is missing. Add it in {PROVIDERS_PAGE} → {self.name}.")
        return openai.OpenAI(api_key=key, base_url=self.row.base_url or None,
                             timeout=float(self.row.timeout_seconds), max_retries=int(self.row.max_retries))

    def complete_json(self, *, model_id: str, request: TextRequest) -> TextResult:
        client = self._client()
        try:
            response = client.chat.completions.create(
                model=model_id, messages=request.messages, max_tokens=request.max_tokens,
                temperature=request.temperature, response_format={"type": "json_object"})
        except openai.OpenAIError as exc:
            raise self._explain(exc, model_id) from exc
        finally:
            client.close()
        if not response.choices:
            raise ProviderError(f"{self.name} returned no answer for {model_id}.")
        usage = response.usage
        return TextResult(text=response.choices[0].message.content or "",
                          tokens_in=usage.prompt_tokens if usage else 0,
                          tokens_out=usage.completion_tokens if usage else 0)

    def test_connection(self) -> str:
        client = self._client()
        try:
            page = client.models.list()
            count = len(page.data)
        except openai.OpenAIError as exc:
            raise self._explain(exc, None) from exc
        finally:
            client.close()
        return f"Connected to {self.row.base_url or 'the default endpoint'}: {count} models available."

    def _explain(self, exc: openai.OpenAIError, model_id: str | None) -> ProviderError:
        name, where = self.name, self.row.base_url or "the default endpoint"
        tries = int(self.row.max_retries) + 1
        fix_key = f"An operator must replace the key in {PROVIDERS_PAGE} → {name}."
        if isinstance(exc, openai.AuthenticationError):
            return ProviderError(f"The {name} API key was rejected (401): it is wrong or has been revoked. {fix_key}")
        if isinstance(exc, openai.PermissionDeniedError):
            return ProviderError(f"The {name} API key is not allowed to do this (403). {fix_key}")
        if isinstance(exc, openai.NotFoundError):
            return ProviderError(f"{name} at {where} does not offer the model {model_id!r} (404). "
                                 "An operator can fix the model id in Operator → AI → Models.")
        if isinstance(exc, openai.RateLimitError):
            return ProviderError(f"{name} kept refusing with 'too many requests' (429) after {tries} tries. "
                                 "Try again in a few minutes.")
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(f"{name} did not answer within {self.row.timeout_seconds} seconds "
                                 f"({tries} tries). Try again later, or an operator can raise the timeout.")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(f"Could not connect to {name} at {where}. Check the base URL in {PROVIDERS_PAGE}.")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return ProviderError(f"{name} had a server error ({exc.status_code}) on all {tries} tries. "
                                     "Try again later.")
            return ProviderError(f"{name} refused the request ({exc.status_code}): {str(exc)[:300]}")
        return ProviderError(f"{name} call failed: {str(exc)[:300]}")
