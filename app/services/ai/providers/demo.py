"""The offline demo provider: deterministic, clearly labelled placeholder text, images and vectors."""

from __future__ import annotations

import json

from app.services.ai.demo_media import demo_vector, placeholder_png
from app.services.ai.providers.base import (
    DEMO_LABEL,
    EmbeddingResult,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    Provider,
    TextRequest,
    TextResult,
    register,
    rough_tokens,
)
from app.services.ai.providers.images import check_count, parse_size

# Demo images are capped to this longest side (aspect ratio kept) so they stay small and fast.
DEMO_IMAGE_MAX_SIDE = 512


def demo_image_size(size: str) -> tuple[int, int]:
    """The requested size, scaled down (aspect kept) to at most DEMO_IMAGE_MAX_SIDE on the longest side."""
    width, height = parse_size(size)
    longest = max(width, height)
    if longest <= DEMO_IMAGE_MAX_SIDE:
        return width, height
    scale = DEMO_IMAGE_MAX_SIDE / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


@register
class DemoProvider(Provider):
    """Offline, deterministic, clearly labelled placeholder output; needs no network or key."""

    kind = "demo"

    def complete_json(self, *, model_id: str, request: TextRequest) -> TextResult:
        answer = request.demo_answer() if request.demo_answer else {"note": DEMO_LABEL}
        text = json.dumps(answer, ensure_ascii=False)
        prompt = "".join(str(m.get("content", "")) for m in request.messages)
        return TextResult(text=text, tokens_in=rough_tokens(prompt), tokens_out=rough_tokens(text))

    def generate_images(self, *, model_id: str, request: ImageRequest) -> ImageResult:
        """Placeholder PNGs marked DEMO, deterministic from the prompt, capped to DEMO_IMAGE_MAX_SIDE."""
        check_count(request)
        width, height = demo_image_size(request.size)
        images = [GeneratedImage(data=placeholder_png(f"{request.full_prompt}\n#{n}", width, height),
                                 mime="image/png", width=width, height=height) for n in range(int(request.count))]
        return ImageResult(images=images, count=len(images))

    def embed(self, *, model_id: str, texts: list[str]) -> EmbeddingResult:
        """Hashed-trigram unit vectors (DEMO_EMBEDDING_DIMS dimensions): deterministic, offline."""
        return EmbeddingResult(vectors=[demo_vector(t) for t in texts],
                               tokens_in=sum(rough_tokens(t) for t in texts) if texts else 0)

    def test_connection(self) -> str:
        return "The offline demo provider is always available (it does not use AI)."
