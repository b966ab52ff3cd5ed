"""AI providers behind one registry and one interface; errors become messages naming what to fix."""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import httpx2
import openai

from app.crypto import SecretError
from app.errors import DomainError
from app.models import AIProvider
from app.services.ai.demo_media import (  # noqa: F401  (part of this module's interface)
    DEMO_EMBEDDING_DIMS,
    DEMO_IMAGE_NOTE,
    demo_vector,
    encode_png,
    placeholder_png,
)

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

    def keep_open(self) -> "Provider":
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


def _check_count(request: ImageRequest) -> None:
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


def _generated(data: bytes, *, size: tuple[int, int], mime: str) -> GeneratedImage:
    """An image with its real type and size when the header tells them, else the requested ones."""
    found = image_info(data)
    if found:
        return GeneratedImage(data=data, mime=found[0], width=found[1], height=found[2])
    return GeneratedImage(data=data, mime=mime, width=size[0], height=size[1])


def _decode_base64(text: str, provider: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=False)
    except ValueError:
        raise ProviderError(f"{provider} sent an image that could not be decoded.") from None


# ---- Offline placeholders -------------------------------------------------------------------

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
        _check_count(request)
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


EMBEDDING_BATCH = 1000  # texts per embeddings request (OpenAI accepts up to 2,048)


@register
class OpenAIProvider(Provider):
    """OpenAI and any OpenAI-compatible server, through the official client (retries 429/5xx with backoff)."""

    kind = "openai"
    _shared: openai.OpenAI | None = None

    def _client(self) -> openai.OpenAI:
        if self._shared is not None:
            return self._shared
        key = self._api_key()
        return openai.OpenAI(api_key=key, base_url=self.row.base_url or None,
                             timeout=float(self.row.timeout_seconds), max_retries=int(self.row.max_retries))

    def keep_open(self) -> "OpenAIProvider":
        # Building a client costs 0.2–0.4 s (TLS set-up); the client is safe to share between threads.
        self._shared = self._client()
        return self

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def _done(self, client: openai.OpenAI) -> None:
        if client is not self._shared:
            client.close()

    def complete_json(self, *, model_id: str, request: TextRequest) -> TextResult:
        client = self._client()
        try:
            response = client.chat.completions.create(
                model=model_id, messages=request.messages, max_tokens=request.max_tokens,
                temperature=request.temperature, response_format={"type": "json_object"})
        except openai.OpenAIError as exc:
            raise self._explain(exc, model_id) from exc
        finally:
            self._done(client)
        if not response.choices:
            raise ProviderError(f"{self.name} returned no answer for {model_id}.")
        usage = response.usage
        return TextResult(text=response.choices[0].message.content or "",
                          tokens_in=usage.prompt_tokens if usage else 0,
                          tokens_out=usage.completion_tokens if usage else 0)

    def generate_images(self, *, model_id: str, request: ImageRequest) -> ImageResult:
        _check_count(request)
        size = parse_size(request.size)
        params = dict(model=model_id, prompt=request.full_prompt, n=int(request.count), size=request.size)
        if model_id.startswith("dall-e"):
            # Older models answer with links unless asked; GPT Image models always send base64.
            params["response_format"] = "b64_json"
        client = self._client()
        try:
            response = client.images.generate(**params)
        except openai.OpenAIError as exc:
            raise self._explain(exc, model_id) from exc
        finally:
            self._done(client)  # a batch's shared client (keep_open) stays open for the other images
        mime = f"image/{(response.output_format or 'png').replace('jpg', 'jpeg')}"
        images = []
        for item in response.data or []:
            if item.b64_json:
                images.append(_generated(_decode_base64(item.b64_json, self.name), size=size, mime=mime))
            elif item.url:
                images.append(_generated(self._download(item.url), size=size, mime=mime))
        if not images:
            raise ProviderError(f"{self.name} returned no images for {model_id}.")
        return ImageResult(images=images, count=len(images))

    def _download(self, url: str) -> bytes:
        """Fetch an image the provider answered with as a link, within the provider's timeout."""
        if not url.startswith(("https://", "http://")):
            raise ProviderError(f"{self.name} answered with an image link that cannot be fetched.")
        try:
            response = httpx2.get(url, timeout=float(self.row.timeout_seconds), follow_redirects=True)
            response.raise_for_status()
        except httpx2.TimeoutException:
            raise ProviderError(f"The image {self.name} made could not be downloaded within "
                                f"{self.row.timeout_seconds} seconds. Try again later.") from None
        except httpx2.HTTPError as exc:
            raise ProviderError(f"The image {self.name} made could not be downloaded: {str(exc)[:200]}") from None
        return response.content

    def embed(self, *, model_id: str, texts: list[str]) -> EmbeddingResult:
        if not texts:
            return EmbeddingResult(vectors=[], tokens_in=0)
        client = self._client()
        vectors: list[list[float]] = []
        tokens = 0
        try:
            for start in range(0, len(texts), EMBEDDING_BATCH):
                part = list(texts[start:start + EMBEDDING_BATCH])
                # Plain floats: OpenAI-compatible servers do not all support base64 vectors.
                response = client.embeddings.create(model=model_id, input=part, encoding_format="float")
                rows = sorted(response.data, key=lambda row: row.index)
                if len(rows) != len(part):
                    raise ProviderError(f"{self.name} returned {len(rows)} embeddings for {len(part)} texts.")
                vectors.extend([float(x) for x in row.embedding] for row in rows)
                tokens += response.usage.prompt_tokens if response.usage else 0
        except openai.OpenAIError as exc:
            raise self._explain(exc, model_id) from exc
        finally:
            client.close()
        return EmbeddingResult(vectors=vectors, tokens_in=tokens)

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


