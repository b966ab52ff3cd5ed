"""Where the publishing code gets its HTTP client: the one place to swap in the SSRF-guarded client."""

from __future__ import annotations

import httpx2

USER_AGENT = "IGNY8 publisher (+https://igny8.example.com)"


def http_client(*, timeout: float) -> httpx2.Client:
    """An HTTP client for requests to a customer's WordPress site (redirects are never followed)."""
    # TODO(outbound): return app.services.outbound's guarded client once it lands, so private and
    # loopback addresses are refused after DNS and on every redirect unless the setting allows them.
    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )
