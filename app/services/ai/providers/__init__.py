"""AI providers behind one registry and one interface; errors become messages naming what to fix.

base.py holds the interface, its requests and results, the registry and ProviderError; images.py what image
providers share; one module per kind (demo, openai_compatible, runware), each registering itself on import.
"""

from app.services.ai.providers.base import (
    CHOOSE_ANOTHER,
    DEMO_LABEL,
    MODELS_PAGE,
    PROVIDER_KINDS,
    PROVIDERS_PAGE,
    EmbeddingResult,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    TextRequest,
    TextResult,
    provider_for,
    register,
    rough_tokens,
)
from app.services.ai.providers.demo import (
    DEMO_IMAGE_MAX_SIDE,
    DemoProvider,
    demo_image_size,
)
from app.services.ai.providers.images import (
    MAX_IMAGE_SIDE,
    MAX_IMAGES_PER_CALL,
    image_info,
    parse_size,
)
from app.services.ai.providers.openai_compatible import OpenAIProvider
from app.services.ai.providers.runware import RunwareProvider

__all__ = [
    "CHOOSE_ANOTHER", "DEMO_IMAGE_MAX_SIDE", "DEMO_LABEL", "MAX_IMAGES_PER_CALL", "MAX_IMAGE_SIDE", "MODELS_PAGE",
    "PROVIDERS_PAGE", "PROVIDER_KINDS", "DemoProvider", "EmbeddingResult", "GeneratedImage", "ImageRequest",
    "ImageResult", "OpenAIProvider", "Provider", "ProviderError", "RunwareProvider", "TextRequest", "TextResult",
    "demo_image_size", "image_info", "parse_size", "provider_for", "register", "rough_tokens",
]