RUNWARE_URL = "https://api.runware.ai/v1"
_RUNWARE_KEY_ERRORS = {"invalidApiKey", "missingApiKey", "unauthorized", "invalidAuthentication"}


def _runware_side(value: int) -> int:
    """Runware takes sides that are multiples of 64 from 128 to 2048."""
    return max(128, min(2048, round(value / 64) * 64))


@register
class RunwareProvider(Provider):
    """Runware image generation over its HTTP API: one POST of a JSON task list, authentication first.

    Retries 429, 5xx, timeouts and connection errors with backoff, max_retries times; no text or embeddings.
    """

    kind = "runware"

    def generate_images(self, *, model_id: str, request: ImageRequest) -> ImageResult:
        _check_count(request)
        width, height = (_runware_side(v) for v in parse_size(request.size))
        task_uuid = str(uuid.uuid4())
        data = self._send([{
            "taskType": "imageInference", "taskUUID": task_uuid, "positivePrompt": request.full_prompt,
            "model": model_id, "width": width, "height": height, "numberResults": int(request.count),
            "outputType": "base64Data", "outputFormat": "PNG"}], model_id=model_id)
        images = [_generated(_decode_base64(item["imageBase64Data"], self.name), size=(width, height),
                             mime="image/png")
                  for item in data
                  if item.get("taskType") == "imageInference" and item.get("taskUUID") == task_uuid
                  and isinstance(item.get("imageBase64Data"), str)]
        if not images:
            raise ProviderError(f"{self.name} returned no images for {model_id}.")
        return ImageResult(images=images, count=len(images))

    def test_connection(self) -> str:
        data = self._send([], model_id=None)
        if not any(item.get("taskType") == "authentication" for item in data):
            raise ProviderError(f"{self.name} at {self._url} did not confirm the API key.")
        return f"Connected to {self.name} at {self._url}: the API key was accepted."

    @property
    def _url(self) -> str:
        return self.row.base_url or RUNWARE_URL

    def _send(self, tasks: list[dict], *, model_id: str | None) -> list[dict]:
        """POST the authentication task and the given tasks; the answer's data items, or ProviderError."""
        body = [{"taskType": "authentication", "apiKey": self._api_key()}, *tasks]
        tries = int(self.row.max_retries) + 1
        with httpx2.Client(timeout=float(self.row.timeout_seconds)) as client:
            for attempt in range(tries):
                last = attempt == tries - 1
                wait = min(8.0, 0.5 * 2 ** attempt)
                try:
                    response = client.post(self._url, json=body)
                except httpx2.TimeoutException:
                    if last:
                        raise ProviderError(
                            f"{self.name} did not answer within {self.row.timeout_seconds} seconds ({tries} tries). "
                            "Try again later, or an operator can raise the timeout.") from None
                except httpx2.TransportError:
                    if last:
                        raise ProviderError(f"Could not connect to {self.name} at {self._url}. "
                                            f"Check the base URL in {PROVIDERS_PAGE}.") from None
                else:
                    status = response.status_code
                    if status != 429 and status < 500:
                        return self._read(response, model_id)
                    if last:
                        if status == 429:
                            raise ProviderError(f"{self.name} kept refusing with 'too many requests' (429) after "
                                                f"{tries} tries. Try again in a few minutes.")
                        raise ProviderError(f"{self.name} had a server error ({status}) on all {tries} tries. "
                                            "Try again later.")
                    wait = _retry_after(response) or wait
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _read(self, response: httpx2.Response, model_id: str | None) -> list[dict]:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError(f"{self.name} answered with something that is not JSON (HTTP {status}).") from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            raise self._explain_errors(errors, status, model_id)
        if status >= 400:
            raise ProviderError(f"{self.name} refused the request ({status}).")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise ProviderError(f"{self.name} answered without any results.")
        return [item for item in data if isinstance(item, dict)]

    def _explain_errors(self, errors: list, status: int, model_id: str | None) -> ProviderError:
        items = [e for e in errors if isinstance(e, dict)] or [{}]
        auth = next((e for e in items if e.get("code") in _RUNWARE_KEY_ERRORS
                     or e.get("taskType") == "authentication"), None)
        if auth or status in (401, 403):
            code = (auth or items[0]).get("code") or status
            return ProviderError(f"The {self.name} API key was rejected ({code}): it is wrong or has been "
                                 f"revoked. An operator must replace the key in {PROVIDERS_PAGE} → {self.name}.")
        first = items[0]
        code = first.get("code") or status
        message = str(first.get("message") or "no details given")[:300]
        if first.get("parameter") == "model" or "model" in str(first.get("code", "")).lower():
            return ProviderError(f"{self.name} does not accept the model {model_id!r} ({code}: {message}). "
                                 f"An operator can fix the model id in {MODELS_PAGE}.")
        return ProviderError(f"{self.name} refused the request ({code}): {message}")


def _retry_after(response: httpx2.Response) -> float | None:
    """The server's requested wait in seconds (capped at 20), if it gave one."""
    try:
        return min(20.0, max(0.0, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return None
