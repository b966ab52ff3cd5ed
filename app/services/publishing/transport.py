"""Where the publishing code gets its HTTP client: the one place to swap in the SSRF-guarded client."""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx2

USER_AGENT = "IGNY8 publisher (+https://igny8.example.com)"


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs about 0.2 s each time."""
    return httpx2.create_ssl_context() if hasattr(httpx2, "create_ssl_context") else ssl.create_default_context()


def http_client(*, timeout: float) -> httpx2.Client:
    """An HTTP client for requests to a customer's WordPress site (redirects are never followed)."""
    # TODO(outbound): return app.services.outbound's guarded client once it lands, so private and
    # loopback addresses are refused after DNS and on every redirect unless the setting allows them.
    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        verify=_tls_context(),
    )
