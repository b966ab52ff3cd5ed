"""Image sizes: the site's wanted sizes, checked, and the nearest size a model can make."""

from __future__ import annotations

from app.errors import ValidationError

MIN_SIDE, MAX_SIDE = 256, 2048
MAX_RATIO = 3.0
DEFAULT_FEATURED, DEFAULT_IN_ARTICLE = "1200x630", "1024x768"
# What OpenAI image models make; other providers take any size (Runware rounds to multiples of 64 itself).
OPENAI_SIZES = {
    "dall-e-2": ((256, 256), (512, 512), (1024, 1024)),
    "dall-e-3": ((1024, 1024), (1792, 1024), (1024, 1792)),
    "": ((1024, 1024), (1536, 1024), (1024, 1536)),  # gpt-image-1 and compatible servers
}


def parse(size: str, *, field: str = "size") -> tuple[int, int]:
    """Width and height from "WIDTHxHEIGHT", or ValidationError saying what is supported."""
    raw = str(size or "").strip().lower().replace("×", "x").replace(" ", "")
    try:
        width, height = (int(part) for part in raw.split("x"))
    except ValueError:
        raise ValidationError(f"The image size “{str(size)[:40]}” is not supported: give it as WIDTHxHEIGHT, "
                              f"e.g. {DEFAULT_IN_ARTICLE}.", field=field) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValidationError(f"The image size {width}×{height} is not supported: each side must be "
                              f"{MIN_SIDE}–{MAX_SIDE} pixels.", field=field)
    if max(width, height) / min(width, height) > MAX_RATIO:
        raise ValidationError(f"The image size {width}×{height} is not supported: it is more than "
                              f"{MAX_RATIO:g} times as wide as high (or high as wide).", field=field)
    return width, height


def clean(size: str, *, field: str = "size") -> str:
    width, height = parse(size, field=field)
    return f"{width}x{height}"


def nearest(provider_kind: str, model_id: str, width: int, height: int) -> str:
    """The size to ask the model for: the supported size closest in shape (then area) to the wanted one."""
    if provider_kind != "openai":
        return f"{width}x{height}"
    key = next((k for k in OPENAI_SIZES if k and k in model_id), "")
    ratio = width / height
    best = min(OPENAI_SIZES[key], key=lambda s: (abs(s[0] / s[1] - ratio), abs(s[0] * s[1] - width * height)))
    return f"{best[0]}x{best[1]}"
