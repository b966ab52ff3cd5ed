"""OpenAI and OpenAI-compatible servers through the official `openai` client: chat, images, embeddings."""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx2
import openai

from app.services.ai.providers.base import (
    PROVIDERS_PAGE,
    EmbeddingResult,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    TextRequest,
    TextResult,
    register,
)
from app.services.ai.providers.images import (
    check_count,
    decode_base64,
    generated_image,
    parse_size,
)

EMBEDDING_BATCH = 1000  # texts per embeddings request (OpenAI accepts up to 2,048)


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, as the client would build it (environment settings honoured):
    loading the CA bundle costs 0.1–0.2 s, which every new client would otherwise pay again."""
    return httpx2.create_ssl_context()


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
                             timeout=float(self.row.timeout_seconds), max_retries=int(self.row.max_retries),
                             http_client=openai.DefaultHttpxClient(verify=tls_context()))

    def keep_open(self) -> OpenAIProvider:
        # One client, and so one connection pool, for the whole batch; the client is safe to share between threads.
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
        check_count(request)
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
            self._done(client)
        mime = f"image/{(response.output_format or 'png').replace('jpg', 'jpeg')}"
        images = []
        for item in response.data or []:
            if item.b64_json:
                images.append(generated_image(decode_base64(item.b64_json, self.name), size=size, mime=mime))
            elif item.url:
                images.append(generated_image(self._download(item.url), size=size, mime=mime))
        if not images:
            raise ProviderError(f"{self.name} returned no images for {model_id}.")
        return ImageResult(images=images, count=len(images))

    def _download(self, url: str) -> bytes:
        """Fetch an image the provider answered with as a link, within the provider's timeout."""
        if not url.startswith(("https://", "http://")):
            raise ProviderError(f"{self.name} answered with an image link that cannot be fetched.")
        try:
            response = httpx2.get(url, timeout=float(self.row.timeout_seconds), follow_redirects=True,
                                  verify=tls_context())
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
            self._done(client)
        return EmbeddingResult(vectors=vectors, tokens_in=tokens)

    def test_connection(self) -> str:
        client = self._client()
        try:
            page = client.models.list()
            count = len(page.data)
        except openai.OpenAIError as exc:
            raise self._explain(exc, None) from exc
        finally:
            self._done(client)
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
