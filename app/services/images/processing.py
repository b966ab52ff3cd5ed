"""Bytes from an image model → an image of the wanted size: checked, cropped to fit, resized, compressed."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # a decompression bomb is refused rather than decoded


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read."""


def fit(data: bytes, width: int, height: int, *, fmt: str = "webp", quality: int = 82) -> tuple[bytes, str]:
    """Crop to the target's aspect ratio (centred), resize to width×height and compress; (bytes, mime)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise NotAnImage(f"the image is too large ({image.width}×{image.height} pixels)")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        if isinstance(exc, NotAnImage):
            raise
        raise NotAnImage("the provider sent something that is not an image") from None
    image = ImageOps.exif_transpose(image).convert("RGB")
    image = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        return out.getvalue(), "image/jpeg"
    image.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue(), "image/webp"
