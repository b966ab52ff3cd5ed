"""Runware image generation over its HTTP API (no text or embeddings)."""

from __future__ import annotations

import time
import uuid

import httpx2

from app.services.ai.providers.base import (
    MODELS_PAGE,
    PROVIDERS_PAGE,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    register,
)
from app.services.ai.providers.images import (
    check_count,
    decode_base64,
    generated_image,
    parse_size,
)

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
        check_count(request)
        width, height = (_runware_side(v) for v in parse_size(request.size))
        task_uuid = str(uuid.uuid4())
        data = self._send([{
            "taskType": "imageInference", "taskUUID": task_uuid, "positivePrompt": request.full_prompt,
            "model": model_id, "width": width, "height": height, "numberResults": int(request.count),
            "outputType": "base64Data", "outputFormat": "PNG"}], model_id=model_id)
        images = [generated_image(decode_base64(item["imageBase64Data"], self.name), size=(width, height),
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
