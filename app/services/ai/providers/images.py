"""What every image provider shares: size and count limits, and images read from their own bytes."""

from __future__ import annotations

import base64
import struct

from app.services.ai.providers.base import GeneratedImage, ImageRequest, ProviderError

MAX_IMAGES_PER_CALL = 10
MAX_IMAGE_SIDE = 4096


def parse_size(size: str) -> tuple[int, int]:
    """Width and height from "WIDTHxHEIGHT" ("auto" means 1024x1024)."""
    text = (size or "").strip().lower()
    if text == "auto":
        return 1024, 1024
    try:
        width, height = (int(part) for part in text.split("x"))
    except ValueError:
        raise ProviderError(f"The image size {size!r} is not understood; give it as WIDTHxHEIGHT, "
                            "e.g. 1024x1024.") from None
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        raise ProviderError(f"The image size {size!r} is out of range (each side 1–{MAX_IMAGE_SIDE} pixels).")
    return width, height


def check_count(request: ImageRequest) -> None:
    """Refuse a request for fewer than one or more than MAX_IMAGES_PER_CALL images."""
    if not 1 <= int(request.count) <= MAX_IMAGES_PER_CALL:
        raise ProviderError(f"Between 1 and {MAX_IMAGES_PER_CALL} images can be made in one call "
                            f"(asked for {request.count}).")


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """The MIME type and pixel size read from the image's own header (PNG, JPEG, WEBP, GIF)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X":
            return ("image/webp", 1 + int.from_bytes(data[24:27], "little"),
                    1 + int.from_bytes(data[27:30], "little"))
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return "image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            return ("image/webp", int.from_bytes(data[26:28], "little") & 0x3FFF,
                    int.from_bytes(data[28:30], "little") & 0x3FFF)
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
                return "image/jpeg", width, height
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return None


def generated_image(data: bytes, *, size: tuple[int, int], mime: str) -> GeneratedImage:
    """An image with its real type and size when the header tells them, else the requested ones."""
    found = image_info(data)
    if found:
        return GeneratedImage(data=data, mime=found[0], width=found[1], height=found[2])
    return GeneratedImage(data=data, mime=mime, width=size[0], height=size[1])


def decode_base64(text: str, provider: str) -> bytes:
    """Image bytes from base64 (a data: URL prefix allowed), or a ProviderError naming the provider."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=False)
    except ValueError:
        raise ProviderError(f"{provider} sent an image that could not be decoded.") from None
