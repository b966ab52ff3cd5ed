"""The provider interface, its requests and results, the registry of kinds, and the error callers show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.crypto import SecretError
from app.errors import DomainError
from app.models import AIProvider

DEMO_LABEL = "Demo text — not written by AI"
PROVIDERS_PAGE = "Operator → AI → Providers"
MODELS_PAGE = "Operator → AI → Models"
CHOOSE_ANOTHER = f"An operator can choose a model from another provider in {MODELS_PAGE}."


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


@dataclass
class ImageRequest:
    """Images from a text prompt. size is "WIDTHxHEIGHT"; style is folded into the prompt."""

    prompt: str
    size: str = "1024x1024"
    style: str | None = None
    count: int = 1

    @property
    def full_prompt(self) -> str:
        return f"{self.prompt}\n\nStyle: {self.style}" if self.style else self.prompt


@dataclass
class GeneratedImage:
    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int


@dataclass
class ImageResult:
    images: list[GeneratedImage]
    count: int


@dataclass
class EmbeddingResult:
    vectors: list[list[float]]
    tokens_in: int


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
        raise ProviderError(f"{self.name} does not offer text generation. {CHOOSE_ANOTHER}")

    def generate_images(self, *, model_id: str, request: ImageRequest) -> ImageResult:
        """Images for the prompt, as bytes."""
        raise ProviderError(f"{self.name} does not offer image generation. {CHOOSE_ANOTHER}")

    def embed(self, *, model_id: str, texts: list[str]) -> EmbeddingResult:
        """One embedding vector per text, in order, with token usage."""
        raise ProviderError(f"{self.name} does not offer embeddings. {CHOOSE_ANOTHER}")

    def test_connection(self) -> str:
        """Make one cheap call; return a short success message or raise ProviderError."""
        raise NotImplementedError

    def keep_open(self) -> Provider:
        """Reuse one connection pool for many calls (a batch run); the caller calls close() when done."""
        return self

    def close(self) -> None:
        """Release what keep_open() kept."""

    def _api_key(self) -> str:
        """The decrypted key, or a message saying how to fix it."""
        try:
            key = self.row.api_key
        except SecretError:
            raise ProviderError(f"The stored {self.name} API key cannot be decrypted with the configured "
                                f"ENCRYPTION_KEYS. Re-enter the key in {PROVIDERS_PAGE} → {self.name}.") from None
        if not key:
            raise ProviderError(f"The {self.name} API key is missing. Add it in {PROVIDERS_PAGE} → {self.name}.")
        return key


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
